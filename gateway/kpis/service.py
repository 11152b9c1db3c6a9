"""Ops KPIs: cost, on-time, first-attempt and exception rates by carrier and day, for one tenant.

Everything is read from what the gateway already records: shipments booked in the period (days
counted in the caller's time zone), their labels (what was paid) or frozen quotes, the derived
tracking status and the canonical events (failed attempts, exceptions and their reasons), the
applied allocation plans (what the own fleet cost and what rate shopping would have cost), and,
where invoices were reconciled, the money found recoverable. Areas whose tables are not in this
installation are simply left out and say so in ``notes``.

Definitions (also in docs/DEMO.md):

- cost: only what happened. A purchased label's cost (its frozen quote's if the label has none);
  a quote never bought and a voided label cost nothing. The own fleet costs what its applied
  plans' routes cost, each route's cost spread over the deliveries it made (so cost per fleet
  delivery is route cost / deliveries); a delivered shipment on no route costs its per-package
  allocation cost.
- delivered: a delivery event whose proof is not under review. A ``pod_suspicious`` flag after
  the last delivery event holds it (``proof_under_review``) until ops clear it with a later
  ``delivered`` event; then the first delivery event's time counts.
- on time: delivered (first delivery event, in ``tz``) on or before the promise date.
- first attempt: delivered with no failed attempt before.
- exception rate: tracked shipments with an exception or a failed attempt, over tracked ones.
- ETA accuracy (``eta``): for delivered shipments with a booking prediction, the mean absolute
  error of its p50 (business days, from the day the label was bought), beside the carrier's estimate
  at booking; how often the delivery fell within the p10..p90 window; and at-risk alerts: precision
  (alerted shipments that did miss the promise) and recall (late deliveries alerted on or before the
  promise date).
- returns (return labels, docs/RETURNS.md) are counted apart: ``returns``, ``returns_delivered``
  (back at the return address) and ``returns_cost``. Their labels count in ``labelled``/``voided``
  and their cost in ``cost``, but not in ``shipments``, ``tracked``, deliveries, on-time,
  first-attempt, exceptions or in-flight, and ``cost_per_delivery`` leaves their cost out.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.kpis import _costs, _eta, _reconciliation, _tracking
from gateway.kpis._rows import FLEET, Block, Row, as_money, carrier_key, pct

log = logging.getLogger(__name__)


def _present(block: Block, currency: str, with_recoverable: bool) -> dict[str, Any]:
    return {
        "shipments": block.shipments,
        "returns": block.returns,
        "returns_delivered": block.returns_delivered,
        "returns_cost": as_money(block.returns_cost_minor, currency),
        "labelled": block.labelled,
        "voided": block.voided,
        "tracked": block.tracked,
        "delivered": block.delivered,
        "delivered_on_time": block.delivered_on_time,
        "delivered_with_promise": block.delivered_with_promise,
        "on_time_percent": pct(block.delivered_on_time, block.delivered_with_promise),
        "first_attempt": block.first_attempt,
        "first_attempt_percent": pct(block.first_attempt, block.delivered),
        "failed_attempts": block.failed_attempts,
        "with_exception": block.with_exception,
        "exception_rate_percent": pct(block.with_exception, block.tracked),
        "returned": block.returned,
        "in_flight": block.in_flight,
        "proof_under_review": block.proof_under_review,
        "cost": as_money(block.cost_minor, currency),
        "cost_per_delivery": None
        if not block.delivered
        else as_money(
            round(Decimal(block.cost_minor - block.returns_cost_minor) / block.delivered), currency
        ),
        "exceptions_by_reason": [
            {"reason": reason, "shipments": n}
            for reason, n in sorted(block.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "recoverable": as_money(block.recoverable_minor, currency) if with_recoverable else None,
        "eta": block.eta.present(),
    }


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as 'America'
        raise Problem(
            "validation-error", f"Unknown time zone {name!r}.", errors={"tz": ["not an IANA time zone"]}
        ) from None


def _bounds(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    lo = datetime.combine(start, time(0), tzinfo=tz).astimezone(UTC)
    hi = datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return lo, hi


def _shipments(session: Session, tenant_id: str, lo: datetime, hi: datetime, tz: ZoneInfo) -> dict[str, Row]:
    s = models.Shipment.__table__
    rows: dict[str, Row] = {}
    for r in session.execute(
        sa.select(s.c.id, s.c.carrier, s.c.created_at, s.c.promise_date, s.c.is_return).where(
            s.c.tenant_id == tenant_id, s.c.created_at >= lo, s.c.created_at < hi
        )
    ):
        created = r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC)
        rows[r.id] = Row(
            r.id,
            carrier_key(r.carrier),
            created.astimezone(tz).date(),
            r.promise_date,
            is_return=bool(r.is_return),
        )
    return rows


def compute(
    session: Session,
    tenant_id: str,
    *,
    start: date | None = None,
    end: date | None = None,
    tz_name: str = "UTC",
    carrier: str | None = None,
    today: date | None = None,
) -> dict[str, Any]:
    """Return the tenant's KPIs for shipments booked from ``start`` to ``end`` (days in ``tz_name``)."""
    tz = _zone(tz_name)
    end = end or today or datetime.now(tz).date()
    start = start or end - timedelta(days=6)
    lo, hi = _bounds(start, end, tz)
    notes: list[str] = []
    rows = _shipments(session, tenant_id, lo, hi, tz)
    _costs.fill_costs(session, rows, notes)
    _tracking.fill_tracking(session, tenant_id, rows)
    _eta.fill_eta(session, tenant_id, rows, notes)
    fleet = _costs.fleet(session, tenant_id, rows, start, end, notes)
    reconciliation, recoverable_by_carrier = _reconciliation.recoverable(session, tenant_id, rows, lo, notes)
    with_recoverable = reconciliation is not None or bool(recoverable_by_carrier)

    currencies = Counter(r.cost_currency for r in rows.values() if r.cost_currency)
    currency = currencies.most_common(1)[0][0] if currencies else "USD"
    if len(currencies) > 1:
        left_out = sum(n for c, n in currencies.items() if c != currency)
        notes.append(f"{left_out} shipments priced in another currency than {currency} are not in the costs")
        for r in rows.values():
            if r.cost_currency and r.cost_currency != currency:
                r.cost_minor = 0
    wanted = carrier_key(carrier) if carrier else None
    selected = [r for r in rows.values() if wanted is None or r.carrier == wanted]

    totals = Block()
    per_carrier: defaultdict[str, Block] = defaultdict(Block)
    per_day: defaultdict[date, Block] = defaultdict(Block)
    for r in selected:
        totals.add(r, tz)
        per_carrier[r.carrier].add(r, tz)
        per_day[r.day].add(r, tz)
        per_day[r.day].recoverable_minor += r.recoverable_minor
    totals.recoverable_minor = sum(
        v for k, v in recoverable_by_carrier.items() if wanted is None or k == wanted
    )
    for key, block in per_carrier.items():
        block.recoverable_minor = recoverable_by_carrier.get(key, 0)
    by_carrier = sorted(per_carrier.items(), key=lambda kv: (-kv[1].cost_minor, kv[0]))
    return {
        "tenant_id": tenant_id,
        "from_": start,
        "to": end,
        "tz": tz_name,
        "currency": currency,
        "totals": _present(totals, currency, with_recoverable),
        "by_carrier": [
            {"carrier": key, **_present(block, currency, with_recoverable)} for key, block in by_carrier
        ],
        "by_day": [
            {"day": day, **_present(block, currency, with_recoverable)}
            for day, block in sorted(per_day.items())
        ],
        "fleet": fleet if wanted in (None, FLEET) else None,
        "reconciliation": reconciliation if wanted is None else None,
        "notes": notes,
    }
