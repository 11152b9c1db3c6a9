"""Playbooks as data: parse and validate a document, find the entry for a reason, compute its deadline.

A playbook says, per exception reason (and optionally milestone), who owns it, how long they have,
what is done automatically, and who it goes to when the timer runs out. A tenant without a playbook,
or a reason its playbook does not name, gets the built-in default: the taxonomy's party owns it
(``none`` and ``customs`` map to ``carrier``/``ops``), four business hours for a shipper or recipient,
24 hours for the carrier, escalation to ops.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema

from schemas import taxonomy

AT_RISK = "at_risk"
OWNERS = ("carrier", "shipper", "recipient", "ops")
ACTIONS = (
    "notify_recipient",
    "request_reattempt",
    "hold_at_location",
    "move_to_partner",
    "return_to_sender",
    "open_claim",
)
DEFAULT_THRESHOLD = 0.5


class PlaybookError(ValueError):
    """A playbook document that breaks the schema; ``errors`` lists each problem with its path."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Timer:
    hours: float
    business: bool = False


@dataclass(frozen=True, slots=True)
class Entry:
    reason: str
    owner: str
    timer: Timer | None
    actions: tuple[str, ...] = ()
    escalate_to: str = "ops"
    escalation_timer: Timer | None = None
    milestone: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"reason": self.reason, "owner": self.owner, "actions": list(self.actions)}
        out["escalate_to"] = self.escalate_to
        if self.milestone:
            out["milestone"] = self.milestone
        for name, timer in (("timer", self.timer), ("escalation_timer", self.escalation_timer)):
            if timer is not None:
                out[name] = {"hours": timer.hours, "business": timer.business}
        return out


@dataclass(frozen=True, slots=True)
class BusinessHours:
    timezone: str = "UTC"
    start: time = time(9)
    end: time = time(17)
    days: frozenset[int] = frozenset(range(5))


@dataclass(frozen=True, slots=True)
class Playbook:
    entries: tuple[Entry, ...]
    at_risk_threshold: float = DEFAULT_THRESHOLD
    hours: BusinessHours = BusinessHours()
    version: int | None = None  # None: the built-in default

    def entry_for(self, reason: str, milestone: str | None) -> Entry:
        """The first entry naming this reason (and milestone, when it names one); else the default."""
        for entry in self.entries:
            if entry.reason in (reason, "*") and (entry.milestone is None or entry.milestone == milestone):
                return entry
        return default_entry(reason)


@cache
def schema() -> dict[str, Any]:
    text = resources.files("schemas").joinpath("json/playbook.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


_PARTY_OWNER = {
    taxonomy.Party.SHIPPER: "shipper",
    taxonomy.Party.RECIPIENT: "recipient",
    taxonomy.Party.CARRIER: "carrier",
    taxonomy.Party.CUSTOMS: "carrier",  # the carrier's broker clears it
    taxonomy.Party.NONE: "ops",  # nobody must act, so ops watch it
}
_CLAIMS = frozenset({"lost", "damaged"})


def default_entry(reason: str) -> Entry:
    """The built-in entry for a reason (see the module docstring)."""
    if reason == AT_RISK:
        return Entry(AT_RISK, "ops", Timer(4, True), ("notify_recipient",), "ops", Timer(4, True))
    try:
        party = taxonomy.reason(reason).party
    except taxonomy.TaxonomyError:
        party = taxonomy.Party.NONE
    owner = _PARTY_OWNER.get(party, "ops")
    timer = Timer(24) if owner == "carrier" else Timer(4, True)
    actions: tuple[str, ...] = ("notify_recipient",) if owner == "recipient" else ()
    if reason in _CLAIMS:
        actions = ("open_claim",)
    return Entry(reason, owner, timer, actions, "ops", Timer(4, True))


DEFAULT = Playbook(())


def validate(document: Any) -> list[str]:
    """Every problem with a playbook document, each with its path; [] when it is valid."""
    validator = jsonschema.Draft202012Validator(schema())
    errors = [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(top level)'}: {e.message}"
        for e in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    ]
    if errors:
        return errors
    known = {r.value for r in taxonomy.ExceptionReason} | {AT_RISK, "*"}
    milestones = {m.value for m in taxonomy.Milestone}
    for index, raw in enumerate(document.get("entries", [])):
        if raw["reason"] not in known:
            errors.append(f"entries/{index}/reason: unknown reason {raw['reason']!r}")
        if raw.get("milestone") is not None and raw["milestone"] not in milestones:
            errors.append(f"entries/{index}/milestone: unknown milestone {raw['milestone']!r}")
    hours = document.get("business_hours", {})
    try:
        ZoneInfo(hours.get("timezone", "UTC"))
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as 'America'
        errors.append(f"business_hours/timezone: unknown time zone {hours.get('timezone')!r}")
    if hours and _clock(hours.get("end", "17:00")) <= _clock(hours.get("start", "09:00")):
        errors.append("business_hours: end must be after start")
    return errors


def _clock(text: str) -> time:
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


def _timer(raw: Mapping[str, Any] | None) -> Timer | None:
    return None if raw is None else Timer(float(raw["hours"]), bool(raw.get("business", False)))


def parse(document: Mapping[str, Any], version: int | None = None) -> Playbook:
    """Build a Playbook from a document; PlaybookError when it is not valid."""
    errors = validate(document)
    if errors:
        raise PlaybookError(errors)
    hours = document.get("business_hours", {})
    return Playbook(
        entries=tuple(
            Entry(
                reason=raw["reason"],
                owner=raw["owner"],
                timer=_timer(raw.get("timer")),
                actions=tuple(raw.get("actions", ())),
                escalate_to=raw.get("escalate_to", "ops"),
                escalation_timer=_timer(raw.get("escalation_timer")),
                milestone=raw.get("milestone"),
            )
            for raw in document["entries"]
        ),
        at_risk_threshold=float(document.get("at_risk_threshold", DEFAULT_THRESHOLD)),
        hours=BusinessHours(
            timezone=hours.get("timezone", "UTC"),
            start=_clock(hours.get("start", "09:00")),
            end=_clock(hours.get("end", "17:00")),
            days=frozenset(hours.get("days", range(5))),
        ),
        version=version,
    )


def deadline(start: datetime, timer: Timer | None, hours: BusinessHours) -> datetime | None:
    """When a timer started at ``start`` runs out: plain hours, or only hours inside business hours."""
    if timer is None:
        return None
    if not timer.business:
        return start + timedelta(hours=timer.hours)
    zone = ZoneInfo(hours.timezone)
    local = start.astimezone(zone)
    left = timedelta(hours=timer.hours)
    for _ in range(3 * 366):  # a year of days is far more than any timer the schema allows
        day = local.date()
        if day.weekday() in hours.days:
            opens = datetime.combine(day, hours.start, tzinfo=zone)
            closes = datetime.combine(day, hours.end, tzinfo=zone)
            begin = max(local, opens)
            if begin < closes:
                if begin + left <= closes:
                    return (begin + left).astimezone(start.tzinfo)
                left -= closes - begin
        local = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    raise ValueError("business hours never open")  # unreachable: the schema needs at least one day
