from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from adapters.fleet import driver
from gateway.tracking import pod, timeline
from schemas import taxonomy, types

M = taxonomy.Milestone
DAY = datetime(2026, 5, 4, tzinfo=UTC)
SHIFT = pod.Shift("drv-17", DAY.replace(hour=7), DAY.replace(hour=16))

# Three real-looking stops in Lyon, 3rd arrondissement, a few hundred metres apart.
ADDRESSES = {
    "HF000101": types.Address(
        "FR", "69003", "Lyon", ("12 Rue Paul Bert",), latitude=Decimal("45.7580"), longitude=Decimal("4.8410")
    ),
    "HF000102": types.Address(
        "FR",
        "69003",
        "Lyon",
        ("40 Cours Gambetta",),
        latitude=Decimal("45.7530"),
        longitude=Decimal("4.8440"),
    ),
    "HF000103": types.Address(
        "FR", "69003", "Lyon", ("3 Rue Servient",), latitude=Decimal("45.7605"), longitude=Decimal("4.8470")
    ),
}
CODES = {"HF000101": "482913", "HF000102": "771204", "HF000103": "305518"}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def stop_events(
    tn: str, seq: int, ofd_at: str, delivered_at: str, *, lat: float, lon: float, code: str | None = None
) -> list[dict[str, Any]]:
    base = {"tracking_number": tn, "driver_id": "drv-17", "vehicle_id": "van-3", "route_id": "LYS-0504-03"}
    return [
        {**base, "event_id": f"{tn}-load", "type": "loaded", "occurred_at": "2026-05-04T07:05:00+02:00"},
        {
            **base,
            "event_id": f"{tn}-ofd",
            "type": "out_for_delivery",
            "occurred_at": ofd_at,
            "stop_sequence": seq,
        },
        {
            **base,
            "event_id": f"{tn}-pod",
            "type": "delivered",
            "occurred_at": delivered_at,
            "stop_sequence": seq,
            "position": {"lat": lat, "lon": lon, "accuracy_m": 8},
            "delivery": {
                "handed_to": "recipient",
                "signed_by": "M. Durand",
                "signature_sha256": sha(f"sig-{tn}"),
                "photo_sha256": sha(f"photo-{tn}"),
                "one_time_code": code if code is not None else CODES[tn],
            },
        },
    ]


def clean_day() -> dict[str, Any]:
    return {
        "schema_version": "1",
        "device_id": "android-5f2c",
        "events": [
            *stop_events(
                "HF000101",
                1,
                "2026-05-04T08:30:00+02:00",
                "2026-05-04T09:02:00+02:00",
                lat=45.75805,
                lon=4.84095,
            ),
            *stop_events(
                "HF000102",
                2,
                "2026-05-04T08:30:00+02:00",
                "2026-05-04T09:20:00+02:00",
                lat=45.75290,
                lon=4.84410,
            ),
            *stop_events(
                "HF000103",
                3,
                "2026-05-04T08:30:00+02:00",
                "2026-05-04T09:41:00+02:00",
                lat=45.76060,
                lon=4.84690,
            ),
        ],
    }


def deliveries_from(
    payload: dict[str, Any], drop: set[str] = frozenset(), addresses: dict[str, types.Address] | None = None
) -> list[pod.Delivery]:
    addresses = ADDRESSES if addresses is None else addresses
    parsed = driver.parse_payload(payload)
    out = []
    for p in parsed:
        if p.event.milestone is not M.DELIVERED:
            continue
        tn = p.event.tracking_number
        history = tuple(
            x.event for x in parsed if x.event.tracking_number == tn and x.event.raw_code not in drop
        )
        out.append(
            pod.Delivery(
                event=p.event,
                address=addresses.get(tn),
                issued_code=CODES.get(tn),
                driver_id=p.driver_id,
                route_id=p.route_id,
                stop_sequence=p.stop_sequence,
                history=history,
            )
        )
    return out


def flag_codes(flags: list[pod.PodFlag]) -> set[tuple[pod.FlagCode, str]]:
    return {(f.code, f.tracking_number) for f in flags}


