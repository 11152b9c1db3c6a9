"""Parse the own fleet's driver-app payloads (schemas/json/driver_event.schema.json) into canonical events."""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import jsonschema

from adapters import base, codes
from schemas import events

CARRIER = "fleet"
SCHEMA_NAME = "driver_event.schema.json"


class DriverPayloadError(ValueError):
    """A driver payload that breaks the contract; ``problems`` lists every violation found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid driver payload: " + "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class DriverEvent:
    """A canonical event plus the fleet context the proof-of-delivery checks need."""

    event: events.CanonicalEvent
    driver_id: str
    vehicle_id: str | None = None
    route_id: str | None = None
    stop_sequence: int | None = None
    note: str | None = None

    @property
    def courier(self) -> base.Courier:
        """Who delivered, for the proof-of-delivery checks."""
        return base.Courier(self.driver_id, self.vehicle_id, self.route_id, self.stop_sequence)


@functools.cache
def schema() -> dict[str, Any]:
    """Return the driver event JSON Schema (loaded on first use)."""
    text = importlib.resources.files("schemas").joinpath("json").joinpath(SCHEMA_NAME).read_text("utf-8")
    return json.loads(text)


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.FormatChecker())


def _where(error: jsonschema.ValidationError) -> str:
    return "/".join(str(p) for p in error.absolute_path) or "(payload)"


def _decimal(value: float | int | None) -> Decimal | None:
    # Through str so that 45.7578 stays 45.7578 rather than its binary float expansion.
    return None if value is None else Decimal(str(value))


def _parse_time(value: str, where: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise DriverPayloadError([f"{where}: occurred_at {value!r} is not an RFC 3339 date-time"]) from None
    if parsed.tzinfo is None:
        raise DriverPayloadError([f"{where}: occurred_at {value!r} has no UTC offset"])
    return parsed


def _subcode(item: Mapping[str, Any]) -> str | None:
    if item["type"] == "attempt":
        return item["attempt"]["reason"]
    if item["type"] == "delivered":
        return item["delivery"]["handed_to"]
    return None


def _one(item: Mapping[str, Any], index: int, table: codes.CodeTable) -> DriverEvent:
    where = f"events/{index}"
    occurred_at = _parse_time(item["occurred_at"], where)
    position = item.get("position") or {}
    lat, lon = _decimal(position.get("lat")), _decimal(position.get("lon"))
    pod = None
    if item["type"] == "delivered":
        d = item["delivery"]
        pod = events.ProofOfDelivery(
            signature_sha256=d.get("signature_sha256"),
            photo_sha256=d.get("photo_sha256"),
            latitude=lat,
            longitude=lon,
            accuracy_m=_decimal(position.get("accuracy_m")),
            one_time_code=d.get("one_time_code"),
            signed_by=d.get("signed_by"),
            captured_at=occurred_at,
        )
    location = events.Location(latitude=lat, longitude=lon) if position else None
    attributes = {
        k: str(item[k]) for k in ("driver_id", "vehicle_id", "route_id", "stop_sequence") if k in item
    }
    event = codes.to_event(
        table,
        tracking_number=item["tracking_number"],
        occurred_at=occurred_at,
        code=item["type"],
        subcode=_subcode(item),
        message=(item.get("attempt") or {}).get("note"),
        location=location,
        source_event_id=item["event_id"],
        source=events.EventSource.SCAN,
        pod=pod,
        attributes=attributes,
    )
    return DriverEvent(
        event=event,
        driver_id=item["driver_id"],
        vehicle_id=item.get("vehicle_id"),
        route_id=item.get("route_id"),
        stop_sequence=item.get("stop_sequence"),
        note=(item.get("attempt") or {}).get("note"),
    )


def parse_payload(payload: Mapping[str, Any], table: codes.CodeTable | None = None) -> list[DriverEvent]:
    """Validate a driver-app batch and translate each event, raising DriverPayloadError on bad input."""
    errors = sorted(_validator().iter_errors(payload), key=lambda e: list(e.absolute_path))
    if errors:
        raise DriverPayloadError([f"{_where(e)}: {e.message}" for e in errors])
    table = table if table is not None else codes.load_table(CARRIER)
    return [_one(item, i, table) for i, item in enumerate(payload["events"])]
