"""Costs: what was bought (labels, frozen quotes) and what the own fleet's applied plans cost."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.kpis import _tracking
from gateway.kpis._rows import FLEET, Row, as_money, chunks, one_of, pct, table
from gateway.rates import tables as rating_tables
from schemas import money


def fill_costs(session: Session, rows: dict[str, Row], notes: list[str]) -> None:
    """Cost what was bought: a purchased label's cost (its frozen quote's when the label has none).

    A shipment with only a quote, or a voided label, costs nothing. Fleet shipments are costed by
    ``fleet`` from what their routes cost, once delivered.
    """
    ids = list(rows)
    labels = table("labels")
    if labels is None:
        notes.append("labels are not available in this installation: no cost is counted")
        return
    uncosted: list[str] = []
    for chunk in chunks(ids, session):
        for r in session.execute(
            sa.select(labels.c.shipment_id, labels.c.status, labels.c.cost_minor, labels.c.currency).where(
                one_of(session, labels.c.shipment_id, chunk)
            )
        ):
            row = rows[r.shipment_id]
            if r.status == "voided":
                row.voided = True
                continue
            row.labelled = True
            if row.carrier == FLEET:
                continue
            if r.cost_minor is not None and r.currency:
                row.cost_minor, row.cost_currency = int(r.cost_minor), r.currency
            else:
                uncosted.append(r.shipment_id)
    snap = rating_tables.ShipmentQuoteSnapshot.__table__
    for chunk in chunks(uncosted, session):
        for r in session.execute(
            sa.select(snap.c.shipment_id, snap.c.total_cost_minor, snap.c.currency).where(
                one_of(session, snap.c.shipment_id, chunk)
            )
        ):
            row = rows[r.shipment_id]
            row.cost_minor, row.cost_currency = int(r.total_cost_minor), r.currency


def fleet(
    session: Session, tenant_id: str, rows: dict[str, Row], start: date, end: date, notes: list[str]
) -> dict[str, Any] | None:
    """Cost the fleet's deliveries from applied plans; return the fleet/savings figures (or None).

    A route's cost is spread evenly over the deliveries it made (the stops whose delivery stands,
    wherever they were booked), so the fleet's cost per delivery is route cost / deliveries; a
    route with no delivery yet costs nothing yet. A delivered fleet shipment on no route of an
    applied plan costs its per-package allocation cost. Needs ``_tracking.fill_tracking`` first.
    """
    fleet_rows = [r for r in rows.values() if r.carrier == FLEET]
    plans, allocs = table("allocation_plans"), table("shipment_allocations")
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
    alloc_cost: dict[str, tuple[int, str | None]] = {}
    ids = [r.id for r in fleet_rows]
    for chunk in chunks(ids, session):
        for a in session.execute(
            sa.select(allocs.c.shipment_id, allocs.c.cost_minor, allocs.c.currency).where(
                one_of(session, allocs.c.shipment_id, chunk)
            )
        ):
            alloc_cost[a.shipment_id] = (int(a.cost_minor or 0), a.currency)
    currency: str | None = None
    totals: Counter[str] = Counter()
    load_kg = capacity_kg = shift_weighted = shift_vans = Decimal(0)

    def minor(m: dict[str, Any] | None) -> int:
        m = m or {}
        return money.Money(
            Decimal(str(m.get("amount") or 0)), m.get("currency") or currency or "USD"
        ).to_minor()

    for p in latest.values():
        result = p.result or {}
        t, f = result.get("totals") or {}, (result.get("summary") or {}).get("fleet") or {}
        currency = currency or (t.get("total") or {}).get("currency")
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
    # The plan's routes, not a per-stop estimate, say what the vans cost: spread over deliveries.
    routes = [
        (minor(route.get("cost")), [st["shipment_id"] for st in route.get("stops") or []])
        for p in latest.values()
        for route in (p.result or {}).get("routes") or []
    ]
    on_route = {sid for _, stops in routes for sid in stops}
    elsewhere = [sid for sid in on_route if sid not in rows]
    delivered = {r.id for r in fleet_rows if r.delivered_at is not None}
    delivered |= set(_tracking.delivered(session, tenant_id, elsewhere))
    for cost, stops in routes:
        made = sorted(sid for sid in stops if sid in delivered)
        if not made:
            continue
        each, rest = divmod(cost, len(made))
        for i, sid in enumerate(made):
            if sid in rows:
                rows[sid].cost_minor, rows[sid].cost_currency = each + (1 if i < rest else 0), currency
    for r in fleet_rows:
        if r.id not in on_route and r.delivered_at is not None:
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
        "planned_cost": as_money(totals["total"], cur),
        "baseline_cost": as_money(totals["baseline"], cur),
        "savings": as_money(savings, cur),
        "savings_percent": pct(savings, totals["baseline"]) if totals["baseline"] else None,
    }
