"""GET /v1/kpis: what ops see per carrier and day, computed from labels, tracking, plans and invoices."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest

from gateway.kernel import models
from gateway.labels import tables as label_tables
from tests.helpers import shipment_body
from tests.integration.test_callbacks import (  # noqa: F401 - the autouse fixture configures the secrets
    callback_secrets,
    new_number,
    post_signed,
    run_worker,
)

pytestmark = pytest.mark.integration

# The booking day the tests count: yesterday, and every booked shipment is dated noon that day, so a
# run that crosses midnight (CI often does) still counts the same day, and the morning scans below
# are in the past whatever the hour.
TODAY = datetime.now(UTC).date() - timedelta(days=1)
BOOKED_AT = datetime.combine(TODAY, time(12), tzinfo=UTC)


def book(app: Any, client: Any, tenant: Any, carrier: str, promise: date | None) -> tuple[str, str]:
    """Book a shipment and give it a label's carrier and tracking number, as the label flow does."""
    body = shipment_body(f"KPI-{uuid.uuid4().hex[:8]}")
    if promise is not None:
        body["promise_date"] = promise.isoformat()
    created = client.post("/v1/shipments", json=body, headers=tenant.headers)
    assert created.status_code == 201, created.get_json()
    shipment_id, number = created.get_json()["id"], new_number("HF" if carrier == "fleet" else "1Z")
    with app.extensions["handoff"].sessions() as session:
        shipment = session.get(models.Shipment, shipment_id)
        shipment.carrier, shipment.service = carrier, "van" if carrier == "fleet" else "03"
        shipment.tracking_number, shipment.status = number, "purchased"
        shipment.created_at = BOOKED_AT
        session.commit()
    return shipment_id, number


