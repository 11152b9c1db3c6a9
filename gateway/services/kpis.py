"""Ops KPIs: cost, on-time, first-attempt and exception rates by carrier and day, for one tenant.

Everything is read from what the gateway already records: shipments booked in the period (days
counted in the caller's time zone), their labels (what was paid) or frozen quotes, the derived
tracking status and the canonical events (failed attempts, exceptions and their reasons), the
applied allocation plans (what the own fleet cost and what rate shopping would have cost), and,
where invoices were reconciled, the money found recoverable. Areas whose tables are not in this
installation are simply left out and say so in ``notes``.

Definitions (also in docs/DEMO.md):

- cost: a purchased label's cost, else the frozen quote's; voided labels cost nothing. The own
  fleet costs what its applied plans' routes cost (per plan day), spread over its shipments;
  without a plan, the sum of its per-package allocation costs.
- on time: delivered (first delivery event, in ``tz``) on or before the promise date.
- first attempt: delivered with no failed attempt before.
- exception rate: tracked shipments with an exception or a failed attempt, over tracked ones.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.db import models
from gateway.db import rating as rating_tables
from gateway.db import tracking as tracking_tables
from gateway.errors import Problem
from schemas import money

log = logging.getLogger(__name__)

FLEET = "fleet"
FLEET_ALIASES = frozenset({"fleet", "own_fleet"})
UNASSIGNED = "unassigned"
PROBLEM_MILESTONES = ("attempt_failed", "exception", "returning", "returned", "failed")
RETURN_MILESTONES = frozenset({"returning", "returned"})
TERMINAL_DONE = frozenset({"delivered", "returning", "returned", "cancelled", "expired", "failed"})
_CHUNK = 500


def carrier_key(carrier: str | None) -> str:
    """Return the carrier a KPI row is filed under (the own fleet has two spellings)."""
    if not carrier:
        return UNASSIGNED
    return FLEET if carrier in FLEET_ALIASES else carrier


def _table(name: str) -> sa.Table | None:
    return models.Base.metadata.tables.get(name)


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


@dataclass
class _Row:
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
    attempt_failed_before_delivery: bool = False
    failed_attempt: bool = False
    reasons: set[str] = field(default_factory=set)
    with_exception: bool = False
    recoverable_minor: int = 0


@dataclass
class _Block:
    shipments: int = 0
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
    cost_minor: int = 0
    recoverable_minor: int = 0
    any_recoverable: bool = False
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, r: _Row, tz: ZoneInfo) -> None:
        self.shipments += 1
        self.labelled += r.labelled
        self.voided += r.voided
        self.tracked += r.tracked
        self.cost_minor += r.cost_minor
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


def _pct(part: int, whole: int) -> str | None:
    return None if not whole else f"{Decimal(part) * 100 / Decimal(whole):.1f}"


def _money(minor: int, currency: str) -> dict[str, Any]:
    value = money.Money.from_minor(minor, currency)
    return {"amount": value.amount, "currency": value.currency}


def _present(block: _Block, currency: str, with_recoverable: bool) -> dict[str, Any]:
    return {
        "shipments": block.shipments,
        "labelled": block.labelled,
        "voided": block.voided,
        "tracked": block.tracked,
        "delivered": block.delivered,
        "delivered_on_time": block.delivered_on_time,
        "delivered_with_promise": block.delivered_with_promise,
        "on_time_percent": _pct(block.delivered_on_time, block.delivered_with_promise),
        "first_attempt": block.first_attempt,
        "first_attempt_percent": _pct(block.first_attempt, block.delivered),
        "failed_attempts": block.failed_attempts,
        "with_exception": block.with_exception,
        "exception_rate_percent": _pct(block.with_exception, block.tracked),
        "returned": block.returned,
        "in_flight": block.in_flight,
        "cost": _money(block.cost_minor, currency),
        "cost_per_delivery": None
        if not block.delivered
        else _money(round(Decimal(block.cost_minor) / block.delivered), currency),
        "exceptions_by_reason": [
            {"reason": reason, "shipments": n}
            for reason, n in sorted(block.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "recoverable": _money(block.recoverable_minor, currency) if with_recoverable else None,
    }


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Problem(
            "validation-error", f"Unknown time zone {name!r}.", errors={"tz": ["not an IANA time zone"]}
        ) from None


def _bounds(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    lo = datetime.combine(start, time(0), tzinfo=tz).astimezone(UTC)
    hi = datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return lo, hi


def _shipments(session: Session, tenant_id: str, lo: datetime, hi: datetime, tz: ZoneInfo) -> dict[str, _Row]:
    s = models.Shipment.__table__
    rows: dict[str, _Row] = {}
    for r in session.execute(
        sa.select(s.c.id, s.c.carrier, s.c.created_at, s.c.promise_date).where(
            s.c.tenant_id == tenant_id, s.c.created_at >= lo, s.c.created_at < hi
        )
    ):
        created = r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC)
        rows[r.id] = _Row(r.id, carrier_key(r.carrier), created.astimezone(tz).date(), r.promise_date)
    return rows


def _fill_costs(session: Session, rows: dict[str, _Row], notes: list[str]) -> None:
    ids = list(rows)
    snap = rating_tables.ShipmentQuoteSnapshot.__table__
    for chunk in _chunks(ids):
        for r in session.execute(
            sa.select(snap.c.shipment_id, snap.c.total_cost_minor, snap.c.currency).where(
                snap.c.shipment_id.in_(chunk)
            )
        ):
            row = rows[r.shipment_id]
            row.cost_minor, row.cost_currency = int(r.total_cost_minor), r.currency
    labels = _table("labels")
    if labels is None:
        notes.append("labels are not available in this installation: costs are the frozen quotes")
        return
    for chunk in _chunks(ids):
        for r in session.execute(
            sa.select(labels.c.shipment_id, labels.c.status, labels.c.cost_minor, labels.c.currency).where(
                labels.c.shipment_id.in_(chunk)
            )
        ):
            row = rows[r.shipment_id]
            if r.status == "voided":
                row.voided = True
                row.cost_minor = 0
            else:
                row.labelled = True
                if r.cost_minor is not None and r.currency:
                    row.cost_minor, row.cost_currency = int(r.cost_minor), r.currency


def _fleet(
    session: Session, tenant_id: str, rows: dict[str, _Row], start: date, end: date, notes: list[str]
) -> dict[str, Any] | None:
    """Cost the own fleet from applied plans; return the fleet/savings figures (or None)."""
    fleet_rows = [r for r in rows.values() if r.carrier == FLEET]
    plans, allocs = _table("allocation_plans"), _table("shipment_allocations")
    if plans is None or allocs is None:
        if fleet_rows:
            notes.append("allocation is not available in this installation: the own fleet is not costed")
        return None
    latest: dict[tuple[str, date], Any] = {}
    for p in session.execute(
        sa.select(plans.c.id, plans.c.depot_id, plans.c.day, plans.c.applied_at, plans.c.result)
        .where(
            plans.c.tenant_id == tenant_id,
            plans.c.kind == "plan",
            plans.c.state == "applied",
            plans.c.day >= start,
            plans.c.day <= end,
        )
        .order_by(plans.c.applied_at)
    ):
        latest[(p.depot_id, p.day)] = p  # a later applied plan for the same depot and day replaces it
    by_day: dict[date, list[_Row]] = defaultdict(list)
    alloc_cost: dict[str, tuple[int, str | None]] = {}
    ids = [r.id for r in fleet_rows]
    for chunk in _chunks(ids):
        for a in session.execute(
            sa.select(allocs.c.shipment_id, allocs.c.day, allocs.c.cost_minor, allocs.c.currency).where(
                allocs.c.shipment_id.in_(chunk)
            )
        ):
            by_day[a.day].append(rows[a.shipment_id])
            alloc_cost[a.shipment_id] = (int(a.cost_minor or 0), a.currency)
    planned_days: dict[date, int] = defaultdict(int)
    currency: str | None = None
    totals: Counter[str] = Counter()
    load_kg = capacity_kg = shift_weighted = shift_vans = Decimal(0)

    def minor(m: dict[str, Any] | None) -> int:
        m = m or {}
        return money.Money(
            Decimal(str(m.get("amount") or 0)), m.get("currency") or currency or "USD"
        ).to_minor()

    for (_depot, day), p in latest.items():
        result = p.result or {}
        t, f = result.get("totals") or {}, (result.get("summary") or {}).get("fleet") or {}
        currency = currency or (t.get("total") or {}).get("currency")
        planned_days[day] += minor(t.get("fleet"))
        totals["plans"] += 1
        totals["total"] += minor(t.get("total"))
        totals["baseline"] += minor((result.get("baseline") or {}).get("total"))
        for key in ("vans_available", "vans_used", "stops"):
            totals[key] += int(f.get(key) or 0)
        totals["distance_m"] += int(Decimal(str(f.get("distance_km") or 0)) * 1000)
        load = Decimal(str(f.get("load_kg") or 0))
        pct_kg, pct_shift = f.get("utilisation_kg_percent"), f.get("utilisation_shift_percent")
        if pct_kg and Decimal(pct_kg) > 0:
            load_kg += load
            capacity_kg += load * 100 / Decimal(pct_kg)
        if pct_shift:
            shift_weighted += Decimal(pct_shift) * int(f.get("vans_used") or 0)
            shift_vans += int(f.get("vans_used") or 0)
    # The plan, not a per-stop estimate, says what the vans cost.
    for day, members in by_day.items():
        if day in planned_days and members:
            each, rest = divmod(planned_days[day], len(members))
            for i, r in enumerate(sorted(members, key=lambda m: m.id)):
                r.cost_minor, r.cost_currency = each + (1 if i < rest else 0), currency
        else:
            for r in members:
                r.cost_minor, r.cost_currency = alloc_cost.get(r.id, (0, None))
    if not totals["plans"]:
        return None
    cur = currency or "USD"
    savings = totals["baseline"] - totals["total"]
    return {
        "plans": totals["plans"],
        "vans_available": totals["vans_available"],
        "vans_used": totals["vans_used"],
        "stops": totals["stops"],
        "distance_km": (Decimal(totals["distance_m"]) / 1000).quantize(Decimal("0.1")),
        "utilisation_kg_percent": f"{load_kg * 100 / capacity_kg:.1f}" if capacity_kg else None,
        "utilisation_shift_percent": f"{shift_weighted / shift_vans:.1f}" if shift_vans else None,
        "planned_cost": _money(totals["total"], cur),
        "baseline_cost": _money(totals["baseline"], cur),
        "savings": _money(savings, cur),
        "savings_percent": _pct(savings, totals["baseline"]) if totals["baseline"] else None,
    }


def _fill_tracking(session: Session, tenant_id: str, rows: dict[str, _Row]) -> None:
    st = tracking_tables.ShipmentTracking.__table__
    ev = tracking_tables.TrackingEvent.__table__
    ids = list(rows)
    for chunk in _chunks(ids):
        for r in session.execute(
            sa.select(st.c.shipment_id, st.c.milestone, st.c.delivered_at, st.c.event_count).where(
                st.c.shipment_id.in_(chunk), st.c.tenant_id == tenant_id
            )
        ):
            row = rows[r.shipment_id]
            row.tracked = bool(r.event_count)
            row.milestone = r.milestone
        # The first delivery event: a later proof flag may reopen the status, but the parcel arrived.
        for r in session.execute(
            sa.select(ev.c.shipment_id, sa.func.min(ev.c.occurred_at).label("at"))
            .where(ev.c.shipment_id.in_(chunk), ev.c.tenant_id == tenant_id, ev.c.milestone == "delivered")
            .group_by(ev.c.shipment_id)
        ):
            at = r.at
            if isinstance(at, str):  # SQLite returns aggregates of typed columns as text
                at = datetime.fromisoformat(at)
            rows[r.shipment_id].delivered_at = at if at.tzinfo else at.replace(tzinfo=UTC)
        for r in session.execute(
            sa.select(ev.c.shipment_id, ev.c.milestone, ev.c.reason, ev.c.occurred_at).where(
                ev.c.shipment_id.in_(chunk),
                ev.c.tenant_id == tenant_id,
                ev.c.milestone.in_(PROBLEM_MILESTONES),
            )
        ):
            row = rows[r.shipment_id]
            row.with_exception = True
            if r.reason:
                row.reasons.add(r.reason)
            if r.milestone == "attempt_failed":
                row.failed_attempt = True
                occurred = r.occurred_at if r.occurred_at.tzinfo else r.occurred_at.replace(tzinfo=UTC)
                if row.delivered_at is None or occurred < row.delivered_at:
                    row.attempt_failed_before_delivery = True
    for row in rows.values():
        if row.delivered_at is None:
            row.attempt_failed_before_delivery = False


def _reconciliation(
    session: Session, tenant_id: str, rows: dict[str, _Row], lo: datetime, notes: list[str]
) -> tuple[dict[str, Any] | None, dict[str, int]]:
    """Attribute recoverable invoice money to shipments; return the tenant's invoice totals too."""
    invoices, lines = _table("invoices"), _table("invoice_lines")
    if invoices is None or lines is None:
        notes.append("reconciliation is not available in this installation")
        return None, {}
    by_carrier: dict[str, int] = defaultdict(int)
    reconciled = sa.select(invoices.c.id).where(
        invoices.c.tenant_id == tenant_id, invoices.c.status == "reconciled"
    )
    ids = list(rows)
    for chunk in _chunks(ids):
        for r in session.execute(
            sa.select(
                lines.c.shipment_id, lines.c.carrier, sa.func.sum(lines.c.recoverable_minor).label("rec")
            )
            .where(lines.c.invoice_id.in_(reconciled), lines.c.shipment_id.in_(chunk))
            .group_by(lines.c.shipment_id, lines.c.carrier)
        ):
            amount = int(r.rec or 0)
            rows[r.shipment_id].recoverable_minor += amount
            by_carrier[carrier_key(r.carrier)] += amount
    try:
        from gateway.services import invoices as invoice_service

        report, currency = invoice_service.tenant_report(session, tenant_id, created_after=lo)
    except (ImportError, AttributeError):
        return None, dict(by_carrier)
    except Problem as exc:  # several currencies: the per-shipment figures still stand
        notes.append(f"invoice totals left out: {exc.detail}")
        return None, dict(by_carrier)
    if not report.get("invoices"):
        return None, dict(by_carrier)
    cur = currency or "USD"
    totals = report.get("totals") or {}
    return (
        {
            "invoices": int(report["invoices"]),
            "billed": _money(int(totals.get("billed_minor") or 0), cur),
            "expected": _money(int(totals.get("expected_minor") or 0), cur),
            "recoverable": _money(int(totals.get("recoverable_minor") or 0), cur),
            "flagged_lines": int(totals.get("flagged_lines") or 0),
            "by_class": {
                kind: _money(int(t.get("recoverable_minor") or 0), cur)
                for kind, t in (report.get("by_class") or {}).items()
            },
        },
        dict(by_carrier),
    )


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
    _fill_costs(session, rows, notes)
    fleet = _fleet(session, tenant_id, rows, start, end, notes)
    _fill_tracking(session, tenant_id, rows)
    reconciliation, recoverable_by_carrier = _reconciliation(session, tenant_id, rows, lo, notes)
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

    totals, per_carrier, per_day = _Block(), defaultdict(_Block), defaultdict(_Block)
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