def test_driver_payload_becomes_canonical_events_with_proof() -> None:
    parsed = driver.parse_payload(clean_day())
    assert len(parsed) == 9
    delivered = [p for p in parsed if p.event.milestone is M.DELIVERED]
    first = delivered[0].event
    assert first.detail == "signed"
    assert first.occurred_at == datetime(2026, 5, 4, 7, 2, tzinfo=UTC)
    assert first.pod is not None and first.pod.latitude == Decimal("45.75805")
    assert first.pod.signature_sha256 == sha("sig-HF000101")
    assert first.source_event_id == "HF000101-pod"
    assert delivered[0].stop_sequence == 1 and delivered[0].route_id == "LYS-0504-03"
    state = timeline.derive(p.event for p in parsed if p.event.tracking_number == "HF000101")
    assert state.milestone is M.DELIVERED


def test_attempt_carries_its_reason() -> None:
    payload = {
        "schema_version": "1",
        "events": [
            {
                "event_id": "a1b2c3d4-attempt",
                "type": "attempt",
                "tracking_number": "HF000104",
                "occurred_at": "2026-05-04T10:12:00+02:00",
                "driver_id": "drv-17",
                "position": {"lat": 45.7571, "lon": 4.8502},
                "attempt": {"reason": "recipient_unavailable", "note": "Interphone HS"},
            }
        ],
    }
    (p,) = driver.parse_payload(payload)
    assert p.event.milestone is M.ATTEMPT_FAILED
    assert p.event.reason is taxonomy.ExceptionReason.RECIPIENT_UNAVAILABLE
    assert p.event.raw_message == "Interphone HS"


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda e: e.pop("delivery"), "'delivery' is a required property"),
        (lambda e: e["delivery"].update(signature_sha256="not-a-hash"), "signature_sha256"),
        (lambda e: e.update(type="teleported"), "events/2/type"),
        (lambda e: e["position"].update(lat=123.0), "events/2/position/lat"),
    ],
)
def test_a_bad_driver_payload_is_refused_with_a_clear_reason(mutate: Any, problem: str) -> None:
    payload = clean_day()
    mutate(payload["events"][2])
    with pytest.raises(driver.DriverPayloadError, match=problem):
        driver.parse_payload(payload)


def test_a_naive_device_time_is_refused() -> None:
    payload = clean_day()
    payload["events"][0]["occurred_at"] = "2026-05-04T07:05:00"
    with pytest.raises(driver.DriverPayloadError, match="events/0/occurred_at"):
        driver.parse_payload(payload)


def test_a_clean_delivery_day_raises_no_flags() -> None:
    assert pod.check_deliveries(deliveries_from(clean_day()), [SHIFT]) == []


def test_wrong_one_time_code_is_flagged() -> None:
    payload = clean_day()
    payload["events"][2]["delivery"]["one_time_code"] = "482914"
    flags = pod.check_deliveries(deliveries_from(payload), [SHIFT])
    assert flag_codes(flags) == {(pod.FlagCode.CODE_MISMATCH, "HF000101")}


def test_missing_one_time_code_is_flagged_when_one_was_issued() -> None:
    payload = clean_day()
    del payload["events"][2]["delivery"]["one_time_code"]
    flags = pod.check_deliveries(deliveries_from(payload), [SHIFT])
    assert flag_codes(flags) == {(pod.FlagCode.CODE_MISSING, "HF000101")}


def test_proof_far_from_the_address_is_flagged() -> None:
    payload = clean_day()
    payload["events"][5]["position"] = {"lat": 45.7640, "lon": 4.8357, "accuracy_m": 12}  # Part-Dieu, ~1.3 km
    flags = pod.check_deliveries(deliveries_from(payload), [SHIFT])
    assert flag_codes(flags) == {(pod.FlagCode.GPS_TOO_FAR, "HF000102")}


def test_distance_threshold_is_configurable() -> None:
    strict = pod.PodPolicy(max_distance_m=Decimal(5), max_accuracy_credit_m=Decimal(0))
    flags = pod.check_deliveries(deliveries_from(clean_day()), [SHIFT], strict)
    assert {f.code for f in flags} == {pod.FlagCode.GPS_TOO_FAR}


