"""Predictions in flight, at-risk alerts before the promise breaks, playbooks with owners and timers.

The tenant's history is 60 UPS Ground deliveries (half in 1 business day, 6 in 20 in 2, 3 in 20 in 3,
1 in 20 in 5), trained by the daily job. Each shipment here is booked through the API with a promise
date, gets a UPS Ground label, and its carrier events are ingested the way polling stores them; the
exceptions watch (``gateway.exceptions.watch.run``, every minute in production) is run at chosen
instants of a coming week, so the weekdays are fixed.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from gateway import create_app
from gateway.exceptions import watch
from gateway.predictions.tables import ShipmentPrediction
from gateway.tracking import ingest
from gateway.tracking.tables import ShipmentTracking
from gateway.webhooks.tables import WebhookEvent
from schemas import events, taxonomy
from tests.helpers import shipment_body
from tests.integration.test_predictions import PATTERN, _deliver_history, _retrain, ups_ground_label

pytestmark = pytest.mark.integration

TODAY = datetime.now(UTC).date()
MONDAY = TODAY + timedelta(days=7 - TODAY.weekday())  # next week's Monday: weekdays are known


def at(day_offset: int, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(MONDAY + timedelta(days=day_offset), datetime.min.time(), UTC) + timedelta(
        hours=hour, minutes=minute
    )


@pytest.fixture(scope="module")
def exc_app(settings: dict[str, Any]) -> Any:
    app = create_app({**settings, "CARRIERS": json.dumps([]), "ETA_MIN_SAMPLES": 20, "ETA_POOLED": False})
    yield app
    app.extensions["handoff"].dispose()


_OPS: dict[int, Any] = {}


@pytest.fixture
def ops(exc_app: Any, make_tenant: Any) -> Any:
    """A tenant with a trained model, listening for the new webhooks (made once per app)."""
    if id(exc_app) in _OPS:
        return _OPS[id(exc_app)]
    client = exc_app.test_client()
    tenant = make_tenant(("platform", "ops"))
    _deliver_history(exc_app, client, tenant, PATTERN * 3)
    _retrain(exc_app)
    hook = client.post(
        "/v1/webhook-endpoints",
        json={
            "url": "https://hooks.example.com/handoff",
            "event_types": ["shipment.at_risk", "exception.escalated", "recipient.notify"],
        },
        headers=tenant.headers,
    )
    assert hook.status_code == 201, hook.get_json()
    _OPS[id(exc_app)] = tenant
    return tenant


def _book(app: Any, tenant: Any, promise: date | None) -> tuple[str, str]:
    """A shipment booked with a promise and a UPS Ground label bought on Monday at 10:00."""
    client = app.test_client()
    body = shipment_body(reference=f"X-{uuid.uuid4().hex[:8]}")
    body["promise_date"] = promise.isoformat() if promise else None
    created = client.post("/v1/shipments", json=body, headers=tenant.headers)
    assert created.status_code == 201, created.get_json()
    shipment_id = created.get_json()["id"]
    with app.extensions["handoff"].sessions() as session:
        number = ups_ground_label(session, tenant.tenant_id, shipment_id, at(0, 10))
        session.commit()
    return shipment_id, number


def _event(app: Any, number: str, when: datetime, milestone: str, reason: str | None = None) -> None:
    with app.extensions["handoff"].sessions() as session:
        ingest.ingest(
            session,
            [
                events.CanonicalEvent(
                    tracking_number=number,
                    carrier="ups",
                    occurred_at=when,
                    raw_code=f"{milestone}-{reason or ''}",
                    milestone=taxonomy.Milestone(milestone),
                    reason=taxonomy.ExceptionReason(reason) if reason else None,
                    source_event_id=uuid.uuid4().hex,
                )
            ],
        )
        session.commit()


def _watch(app: Any, now: datetime) -> watch.Counts:
    container = app.extensions["handoff"]
    with container.sessions() as session:
        counts = watch.run(session, container.settings, now=now, limit=10_000)
        session.commit()
    return counts


def _predictions(app: Any, shipment_id: str) -> list[ShipmentPrediction]:
    with app.extensions["handoff"].sessions() as session:
        return list(
            session.execute(
                sa.select(ShipmentPrediction)
                .where(ShipmentPrediction.shipment_id == shipment_id)
                .order_by(ShipmentPrediction.made_at)
            ).scalars()
        )


def _exceptions(app: Any, tenant: Any, shipment_id: str, status: str = "all") -> list[dict[str, Any]]:
    resp = app.test_client().get(
        f"/v1/exceptions?shipment_id={shipment_id}&status={status}", headers=tenant.headers
    )
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["data"]


def _hooks(app: Any, tenant: Any, kind: str) -> list[dict[str, Any]]:
    with app.extensions["handoff"].sessions() as session:
        return [
            e.data
            for e in session.execute(
                sa.select(WebhookEvent).where(
                    WebhookEvent.tenant_id == tenant.tenant_id, WebhookEvent.type == kind
                )
            ).scalars()
        ]


def test_a_prediction_is_made_at_booking_and_again_at_each_event_narrowing_as_the_parcel_moves(
    exc_app: Any, ops: Any
) -> None:
    shipment_id, number = _book(exc_app, ops, MONDAY + timedelta(days=2))
    _event(exc_app, number, at(0, 11), "info_received")
    _watch(exc_app, at(0, 11, 5))
    _event(exc_app, number, at(1, 8), "in_transit")
    _watch(exc_app, at(1, 9))
    _event(exc_app, number, at(2, 7), "out_for_delivery")
    _watch(exc_app, at(2, 7, 30))

    listed = exc_app.test_client().get(f"/v1/shipments/{shipment_id}/predictions", headers=ops.headers)
    assert listed.status_code == 200, listed.get_json()
    assert [p["trigger"] for p in listed.get_json()["data"]] == ["booking", "event", "event"]
    assert float(listed.get_json()["data"][0]["risk"]) == 0.2
    made = _predictions(exc_app, shipment_id)
    assert [p.trigger for p in made] == ["booking", "event", "event"]
    booking, tuesday, van = made
    # At booking: the whole history. p10-p90 of 1,1,...,2,...,3,5 business days after Monday.
    assert (booking.p10, booking.p50, booking.p90) == (MONDAY + timedelta(days=1),) * 2 + (
        MONDAY + timedelta(days=3),
    )
    assert float(booking.on_time_probability) == 0.8  # 16 of 20 take 2 business days or fewer
    assert booking.model_id and booking.model_id.startswith("etm_")
    # Still moving on Tuesday: only deliveries that took 1 day or more remain (all of them), so no change
    # in the window, but the prediction says which facts it used.
    assert tuesday.milestone == "in_transit" and "1 business day in transit" in tuesday.factors
    # Out for delivery on Wednesday: today, certain, and within the promise.
    assert (van.p10, van.p50, van.p90, float(van.on_time_probability)) == (at(2, 0).date(),) * 3 + (1.0,)
    with exc_app.extensions["handoff"].sessions() as session:
        row = session.get(ShipmentTracking, shipment_id)
        assert row.predicted_p50 == at(2, 0).date() and float(row.delivery_risk) == 0.0
        assert row.reassess_due is False


def test_at_risk_fires_a_day_before_the_promise_when_a_delay_makes_it_likely_to_break(
    exc_app: Any, ops: Any
) -> None:
    client = exc_app.test_client()
    saved = client.put(
        "/v1/playbook",
        json={"document": {"at_risk_threshold": 0.35, "entries": []}, "note": "alert earlier"},
        headers=ops.headers,
    )
    assert saved.status_code == 201, saved.get_json()
    promise = MONDAY + timedelta(days=2)  # Wednesday
    risky, risky_number = _book(exc_app, ops, promise)
    safe, safe_number = _book(exc_app, ops, MONDAY + timedelta(days=4))  # Friday: room to spare
    for number in (risky_number, safe_number):
        _event(exc_app, number, at(0, 11), "info_received")
    _watch(exc_app, at(0, 11, 5))
    assert not _exceptions(exc_app, ops, risky)  # 20 % risk at booking: below the 35 % threshold

    # Tuesday morning: the carrier reports a delay. Only deliveries that took 2 days or more can
    # still be this one: 6 of those 10 took exactly 2, so the risk of missing Wednesday is 40 %.
    for number in (risky_number, safe_number):
        _event(exc_app, number, at(1, 8), "exception", "carrier_delay")
    _watch(exc_app, at(1, 8, 30))

    opened = {e["reason"]: e for e in _exceptions(exc_app, ops, risky, "open")}
    assert set(opened) == {"carrier_delay", "at_risk"}
    alert = opened["at_risk"]
    assert alert["owner"] == "ops" and float(alert["detail"]["risk"]) == 0.4
    assert alert["detail"]["promise_date"] == promise.isoformat()
    lead = datetime.combine(promise, datetime.max.time(), UTC) - datetime.fromisoformat(alert["opened_at"])
    assert lead >= timedelta(hours=24)
    assert opened["carrier_delay"]["owner"] == "carrier"  # the taxonomy's party, by the default entry
    [hook] = [h for h in _hooks(exc_app, ops, "shipment.at_risk") if h["shipment_id"] == risky]
    assert (hook["risk"], hook["threshold"], hook["exception_id"]) == ("0.4", "0.35", alert["id"])
    # Friday was never in doubt: same delay, no alert.
    assert {e["reason"] for e in _exceptions(exc_app, ops, safe, "open")} == {"carrier_delay"}
    assert not [h for h in _hooks(exc_app, ops, "shipment.at_risk") if h["shipment_id"] == safe]

    # Delivered on Wednesday: everything it had open is resolved by the delivery.
    _event(exc_app, risky_number, at(2, 14), "delivered")
    _watch(exc_app, at(2, 14, 5))
    assert not _exceptions(exc_app, ops, risky, "open")
    assert {e["resolution"] for e in _exceptions(exc_app, ops, risky, "resolved")} == {"delivered"}

    # ETA accuracy counts it: predicted Tuesday at booking, delivered Wednesday, on time, alerted.
    kpis = client.get("/v1/kpis", headers=ops.headers).get_json()["totals"]["eta"]
    assert kpis["deliveries"] >= 1 and kpis["from_history"] >= 1 and kpis["at_risk_alerts"] >= 1
    assert kpis["mae_days"] is not None and kpis["window_coverage_percent"] is not None
    # ... and the console's control tower shows it for the week.
    from tests.integration.test_console_web import make_user, sign_in

    console = exc_app.test_client()
    sign_in(console, make_user(exc_app, ops.tenant_id, ("ops",)))
    tower = console.get("/console/").get_data(as_text=True)
    week = re.search(r"ETA error, business days.*?</tr>", tower, re.S)
    assert week is not None and f"{kpis['mae_days']} (" in week.group(0)
    # Its day-by-day chart counts the alert on the day the parcel was booked.
    alerts = re.search(r'aria-label="At-risk alerts, by day booked".*?</svg>', tower, re.S)
    assert alerts is not None
    shown = re.findall(r'class="value"[^>]*>([^<]*)</text>', alerts.group(0))
    assert len(shown) == 7 and sum(int(v) for v in shown) == kpis["at_risk_alerts"]


def test_a_playbook_timer_escalates_in_business_hours_and_runs_its_actions(exc_app: Any, ops: Any) -> None:
    client = exc_app.test_client()
    document = {
        "business_hours": {"timezone": "UTC", "start": "09:00", "end": "17:00"},
        "entries": [
            {
                "reason": "address_issue",
                "owner": "shipper",
                "timer": {"hours": 4, "business": True},
                "actions": ["notify_recipient", "request_reattempt"],
                "escalate_to": "ops",
                "escalation_timer": {"hours": 2},
            }
        ],
    }
    saved = client.put("/v1/playbook", json={"document": document}, headers=ops.headers)
    assert saved.status_code == 201, saved.get_json()
    shipment_id, number = _book(exc_app, ops, None)
    _event(exc_app, number, at(0, 15), "exception", "address_issue")
    _watch(exc_app, at(0, 15))

    [opened] = _exceptions(exc_app, ops, shipment_id, "open")
    assert opened["owner"] == "shipper"
    # Two business hours on Monday (15:00-17:00), two more on Tuesday from 09:00.
    assert datetime.fromisoformat(opened["due_at"]) == at(1, 11)
    done = {a["action"]: a["outcome"] for a in opened["actions"]}
    assert done["notify_recipient"] == "sent"
    assert done["request_reattempt"] == "manual"  # no carrier API offers it: ops are told to ask
    [notice] = [h for h in _hooks(exc_app, ops, "recipient.notify") if h["shipment_id"] == shipment_id]
    assert notice["reason"] == "address_issue" and notice["message"]

    _watch(exc_app, at(1, 10, 59))
    assert _exceptions(exc_app, ops, shipment_id, "open")[0]["escalation_level"] == 0
    _watch(exc_app, at(1, 11))
    [escalated] = _exceptions(exc_app, ops, shipment_id, "open")
    assert (escalated["owner"], escalated["escalation_level"]) == ("ops", 1)
    assert datetime.fromisoformat(escalated["due_at"]) == at(1, 13)  # plain hours now
    [hook] = [h for h in _hooks(exc_app, ops, "exception.escalated") if h["shipment_id"] == shipment_id]
    assert (hook["previous_owner"], hook["owner"]) == ("shipper", "ops")

    resolved = client.post(
        f"/v1/exceptions/{escalated['id']}/resolve", json={"note": "address corrected"}, headers=ops.headers
    )
    assert resolved.status_code == 200 and resolved.get_json()["resolution"] == "address corrected"
    again = client.post(f"/v1/exceptions/{escalated['id']}/resolve", json={"note": "x"}, headers=ops.headers)
    assert again.status_code == 409 and again.get_json()["type"].endswith("/exception-not-open")


def test_playbooks_are_versioned_validated_and_scoped_to_the_tenant(
    exc_app: Any, ops: Any, make_tenant: Any
) -> None:
    client = exc_app.test_client()
    bad = client.put(
        "/v1/playbook",
        json={"document": {"entries": [{"reason": "gremlins", "owner": "ops", "timer": {"hours": -1}}]}},
        headers=ops.headers,
    )
    assert bad.status_code == 422 and bad.headers["Content-Type"].startswith("application/problem+json")
    assert any("timer" in e for e in bad.get_json()["errors"]["document"])
    versions = client.get("/v1/playbook/versions", headers=ops.headers).get_json()["data"]
    assert [v["version"] for v in versions] == sorted((v["version"] for v in versions), reverse=True)
    assert all(v["created_by"] for v in versions)

    other = make_tenant(("platform", "ops"))
    fresh = client.get("/v1/playbook", headers=other.headers).get_json()
    assert fresh["version"] is None and {d["reason"] for d in fresh["defaults"]} >= {"at_risk", "lost"}
    shipment_id, number = _book(exc_app, ops, None)
    _event(exc_app, number, at(0, 12), "exception", "customs_documents")
    _watch(exc_app, at(0, 12, 1))
    [mine] = _exceptions(exc_app, ops, shipment_id, "open")
    assert mine["owner"] == "shipper"
    peek = client.get(f"/v1/exceptions/{mine['id']}", headers=other.headers)
    assert peek.status_code == 404 and peek.get_json()["type"].endswith("/not-found")
    assert (
        client.get(f"/v1/exceptions?shipment_id={shipment_id}", headers=other.headers).get_json()["data"]
        == []
    )
    resolve = client.post(f"/v1/exceptions/{mine['id']}/resolve", json={"note": "x"}, headers=other.headers)
    assert resolve.status_code == 404


def test_a_parcel_delivered_before_any_watch_saw_it_still_gets_its_booking_prediction(
    exc_app: Any, ops: Any
) -> None:
    shipment_id, number = _book(exc_app, ops, MONDAY + timedelta(days=3))
    _event(exc_app, number, at(0, 11), "in_transit")
    _event(exc_app, number, at(1, 13), "delivered")
    _watch(exc_app, at(1, 14))
    _watch(exc_app, at(2, 14))  # nothing more to predict once it ended

    made = _predictions(exc_app, shipment_id)
    assert [(p.trigger, p.milestone) for p in made] == [("booking", "pending")]
    assert made[0].p50 == MONDAY + timedelta(days=1)  # from booking facts only: the history's median
