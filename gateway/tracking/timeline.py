"""Derive a shipment's timeline and current status from the set of its canonical events.

Pure: no Flask, database or clock. The result depends only on the *set* of distinct events, never
on arrival order or on how many duplicates arrived, so the gateway can re-derive a timeline at any
time (after a late event, or after ops remaps a code) and get the same answer.

Rules:
* Duplicates are merged: two events are one if they share a carrier source event id, or the same
  carrier, tracking number, raw code/subcode, time and location.
* Events are ordered by carrier event time; at the same instant the higher-precedence milestone
  is applied last, so it wins.
* The status only moves forward by milestone rank. ``exception`` and ``attempt_failed`` float:
  they can be entered at any time and left for any state from in_transit on.
* Terminal states are sticky, except for the explicit re-openers in ``taxonomy.REOPENED_BY`` and
  ``taxonomy.REOPENING_REASONS`` or an event with the correction detail.
* Unmapped and informational events are kept in the timeline but never change the status.
* The estimated delivery date is the one on the latest event that carries one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from schemas import events, taxonomy
from schemas.events import CanonicalEvent

M = taxonomy.Milestone


@dataclass(frozen=True, slots=True)
class TimelineState:
    """A shipment's derived timeline: ordered distinct events and the status they imply."""

    milestone: taxonomy.Milestone = M.PENDING
    detail: str | None = None
    reason: taxonomy.ExceptionReason | None = None
    status_event: events.CanonicalEvent | None = None
    events: tuple[events.CanonicalEvent, ...] = ()
    estimated_delivery: date | None = None
    delivered_at: datetime | None = None
    unmapped_count: int = 0
    # Not part of equality: it depends on how many copies arrived, which must not matter.
    duplicates_dropped: int = field(default=0, compare=False)

    @property
    def terminal(self) -> bool:
        """Return whether the current milestone is terminal."""
        return self.milestone.terminal

    @property
    def action_required(self) -> bool:
        """Return whether the current status waits for someone to act."""
        return self.reason is not None and self.reason.action_required

    @property
    def action_party(self) -> taxonomy.Party | None:
        """Return who must act on the current status, if anyone."""
        return self.reason.party if self.reason is not None else None

    @property
    def unmapped_events(self) -> tuple[CanonicalEvent, ...]:
        """Return the events whose carrier code had no mapping."""
        return tuple(e for e in self.events if e.unmapped)

    def to_dict(self) -> dict[str, object]:
        """Return the timeline as JSON-ready dicts (events oldest first)."""
        return {
            "milestone": self.milestone.value,
            "detail": self.detail,
            "reason": self.reason.value if self.reason else None,
            "terminal": self.terminal,
            "action_required": self.action_required,
            "action_party": self.action_party.value if self.action_party else None,
            "estimated_delivery": self.estimated_delivery.isoformat() if self.estimated_delivery else None,
            "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None,
            "unmapped_count": self.unmapped_count,
            "events": [e.to_dict() for e in self.events],
        }


def _fingerprint(event: events.CanonicalEvent) -> str:
    # A total order over events that differ in any field, so the choice among duplicates and the
    # order of simultaneous events never depend on arrival order.
    return json.dumps(event.to_dict(), sort_keys=True, separators=(",", ":"))


class _Fingerprint:
    """An event's fingerprint, computed only if a comparison needs it (a tie on time and precedence).

    Serialising every event to JSON was most of the cost of a derivation; ties are rare.
    """

    __slots__ = ("_value", "event")

    def __init__(self, event: events.CanonicalEvent) -> None:
        self.event = event
        self._value: str | None = None

    @property
    def value(self) -> str:
        if self._value is None:
            self._value = _fingerprint(self.event)
        return self._value

    def __lt__(self, other: _Fingerprint) -> bool:
        return self.value < other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Fingerprint) and self.value == other.value

    __hash__ = None  # type: ignore[assignment]  # unhashable on purpose, as __eq__ is defined


def _precedence(event: events.CanonicalEvent) -> int:
    if not event.drives_status or event.milestone is None:
        return -1
    # Floating milestones win a tie against a plain one of equal rank: "held" beats "arrived".
    return event.milestone.rank * 2 + (1 if event.milestone in taxonomy.FLOATING_MILESTONES else 0)


