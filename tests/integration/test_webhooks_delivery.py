"""Webhook delivery against a real local receiver that checks every signature with the reference library."""

from __future__ import annotations

import email.utils
import socket
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from rq import SimpleWorker

from gateway import webhooks
from gateway.jobs import outbox, worker
from gateway.jobs.tables import OutboxEntry
from gateway.kernel.types import utcnow
from gateway.webhooks import delivery, notify
from gateway.webhooks.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.integration.test_callbacks import (  # noqa: F401 - the autouse fixture configures callback secrets
    callback_secrets,
    new_number,
    post_ups,
    shipment_with_number,
    track_alert,
)
from tests.unit.webhooks.receiver import Receiver, Reply

pytestmark = pytest.mark.integration

LABEL = {"shipment_id": "shp_TEST", "label_id": "lbl_TEST", "carrier": "ups", "tracking_number": "1Z1"}


@pytest.fixture
def container(app):
    return app.extensions["handoff"]


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


class Told:
    """An e-mail hook that keeps what it was told (a real implementation of the notifier interface)."""

    def __init__(self) -> None:
        self.notices: list[notify.EndpointDisabled] = []

    def endpoint_disabled(self, notice: notify.EndpointDisabled) -> None:
        self.notices.append(notice)


@pytest.fixture
def told():
    hook = Told()
    notify.set_notifier(hook)
    yield hook
    notify.set_notifier(None)


def subscribe(client: Any, tenant: Any, receiver: Receiver, types: list[str] | None = None) -> dict[str, Any]:
    response = client.post(
        "/v1/webhook-endpoints",
        json={"url": receiver.url, "event_types": types or ["label.purchased"]},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    receiver.secrets.append(body["secret"])
    return body


def emit(container: Any, tenant: Any, event_type: str = "label.purchased", data: dict | None = None) -> str:
    with container.sessions() as session:
        event_id = webhooks.emit(session, tenant.tenant_id, event_type, data or LABEL)
        session.commit()
    assert event_id is not None
    return event_id


def delivery_ids(container: Any, event_id: str) -> list[str]:
    with container.sessions() as session:
        return list(
            session.scalars(
                sa.select(WebhookDelivery.id)
                .where(WebhookDelivery.event_id == event_id)
                .order_by(WebhookDelivery.id)
            )
        )


def attempt(container: Any, delivery_id: str) -> str | float:
    """Run one attempt as the job would; return the outcome, or the delay it asked to be retried after."""
    try:
        return delivery.deliver(container, delivery_id)
    except outbox.RetryLater as retry:
        return retry.delay


def drain(app: Any) -> None:
    worker.run(app, burst=True, worker_class=SimpleWorker)


def row(container: Any, model: Any, key: Any) -> Any:
    with container.sessions() as session:
        return session.get(model, key)


def attempts(container: Any, delivery_id: str) -> list[WebhookAttempt]:
    with container.sessions() as session:
        return list(
            session.scalars(
                sa.select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id == delivery_id)
                .order_by(WebhookAttempt.id)
            )
        )


def test_an_event_is_delivered_signed_through_the_outbox_and_logged(
    app, client, container, platform, receiver
):
    endpoint = subscribe(client, platform, receiver)
    event_id = emit(container, platform)
    drain(app)

    [got] = receiver.deliveries
    assert got.verified  # the standardwebhooks reference implementation accepts the signature
    assert got.msg_id == event_id
    assert got.headers["webhook-signature"].startswith("v1,")
    assert got.payload["type"] == "label.purchased" and got.payload["data"] == LABEL
    assert got.payload["timestamp"].endswith("Z")

    log = client.get(f"/v1/webhook-endpoints/{endpoint['id']}/attempts", headers=platform.headers).get_json()
    [entry] = log["data"]
    assert entry["status_code"] == 200 and entry["outcome"] == "succeeded" and entry["response_body"] == "ok"
    assert entry["latency_ms"] >= 0 and entry["event_id"] == event_id
    deliveries = client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=platform.headers)
    [d] = deliveries.get_json()["data"]
    assert d["state"] == "succeeded" and d["attempts"] == 1 and d["event_type"] == "label.purchased"
    with container.sessions() as session:
        entries = session.scalars(sa.select(OutboxEntry).where(OutboxEntry.args == [d["id"]])).all()
        assert [e.state for e in entries] == ["done"]


