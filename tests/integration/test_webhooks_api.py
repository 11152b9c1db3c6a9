"""Webhook endpoints over the API: secrets shown once, tenancy, URL safety, rotation, the event types."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from gateway import create_app, webhooks
from gateway.webhooks.tables import WebhookDelivery, WebhookEvent

pytestmark = pytest.mark.integration

LABEL = {"shipment_id": "shp_TEST", "label_id": "lbl_TEST", "carrier": "ups", "tracking_number": "1Z1"}


def subscribe(client: Any, tenant: Any, url: str, types: list[str] | None = None, **extra: Any) -> Any:
    body = {"url": url, "event_types": types or ["label.purchased"], **extra}
    return client.post("/v1/webhook-endpoints", json=body, headers=tenant.headers)


@pytest.fixture
def production_client(settings):
    """The same gateway in production mode (the default ENV), with one allowlisted host."""
    application = create_app(
        {**settings, "ENV": "production", "WEBHOOK_ALLOWLIST": "hooks.internal.test 10.9.0.0/16"}
    )
    yield application.test_client()
    application.extensions["handoff"].dispose()


def test_the_secret_is_shown_once_and_never_again(client, platform):
    created = subscribe(client, platform, "https://example.com/hooks", description="orders")
    assert created.status_code == 201
    body = created.get_json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 30
    assert body["enabled"] is True and body["disabled_reason"] is None
    assert created.headers["Location"].endswith(body["id"])

    read = client.get(f"/v1/webhook-endpoints/{body['id']}", headers=platform.headers).get_json()
    assert "secret" not in read and read["url"] == "https://example.com/hooks"
    listed = client.get("/v1/webhook-endpoints", headers=platform.headers).get_json()["data"]
    assert [e["id"] for e in listed] == [body["id"]]
    assert all("secret" not in e for e in listed)


def test_another_tenants_endpoint_and_events_are_404(client, make_tenant):
    owner, other = make_tenant(), make_tenant()
    endpoint = subscribe(client, owner, "https://example.com/a").get_json()
    for method, path in [
        ("get", f"/v1/webhook-endpoints/{endpoint['id']}"),
        ("patch", f"/v1/webhook-endpoints/{endpoint['id']}"),
        ("delete", f"/v1/webhook-endpoints/{endpoint['id']}"),
        ("post", f"/v1/webhook-endpoints/{endpoint['id']}/test"),
        ("post", f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret"),
        ("get", f"/v1/webhook-endpoints/{endpoint['id']}/attempts"),
    ]:
        kwargs = {"json": {}} if method in ("post", "patch") else {}
        response = getattr(client, method)(path, headers=other.headers, **kwargs)
        assert response.status_code == 404, (method, path)
        assert response.content_type == "application/problem+json"
    assert client.get("/v1/webhook-endpoints", headers=other.headers).get_json()["data"] == []


def test_bad_input_is_a_422_with_field_errors(client, platform):
    unknown_type = subscribe(client, platform, "https://example.com/x", ["label.printed"])
    assert unknown_type.status_code == 422 and "event_types" in str(unknown_type.get_json()["errors"])
    no_types = client.post(
        "/v1/webhook-endpoints",
        json={"url": "https://example.com/x", "event_types": []},
        headers=platform.headers,
    )
    assert no_types.status_code == 422
    not_http = subscribe(client, platform, "ftp://example.com/x")
    assert not_http.status_code == 422 and not_http.get_json()["type"].endswith("/webhook-url-refused")
    with_credentials = subscribe(client, platform, "https://user:pw@example.com/x")
    assert with_credentials.status_code == 422 and "credentials" in with_credentials.get_json()["detail"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hooks",
        "https://127.0.0.1/hooks",
        "https://localhost/hooks",
        "https://10.0.0.5/hooks",
        "https://192.168.1.1/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://0.0.0.0/hooks",
    ],
)
def test_private_loopback_and_link_local_destinations_are_refused_outside_test_mode(
    production_client, make_tenant, url
):
    tenant = make_tenant()
    response = subscribe(production_client, tenant, url)
    assert response.status_code == 422, response.get_json()
    problem = response.get_json()
    assert problem["type"].endswith("/webhook-url-refused")
    assert problem["errors"]["url"] and ("private" in problem["detail"] or "https" in problem["detail"])


def test_production_mode_wants_https_and_allows_the_allowlist(production_client, make_tenant):
    tenant = make_tenant()
    plain = subscribe(production_client, tenant, "http://example.com/hooks")
    assert plain.status_code == 422 and "https" in plain.get_json()["detail"]
    assert (
        subscribe(production_client, tenant, "https://10.9.3.4/hooks").status_code == 201
    )  # allowlisted network
    assert subscribe(production_client, tenant, "https://10.8.3.4/hooks").status_code == 422


def test_test_mode_accepts_a_local_receiver(client, platform):
    assert subscribe(client, platform, "http://127.0.0.1:9/hooks").status_code == 201


def test_rotation_returns_a_new_secret_once_and_reports_the_grace_period(client, platform):
    endpoint = subscribe(client, platform, "https://example.com/r").get_json()
    rotated = client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret",
        json={"grace_period_seconds": 3600},
        headers=platform.headers,
    )
    assert rotated.status_code == 200
    body = rotated.get_json()
    assert body["secret"].startswith("whsec_") and body["secret"] != endpoint["secret"]
    assert body["previous_secret_expires_at"] is not None
    too_long = client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret",
        json={"grace_period_seconds": 30 * 86400},
        headers=platform.headers,
    )
    assert too_long.status_code == 422


def test_emit_writes_nothing_without_a_subscriber_and_one_delivery_per_subscribed_endpoint(
    app, client, make_tenant
):
    tenant, bystander = make_tenant(), make_tenant()
    container = app.extensions["handoff"]
    with container.sessions() as session:
        assert webhooks.emit(session, tenant.tenant_id, "label.purchased", LABEL) is None
        session.commit()
    subscribe(client, tenant, "https://example.com/1", ["label.purchased", "label.failed"])
    subscribe(client, tenant, "https://example.com/2", ["label.purchased"])
    subscribe(client, tenant, "https://example.com/3", ["tracking.updated"])
    paused = subscribe(client, tenant, "https://example.com/4", ["label.purchased"]).get_json()
    client.patch(f"/v1/webhook-endpoints/{paused['id']}", json={"enabled": False}, headers=tenant.headers)
    subscribe(client, bystander, "https://example.com/5", ["label.purchased"])

    with container.sessions() as session:
        event_id = webhooks.emit(session, tenant.tenant_id, "label.purchased", LABEL)
        session.commit()
        assert event_id.startswith("msg_")
        deliveries = session.scalars(
            sa.select(WebhookDelivery).where(WebhookDelivery.event_id == event_id)
        ).all()
        assert len(deliveries) == 2  # the two enabled endpoints of this tenant subscribed to the type
        assert {d.tenant_id for d in deliveries} == {tenant.tenant_id}
        assert (
            session.scalar(sa.select(sa.func.count()).where(WebhookEvent.tenant_id == bystander.tenant_id))
            == 0
        )

    listed = client.get("/v1/webhook-events?type=label.purchased", headers=tenant.headers).get_json()["data"]
    assert [e["id"] for e in listed] == [event_id] and listed[0]["data"]["label_id"] == "lbl_TEST"
    assert client.get(f"/v1/webhook-events/{event_id}", headers=bystander.headers).status_code == 404


def test_emit_in_a_rolled_back_transaction_leaves_nothing(app, client, make_tenant):
    tenant = make_tenant()
    subscribe(client, tenant, "https://example.com/1")
    container = app.extensions["handoff"]
    with container.sessions() as session:
        webhooks.emit(session, tenant.tenant_id, "label.purchased", LABEL)
        session.rollback()
    with container.sessions() as session:
        assert (
            session.scalar(sa.select(sa.func.count()).where(WebhookEvent.tenant_id == tenant.tenant_id)) == 0
        )


def test_a_payload_that_breaks_its_published_schema_is_refused_at_emit_time(app, make_tenant):
    tenant = make_tenant()
    with app.extensions["handoff"].sessions() as session:
        with pytest.raises(ValueError, match=r"label\.purchased payload"):
            webhooks.emit(session, tenant.tenant_id, "label.purchased", {"shipment_id": "shp_1"})
        with pytest.raises(ValueError, match="unknown webhook event type"):
            webhooks.emit(session, tenant.tenant_id, "label.printed", LABEL)


def test_every_event_type_publishes_its_payload_schema(client, platform):
    body = client.get("/v1/webhook-event-types", headers=platform.headers).get_json()["data"]
    assert [row["type"] for row in body] == list(webhooks.EVENT_TYPES)
    for row in body:
        assert row["schema"]["$schema"].startswith("https://json-schema.org/")
        webhooks.validate(row["type"], row["schema"]["examples"][0])  # the published example fits
    spec = client.get("/openapi.json").get_json()
    assert "/v1/webhook-event-types" in spec["paths"]


def test_old_finished_events_are_purged_but_pending_ones_are_kept(app, client, make_tenant):
    from datetime import timedelta

    from gateway.jobs import worker
    from gateway.kernel.types import utcnow
    from gateway.webhooks import jobs as jobs_webhooks

    tenant = make_tenant()
    subscribe(client, tenant, "https://example.com/old")
    container = app.extensions["handoff"]
    with container.sessions() as session:
        done = webhooks.emit(session, tenant.tenant_id, "label.purchased", LABEL)
        waiting = webhooks.emit(session, tenant.tenant_id, "label.purchased", LABEL)
        fresh = webhooks.emit(session, tenant.tenant_id, "label.purchased", LABEL)
        for event_id in (done, waiting):
            session.get(WebhookEvent, event_id).created_at = utcnow() - timedelta(days=31)
        session.execute(
            sa.update(WebhookDelivery)
            .where(WebhookDelivery.event_id.in_([done, fresh]))
            .values(state="succeeded")
        )
        session.commit()
    worker.set_app(app)
    assert jobs_webhooks.purge_old() >= 1
    with container.sessions() as session:
        left = set(
            session.scalars(sa.select(WebhookEvent.id).where(WebhookEvent.tenant_id == tenant.tenant_id))
        )
        assert left == {waiting, fresh}
        assert session.scalar(sa.select(sa.func.count()).where(WebhookDelivery.event_id == done)) == 0