def _order_key(event: events.CanonicalEvent) -> tuple[datetime, int, _Fingerprint]:
    return (event.occurred_at, _precedence(event), _Fingerprint(event))


def deduplicate(evts: Iterable[events.CanonicalEvent]) -> tuple[list[events.CanonicalEvent], int]:
    """Merge duplicate deliveries of the same carrier event; return the distinct events and the drop count."""
    items = list(evts)
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[str, ...], int] = {}
    for i, event in enumerate(items):
        for key in event.dedup_keys():
            j = owner.setdefault(key, i)
            if j != i:
                parent[find(i)] = find(j)
    groups: dict[int, list[events.CanonicalEvent]] = {}
    for i, event in enumerate(items):
        groups.setdefault(find(i), []).append(event)
    # The smallest fingerprint represents its group: a function of the group's contents only.
    distinct = [group[0] if len(group) == 1 else min(group, key=_fingerprint) for group in groups.values()]
    return distinct, len(items) - len(distinct)


def _accepts(
    current: taxonomy.Milestone | None, high: int, event: events.CanonicalEvent
) -> tuple[bool, bool]:
    """Return (accepted, resets_progress) for applying ``event`` on top of ``current``."""
    m = event.milestone
    assert m is not None
    correction = event.detail == taxonomy.CORRECTION_DETAIL
    if current is None:
        return True, False
    if current.terminal:
        if correction or m in taxonomy.REOPENED_BY.get(current, frozenset()):
            return True, True
        if event.reason is not None and event.reason in taxonomy.REOPENING_REASONS.get(current, frozenset()):
            return True, True
        return False, False
    if correction:
        return True, True
    if m in taxonomy.FLOATING_MILESTONES:
        return True, False
    if current in taxonomy.FLOATING_MILESTONES:
        return m.rank >= min(high, M.IN_TRANSIT.rank), False
    return m.rank >= current.rank, False


def derive(evts: Iterable[events.CanonicalEvent]) -> TimelineState:
    """Derive the timeline and current status from any collection of a shipment's events."""
    distinct, dropped = deduplicate(evts)
    ordered = sorted(distinct, key=_order_key)
    current: taxonomy.Milestone | None = None
    status_event: events.CanonicalEvent | None = None
    high = M.PENDING.rank
    estimate: date | None = None
    for event in ordered:
        if event.estimated_delivery is not None:
            estimate = event.estimated_delivery
        if not event.drives_status or event.milestone is None:
            continue
        accepted, reset = _accepts(current, high, event)
        if not accepted:
            continue
        current, status_event = event.milestone, event
        if event.milestone not in taxonomy.FLOATING_MILESTONES:
            high = event.milestone.rank if reset else max(high, event.milestone.rank)
    return TimelineState(
        milestone=current if current is not None else M.PENDING,
        detail=status_event.detail if status_event else None,
        reason=status_event.reason if status_event else None,
        status_event=status_event,
        events=tuple(ordered),
        estimated_delivery=estimate,
        delivered_at=status_event.occurred_at if status_event and current is M.DELIVERED else None,
        unmapped_count=sum(1 for e in ordered if e.unmapped),
        duplicates_dropped=dropped,
    )


def apply(state: TimelineState, new_events: Iterable[events.CanonicalEvent]) -> TimelineState:
    """Return the timeline after adding ``new_events`` (in any order, duplicates allowed)."""
    added = list(new_events)
    result = derive((*state.events, *added))
    return TimelineState(
        milestone=result.milestone,
        detail=result.detail,
        reason=result.reason,
        status_event=result.status_event,
        events=result.events,
        estimated_delivery=result.estimated_delivery,
        delivered_at=result.delivered_at,
        unmapped_count=result.unmapped_count,
        duplicates_dropped=state.duplicates_dropped + result.duplicates_dropped,
    )


def remap(
    state: TimelineState, translate: Callable[[events.CanonicalEvent], events.CanonicalEvent]
) -> TimelineState:
    """Re-derive the timeline after re-translating every event (used when ops remaps a code)."""
    return derive(translate(e) for e in state.events)