def test_a_receiver_that_is_down_is_retried_with_backoff_and_gets_the_same_id_once_up(
    app, client, container, platform, receiver
):
    subscribe(client, platform, receiver)
    receiver.stop()
    event_id = emit(container, platform)
    [delivery_id] = delivery_ids(container, event_id)

    first = attempt(container, delivery_id)
    second = attempt(container, delivery_id)
    base = delivery.setting(container.settings, "WEBHOOK_RETRY_BASE_SECONDS")
    assert 0.75 * base <= first <= base  # jittered exponential backoff
    assert 1.5 * base <= second <= 2 * base
    log = attempts(container, delivery_id)
    assert [a.outcome for a in log] == ["retry", "retry"] and log[0].error.startswith("connection error")
    assert log[0].next_attempt_at is not None

    receiver.start()  # same port
    assert attempt(container, delivery_id) == "succeeded"
    assert [d.msg_id for d in receiver.deliveries] == [event_id] and receiver.deliveries[0].verified
    endpoint = row(container, WebhookDelivery, delivery_id)
    assert endpoint.state == "succeeded" and endpoint.attempts == 3


def test_retry_after_in_seconds_sets_the_next_attempt(app, client, container, platform, receiver):
    subscribe(client, platform, receiver)
    receiver.script.append(Reply(429, {"Retry-After": "120"}, b"slow down"))
    event_id = emit(container, platform)
    [delivery_id] = delivery_ids(container, event_id)
    [entry_id] = [
        e.id
        for e in _outbox_rows(container, delivery_id)  # the relay has already enqueued it after the commit
    ]
    worker.set_app(app)
    before = utcnow()
    assert outbox.execute(entry_id) == "retry"
    entry = row(container, OutboxEntry, entry_id)
    assert entry.state == "pending"
    assert timedelta(seconds=119) <= entry.available_at - before <= timedelta(seconds=125)
    [logged] = attempts(container, delivery_id)
    assert logged.status_code == 429 and logged.outcome == "retry" and logged.response_body == "slow down"


def test_retry_after_as_an_http_date_is_honoured_for_503(app, client, container, platform, receiver):
    subscribe(client, platform, receiver)
    when = email.utils.format_datetime(utcnow() + timedelta(seconds=300), usegmt=True)
    receiver.script.append(Reply(503, {"Retry-After": when}))
    [delivery_id] = delivery_ids(container, emit(container, platform))
    delay = attempt(container, delivery_id)
    assert 295 <= delay <= 301


def _outbox_rows(container: Any, delivery_id: str) -> list[OutboxEntry]:
    with container.sessions() as session:
        return list(session.scalars(sa.select(OutboxEntry).where(OutboxEntry.args == [delivery_id])))


def test_410_disables_the_endpoint_tells_the_tenant_and_stops_its_deliveries(
    app, client, container, platform, receiver, told
):
    endpoint = subscribe(client, platform, receiver)
    receiver.stop()
    waiting = delivery_ids(container, emit(container, platform))[0]
    receiver.start()
    receiver.default = Reply(410, body=b"gone")
    [delivery_id] = delivery_ids(container, emit(container, platform))

    assert attempt(container, delivery_id) == "gone"
    shown = client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=platform.headers).get_json()
    assert shown["enabled"] is False and shown["disabled_reason"] == "gone" and shown["disabled_at"]
    [notice] = told.notices
    assert (
        notice.endpoint_id == endpoint["id"]
        and notice.reason == "gone"
        and notice.tenant_id == platform.tenant_id
    )
    assert row(container, WebhookDelivery, delivery_id).state == "failed"
    assert row(container, WebhookDelivery, waiting).state == "cancelled"  # not sent to a gone endpoint
    assert attempt(container, waiting) == "skipped"
    with container.sessions() as session:  # new events are no longer addressed to it
        assert webhooks.emit(session, platform.tenant_id, "label.purchased", LABEL) is None

    again = client.patch(
        f"/v1/webhook-endpoints/{endpoint['id']}", json={"enabled": True}, headers=platform.headers
    )
    assert again.get_json()["enabled"] is True and again.get_json()["disabled_reason"] is None


