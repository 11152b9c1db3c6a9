"""Build what a public tracking page shows, from the shipment's canonical timeline.

The status, the order of events and the estimate come from ``gateway.tracking`` (the same
derivation the API serves); this module only chooses what a recipient may see and says it in
plain words. Nothing internal is shown: no ids, references, costs, raw carrier codes or parties.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from adapters import registry
from gateway.kernel import models
from gateway.tracking import status, timeline
from gateway.trackpage import _words, _zones, branding
from gateway.trackpage.tables import TrackingLink
from schemas import events, taxonomy

M = taxonomy.Milestone
_CANCELLED_STATUSES = frozenset({"cancelled", "voided"})


def _carrier_name(code: str) -> str:
    """How the recipient knows the carrier: the adapter's display name ("Local delivery" for the fleet)."""
    if code == "fleet":
        return "Local delivery"
    try:
        declared = registry.adapter_class(code).display_name
    except registry.RegistryError:  # an unknown or broken adapter still gets a readable name
        declared = ""
    return declared or code.replace("_", " ").title()


@dataclass(frozen=True)
class Problem:
    """An exception in plain words: what happened and what the recipient can do."""

    happened: str
    you_can: str
    needs_you: bool


@dataclass(frozen=True)
class Step:
    """One line of the timeline, newest first."""

    title: str
    at: datetime  # in the page's time zone
    at_iso: str  # UTC, for <time datetime>
    at_text: str
    place: str | None
    problem: Problem | None


@dataclass(frozen=True)
class Page:
    """Everything the template renders."""

    look: branding.Look
    headline: str
    milestone: str
    delivered: bool
    expected: str  # the expected (or actual) delivery, in words
    expected_iso: str | None
    problem: Problem | None
    steps: tuple[Step, ...]
    zone_label: str
    carrier: str | None
    tracking_number: str | None


def _problem(reason: taxonomy.ExceptionReason | None) -> Problem | None:
    if reason is None:
        return None
    happened, you_can = _words.REASONS[reason]
    return Problem(happened, you_can, reason.party is taxonomy.Party.RECIPIENT and reason.action_required)


def _place(location: events.Location | None) -> str | None:
    if location is None:
        return None
    city = (location.city or "").strip().title()
    parts = [p for p in (city, (location.country_code or "").upper()) if p]
    return ", ".join(parts) or None


def _when(value: datetime, zone: tzinfo, label: str) -> tuple[datetime, str]:
    local = value.astimezone(zone)
    return local, f"{local:%a %d %b %Y, %H:%M} {label}"


def _day(value: date) -> str:
    return f"{value:%A %d %B %Y}"


def _expected(
    state: timeline.TimelineState, milestone: taxonomy.Milestone, shipment: models.Shipment, zone: tzinfo
) -> tuple[str, str | None]:
    if state.delivered_at is not None:
        local = state.delivered_at.astimezone(zone).date()
        return f"Delivered {_day(local)}", local.isoformat()
    if milestone.terminal or milestone is M.RETURNING:
        return "No delivery expected", None
    estimate = state.estimated_delivery or shipment.promise_date
    if estimate is None:
        return "Not known yet", None
    return _day(estimate), estimate.isoformat()


def _steps(state: timeline.TimelineState, zone: tzinfo, label: str) -> tuple[Step, ...]:
    steps = []
    for event in reversed(state.events):
        if event.milestone is None:  # unmapped and informational codes say nothing to a recipient
            continue
        local, text = _when(event.occurred_at, zone, label)
        steps.append(
            Step(
                title=_words.STEPS[event.milestone],
                at=local,
                at_iso=event.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                at_text=text,
                place=_place(event.location),
                problem=_problem(event.reason),
            )
        )
    return tuple(steps)


def build(session: Session, link: TrackingLink) -> Page:
    """Return the page of the shipment a live link opens."""
    shipment = session.get(models.Shipment, link.shipment_id)
    tenant = session.get(models.Tenant, link.tenant_id)
    assert shipment is not None and tenant is not None  # the link's foreign keys cascade
    state = timeline.derive(status.load_events(session, shipment.id))
    zone: tzinfo | None = _zones.for_country(shipment.destination.country_code)
    label = "local time" if zone is not None else "UTC"
    zone_label = f"Times are local to the delivery address ({zone})" if zone else "Times are in UTC"
    milestone = state.milestone
    if milestone is M.PENDING and shipment.status in _CANCELLED_STATUSES:
        milestone = M.CANCELLED  # a draft cancelled (or a label voided) before the carrier said anything
    expected, expected_iso = _expected(state, milestone, shipment, zone or UTC)
    current = _problem(state.reason)
    return Page(
        look=branding.look(session, tenant),
        headline=_words.HEADLINES[milestone],
        milestone=milestone.value,
        delivered=state.milestone is M.DELIVERED,
        expected=expected,
        expected_iso=expected_iso,
        problem=current,
        steps=_steps(state, zone or ZoneInfo("UTC"), label),
        zone_label=zone_label,
        carrier=_carrier_name(shipment.carrier or "") or None,
        tracking_number=shipment.tracking_number,
    )
