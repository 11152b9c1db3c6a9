"""No tenant reaches another tenant's tracking: not by resolving a review job with someone else's number,
not by guessing numbers, not through the tracking lookup, not through webhooks, not when a carrier
issues one number twice (then the label that took it first keeps its events and both are flagged).
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
import responses
import sqlalchemy as sa

from gateway import create_app
from gateway.kernel import models
from gateway.kernel.types import utcnow
from gateway.labels.tables import Label, LabelJob
from gateway.tracking import ingest as tracking_ingest
from gateway.webhooks.tables import WebhookEvent
from tests.helpers import shipment_body
from tests.integration.test_callbacks import (  # noqa: F401 - the autouse fixture configures the secrets
    callback_secrets,
    dhl_checkpoint,
    new_number,
    post_signed,
    post_ups,
    run_worker,
    track_alert,
)
from tests.unit.adapters import ups_fixtures as ups

pytestmark = pytest.mark.integration

PROBLEMS = "https://handoff.dev/problems/"


def _shipment(client: Any, tenant: Any) -> str:
    created = client.post(
        "/v1/shipments", json=shipment_body(reference=f"ORD-{uuid.uuid4().hex[:6]}"), headers=tenant.headers
    )
    assert created.status_code == 201, created.get_json()
    return created.get_json()["id"]


def labelled(app: Any, client: Any, tenant: Any, carrier: str, number: str, *, minutes_ago: int = 0) -> str:
    """A shipment with a bought label carrying ``number``, as the label flow records it."""
    shipment_id = _shipment(client, tenant)
    container = app.extensions["handoff"]
    with container.sessions() as session:
        shipment = session.get(models.Shipment, shipment_id)
        shipment.carrier, shipment.service = carrier, "P"
        shipment.tracking_number, shipment.status = number, "purchased"
        session.add(
            Label(
                tenant_id=tenant.tenant_id,
                shipment_id=shipment_id,
                carrier=carrier,
                service="P",
                tracking_number=number,
                tracking_numbers=[number],
                status="purchased",
                purchased_at=utcnow() - timedelta(minutes=minutes_ago),
                source="carrier",
            )
        )
        session.flush()
        # What recording a label does next (services.labels._record_purchase).
        tracking_ingest.attach_parked(session, shipment)
        session.commit()
    return shipment_id


def in_review(app: Any, client: Any, tenant: Any, carrier: str) -> tuple[str, str]:
    """A shipment whose purchase outcome was lost at the carrier: its job waits in needs_review."""
    shipment_id = _shipment(client, tenant)
    with app.extensions["handoff"].sessions() as session:
        shipment = session.get(models.Shipment, shipment_id)
        shipment.carrier, shipment.service, shipment.status = carrier, "P", "needs_review"
        job = LabelJob(
            tenant_id=tenant.tenant_id,
            shipment_id=shipment_id,
            state="needs_review",
            label_format="PDF",
            attempts=1,
            last_error_code="outcome_unknown",
            resolution=[],
        )
        session.add(job)
        session.commit()
        return shipment_id, job.id


def resolve(client: Any, tenant: Any, job_id: str, number: str) -> Any:
    return client.post(
        f"/v1/jobs/{job_id}/resolve",
        json={"outcome": "purchased", "tracking_number": number, "note": "found it"},
        headers=tenant.headers,
    )


def timeline(client: Any, tenant: Any, shipment_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/shipments/{shipment_id}/events", headers=tenant.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def exceptions(client: Any, tenant: Any) -> dict[str, dict[str, Any]]:
    response = client.get("/v1/tracking/exceptions", headers=tenant.headers)
    assert response.status_code == 200, response.get_json()
    return {row["shipment_id"]: row for row in response.get_json()["data"]}


# -- resolve --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", [str, lambda n: f"  {n} ", str.lower])
def test_a_resolve_cannot_take_a_tracking_number_another_tenant_holds(
    app, client, make_tenant, spelling
) -> None:
    tenant_a, tenant_b = make_tenant(("platform", "ops")), make_tenant(("platform", "ops"))
    number = new_number()
    a_shipment = labelled(app, client, tenant_a, "ups", number)
    b_shipment, job_id = in_review(app, client, tenant_b, "ups")

    refused = resolve(client, tenant_b, job_id, spelling(number))

    assert refused.status_code == 409
    body = refused.get_json()
    assert refused.content_type == "application/problem+json"
    assert body["type"] == PROBLEMS + "tracking-number-taken"
    assert body["shipment_ids"] == []  # another tenant's: nothing about it is shown
    assert a_shipment not in json.dumps(body) and tenant_a.tenant_id not in json.dumps(body)
    job = client.get(f"/v1/jobs/{job_id}", headers=tenant_b.headers).get_json()
    assert job["state"] == "needs_review"
    shipment = client.get(f"/v1/shipments/{b_shipment}", headers=tenant_b.headers).get_json()
    assert shipment["status"] == "needs_review" and shipment["tracking_number"] is None
    assert client.get(f"/v1/tracking/{number}", headers=tenant_b.headers).status_code == 404


def test_a_resolve_cannot_give_one_number_to_two_shipments_of_the_same_tenant(app, client, make_tenant):
    tenant = make_tenant(("platform", "ops"))
    awb = new_number("DHL")
    first = labelled(app, client, tenant, "dhl_express", awb)
    _second, job_id = in_review(app, client, tenant, "dhl_express")

    refused = resolve(client, tenant, job_id, awb)

    assert refused.status_code == 409
    assert refused.get_json()["type"] == PROBLEMS + "tracking-number-taken"
    assert refused.get_json()["shipment_ids"] == [first]  # your own shipment is named


def test_a_resolve_with_a_free_number_at_a_carrier_without_lookup_attaches_it(app, client, make_tenant):
    tenant = make_tenant(("platform", "ops"))
    awb = new_number("DHL")
    shipment_id, job_id = in_review(app, client, tenant, "dhl_express")

    resolved = resolve(client, tenant, job_id, awb)

    assert resolved.status_code == 200, resolved.get_json()
    assert client.get(f"/v1/tracking/{awb}", headers=tenant.headers).get_json()["shipment_id"] == shipment_id


# -- resolve at a carrier that looks purchases up by reference (UPS) --------------------------------------

HOST = "https://ups-isolation.test"


@pytest.fixture
def ups_app(settings: dict[str, Any]) -> Any:
    # Its own account number: circuit breakers are per process and per account, so a 503 here
    # cannot trip another test's adapter.
    account = uuid.uuid4().hex[:6].upper()
    entry = {
        "adapter": "ups",
        "id": f"ups-{uuid.uuid4().hex[:8]}",
        "config": {**ups.CONFIG, "base_url": HOST, "account_number": account},
    }
    application = create_app({**settings, "CARRIERS": json.dumps([entry])})
    yield application
    application.extensions["handoff"].exchange_recorder.close()
    application.extensions["handoff"].dispose()


def _reference_reply(number: str) -> dict[str, Any]:
    """A Reference Tracking reply (Tracking.yaml TrackApiResponse) listing one package."""
    return json.loads(json.dumps(ups.TRACK_REPLY).replace("1Z12345E0205271688", number))


def _mock_ups() -> None:
    """UPS's token and rating calls (booking a shipment rates it); lookups are added per test."""
    responses.add(responses.POST, f"{HOST}/security/v1/oauth/token", json=ups.TOKEN_REPLY)
    responses.add(responses.POST, re.compile(rf"{re.escape(HOST)}/api/rating/.*"), json=ups.RATE_REPLY)