def test_an_endpoint_failing_continuously_is_disabled_by_count_and_by_time(
    app, client, container, make_tenant, receiver, told, monkeypatch
):
    tenant = make_tenant()
    endpoint = subscribe(client, tenant, receiver)
    receiver.default = Reply(500, body=b"boom")
    monkeypatch.setitem(container.settings, "WEBHOOK_DISABLE_AFTER_FAILURES", 3)
    ids = [delivery_ids(container, emit(container, tenant))[0] for _ in range(4)]
    assert isinstance(attempt(container, ids[0]), float)
    assert isinstance(attempt(container, ids[1]), float)
    assert isinstance(attempt(container, ids[2]), float)  # the third consecutive failure disables it
    shown = client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=tenant.headers).get_json()
    assert shown["enabled"] is False and shown["disabled_reason"] == "failing"
    assert shown["consecutive_failures"] == 3 and "3 consecutive" in shown["disabled_detail"]
    assert [n.reason for n in told.notices] == ["failing"]
    assert attempt(container, ids[3]) == "skipped"  # cancelled with the endpoint

    monkeypatch.setitem(container.settings, "WEBHOOK_DISABLE_AFTER_FAILURES", 0)
    other = subscribe(client, make_tenant(), receiver)
    with container.sessions() as session:
        ep = session.get(WebhookEndpoint, other["id"])
        ep.failing_since, ep.consecutive_failures = utcnow() - timedelta(days=6), 40
        tenant_id = ep.tenant_id
        event_id = webhooks.emit(session, tenant_id, "label.purchased", LABEL)
        session.commit()
    attempt(container, delivery_ids(container, event_id)[0])
    assert row(container, WebhookEndpoint, other["id"]).disabled_reason == "failing"


def test_a_delivery_gives_up_when_the_retry_window_closes(app, client, container, platform, receiver):
    subscribe(client, platform, receiver)
    receiver.default = Reply(500)
    [delivery_id] = delivery_ids(container, emit(container, platform))
    with container.sessions() as session:
        session.get(WebhookDelivery, delivery_id).first_attempt_at = utcnow() - timedelta(days=3)
        session.commit()
    assert attempt(container, delivery_id) == "failed"
    d = row(container, WebhookDelivery, delivery_id)
    assert d.state == "failed" and "retries exhausted" in d.last_error and d.completed_at is not None


def test_the_default_schedule_spans_about_three_days(container):
    settings: dict[str, Any] = {}
    elapsed, failures = 0.0, 0
    window = delivery.setting(settings, "WEBHOOK_RETRY_WINDOW_SECONDS")
    while True:
        failures += 1
        step = delivery.backoff_seconds(failures, settings)
        if elapsed + step > window:
            break
        elapsed += step
    assert 2.5 * 86400 <= elapsed <= 3 * 86400
    assert 15 <= failures <= 30


def test_redirects_are_not_followed(app, client, container, platform, receiver):
    elsewhere = Receiver().start()
    try:
        subscribe(client, platform, receiver)
        receiver.default = Reply(302, {"Location": elsewhere.url})
        [delivery_id] = delivery_ids(container, emit(container, platform))
        assert isinstance(attempt(container, delivery_id), float)
        assert elsewhere.deliveries == []
        [logged] = attempts(container, delivery_id)
        assert logged.status_code == 302 and "redirects are not followed" in logged.error
    finally:
        elsewhere.stop()


