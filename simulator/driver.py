"""Own-fleet "driver app" events: the payload builder, isolated, and a route's scripted day.

The driver event JSON contract belongs to the tracking area (schemas/json/driver_event.schema.json).
Only ``build_driver_event`` knows its shape, so conforming to that schema is a one-function change.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

EVENT_TYPES: tuple[str, ...] = (
    "loaded",
    "out_for_delivery",
    "arrived",
    "attempt",
    "delivered",
    "returned_to_depot",
)
ATTEMPT_REASONS: tuple[str, ...] = ("recipient_absent", "access_denied", "business_closed", "refused")


def build_driver_event(
    *,
    event_type: str,
    route_id: str,
    driver_id: str,
    vehicle_id: str | None,
    shipment_id: str,
    tracking_number: str | None,
    occurred_at: datetime,
    latitude: float,
    longitude: float,
    sequence: int,
    seed: int,
    reason: str | None = None,
    one_time_code: str | None = None,
) -> dict[str, Any]:
    """Return one driver-app event as the gateway receives it."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown driver event type {event_type!r}")
    event: dict[str, Any] = {
        "event_id": str(
            uuid.UUID(int=random.Random(f"{seed}:{route_id}:{sequence}").getrandbits(128), version=4)
        ),
        "type": event_type,
        "route_id": route_id,
        "driver_id": driver_id,
        "shipment_id": shipment_id,
        "occurred_at": occurred_at.isoformat().replace("+00:00", "Z"),
        "sequence": sequence,
        "location": {"latitude": round(latitude, 6), "longitude": round(longitude, 6), "accuracy_m": 8.0},
    }
    if vehicle_id:
        event["vehicle_id"] = vehicle_id
    if tracking_number:
        event["tracking_number"] = tracking_number
    if event_type == "attempt":
        event["reason"] = reason or "recipient_absent"
    if event_type == "delivered":
        # Proof of delivery travels as hashes; the images themselves stay on the device.
        photo = f"photo:{route_id}:{shipment_id}:{seed}".encode()
        signature = f"signature:{route_id}:{shipment_id}:{seed}".encode()
        event["pod"] = {
            "photo_sha256": hashlib.sha256(photo).hexdigest(),
            "signature_sha256": hashlib.sha256(signature).hexdigest(),
            "one_time_code": one_time_code,
            "recipient_name": "J. SMITH",
        }
    return event


def route_events(route: dict[str, Any], seed: int, exception_share: float) -> list[dict[str, Any]]:
    """Script a route's day: load, leave, then arrive and deliver (or attempt) stop by stop, then return."""
    start = datetime.fromisoformat(route["started_at"])
    depot = route.get("depot") or {}
    depot_lat, depot_lon = float(depot.get("latitude", 52.52)), float(depot.get("longitude", 13.405))
    stops = route["stops"]
    events: list[dict[str, Any]] = []
    sequence = 0

    def add(kind: str, stop: dict[str, Any], hours: float, lat: float, lon: float, **extra: Any) -> None:
        nonlocal sequence
        sequence += 1
        events.append(
            build_driver_event(
                event_type=kind,
                route_id=route["route_id"],
                driver_id=route["driver_id"],
                vehicle_id=route.get("vehicle_id"),
                shipment_id=stop["shipment_id"],
                tracking_number=stop.get("tracking_number"),
                occurred_at=start + timedelta(hours=hours),
                latitude=lat,
                longitude=lon,
                sequence=sequence,
                seed=seed,
                **extra,
            )
        )

    for stop in stops:
        add("loaded", stop, 0.25, depot_lat, depot_lon)
    for stop in stops:
        add("out_for_delivery", stop, 0.5, depot_lat, depot_lon)
    undelivered = []
    for index, stop in enumerate(stops):
        lat, lon = float(stop["latitude"]), float(stop["longitude"])
        arrive = 1.0 + index * 0.5
        add("arrived", stop, arrive, lat, lon)
        rng = random.Random(f"{seed}:fleet:{route['route_id']}:{stop['shipment_id']}")
        outcome = stop.get("outcome") or ("attempt" if rng.random() < exception_share else "delivered")
        if outcome == "attempt":
            add(
                "attempt",
                stop,
                arrive + 0.1,
                lat,
                lon,
                reason=stop.get("reason") or rng.choice(ATTEMPT_REASONS),
            )
            undelivered.append(stop)
        else:
            code = stop.get("one_time_code") or f"{rng.randrange(10**6):06d}"
            add("delivered", stop, arrive + 0.1, lat, lon, one_time_code=code)
    back = 1.5 + len(stops) * 0.5
    for stop in undelivered:
        add("returned_to_depot", stop, back, depot_lat, depot_lon)
    return events