def _mock_lookup(reference: str, status: int, body: dict[str, Any]) -> None:
    responses.add(
        responses.GET, f"{HOST}/api/track/v1/reference/details/{reference}", json=body, status=status
    )


def _ups_tenant(ups_app: Any) -> Any:
    from gateway.kernel import auth
    from tests.conftest import TenantKey

    with ups_app.extensions["handoff"].sessions() as session:
        slug = f"t-{uuid.uuid4().hex[:10]}"
        tenant = models.Tenant(name=slug, slug=slug)
        session.add(tenant)
        session.flush()
        row, key = auth.create_key(
            session, tenant.id, ("platform", "ops"), pepper=ups_app.config["SECRET_PEPPER"]
        )
        session.commit()
        return TenantKey(tenant.id, key, row.id)


@responses.activate
def test_a_resolve_at_ups_needs_the_number_ups_shows_under_the_shipments_reference_on_our_account(ups_app):
    client = ups_app.test_client()
    tenant = _ups_tenant(ups_app)
    account = (
        ups_app.extensions["handoff"]
        .carriers.get(next(iter(ups_app.extensions["handoff"].carriers)))
        .account_id
    )
    _mock_ups()
    shipment_id, job_id = in_review(ups_app, client, tenant, "ups")
    nothing_id, nothing_job = in_review(ups_app, client, tenant, "ups")
    bought, other = "1Z" + uuid.uuid4().hex[:16].upper(), "1Z" + uuid.uuid4().hex[:16].upper()
    _mock_lookup(shipment_id, 200, _reference_reply(bought))
    _mock_lookup(nothing_id, 404, ups.error_reply("151044", "No tracking information available"))

    wrong = resolve(client, tenant, job_id, other)
    assert wrong.status_code == 422
    assert wrong.get_json()["type"] == PROBLEMS + "tracking-number-unconfirmed"
    assert wrong.get_json()["confirmed_tracking_numbers"] == [bought]
    assert wrong.get_json()["account"] == account
    unknown = resolve(client, tenant, nothing_job, bought)
    assert unknown.status_code == 422
    assert unknown.get_json()["type"] == PROBLEMS + "tracking-number-unconfirmed"

    right = resolve(client, tenant, job_id, bought)
    assert right.status_code == 200, right.get_json()
    with ups_app.extensions["handoff"].sessions() as session:
        label = session.execute(sa.select(Label).where(Label.shipment_id == shipment_id)).scalar_one()
    assert (label.tracking_number, label.account, label.source) == (bought, account, "ops")