def driver_event(
    kind: str, number: str, at: datetime, *, at_point: tuple[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "type": kind,
        "tracking_number": number,
        "occurred_at": at.isoformat(timespec="seconds"),
        "driver_id": "drv-7",
        "route_id": "r-1",
    }
    if kind in ("arrived", "delivered", "attempt"):
        lat, lon = (float(at_point[0]), float(at_point[1])) if at_point else (40.7596, -73.9799)
        event["position"] = {"lat": lat, "lon": lon, "accuracy_m": 8.0}
    if kind == "attempt":
        event["attempt"] = {"reason": extra["reason"]}
    if kind == "delivered":
        event["delivery"] = {
            "handed_to": "recipient",
            "photo_sha256": hashlib.sha256(number.encode()).hexdigest(),
        }
    return event


def send_driver_batch(client: Any, events: list[dict[str, Any]]) -> None:
    batch = {"schema_version": "1", "device_id": "android-kpi", "events": events}
    assert post_signed(client, "fleet", batch).status_code == 202


def kpis(client: Any, tenant: Any, **params: Any) -> Any:
    query = {"from": TODAY.isoformat(), "to": TODAY.isoformat(), "tz": "UTC", **params}
    return client.get("/v1/kpis", query_string=query, headers=tenant.headers)


def test_kpis_count_on_time_first_attempt_exceptions_and_costs_per_carrier(app, client, make_tenant):
    tenant = make_tenant(("platform", "ops"))
    morning = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    _, smooth_no = book(app, client, tenant, "fleet", TODAY + timedelta(days=1))
    _, late_no = book(app, client, tenant, "fleet", TODAY)
    _, stuck_no = book(app, client, tenant, "fleet", TODAY + timedelta(days=2))
    partner, _ = book(app, client, tenant, "ups", TODAY + timedelta(days=2))
    with app.extensions["handoff"].sessions() as session:
        session.add(
            label_tables.Label(
                tenant_id=tenant.tenant_id,
                shipment_id=partner,
                carrier="ups",
                service="03",
                tracking_number=new_number(),
                status="purchased",
                cost_minor=1234,
                currency="USD",
            )
        )
        session.commit()

    send_driver_batch(
        client,
        [
            driver_event("out_for_delivery", smooth_no, morning),
            driver_event("arrived", smooth_no, morning + timedelta(hours=1)),
            driver_event("delivered", smooth_no, morning + timedelta(hours=1, minutes=3)),
            driver_event("out_for_delivery", late_no, morning),
            driver_event("attempt", late_no, morning + timedelta(hours=2), reason="recipient_unavailable"),
            driver_event("out_for_delivery", stuck_no, morning),
            driver_event("attempt", stuck_no, morning + timedelta(hours=3), reason="address_issue"),
        ],
    )
    send_driver_batch(
        client,
        [
            driver_event("out_for_delivery", late_no, morning + timedelta(days=1)),
            driver_event("delivered", late_no, morning + timedelta(days=1, hours=1)),
        ],
    )
    run_worker(app)

    response = kpis(client, tenant)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    totals = body["totals"]
    assert (totals["shipments"], totals["tracked"], totals["delivered"]) == (4, 3, 2)
    assert (totals["delivered_on_time"], totals["delivered_with_promise"], totals["on_time_percent"]) == (
        1,
        2,
        "50.0",
    )
    assert (totals["first_attempt"], totals["first_attempt_percent"]) == (1, "50.0")
    assert (totals["failed_attempts"], totals["with_exception"], totals["exception_rate_percent"]) == (
        2,
        2,
        "66.7",
    )
    assert totals["in_flight"] == 1
    assert {r["reason"]: r["shipments"] for r in totals["exceptions_by_reason"]} == {
        "recipient_unavailable": 1,
        "address_issue": 1,
    }
    assert totals["cost"] == {"amount": "12.34", "currency": "USD"}
    by_carrier = {c["carrier"]: c for c in body["by_carrier"]}
    assert set(by_carrier) == {"fleet", "ups"}
    assert by_carrier["fleet"]["shipments"] == 3 and by_carrier["fleet"]["delivered"] == 2
    assert by_carrier["ups"]["cost"]["amount"] == "12.34" and by_carrier["ups"]["labelled"] == 1
    assert by_carrier["ups"]["cost_per_delivery"] is None  # nothing delivered yet
    assert [d["day"] for d in body["by_day"]] == [TODAY.isoformat()]
    assert body["by_day"][0]["shipments"] == 4

    only_ups = kpis(client, tenant, carrier="ups").get_json()
    assert only_ups["totals"]["shipments"] == 1 and [c["carrier"] for c in only_ups["by_carrier"]] == ["ups"]
    assert only_ups["fleet"] is None


def test_kpis_are_per_tenant_and_need_the_ops_or_finance_role(app, client, make_tenant):
    mine = make_tenant(("platform", "ops"))
    other = make_tenant(("finance",))
    book(app, client, mine, "ups", None)

    assert kpis(client, other).get_json()["totals"]["shipments"] == 0
    assert kpis(client, mine).get_json()["totals"]["shipments"] == 1
    platform_only = make_tenant(("platform",))
    denied = kpis(client, platform_only)
    assert denied.status_code == 403
    assert denied.headers["Content-Type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "params",
    [
        {"tz": "Mars/Olympus"},
        {"from": "2026-11-20", "to": "2026-11-01"},
        {"from": "2026-01-01", "to": "2026-12-31"},
        {"from": "yesterday"},
        {"to": "0001-01-01", "tz": "America/New_York"},  # a window before the first day datetime holds
    ],
)
def test_bad_kpi_queries_are_422_problems(client, make_tenant, params):
    tenant = make_tenant(("ops",))
    response = client.get("/v1/kpis", query_string=params, headers=tenant.headers)
    assert response.status_code == 422
    assert response.get_json()["type"].endswith("/validation-error")


def test_days_are_counted_in_the_callers_time_zone(app, client, make_tenant):
    tenant = make_tenant(("platform", "ops"))
    book(app, client, tenant, "ups", None)
    # Far to the east the booking may already be tomorrow; it is one shipment on one day either way.
    body = client.get(
        "/v1/kpis",
        query_string={
            "tz": "Pacific/Kiritimati",
            "from": TODAY.isoformat(),
            "to": (TODAY + timedelta(days=1)).isoformat(),
        },
        headers=tenant.headers,
    ).get_json()
    assert body["tz"] == "Pacific/Kiritimati"
    assert sum(d["shipments"] for d in body["by_day"]) == 1
    assert body["by_day"][0]["day"] in (TODAY.isoformat(), (TODAY + timedelta(days=1)).isoformat())


def test_the_fleet_is_costed_from_the_applied_plan_with_the_savings_against_rate_shopping(
    app, client, make_tenant
):
    from zoneinfo import ZoneInfo

    from rq import SimpleWorker

    from gateway.jobs import worker

    tenant = make_tenant(("platform", "ops"))
    headers = tenant.headers
    depot = client.post(
        "/v1/allocation/depots",
        json={
            "name": "Secaucus",
            "latitude": "40.7895",
            "longitude": "-74.0565",
            "timezone": "America/New_York",
            "currency": "USD",
        },
        headers=headers,
    )
    assert depot.status_code == 201, depot.get_json()
    van = {
        "depot_id": depot.get_json()["id"],
        "name": "Van 1",
        "capacity_kg": "700",
        "capacity_m3": "9",
        "shift_start": "08:00",
        "shift_end": "18:00",
        "cost_per_km": "0.58",
        "cost_per_hour": "27.50",
        "cost_per_day": "96.00",
    }
    assert client.post("/v1/allocation/vehicles", json=van, headers=headers).status_code == 201
    created = []
    for i, (postal, lat, lon) in enumerate(
        [("10019", "40.7616", "-73.9777"), ("10036", "40.7590", "-73.9845"), ("10001", "40.7506", "-73.9972")]
        * 3
    ):
        body = shipment_body(f"KPI-FLEET-{i}")
        body["destination"].update(postal_code=postal, latitude=lat, longitude=lon)
        resp = client.post("/v1/shipments", json=body, headers=headers)
        assert resp.status_code == 201
        created.append(resp.get_json())
    day = datetime.fromisoformat(created[0]["created_at"]).astimezone(ZoneInfo("America/New_York")).date()
    queued = client.post(
        "/v1/allocation/plans",
        json={"day": day.isoformat(), "time_limit_s": "2", "seed": 1, "max_iterations": 200},
        headers=headers,
    ).get_json()
    worker.run(app, burst=True, worker_class=SimpleWorker)
    plan = client.get(f"/v1/allocation/plans/{queued['id']}", headers=headers).get_json()
    assert plan["state"] == "done", plan
    applied = client.post(f"/v1/allocation/plans/{plan['id']}/apply", json={}, headers=headers)
    assert applied.status_code == 200, applied.get_json()

    body = client.get(
        "/v1/kpis",
        query_string={"from": day.isoformat(), "to": day.isoformat(), "tz": "America/New_York"},
        headers=headers,
    ).get_json()
    result = plan["result"]
    fleet = body["fleet"]
    assert fleet["plans"] == 1
    assert fleet["planned_cost"] == result["totals"]["total"]
    assert fleet["baseline_cost"] == result["baseline"]["total"]
    saved = Decimal(result["baseline"]["total"]["amount"]) - Decimal(result["totals"]["total"]["amount"])
    assert Decimal(fleet["savings"]["amount"]) == saved
    assert fleet["vans_used"] == result["summary"]["fleet"]["vans_used"]
    by_carrier = {c["carrier"]: c for c in body["by_carrier"]}
    route = max(result["routes"], key=lambda r: len(r["stops"]))
    made = route["stops"][:2]
    assert made, result["routes"]
    assert by_carrier["fleet"]["shipments"] == result["totals"]["fleet_packages"]
    # Nothing delivered yet: the vans have not cost anything yet.
    assert by_carrier["fleet"]["cost"] == {"amount": "0", "currency": "USD"}
    assert by_carrier["fleet"]["cost_per_delivery"] is None

    # Two stops (or its only one) of the busiest route are delivered, proof at the address; the
    # route's cost is spread over those deliveries.
    points = {c["id"]: (c["destination"]["latitude"], c["destination"]["longitude"]) for c in created}
    now = datetime.now(UTC)
    events = []
    for stop in made:
        number = new_number("HF")
        with app.extensions["handoff"].sessions() as session:
            shipment = session.get(models.Shipment, stop["shipment_id"])
            shipment.tracking_number, shipment.status = number, "purchased"
            session.commit()
        point = points[stop["shipment_id"]]
        events += [
            driver_event("out_for_delivery", number, now - timedelta(minutes=30), at_point=point),
            driver_event("delivered", number, now - timedelta(minutes=20), at_point=point),
        ]
    send_driver_batch(client, events)
    run_worker(app)
    body = client.get(
        "/v1/kpis",
        query_string={"from": day.isoformat(), "to": day.isoformat(), "tz": "America/New_York"},
        headers=headers,
    ).get_json()
    fleet_kpis = next(c for c in body["by_carrier"] if c["carrier"] == "fleet")
    route_minor = int(Decimal(route["cost"]["amount"]) * 100)
    assert (fleet_kpis["delivered"], fleet_kpis["proof_under_review"]) == (len(made), 0)
    assert Decimal(fleet_kpis["cost"]["amount"]) == Decimal(route["cost"]["amount"])
    assert Decimal(fleet_kpis["cost_per_delivery"]["amount"]) * 100 == round(Decimal(route_minor) / len(made))


def test_an_unbought_quote_costs_nothing_and_a_bought_label_costs_what_it_was_bought_for(
    app, client, make_tenant
):
    tenant = make_tenant(("platform", "ops"))
    quoted = []
    for i in range(2):
        created = client.post("/v1/shipments", json=shipment_body(f"KPI-Q-{i}"), headers=tenant.headers)
        assert created.status_code == 201
        shipment = created.get_json()
        rate = next(r for r in shipment["rates"]["rates"] if r["carrier"] == "ups")
        frozen = client.post(
            f"/v1/shipments/{shipment['id']}/rate", json={"rate_id": rate["id"]}, headers=tenant.headers
        )
        assert frozen.status_code == 200, frozen.get_json()
        quoted.append((shipment["id"], rate))
        with app.extensions["handoff"].sessions() as session:
            session.get(models.Shipment, shipment["id"]).created_at = BOOKED_AT
            session.commit()

    before = kpis(client, tenant).get_json()["totals"]
    assert (before["shipments"], before["labelled"]) == (2, 0)
    assert before["cost"] == {"amount": "0", "currency": "USD"}  # two quotes, nothing bought

    bought, rate = quoted[0]
    with app.extensions["handoff"].sessions() as session:
        session.add(
            label_tables.Label(
                tenant_id=tenant.tenant_id,
                shipment_id=bought,
                carrier="ups",
                service=rate["service_code"],
                tracking_number=new_number(),
                status="purchased",
                cost_minor=None,  # the carrier gave no charges: the frozen quote is what it cost
                currency=None,
            )
        )
        session.commit()
    after = kpis(client, tenant).get_json()["totals"]
    assert after["labelled"] == 1
    assert Decimal(after["cost"]["amount"]) == Decimal(rate["total_cost"]["amount"])


def test_a_delivery_whose_proof_is_flagged_is_not_delivered_until_a_later_delivery_clears_it(
    app, client, make_tenant
):
    tenant = make_tenant(("platform", "ops"))
    shipment_id, number = book(app, client, tenant, "fleet", TODAY + timedelta(days=1))
    first = datetime.now(UTC) - timedelta(minutes=10)
    # Delivered with no out-for-delivery scan before it: the proof check flags it.
    send_driver_batch(client, [driver_event("delivered", number, first)])
    run_worker(app)
    events = client.get(f"/v1/shipments/{shipment_id}/events", headers=tenant.headers).get_json()
    assert "pod_check" in [e["raw"]["code"] for e in events["events"]]

    held = kpis(client, tenant).get_json()["totals"]
    assert (held["delivered"], held["proof_under_review"]) == (0, 1)
    assert held["on_time_percent"] is None

    # A later delivery with a sound proof (or ops' manual delivered event) clears it.
    cleared_at = max(datetime.now(UTC), first) + timedelta(minutes=5)
    send_driver_batch(
        client,
        [
            driver_event("out_for_delivery", number, cleared_at - timedelta(minutes=2)),
            driver_event("delivered", number, cleared_at),
        ],
    )
    run_worker(app)
    cleared = kpis(client, tenant).get_json()["totals"]
    assert (cleared["delivered"], cleared["proof_under_review"]) == (1, 0)
    assert cleared["delivered_on_time"] == 1  # the parcel arrived at the first delivery


def _flagged_delivery(app: Any, client: Any, tenant: Any) -> tuple[str, datetime]:
    shipment_id, number = book(app, client, tenant, "fleet", TODAY + timedelta(days=1))
    delivered_at = datetime.now(UTC) - timedelta(minutes=10)
    send_driver_batch(client, [driver_event("delivered", number, delivered_at)])  # no out-for-delivery
    run_worker(app)
    held = kpis(client, tenant).get_json()["totals"]
    assert (held["delivered"], held["proof_under_review"]) == (0, 1)
    return shipment_id, delivered_at


def test_ops_accepting_a_flagged_proof_counts_the_parcel_delivered_at_its_first_scan(
    app, client, make_tenant
):
    tenant = make_tenant(("platform", "ops"))
    shipment_id, _delivered_at = _flagged_delivery(app, client, tenant)

    reviewed = client.post(
        f"/v1/shipments/{shipment_id}/proof-review",
        json={"decision": "accepted", "note": "recipient confirmed by phone"},
        headers=tenant.headers,
    )
    assert reviewed.status_code == 200, reviewed.get_json()
    timeline = reviewed.get_json()
    assert timeline["milestone"] == "delivered"
    last = timeline["events"][-1]
    assert (last["raw"]["code"], last["raw"]["subcode"]) == ("pod_review", "accepted")
    assert (
        tenant.key_id in last["raw"]["message"] and "recipient confirmed by phone" in last["raw"]["message"]
    )
    assert all(f["review"]["decision"] == "accepted" for f in timeline["pod_flags"])
    assert shipment_id not in {
        row["shipment_id"]
        for row in client.get("/v1/tracking/exceptions", headers=tenant.headers).get_json()["data"]
    }

    cleared = kpis(client, tenant).get_json()["totals"]
    assert (cleared["delivered"], cleared["proof_under_review"]) == (1, 0)
    assert cleared["delivered_on_time"] == 1  # as of the first scan, not the review

    again = client.post(
        f"/v1/shipments/{shipment_id}/proof-review", json={"decision": "accepted"}, headers=tenant.headers
    )
    assert again.status_code == 409
    assert again.get_json()["type"].endswith("/no-proof-in-review")
    assert again.get_json()["milestone"] == "delivered"


def test_ops_rejecting_a_flagged_proof_leaves_a_lost_parcel_for_the_shipper(app, client, make_tenant):
    tenant = make_tenant(("platform", "ops"))
    shipment_id, _delivered_at = _flagged_delivery(app, client, tenant)

    reviewed = client.post(
        f"/v1/shipments/{shipment_id}/proof-review", json={"decision": "rejected"}, headers=tenant.headers
    )
    assert reviewed.status_code == 200, reviewed.get_json()
    assert (reviewed.get_json()["milestone"], reviewed.get_json()["reason"]) == ("exception", "lost")
    open_rows = {
        row["shipment_id"]: row
        for row in client.get("/v1/tracking/exceptions", headers=tenant.headers).get_json()["data"]
    }
    assert open_rows[shipment_id]["reason"] == "lost" and open_rows[shipment_id]["action_party"] == "shipper"
    totals = kpis(client, tenant).get_json()["totals"]
    assert (totals["delivered"], totals["proof_under_review"]) == (0, 0)


def test_a_proof_review_needs_ops_and_a_flagged_proof(app, client, make_tenant):
    platform_only = make_tenant(("platform",))
    shipment_id, _number = book(app, client, platform_only, "fleet", TODAY + timedelta(days=1))
    url = f"/v1/shipments/{shipment_id}/proof-review"
    assert client.post(url, json={"decision": "accepted"}, headers=platform_only.headers).status_code == 403
    ops = make_tenant(("platform", "ops"))
    own_id, _number = book(app, client, ops, "fleet", TODAY + timedelta(days=1))
    assert client.post(url, json={"decision": "accepted"}, headers=ops.headers).status_code == 404
    nothing_flagged = client.post(
        f"/v1/shipments/{own_id}/proof-review", json={"decision": "accepted"}, headers=ops.headers
    )
    assert nothing_flagged.status_code == 409 and nothing_flagged.get_json()["milestone"] == "pending"
    bad = client.post(f"/v1/shipments/{own_id}/proof-review", json={"decision": "maybe"}, headers=ops.headers)
    assert bad.status_code == 422