def test_many_deliveries_proven_at_one_spot_are_flagged() -> None:
    payload = clean_day()
    for index in (2, 5, 8):  # every proof captured in the van, parked 450-570 m from each address
        payload["events"][index]["position"] = {"lat": 45.75650, "lon": 4.84800, "accuracy_m": 5}
    flags = pod.check_deliveries(deliveries_from(payload), [SHIFT])
    clustered = {(f.code, f.tracking_number) for f in flags if f.code is pod.FlagCode.CLUSTERED}
    assert clustered == {(pod.FlagCode.CLUSTERED, tn) for tn in ADDRESSES}


def test_neighbouring_deliveries_proven_at_their_own_doors_are_not_a_cluster() -> None:
    payload = clean_day()
    tower = types.Address(
        "FR", "69003", "Lyon", ("1 Rue Garibaldi",), latitude=Decimal("45.7591"), longitude=Decimal("4.8472")
    )
    in_tower = {
        tn: dataclasses.replace(tower, street_lines=(f"1 Rue Garibaldi, flat {tn[-1]}",)) for tn in ADDRESSES
    }
    for index in (2, 5, 8):
        payload["events"][index]["position"] = {"lat": 45.75912, "lon": 4.84718, "accuracy_m": 5}
    flags = pod.check_deliveries(deliveries_from(payload, addresses=in_tower), [SHIFT])
    assert flags == []


def test_delivered_without_out_for_delivery_is_flagged() -> None:
    flags = pod.check_deliveries(deliveries_from(clean_day(), drop={"out_for_delivery"}), [SHIFT])
    assert {f.code for f in flags} == {pod.FlagCode.NO_OUT_FOR_DELIVERY}
    assert len(flags) == 3


def test_proof_outside_the_drivers_shift_is_flagged() -> None:
    payload = clean_day()
    payload["events"][8]["occurred_at"] = "2026-05-04T21:40:00+02:00"
    flags = pod.check_deliveries(deliveries_from(payload), [SHIFT])
    assert flag_codes(flags) == {(pod.FlagCode.OUTSIDE_SHIFT, "HF000103")}


def test_proof_out_of_route_order_is_flagged() -> None:
    payload = clean_day()
    payload["events"][8]["stop_sequence"] = 30  # stop 30 proven at 09:41 ...
    payload["events"][5]["occurred_at"] = "2026-05-04T10:30:00+02:00"  # ... then stop 2 at 10:30
    flags = pod.check_deliveries(deliveries_from(payload), [SHIFT])
    assert flag_codes(flags) == {(pod.FlagCode.OUT_OF_ROUTE_ORDER, "HF000102")}


def test_a_broken_input_becomes_a_flag_not_an_exception() -> None:
    (d, *_) = deliveries_from(clean_day())
    broken = pod.Delivery(event=d.event, address=d.address, issued_code=12345)  # type: ignore[arg-type]
    flags = pod.check_deliveries([broken])
    assert pod.FlagCode.CHECK_FAILED in {f.code for f in flags}


def test_flags_reopen_a_delivery_as_a_pod_suspicious_exception() -> None:
    payload = clean_day()
    payload["events"][2]["delivery"]["one_time_code"] = "000000"
    parsed = driver.parse_payload(payload)
    (first, *_) = deliveries_from(payload)
    flags = pod.check_deliveries([first], [SHIFT])
    raised = pod.flag_event(first.event, flags, raised_at=first.event.occurred_at - timedelta(hours=1))
    state = timeline.derive([*(p.event for p in parsed if p.event.tracking_number == "HF000101"), raised])
    assert state.milestone is M.EXCEPTION
    assert state.reason is taxonomy.ExceptionReason.POD_SUSPICIOUS
    assert state.action_required
    assert raised.raw_subcode == "code_mismatch"


def test_haversine_matches_a_known_distance() -> None:
    # Lyon Part-Dieu station to Lyon Perrache station is about 2.9 km as the crow flies.
    d = pod.haversine_m(Decimal("45.7606"), Decimal("4.8593"), Decimal("45.7485"), Decimal("4.8258"))
    assert Decimal(2800) < d < Decimal(3000)