@responses.activate
def test_a_resolve_at_ups_while_ups_is_down_is_a_503_and_the_job_stays_in_review(ups_app):
    client = ups_app.test_client()
    tenant = _ups_tenant(ups_app)
    _mock_ups()
    shipment_id, job_id = in_review(ups_app, client, tenant, "ups")
    _mock_lookup(shipment_id, 503, ups.error_reply("190001", "Service unavailable"))

    answer = resolve(client, tenant, job_id, "1Z" + uuid.uuid4().hex[:16].upper())

    assert answer.status_code == 503
    assert answer.get_json()["type"] == PROBLEMS + "carrier-unavailable"
    assert client.get(f"/v1/jobs/{job_id}", headers=tenant.headers).get_json()["state"] == "needs_review"


# -- events -----------------------------------------------------------------------------------------------


def test_tenant_b_cannot_read_tenant_a_tracking_by_guessing_numbers_or_ids(app, client, make_tenant):
    tenant_a, tenant_b = make_tenant(("platform", "ops")), make_tenant(("platform", "ops"))
    number = new_number()
    a_shipment = labelled(app, client, tenant_a, "ups", number)
    assert post_ups(client, track_alert(number, "I", "OT")).status_code == 202
    run_worker(app)

    assert client.get(f"/v1/tracking/{number}", headers=tenant_a.headers).status_code == 200
    for path in (
        f"/v1/tracking/{number}",
        f"/v1/tracking/{number.lower()}",
        f"/v1/shipments/{a_shipment}/events",
        f"/v1/shipments/{a_shipment}",
    ):
        answer = client.get(path, headers=tenant_b.headers)
        assert answer.status_code == 404, path
        assert answer.get_json()["type"] == PROBLEMS + "not-found"
    assert exceptions(client, tenant_b) == {}