def test_a_huge_answer_is_read_only_up_to_the_cap(app, client, container, platform, receiver):
    subscribe(client, platform, receiver)
    receiver.default = Reply(200, body=b"x" * 300_000)
    [delivery_id] = delivery_ids(container, emit(container, platform))
    assert attempt(container, delivery_id) == "succeeded"
    [logged] = attempts(container, delivery_id)
    assert len(logged.response_body) == int(delivery.setting(container.settings, "WEBHOOK_RESPONSE_BYTES"))


def test_a_slow_receiver_times_out_and_is_retried(app, client, container, platform, receiver, monkeypatch):
    monkeypatch.setitem(container.settings, "WEBHOOK_TIMEOUT_SECONDS", 0.5)
    subscribe(client, platform, receiver)
    receiver.script.append(Reply(200, delay=2.0))
    [delivery_id] = delivery_ids(container, emit(container, platform))
    assert isinstance(attempt(container, delivery_id), float)
    [logged] = attempts(container, delivery_id)
    assert logged.error == "timeout" and logged.latency_ms < 1900


def test_rotation_signs_with_both_secrets_during_the_grace_period(app, client, container, platform, receiver):
    endpoint = subscribe(client, platform, receiver)
    old = receiver.secrets[:]
    rotated = client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret",
        json={"grace_period_seconds": 600},
        headers=platform.headers,
    ).get_json()
    new = rotated["secret"]
    receiver.secrets = [*old, new]
    attempt(container, delivery_ids(container, emit(container, platform))[0])
    got = receiver.deliveries[-1]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert set(got.verified_with) == {old[0], new}  # a consumer holding either secret accepts it

    client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret",
        json={"grace_period_seconds": 0},
        headers=platform.headers,
    )
    newest = client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=platform.headers).get_json()
    assert newest["previous_secret_expires_at"] is None
    with container.sessions() as session:
        receiver.secrets.append(session.get(WebhookEndpoint, endpoint["id"]).secret)
    attempt(container, delivery_ids(container, emit(container, platform))[0])
    got = receiver.deliveries[-1]
    assert len(got.headers["webhook-signature"].split(" ")) == 1
    assert got.verified_with == [receiver.secrets[-1]]


def test_test_send_delivers_a_signed_test_event(app, client, container, platform, receiver):
    endpoint = subscribe(client, platform, receiver, ["tracking.updated"])
    sent = client.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", json={}, headers=platform.headers)
    assert sent.status_code == 202
    drain(app)
    [got] = receiver.deliveries
    assert (
        got.verified and got.payload["type"] == "webhook.test" and got.msg_id == sent.get_json()["event_id"]
    )
    log = client.get(
        f"/v1/webhook-endpoints/{endpoint['id']}/attempts?delivery_id={sent.get_json()['delivery_id']}",
        headers=platform.headers,
    ).get_json()["data"]
    assert [a["status_code"] for a in log] == [200]


def test_replay_of_one_event_and_of_a_time_range(app, client, container, platform, receiver):
    endpoint = subscribe(client, platform, receiver)
    start = utcnow()
    first = emit(container, platform)
    drain(app)
    receiver.script.append(Reply(500))
    second = emit(container, platform)
    drain(app)
    assert receiver.ids() == {first, second}  # the second failed once and waits for its retry

    replay = client.post(f"/v1/webhook-events/{first}/replay", json={}, headers=platform.headers)
    assert replay.status_code == 202 and replay.get_json()["queued"] == 1
    drain(app)
    assert [d.msg_id for d in receiver.deliveries].count(first) == 2  # same webhook-id: consumers dedupe

    failed_only = client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/replay",
        json={"since": start.isoformat(), "only_failed": True},
        headers=platform.headers,
    )
    assert failed_only.status_code == 202 and failed_only.get_json()["queued"] == 1
    everything = client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/replay",
        json={"since": start.isoformat()},
        headers=platform.headers,
    )
    assert everything.get_json()["queued"] == 2
    drain(app)
    assert all(d.verified for d in receiver.deliveries)
    naive = client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/replay",
        json={"since": "2026-01-01T00:00:00"},
        headers=platform.headers,
    )
    assert naive.status_code == 422


