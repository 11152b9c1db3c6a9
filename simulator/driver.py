"""Own-fleet "driver app" events: the payload builder, isolated, and a route's scripted day.

The JSON contract is the tracking area's schemas/json/driver_event.schema.json (see
docs/DRIVER_APP.md): batches of events with an ``event_id`` each. Only ``build_driver_event`` and
``build_batch`` know that shape.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

SCHEMA_VERSION = "1"
EVENT_TYPES: tuple[str, ...] = (
    "loaded",
    "out_for_delivery",
    "arrived",
    "attempt",
    "delivered",
    "returned_to_depot",
)
ATTEMPT_REASONS: tuple[str, ...] = (
    "recipient_unavailable",
    "business_closed",
    "location_inaccessible",
    "refused",
    "address_issue",
)
HANDED_TO: tuple[str, ...] = ("recipient", "neighbor", "safe_place", "reception", "locker")


def build_driver_event(
    *,
    event_type: str,
    route_id: str,
    driver_id: str,
    vehicle_id: str | None,
    tracking_number: str,
    occurred_at: datetime,
    stop_sequence: int,
    event_number: int,
    seed: int,
    position: tuple[float, float] | None = None,
    reason: str | None = None,
    one_time_code: str | None = None,
    handed_to: str = "recipient",
    signed_by: str | None = None,
) -> dict[str, Any]:
    """Return one driver-app event in the driver_event schema's shape."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown driver event type {event_type!r}")
    if event_type in ("arrived", "delivered") and position is None:
        raise ValueError(f"a {event_type} event needs a position")
    # Seeded, so a resent batch carries the same ids and the gateway can deduplicate it.
    event_id = uuid.UUID(int=random.Random(f"{seed}:{route_id}:{event_number}").getrandbits(128), version=4)
    event: dict[str, Any] = {
        "event_id": str(event_id),
        "type": event_type,
        "tracking_number": tracking_number,
        "occurred_at": occurred_at.isoformat(timespec="seconds"),
        "driver_id": driver_id,
        "route_id": route_id,
        "stop_sequence": stop_sequence,
    }
    if vehicle_id:
        event["vehicle_id"] = vehicle_id
    if position is not None:
        event["position"] = {"lat": round(position[0], 6), "lon": round(position[1], 6), "accuracy_m": 8.0}
    if event_type == "attempt":
        event["attempt"] = {"reason": reason or "recipient_unavailable"}
    if event_type == "delivered":
        # Proof of delivery travels as hashes; the images themselves are uploaded separately.
        delivery: dict[str, Any] = {
            "handed_to": handed_to,
            "photo_sha256": hashlib.sha256(f"photo:{route_id}:{tracking_number}:{seed}".encode()).hexdigest(),
            "signature_sha256": hashlib.sha256(
                f"signature:{route_id}:{tracking_number}:{seed}".encode()
            ).hexdigest(),
        }
        if one_time_code:
            delivery["one_time_code"] = one_time_code
        if signed_by:
            delivery["signed_by"] = signed_by
        event["delivery"] = delivery
    return event


def build_batch(events: list[dict[str, Any]], device_id: str) -> dict[str, Any]:
    """Wrap events in the batch the driver app sends."""
    return {"schema_version": SCHEMA_VERSION, "device_id": device_id, "events": events}


def route_events(route: dict[str, Any], seed: int, exception_share: float) -> list[dict[str, Any]]:
    """Script a route's day: load, leave, then arrive and deliver (or attempt) stop by stop, then return."""
    start = datetime.fromisoformat(route["started_at"])
    depot = route.get("depot") or {}
    depot_position = (float(depot.get("latitude", 52.52)), float(depot.get("longitude", 13.405)))
    stops = route["stops"]
    events: list[dict[str, Any]] = []

    def add(kind: str, sequence: int, stop: dict[str, Any], hours: float, **extra: Any) -> None:
        events.append(
            build_driver_event(
                event_type=kind,
                route_id=route["route_id"],
                driver_id=route["driver_id"],
                vehicle_id=route.get("vehicle_id"),
                tracking_number=stop["tracking_number"],
                occurred_at=start + timedelta(hours=hours),
                stop_sequence=sequence,
                event_number=len(events) + 1,
                seed=seed,
                **extra,
            )
        )

    for sequence, stop in enumerate(stops, start=1):
        add("loaded", sequence, stop, 0.25)
    for sequence, stop in enumerate(stops, start=1):
        add("out_for_delivery", sequence, stop, 0.5)
    undelivered = []
    for sequence, stop in enumerate(stops, start=1):
        position = (float(stop["latitude"]), float(stop["longitude"]))
        arrive = 0.5 + sequence * 0.5
        add("arrived", sequence, stop, arrive, position=position)
        rng = random.Random(f"{seed}:fleet:{route['route_id']}:{stop['tracking_number']}")
        outcome = stop.get("outcome") or ("attempt" if rng.random() < exception_share else "delivered")
        if outcome == "attempt":
            reason = stop.get("reason") or rng.choice(ATTEMPT_REASONS)
            add("attempt", sequence, stop, arrive + 0.1, position=position, reason=reason)
            undelivered.append((sequence, stop))
        else:
            code = stop.get("one_time_code") or f"{rng.randrange(10**6):06d}"
            add(
                "delivered",
                sequence,
                stop,
                arrive + 0.1,
                position=position,
                one_time_code=code,
                handed_to=stop.get("handed_to") or "recipient",
                signed_by="J. SMITH",
            )
    back = 1.0 + len(stops) * 0.5
    for sequence, stop in undelivered:
        add("returned_to_depot", sequence, stop, back, position=depot_position)
    return events