def test_a_number_issued_twice_reaches_only_the_label_that_took_it_first_and_both_are_flagged(
    app, client, make_tenant
):
    tenant_a, tenant_b = make_tenant(("platform", "ops")), make_tenant(("platform", "ops"))
    awb = new_number("DHL")
    a_shipment = labelled(app, client, tenant_a, "dhl_express", awb, minutes_ago=60)
    # The carrier (or a restarted simulator) sells the same number again, to tenant B.
    b_shipment = labelled(app, client, tenant_b, "dhl_express", awb)

    # Flagged for ops as soon as the second label is recorded, before any event.
    b_flag = exceptions(client, tenant_b)[b_shipment]["number_conflict"]
    assert b_flag["type"] == "tracking-number-reissued"
    assert b_flag["receives_events"] is False and b_flag["other_tenants"] is True
    assert b_flag["same_tenant_shipments"] == []
    assert a_shipment not in json.dumps(b_flag)
    a_flag = exceptions(client, tenant_a)[a_shipment]["number_conflict"]
    assert a_flag["receives_events"] is True and b_shipment not in json.dumps(a_flag)

    assert post_signed(client, "dhl_express", dhl_checkpoint(awb, "PU", "07:00:00")).status_code == 202
    assert post_signed(client, "dhl_express", dhl_checkpoint(awb, "WC", "09:00:00")).status_code == 202
    run_worker(app)

    a_events = timeline(client, tenant_a, a_shipment)
    assert [e["raw"]["code"] for e in a_events["events"]] == ["PU", "WC"]
    b_events = timeline(client, tenant_b, b_shipment)
    assert b_events["events"] == [] and b_events["milestone"] == "pending"
    assert b_events["number_conflict"]["receives_events"] is False
    looked_up = client.get(f"/v1/tracking/{awb}", headers=tenant_b.headers).get_json()
    assert looked_up["shipment_id"] == b_shipment and looked_up["events"] == []


def test_a_number_issued_twice_within_one_tenant_names_the_other_shipment_and_the_lookup_finds_the_holder(
    app, client, make_tenant
):
    tenant = make_tenant(("platform", "ops"))
    number = new_number()
    first = labelled(app, client, tenant, "ups", number, minutes_ago=30)
    second = labelled(app, client, tenant, "ups", number)
    assert post_ups(client, track_alert(number, "I", "OT")).status_code == 202
    run_worker(app)

    looked_up = client.get(f"/v1/tracking/{number}", headers=tenant.headers).get_json()
    assert looked_up["shipment_id"] == first and len(looked_up["events"]) == 1
    assert looked_up["number_conflict"]["same_tenant_shipments"] == [second]
    assert timeline(client, tenant, second)["number_conflict"]["same_tenant_shipments"] == [first]
    assert timeline(client, tenant, second)["events"] == []


def test_one_number_at_two_carriers_gets_each_carriers_events_on_its_own_label_only(app, client, make_tenant):
    tenant_a, tenant_b = make_tenant(("platform", "ops")), make_tenant(("platform", "ops"))
    number = new_number()
    # The same string, but on a DHL Express label of A's (bought first) and a UPS label of B's.
    a_dhl = labelled(app, client, tenant_a, "dhl_express", number, minutes_ago=60)
    b_ups = labelled(app, client, tenant_b, "ups", number)

    assert post_ups(client, track_alert(number, "I", "OT")).status_code == 202
    run_worker(app)

    assert len(timeline(client, tenant_b, b_ups)["events"]) == 1
    a_events = timeline(client, tenant_a, a_dhl)
    assert a_events["events"] == [] and a_events["milestone"] == "pending"
    looked_up = client.get(f"/v1/tracking/{number}", headers=tenant_a.headers).get_json()
    assert looked_up["shipment_id"] == a_dhl and looked_up["events"] == []


def test_tenant_b_webhooks_never_carry_tenant_a_events_even_when_b_holds_a_reissued_number(
    app, client, make_tenant
):
    tenant_a, tenant_b = make_tenant(("platform", "ops")), make_tenant(("platform", "ops"))
    for tenant in (tenant_a, tenant_b):
        subscribed = client.post(
            "/v1/webhook-endpoints",
            json={"url": "http://127.0.0.1:9/hooks", "event_types": ["tracking.updated"]},
            headers=tenant.headers,
        )
        assert subscribed.status_code == 201, subscribed.get_json()
    number = new_number()
    a_shipment = labelled(app, client, tenant_a, "ups", number, minutes_ago=10)
    labelled(app, client, tenant_b, "ups", number)

    assert post_ups(client, track_alert(number, "I", "OT")).status_code == 202
    run_worker(app)

    with app.extensions["handoff"].sessions() as session:
        sent = session.execute(
            sa.select(WebhookEvent.tenant_id, WebhookEvent.type, WebhookEvent.data).where(
                WebhookEvent.tenant_id.in_([tenant_a.tenant_id, tenant_b.tenant_id])
            )
        ).all()
    assert [(t, kind) for t, kind, _ in sent] == [(tenant_a.tenant_id, "tracking.updated")]
    assert sent[0].data["shipment_id"] == a_shipment
