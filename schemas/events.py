"""The canonical tracking event: one carrier event in the gateway's own words, raw code kept beside it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from schemas import taxonomy

SCHEMA_ID = "https://handoff.dev/schemas/canonical_event.schema.json"


class EventSource(StrEnum):
    """How the event reached the gateway."""

    WEBHOOK = "webhook"
    POLL = "poll"
    SCAN = "scan"  # the own fleet's driver app
    MANUAL = "manual"


class MappingState(StrEnum):
    """Whether the carrier code was translated into the taxonomy."""

    MAPPED = "mapped"
    INFORMATIONAL = "informational"  # known code that says nothing about progress
    UNMAPPED = "unmapped"  # unknown code: kept, counted, never defaulted


class EventError(ValueError):
    """A canonical event that breaks the contract (naive time, reason without milestone, ...)."""


@dataclass(frozen=True, slots=True)
class Location:
    """Where an event happened, as precisely as the carrier says."""

    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country_code: str | None = None
    facility: str | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None

    def key(self) -> str:
        """Return a stable string used in the deduplication key."""
        parts = (self.city, self.state, self.postal_code, self.country_code, self.facility)
        return "|".join((p or "").strip().upper() for p in parts)


@dataclass(frozen=True, slots=True)
class ProofOfDelivery:
    """Evidence captured at delivery (by the own fleet's driver app or a carrier)."""

    signature_sha256: str | None = None
    photo_sha256: str | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    accuracy_m: Decimal | None = None
    one_time_code: str | None = None
    signed_by: str | None = None
    captured_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CanonicalEvent:
    """One tracking event in canonical form.

    ``milestone`` is None exactly when the carrier code is unmapped or informational: such events
    stay in the timeline but never drive the status.
    """

    tracking_number: str
    carrier: str
    occurred_at: datetime
    raw_code: str
    milestone: taxonomy.Milestone | None = None
    detail: str | None = None
    reason: taxonomy.ExceptionReason | None = None
    mapping: MappingState = MappingState.MAPPED
    raw_subcode: str | None = None
    raw_message: str | None = None
    location: Location | None = None
    estimated_delivery: date | None = None
    source_event_id: str | None = None
    source: EventSource = EventSource.POLL
    pod: ProofOfDelivery | None = None
    attributes: tuple[tuple[str, str], ...] = field(default=())  # carrier extras, sorted pairs

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None or self.occurred_at.utcoffset() is None:
            raise EventError("occurred_at must be timezone-aware")
        if self.occurred_at.utcoffset() != UTC.utcoffset(None):
            object.__setattr__(self, "occurred_at", self.occurred_at.astimezone(UTC))
        if not self.tracking_number or not self.carrier:
            raise EventError("tracking_number and carrier are required")
        if self.mapping is MappingState.MAPPED:
            if self.milestone is None:
                raise EventError("a mapped event needs a milestone")
            try:
                taxonomy.validate(self.milestone, self.detail, self.reason)
            except taxonomy.TaxonomyError as exc:
                raise EventError(str(exc)) from exc
        elif self.milestone is not None or self.detail is not None or self.reason is not None:
            raise EventError(f"an {self.mapping.value} event carries no milestone, detail or reason")

    @property
    def unmapped(self) -> bool:
        """Return whether the carrier code had no mapping."""
        return self.mapping is MappingState.UNMAPPED

    @property
    def drives_status(self) -> bool:
        """Return whether this event may change the shipment's milestone."""
        return self.mapping is MappingState.MAPPED

    def _content_key(self) -> tuple[str, ...]:
        return (
            "content",
            self.carrier,
            self.tracking_number,
            self.raw_code,
            self.raw_subcode or "",
            self.occurred_at.isoformat(),
            self.location.key() if self.location else "",
        )

    def primary_dedup_key(self) -> tuple[str, ...]:
        """Return the first of :meth:`dedup_keys` without building the others (the stored key)."""
        if self.source_event_id:
            return ("id", self.carrier, self.tracking_number, self.source_event_id)
        return self._content_key()

    def dedup_keys(self) -> tuple[tuple[str, ...], ...]:
        """Return the keys under which two deliveries of this event count as one."""
        if self.source_event_id:
            return (self.primary_dedup_key(), self._content_key())
        return (self._content_key(),)

    def to_dict(self) -> dict[str, Any]:
        """Return the event as a JSON-ready dict matching canonical_event.schema.json."""
        return {
            "tracking_number": self.tracking_number,
            "carrier": self.carrier,
            "occurred_at": _iso_utc(self.occurred_at),
            "milestone": self.milestone.value if self.milestone else None,
            "detail": self.detail,
            "reason": self.reason.value if self.reason else None,
            "terminal": bool(self.milestone and self.milestone.terminal),
            "action_required": bool(self.reason and self.reason.action_required),
            "action_party": self.reason.party.value if self.reason else None,
            "mapping": self.mapping.value,
            "unmapped": self.unmapped,
            "raw": {"code": self.raw_code, "subcode": self.raw_subcode, "message": self.raw_message},
            "location": _location_dict(self.location),
            "estimated_delivery": self.estimated_delivery.isoformat() if self.estimated_delivery else None,
            "source_event_id": self.source_event_id,
            "source": self.source.value,
            "pod": _pod_dict(self.pod),
            "attributes": dict(self.attributes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CanonicalEvent:
        """Build an event from ``to_dict`` output."""
        raw = data["raw"]
        loc = data.get("location")
        pod = data.get("pod")
        return cls(
            tracking_number=data["tracking_number"],
            carrier=data["carrier"],
            occurred_at=datetime.fromisoformat(data["occurred_at"].replace("Z", "+00:00")),
            raw_code=raw["code"],
            raw_subcode=raw.get("subcode"),
            raw_message=raw.get("message"),
            milestone=taxonomy.Milestone(data["milestone"]) if data.get("milestone") else None,
            detail=data.get("detail"),
            reason=taxonomy.ExceptionReason(data["reason"]) if data.get("reason") else None,
            mapping=MappingState(data.get("mapping", "mapped")),
            location=_location_from(loc) if loc else None,
            estimated_delivery=date.fromisoformat(data["estimated_delivery"])
            if data.get("estimated_delivery")
            else None,
            source_event_id=data.get("source_event_id"),
            source=EventSource(data.get("source", "poll")),
            pod=_pod_from(pod) if pod else None,
            attributes=tuple(sorted((data.get("attributes") or {}).items())),
        )


def _iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _location_dict(loc: Location | None) -> dict[str, Any] | None:
    if loc is None:
        return None
    return {
        "city": loc.city,
        "state": loc.state,
        "postal_code": loc.postal_code,
        "country_code": loc.country_code,
        "facility": loc.facility,
        "latitude": _dec(loc.latitude),
        "longitude": _dec(loc.longitude),
    }


def _location_from(data: dict[str, Any]) -> Location:
    return Location(
        city=data.get("city"),
        state=data.get("state"),
        postal_code=data.get("postal_code"),
        country_code=data.get("country_code"),
        facility=data.get("facility"),
        latitude=Decimal(data["latitude"]) if data.get("latitude") is not None else None,
        longitude=Decimal(data["longitude"]) if data.get("longitude") is not None else None,
    )


def _pod_dict(pod: ProofOfDelivery | None) -> dict[str, Any] | None:
    if pod is None:
        return None
    return {
        "signature_sha256": pod.signature_sha256,
        "photo_sha256": pod.photo_sha256,
        "latitude": _dec(pod.latitude),
        "longitude": _dec(pod.longitude),
        "accuracy_m": _dec(pod.accuracy_m),
        "one_time_code": pod.one_time_code,
        "signed_by": pod.signed_by,
        "captured_at": _iso_utc(pod.captured_at) if pod.captured_at else None,
    }


def _pod_from(data: dict[str, Any]) -> ProofOfDelivery:
    def dec(key: str) -> Decimal | None:
        return Decimal(data[key]) if data.get(key) is not None else None

    captured = data.get("captured_at")
    return ProofOfDelivery(
        signature_sha256=data.get("signature_sha256"),
        photo_sha256=data.get("photo_sha256"),
        latitude=dec("latitude"),
        longitude=dec("longitude"),
        accuracy_m=dec("accuracy_m"),
        one_time_code=data.get("one_time_code"),
        signed_by=data.get("signed_by"),
        captured_at=datetime.fromisoformat(captured.replace("Z", "+00:00")) if captured else None,
    )
