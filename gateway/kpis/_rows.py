"""What the KPIs count per shipment (``Row``) and sum per carrier, per day and in total (``Block``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from gateway.kernel import models
from schemas import money

FLEET = "fleet"
UNASSIGNED = "unassigned"
PROBLEM_MILESTONES = ("attempt_failed", "exception", "returning", "returned", "failed")
RETURN_MILESTONES = frozenset({"returning", "returned"})
TERMINAL_DONE = frozenset({"delivered", "returning", "returned", "cancelled", "expired", "failed"})
_CHUNK = 500


def carrier_key(carrier: str | None) -> str:
    """Return the carrier a KPI row is filed under (unassigned when it has none yet)."""
    return carrier or UNASSIGNED


def table(name: str) -> sa.Table | None:
    return models.Base.metadata.tables.get(name)


def chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


@dataclass
class Row:
    """What the KPIs need about one shipment."""

    id: str
    carrier: str
    day: date
    promise: date | None
    cost_minor: int = 0
    cost_currency: str | None = None
    labelled: bool = False
    voided: bool = False
    tracked: bool = False
    milestone: str | None = None
    delivered_at: datetime | None = None
    proof_under_review: bool = False
    attempt_failed_before_delivery: bool = False
    failed_attempt: bool = False
    reasons: set[str] = field(default_factory=set)
    with_exception: bool = False
    recoverable_minor: int = 0
    is_return: bool = False  # a return label's shipment (gateway.returns): counted apart


@dataclass
class Block:
    shipments: int = 0
    returns: int = 0
    returns_delivered: int = 0
    returns_cost_minor: int = 0
    labelled: int = 0
    voided: int = 0
    tracked: int = 0
    delivered: int = 0
    delivered_on_time: int = 0
    delivered_with_promise: int = 0
    first_attempt: int = 0
    failed_attempts: int = 0
    with_exception: int = 0
    returned: int = 0
    in_flight: int = 0
    proof_under_review: int = 0
    cost_minor: int = 0
    recoverable_minor: int = 0
    any_recoverable: bool = False
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, r: Row, tz: ZoneInfo) -> None:
        self.labelled += r.labelled
        self.voided += r.voided
        self.cost_minor += r.cost_minor
        if r.is_return:
            # A return costs what its label cost, but is neither a shipment booked nor a delivery:
            # on-time, first-attempt, exception and in-flight figures are about outbound shipments.
            self.returns += 1
            self.returns_cost_minor += r.cost_minor
            self.returns_delivered += r.delivered_at is not None
            return
        self.shipments += 1
        self.tracked += r.tracked
        self.proof_under_review += r.proof_under_review
        if r.delivered_at is not None:
            self.delivered += 1
            if not r.attempt_failed_before_delivery:
                self.first_attempt += 1
            if r.promise is not None:
                self.delivered_with_promise += 1
                if r.delivered_at.astimezone(tz).date() <= r.promise:
                    self.delivered_on_time += 1
        elif r.milestone in RETURN_MILESTONES:
            self.returned += 1
        elif r.tracked and r.milestone not in TERMINAL_DONE:
            self.in_flight += 1
        self.failed_attempts += r.failed_attempt
        self.with_exception += r.with_exception
        self.reasons.update(r.reasons)


def pct(part: int, whole: int) -> str | None:
    return None if not whole else f"{Decimal(part) * 100 / Decimal(whole):.1f}"


def as_money(minor: int, currency: str) -> dict[str, Any]:
    value = money.Money.from_minor(minor, currency)
    return {"amount": value.amount, "currency": value.currency}
