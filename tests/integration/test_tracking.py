"""Tracking over the API: parked events, unmapped codes and their remapping, timelines, exceptions, fleet proofs."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from gateway.kernel import models
from gateway.tracking import ingest, polling, tables
from tests.helpers import shipment_body
from tests.integration.test_callbacks import (  # noqa: F401 - the autouse fixture configures the secrets
    callback_secrets,
    dhl_checkpoint,
    new_number,
    post_signed,
    post_ups,
    run_worker,
    shipment_with_number,
    track_alert,
)


def timeline(client: Any, tenant: Any, shipment_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/shipments/{shipment_id}/events", headers=tenant.headers)
    assert response.status_code == 200
    return response.get_json()


def test_events_for_an_unknown_tracking_number_are_parked_and_attached_when_the_label_appears(
    app, client, platform
):
    number = new_number()
    assert post_ups(client, track_alert(number, "I", "OT")).status_code == 202
    run_worker(app)
    container = app.extensions["handoff"]
    with container.sessions() as session:
        parked = session.execute(
            sa.select(tables.ParkedEvent).where(tables.ParkedEvent.tracking_number == number)
        ).scalar_one()
        assert parked.attached_at is None

    shipment_id = shipment_with_number(app, client, platform, "ups", number)
    with container.sessions() as session:
        attached = ingest.attach_parked(session, session.get(models.Shipment, shipment_id))
        session.commit()

    assert attached == 1
    body = timeline(client, platform, shipment_id)
    assert body["milestone"] == "out_for_delivery"
    assert [e["raw"]["code"] for e in body["events"]] == ["I"]


def test_an_unknown_code_is_kept_unmapped_listed_for_ops_and_fixed_by_remapping_through_the_api(
    app, client, make_tenant
):
    tenant = make_tenant(("platform", "ops"))
    awb = new_number("DHL")
    shipment_id = shipment_with_number(app, client, tenant, "dhl_express", awb)
    assert post_signed(client, "dhl_express", dhl_checkpoint(awb, "PU", "07:00:00")).status_code == 202
    assert post_signed(client, "dhl_express", dhl_checkpoint(awb, "ZQ", "09:00:00")).status_code == 202
    run_worker(app)

    before = timeline(client, tenant, shipment_id)
    unknown = [e for e in before["events"] if e["raw"]["code"] == "ZQ"]
    assert unknown and unknown[0]["mapping"] == "unmapped" and unknown[0]["milestone"] is None
    assert before["unmapped_count"] == 1
    assert before["milestone"] == "in_transit"  # never defaulted: the unknown code did not move it

    listed = client.get("/v1/tracking/unmapped", headers=tenant.headers).get_json()["data"]
    [row] = [r for r in listed if r["code"] == "ZQ"]
    assert row["carrier"] == "dhl_express" and row["count"] == 1
    assert row["example"]["payload"]["awb"] == awb

    put = client.put(
        "/v1/tracking/mappings/dhl_express",
        json={
            "code": "ZQ",
            "milestone": "out_for_delivery",
            "detail": "out_for_delivery",
            "note": "new DHL code",
        },
        headers=tenant.headers,
    )
    assert put.status_code == 200, put.get_json()
    assert put.get_json()["version"] == 1
    assert put.get_json()["previous"] is None
    assert put.get_json()["shipments_rederived"] == 1

    after = timeline(client, tenant, shipment_id)
    assert after["milestone"] == "out_for_delivery"
    assert after["unmapped_count"] == 0
    assert all(
        r["code"] != "ZQ"
        for r in client.get("/v1/tracking/unmapped", headers=tenant.headers).get_json()["data"]
    )

    second = client.put(
        "/v1/tracking/mappings/dhl_express",
        json={"code": "ZQ", "informational": True, "note": "turned out to be a notice"},
        headers=tenant.headers,
    )
    assert second.get_json()["version"] == 2
    assert second.get_json()["previous"]["milestone"] == "out_for_delivery"
    assert timeline(client, tenant, shipment_id)["milestone"] == "in_transit"
    with app.extensions["handoff"].sessions() as session:
        versions = session.execute(
            sa.select(tables.MappingOverride.version, tables.MappingOverride.superseded_at).where(
                tables.MappingOverride.tenant_id == tenant.tenant_id
            )
        ).all()
    assert sorted(v for v, _ in versions) == [1, 2]
    assert [v for v, superseded in versions if superseded is None] == [2]


def test_a_mapping_that_breaks_the_taxonomy_is_a_422_and_needs_the_ops_role(client, make_tenant, platform):
    ops = make_tenant(("ops",))
    bad = client.put(
        "/v1/tracking/mappings/ups",
        json={"code": "ZZ", "milestone": "delivered", "detail": "nonsense"},
        headers=ops.headers,
    )
    assert bad.status_code == 422
    assert (
        client.put(
            "/v1/tracking/mappings/ups",
            json={"code": "ZZ", "milestone": "in_transit"},
            headers=platform.headers,
        ).status_code
        == 403
    )
    assert (
        client.put(
            "/v1/tracking/mappings/nowhere",
            json={"code": "ZZ", "milestone": "in_transit"},
            headers=ops.headers,
        ).status_code
        == 404
    )


def test_a_late_older_event_takes_its_place_and_never_moves_the_status_backwards(app, client, platform):
    number = new_number()
    shipment_id = shipment_with_number(app, client, platform, "ups", number)
    delivered = track_alert(number, "D", "FS", "150000")
    delivered["activityStatus"]["description"] = "DELIVERED"
    assert post_ups(client, delivered).status_code == 202
    run_worker(app)
    assert post_ups(client, track_alert(number, "I", "OT", "080000")).status_code == 202
    run_worker(app)

    body = timeline(client, platform, shipment_id)
    assert body["milestone"] == "delivered"
    assert [e["raw"]["subcode"] for e in body["events"]] == ["OT", "FS"]


def test_the_timeline_by_tracking_number_is_tenant_scoped(app, client, platform, make_tenant):
    number = new_number()
    shipment_id = shipment_with_number(app, client, platform, "ups", number)
    assert post_ups(client, track_alert(number)).status_code == 202
    run_worker(app)

    mine = client.get(f"/v1/tracking/{number}", headers=platform.headers)
    assert mine.status_code == 200 and mine.get_json()["shipment_id"] == shipment_id
    other = make_tenant(("platform",))
    assert client.get(f"/v1/tracking/{number}", headers=other.headers).status_code == 404
    assert client.get(f"/v1/shipments/{shipment_id}/events", headers=other.headers).status_code == 404


def checkpoint_at(awb: str, code: str, when: datetime) -> dict[str, Any]:
    payload = dhl_checkpoint(awb, code)
    payload["event"]["date"], payload["event"]["time"] = when.strftime("%Y-%m-%d"), when.strftime("%H:%M:%S")
    return payload


def test_ops_see_open_exceptions_filtered_by_reason_carrier_and_age(app, client, make_tenant):
    tenant = make_tenant(("platform", "ops"))
    bad_address, not_home = new_number("DHL"), new_number("DHL")
    first = shipment_with_number(app, client, tenant, "dhl_express", bad_address)
    second = shipment_with_number(app, client, tenant, "dhl_express", not_home)
    now = datetime.now(UTC)
    assert (
        post_signed(
            client, "dhl_express", checkpoint_at(bad_address, "BA", now - timedelta(hours=5))
        ).status_code
        == 202
    )
    assert (
        post_signed(
            client, "dhl_express", checkpoint_at(not_home, "NH", now - timedelta(minutes=30))
        ).status_code
        == 202
    )
    run_worker(app)

    def listed(**query: Any) -> list[str]:
        response = client.get("/v1/tracking/exceptions", query_string=query, headers=tenant.headers)
        assert response.status_code == 200
        return [row["shipment_id"] for row in response.get_json()["data"]]

    assert listed() == [first, second]  # oldest first
    assert listed(reason="address_issue") == [first]
    assert listed(reason="recipient_unavailable", carrier="dhl_express") == [second]
    assert listed(carrier="ups") == []
    assert listed(older_than_hours=2) == [first]
    bogus = client.get("/v1/tracking/exceptions", query_string={"reason": "bogus"}, headers=tenant.headers)
    assert bogus.status_code == 422


def test_the_taxonomy_is_published(client, platform):
    body = client.get("/v1/taxonomy", headers=platform.headers).get_json()
    assert "delivered" in str(body)
    assert "pod_suspicious" in str(body)


def driver_event(number: str, type_: str, when: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": type_,
        "tracking_number": number,
        "occurred_at": when,
        "driver_id": "drv-17",
        "route_id": "R-2026-11-20-A",
        **extra,
    }


def fleet_shipment(app: Any, client: Any, tenant: Any, number: str, code: str) -> str:
    shipment_id = shipment_with_number(app, client, tenant, "fleet", number)
    with app.extensions["handoff"].sessions() as session:
        shipment = session.get(models.Shipment, shipment_id)
        shipment.metadata_ = {"one_time_code": code}
        shipment.destination.latitude, shipment.destination.longitude = 40.7606, -73.9777
        session.commit()
    return shipment_id


def test_a_suspicious_fleet_delivery_is_stored_flagged_and_listed_for_ops(app, client, make_tenant):
    tenant = make_tenant(("platform", "ops"))
    number = new_number("FL")
    shipment_id = fleet_shipment(app, client, tenant, number, "4711")
    batch = {
        "schema_version": "1",
        "device_id": "android-5f2c",
        "events": [
            driver_event(number, "loaded", "2026-11-20T07:05:00+01:00", stop_sequence=3),
            driver_event(
                number,
                "delivered",
                "2026-11-20T10:40:00+01:00",
                stop_sequence=3,
                # About 4 km from the address, with the wrong one-time code, never out for delivery.
                position={"lat": 40.7306, "lon": -73.9352, "accuracy_m": 8},
                delivery={"handed_to": "recipient", "one_time_code": "9999", "photo_sha256": "a" * 64},
            ),
        ],
    }
    assert post_signed(client, "fleet", batch).status_code == 202
    run_worker(app)

    body = timeline(client, tenant, shipment_id)
    codes = {e["raw"]["code"] for e in body["events"]}
    assert {"loaded", "delivered", "pod_check"} <= codes
    assert body["milestone"] == "exception" and body["reason"] == "pod_suspicious"
    flags = {f["code"] for f in body["pod_flags"]}
    assert {"code_mismatch", "gps_too_far", "no_out_for_delivery"} <= flags

    listed = client.get(
        "/v1/tracking/exceptions", query_string={"reason": "pod_suspicious"}, headers=tenant.headers
    ).get_json()["data"]
    [row] = [r for r in listed if r["shipment_id"] == shipment_id]
    assert {f["code"] for f in row["pod_flags"]} == flags


def test_an_honest_fleet_delivery_raises_no_flag(app, client, make_tenant):
    tenant = make_tenant(("platform", "ops"))
    number = new_number("FL")
    shipment_id = fleet_shipment(app, client, tenant, number, "4711")
    batch = {
        "schema_version": "1",
        "events": [
            driver_event(number, "loaded", "2026-11-20T07:05:00+01:00", stop_sequence=1),
            driver_event(number, "out_for_delivery", "2026-11-20T08:00:00+01:00", stop_sequence=1),
            driver_event(
                number,
                "delivered",
                "2026-11-20T09:10:00+01:00",
                stop_sequence=1,
                position={"lat": 40.7607, "lon": -73.9778, "accuracy_m": 6},
                delivery={"handed_to": "recipient", "one_time_code": "4711", "signature_sha256": "b" * 64},
            ),
        ],
    }
    assert post_signed(client, "fleet", batch).status_code == 202
    run_worker(app)

    body = timeline(client, tenant, shipment_id)
    assert body["milestone"] == "delivered"
    assert body["pod_flags"] == []
    # The code the recipient gave the driver proves delivery: the API says one was given, never which.
    raw = client.get(f"/v1/shipments/{shipment_id}/events", headers=tenant.headers).get_data(as_text=True)
    assert "4711" not in raw
    delivered = [e for e in body["events"] if e.get("milestone") == "delivered"]
    assert delivered and delivered[0]["pod"]["one_time_code"] is True


def test_poll_intervals_depend_on_the_shipment_state():
    from schemas import taxonomy

    assert polling.poll_interval(taxonomy.Milestone.DELIVERED) is None
    assert polling.poll_interval(taxonomy.Milestone.OUT_FOR_DELIVERY) < polling.poll_interval(
        taxonomy.Milestone.IN_TRANSIT
    )
    assert polling.poll_interval(taxonomy.Milestone.PENDING) >= timedelta(hours=1)


def test_the_same_pushes_in_any_order_and_with_duplicates_give_the_same_timeline(app, client, platform):
    import random

    steps = [("M", "MP", "060000"), ("I", "OR", "090000"), ("I", "AR", "130000"), ("X", "UR", "150000")]
    steps += [("I", "OT", "180000"), ("D", "FS", "200000")]
    results = []
    for seed in (1, 2, 3):
        number = new_number()
        shipment_id = shipment_with_number(app, client, platform, "ups", number)
        rng = random.Random(seed)
        pushes = [track_alert(number, t, c, when) for t, c, when in steps]
        pushes += [rng.choice(pushes) for _ in range(3)]
        rng.shuffle(pushes)
        for i, payload in enumerate(pushes):
            assert post_ups(client, payload).status_code == 202
            if i % 3 == 2:
                run_worker(app)  # some arrive after others were already normalised
        run_worker(app)
        body = timeline(client, platform, shipment_id)
        results.append(
            (
                body["milestone"],
                body["estimated_delivery"],
                [
                    (e["raw"]["code"], e["raw"]["subcode"], e["occurred_at"], e["milestone"])
                    for e in body["events"]
                ],
            )
        )
    assert results[0] == results[1] == results[2]
    assert results[0][0] == "delivered"
    assert len(results[0][2]) == len(steps)


def test_a_resent_fleet_batch_flags_its_delivery_once(app, client, make_tenant):
    tenant = make_tenant(("platform", "ops"))
    number = new_number("FL")
    shipment_id = fleet_shipment(app, client, tenant, number, "4711")
    batch = {
        "schema_version": "1",
        "events": [
            driver_event(
                number,
                "delivered",
                "2026-11-20T10:40:00+01:00",
                position={"lat": 40.7607, "lon": -73.9778, "accuracy_m": 5},
                delivery={"handed_to": "recipient", "one_time_code": "0000", "photo_sha256": "c" * 64},
            )
        ],
    }
    assert post_signed(client, "fleet", batch).status_code == 202
    run_worker(app)
    # The app resends the same batch later (new timestamp, so a new signature): a re-delivery, not a replay.
    assert post_signed(client, "fleet", batch, stamp=int(time.time()) + 1).status_code == 202
    run_worker(app)

    body = timeline(client, tenant, shipment_id)
    codes = [f["code"] for f in body["pod_flags"]]
    assert sorted(codes) == sorted(set(codes))
    assert "code_mismatch" in codes
    assert [e["raw"]["code"] for e in body["events"]].count("pod_check") == 1


def test_a_shipment_shows_its_current_milestone_and_reason_when_read_and_listed(app, client, make_tenant):
    tenant = make_tenant(("platform", "ops"))
    awb = new_number("DHL")
    shipment_id = shipment_with_number(app, client, tenant, "dhl_express", awb)
    draft_id = client.post("/v1/shipments", json=shipment_body(), headers=tenant.headers).get_json()["id"]
    before = client.get(f"/v1/shipments/{shipment_id}", headers=tenant.headers).get_json()
    assert before["tracking"]["milestone"] == "pending"
    assert post_signed(client, "dhl_express", dhl_checkpoint(awb, "BA")).status_code == 202
    run_worker(app)

    one = client.get(f"/v1/shipments/{shipment_id}", headers=tenant.headers)
    page = client.get("/v1/shipments", headers=tenant.headers)

    assert one.status_code == 200 and page.status_code == 200
    tracking = one.get_json()["tracking"]
    assert (tracking["milestone"], tracking["reason"], tracking["action_required"]) == (
        "exception",
        "address_issue",
        True,
    )
    listed = {s["id"]: s["tracking"] for s in page.get_json()["data"]}
    assert listed[shipment_id] == tracking
    assert listed[draft_id] is None  # no label, no tracking yet


def fleet_van(app: Any, tenant_id: str, name: str, shift: tuple[int, int], timezone: str) -> None:
    """A depot and a van in the allocation fleet config (shift in minutes since local midnight)."""
    from decimal import Decimal

    from gateway.allocation import tables as fleet

    with app.extensions["handoff"].sessions() as session:
        depot = fleet.Depot(
            tenant_id=tenant_id,
            name="Berlin Nord",
            latitude=Decimal("52.55"),
            longitude=Decimal("13.38"),
            opens=6 * 60,
            closes=20 * 60,
            timezone=timezone,
            currency="EUR",
            road_factor=Decimal("1.3"),
        )
        session.add(depot)
        session.flush()
        session.add(
            fleet.Vehicle(
                tenant_id=tenant_id,
                depot_id=depot.id,
                name=name,
                capacity_kg=Decimal("800"),
                capacity_m3=Decimal("9"),
                shift_start=shift[0],
                shift_end=shift[1],
                speed_kmh=Decimal("30"),
                currency="EUR",
                cost_per_km_minor=40,
                cost_per_hour_minor=2500,
                cost_per_day_minor=6000,
            )
        )
        session.commit()


def test_a_proof_outside_the_vans_shift_is_flagged_and_one_inside_is_not(app, client, make_tenant):
    tenant = make_tenant(("platform", "ops"))
    fleet_van(app, tenant.tenant_id, "VAN-7", (6 * 60, 14 * 60), "Europe/Berlin")
    inside, outside = new_number("FL"), new_number("FL")
    ids = {n: fleet_shipment(app, client, tenant, n, "4711") for n in (inside, outside)}
    proof = {
        "position": {"lat": 40.7607, "lon": -73.9778, "accuracy_m": 6},
        "delivery": {"handed_to": "recipient", "one_time_code": "4711", "signature_sha256": "b" * 64},
    }
    events = []
    for number, ofd, delivered in ((inside, "08:00", "09:10"), (outside, "21:00", "21:40")):
        events += [
            driver_event(number, "out_for_delivery", f"2026-11-20T{ofd}:00+01:00", vehicle_id="VAN-7"),
            driver_event(
                number, "delivered", f"2026-11-20T{delivered}:00+01:00", vehicle_id="VAN-7", **proof
            ),
        ]
    assert post_signed(client, "fleet", {"schema_version": "1", "events": events}).status_code == 202
    run_worker(app)

    honest = timeline(client, tenant, ids[inside])
    late = timeline(client, tenant, ids[outside])
    assert honest["milestone"] == "delivered" and honest["pod_flags"] == []
    assert [f["code"] for f in late["pod_flags"]] == ["outside_shift"]
    assert late["milestone"] == "exception" and late["reason"] == "pod_suspicious"