def test_outside_test_mode_a_loopback_destination_is_refused_at_delivery_time_too(
    app, client, container, platform, receiver, monkeypatch
):
    subscribe(client, platform, receiver)  # saved in test mode
    monkeypatch.setitem(container.settings, "ENV", "production")
    [delivery_id] = delivery_ids(container, emit(container, platform))
    assert isinstance(attempt(container, delivery_id), float)
    assert receiver.deliveries == []
    [logged] = attempts(container, delivery_id)
    assert logged.outcome == "refused" and "refused" in logged.error

    monkeypatch.setitem(container.settings, "WEBHOOK_ALLOWLIST", "127.0.0.1")  # ops allow the host
    assert attempt(container, delivery_id) == "succeeded"
    assert receiver.deliveries[0].verified


def test_a_name_that_re_resolves_to_loopback_is_refused_on_the_connection(
    app, client, container, platform, receiver, monkeypatch
):
    """DNS rebinding: public when the endpoint was saved, loopback when the delivery connects."""
    real = socket.getaddrinfo
    answers = {"count": 0}

    def rebinding(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "hooks.rebind.example":
            answers["count"] += 1
            address = "93.184.215.14" if answers["count"] == 1 else "127.0.0.1"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, receiver.port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setitem(container.settings, "ENV", "production")
    url = f"https://hooks.rebind.example:{receiver.port}/hooks"
    response = client.post(
        "/v1/webhook-endpoints",
        json={"url": url, "event_types": ["label.purchased"]},
        headers=platform.headers,
    )
    assert response.status_code == 201  # resolved to a public address then
    [delivery_id] = delivery_ids(container, emit(container, platform))
    assert isinstance(attempt(container, delivery_id), float)
    [logged] = attempts(container, delivery_id)
    assert logged.outcome == "refused" and receiver.deliveries == []


def test_tracking_changes_are_emitted_with_the_canonical_milestone_and_reason(
    app, client, container, make_tenant, receiver
):
    tenant = make_tenant()
    subscribe(client, tenant, receiver, ["tracking.updated", "tracking.exception", "shipment.delivered"])
    number = new_number()
    shipment_id = shipment_with_number(app, client, tenant, "ups", number)
    assert post_ups(client, track_alert(number, "I", "OT", "101500")).status_code == 202
    drain(app)
    assert post_ups(client, track_alert(number, "X", "HX", "120000")).status_code == 202
    drain(app)
    assert post_ups(client, track_alert(number, "D", "FS", "150000")).status_code == 202
    drain(app)
    drain(app)  # the deliveries queued by the last normalisation

    assert all(d.verified for d in receiver.deliveries)
    seen = [(d.payload["type"], d.payload["data"]) for d in receiver.deliveries]
    updates = [data for kind, data in seen if kind == "tracking.updated"]
    assert [(u["previous_milestone"], u["milestone"]) for u in updates] == [
        ("pending", "out_for_delivery"),
        ("out_for_delivery", "exception"),
        ("exception", "delivered"),
    ]
    assert all(u["shipment_id"] == shipment_id and u["tracking_number"] == number for u in updates)
    [exception] = [data for kind, data in seen if kind == "tracking.exception"]
    assert exception["reason"] == "held_by_carrier" and exception["milestone"] == "exception"
    [delivered] = [data for kind, data in seen if kind == "shipment.delivered"]
    assert delivered["delivered_at"].startswith("2026-11-20T15:00")

    assert post_ups(client, track_alert(number, "D", "FS", "150000")).status_code == 202  # a re-delivery
    drain(app)
    drain(app)
    assert len(receiver.deliveries) == len(seen)  # no change, no event
