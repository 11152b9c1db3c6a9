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
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from gateway.kernel import models
from rating import eta
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


def chunks(ids: Sequence[str], session: Session | None = None) -> Iterable[Sequence[str]]:
    """``ids`` in pieces a query can name: one piece on PostgreSQL (``one_of`` sends it as one array
    parameter), ``_CHUNK`` ids elsewhere (SQLite binds each id as a parameter)."""
    size = (len(ids) or 1) if _is_postgresql(session) else _CHUNK
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def one_of(session: Session, column: Any, ids: Sequence[str]) -> Any:
    """``column IN ids``; on PostgreSQL ``column = ANY(:ids)`` with one array parameter, which costs the
    same for ten ids or ten thousand (an IN list binds, renders and parses one parameter per id)."""
    if _is_postgresql(session):
        return column == sa.any_(
            sa.bindparam("ids", list(ids), type_=postgresql.ARRAY(sa.String()), unique=True)
        )
    return column.in_(ids)


def _is_postgresql(session: Session | None) -> bool:
    return session is not None and session.get_bind().dialect.name == "postgresql"


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
    # ETA accuracy (gateway.kpis._eta): the booking prediction, the carrier's estimate then, an alert.
    ship_day: date | None = None
    predicted: tuple[date, date, date] | None = None  # p10, p50, p90 at booking
    predicted_basis: str | None = None
    quoted_estimate: date | None = None
    alerted_before_promise: bool = False


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
    eta: EtaBlock = field(default_factory=lambda: EtaBlock())

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
        self.eta.add(r, tz)


@dataclass
class EtaBlock:
    """ETA accuracy: booking predictions and carrier estimates against deliveries; at-risk alerts."""

    deliveries: int = 0  # delivered, with a booking prediction
    from_history: int = 0  # of which the prediction came from history (not the carrier's estimate)
    error_days: int = 0  # sum of |p50 - delivered| in business days
    in_window: int = 0  # delivered within p10..p90
    estimated: int = 0  # delivered, with the carrier's estimate at booking
    estimate_error_days: int = 0
    alerts: int = 0  # delivered shipments with a promise that had an at_risk alert before it
    late: int = 0  # delivered after the promise
    alerted_late: int = 0  # both: the alerts that were right

    def add(self, r: Row, tz: ZoneInfo) -> None:
        if r.delivered_at is None or r.ship_day is None:
            return
        arrived = r.delivered_at.astimezone(tz).date()
        if r.predicted is not None:
            p10, p50, p90 = r.predicted
            self.deliveries += 1
            self.from_history += r.predicted_basis not in (None, "carrier_estimate")
            self.error_days += _business_days_apart(r.ship_day, p50, arrived)
            self.in_window += p10 <= arrived <= p90
        if r.quoted_estimate is not None:
            self.estimated += 1
            self.estimate_error_days += _business_days_apart(r.ship_day, r.quoted_estimate, arrived)
        if r.promise is not None:
            missed = arrived > r.promise
            self.late += missed
            self.alerts += r.alerted_before_promise
            self.alerted_late += r.alerted_before_promise and missed

    def present(self) -> dict[str, Any]:
        def mean(total: int, n: int) -> str | None:
            return None if not n else f"{Decimal(total) / Decimal(n):.2f}"

        def share(part: int, whole: int) -> str | None:
            return None if not whole else f"{Decimal(part) / Decimal(whole):.2f}"

        return {
            "deliveries": self.deliveries,
            "from_history": self.from_history,
            "mae_days": mean(self.error_days, self.deliveries),
            "carrier_estimate_mae_days": mean(self.estimate_error_days, self.estimated),
            "window_coverage_percent": pct(self.in_window, self.deliveries),
            "at_risk_alerts": self.alerts,
            "at_risk_precision": share(self.alerted_late, self.alerts),
            "at_risk_recall": share(self.alerted_late, self.late),
        }


def _business_days_apart(ship_day: date, a: date, b: date) -> int:
    """|a - b| in business days, both counted from the ship day."""
    return abs(eta.business_days_between(ship_day, a) - eta.business_days_between(ship_day, b))


def pct(part: int, whole: int) -> str | None:
    return None if not whole else f"{Decimal(part) * 100 / Decimal(whole):.1f}"


def as_money(minor: int, currency: str) -> dict[str, Any]:
    value = money.Money.from_minor(minor, currency)
    return {"amount": value.amount, "currency": value.currency}
