"""A shipment's allocation: the online decision at booking, and reading it back.

Online decisions run in the booking request by cheap insertion against the day's plan (the
latest finished batch plan plus the online decisions taken since); the batch re-optimises.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from allocation import model, online
from gateway.allocation import _assign, _compact, _loading, day_input, fleet, rule_sets, runs, tables
from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow
from gateway.shipments import booking as shipment_service
from schemas import money

log = logging.getLogger(__name__)


def _day_state(
    session: Session,
    tenant_id: str,
    depot: tables.Depot,
    day: date,
    vehicles: Sequence[model.Vehicle],
    exclude: str,
) -> tuple[list[model.Package], dict[str, list[str]], dict[str, list[str]]]:
    """Return the day's planned packages, van routes and partner handovers, plus later online decisions."""
    plan_ref = runs.latest_plan_ref(session, tenant_id, depot.id, day)
    vans = {v.id for v in vehicles}
    packages: dict[str, model.Package] = {}
    by_van: dict[str, list[str]] = defaultdict(list)
    by_carrier: dict[str, list[str]] = defaultdict(list)
    since: datetime | None = None
    if plan_ref is not None:
        plan_id, since = plan_ref
        dispatch = _compact.dispatch(session, plan_id)
        packages = {p.id: p for p in dispatch.packages if p.id != exclude}
        for vid, stops in dispatch.routes.items():
            if vid in vans:
                by_van[vid] = [i for i in stops if i != exclude]
            else:  # the van was retired since: its stops are unplanned until the next batch
                for i in stops:
                    packages.pop(i, None)
        for carrier, ids in dispatch.handovers.items():
            by_carrier[carrier] = [i for i in ids if i != exclude]
    query = (
        sa.select(tables.ShipmentAllocation)
        .where(
            tables.ShipmentAllocation.tenant_id == tenant_id,
            tables.ShipmentAllocation.depot_id == depot.id,
            tables.ShipmentAllocation.day == day,
            tables.ShipmentAllocation.source == "online",
            tables.ShipmentAllocation.shipment_id != exclude,
            # A cancelled shipment gives its place on the van back.
            tables.ShipmentAllocation.shipment_id.not_in(
                sa.select(models.Shipment.id).where(
                    models.Shipment.tenant_id == tenant_id, models.Shipment.status == "cancelled"
                )
            ),
        )
        .order_by(tables.ShipmentAllocation.decided_at, tables.ShipmentAllocation.shipment_id)
    )
    if since is not None:
        query = query.where(tables.ShipmentAllocation.decided_at >= since)
    for a in session.execute(query).scalars():
        if a.shipment_id in packages or not a.package:
            continue
        pkg = _compact.unpack(a.package)
        if a.assignee == model.FLEET and a.vehicle_id in vans:
            route = by_van[a.vehicle_id]
            route.insert(min(a.sequence or 0, len(route)), pkg.id)
            packages[pkg.id] = pkg
        elif a.assignee and a.assignee != model.FLEET:
            by_carrier[a.assignee].append(pkg.id)
            packages[pkg.id] = pkg
    return list(packages.values()), dict(by_van), dict(by_carrier)


NEAREST_ROUTES = 8  # routes an online booking is tried on, besides every idle van


def _candidate_vans(
    vehicles: Sequence[model.Vehicle],
    by_van: dict[str, list[str]],
    index: dict[str, model.Package],
    here: model.Location,
) -> list[model.Vehicle]:
    """Return the idle vans and the vans whose routes pass nearest to a location.

    Cheapest insertion is almost always next to a nearby stop, so trying only the nearest routes
    keeps a booking's decision fast on a day of thousands of stops; the batch re-optimises anyway.
    """
    coslat = math.cos(math.radians(here.y))

    def gap(vid: str) -> float:
        return min(
            ((index[p].location.x - here.x) * coslat) ** 2 + (index[p].location.y - here.y) ** 2
            for p in by_van[vid]
            if p in index
        )

    busy = [v for v in vehicles if any(p in index for p in by_van.get(v.id, ()))]
    near = {v.id for v in sorted(busy, key=lambda v: gap(v.id))[:NEAREST_ROUTES]}
    busy_ids = {v.id for v in busy}
    return [v for v in vehicles if v.id in near or v.id not in busy_ids]


def decide_online(
    session: Session,
    tenant_id: str,
    shipment: models.Shipment,
    *,
    now: datetime | None = None,
    depots: Sequence[tables.Depot] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> tables.ShipmentAllocation | None:
    """Decide fleet or partner for one booking by cheap insertion against today's plan; None without a fleet.

    ``settings`` choose the delivery-time model for the options' on-time probabilities (None: defaults).
    """
    depots = fleet.list_depots(session, tenant_id) if depots is None else depots
    if not depots:
        return None
    depot = day_input.depot_for(depots, shipment.destination)
    now = now or utcnow()
    day = now.astimezone(ZoneInfo(depot.timezone)).date()
    vehicles = _loading.vehicles(session, tenant_id, depot)
    rule_set, _ = rule_sets.active_rules(session, tenant_id)
    tenant = session.get(models.Tenant, tenant_id)
    rates = _loading.rates_for(session, [shipment.id]).get(shipment.id, [])
    snapshot = _loading.snapshots_for(session, [shipment.id]).get(shipment.id)
    pkg, options, _, _ = day_input.package_for(
        shipment,
        depot,
        day,
        depot.currency,
        tenant.slug if tenant else tenant_id,
        rates,
        snapshot,
        eta_model=day_input.eta_model(session, settings, tenant_id),
    )
    planned, by_van, by_carrier = _day_state(session, tenant_id, depot, day, vehicles, shipment.id)
    index = {p.id: p for p in planned}
    candidates = _candidate_vans(vehicles, by_van, index, pkg.location)
    tried = {v.id for v in candidates}
    problem = model.Problem(
        depot=fleet.model_depot(depot),
        vehicles=tuple(candidates),
        packages=tuple(planned),
        options={},
        rules=rule_set,
        currency=depot.currency,
        distance_model="haversine",
        road_factor=Decimal(depot.road_factor),
    )
    zero = money.Money.zero(depot.currency)

    def stop(pid: str, k: int) -> model.Stop:
        return model.Stop(pid, k + 1, 0, 0, index[pid].location)

    current = model.Plan(
        decisions=(),
        routes=tuple(
            model.Route(
                vid,
                tuple(stop(p, k) for k, p in enumerate(pids) if p in index),
                0,
                0,
                Decimal(0),
                Decimal(0),
                Decimal(0),
                zero,
            )
            for vid, pids in by_van.items()
            if vid in tried
        ),
        handovers=tuple(
            model.Handover(c, tuple(p for p in pids if p in index), Decimal(0), zero)
            for c, pids in by_carrier.items()
        ),
        unassigned=(),
        fleet_cost=zero,
        partner_cost=zero,
    )
    decision = online.decide(problem, current, pkg, options)
    eta = None
    if decision.assignee == model.FLEET and decision.vehicle_id is not None:
        van = next(v for v in vehicles if v.id == decision.vehicle_id)
        ids = [s.package_id for r in current.routes if r.vehicle_id == van.id for s in r.stops]
        ids.insert(decision.position or 0, pkg.id)
        state = online.prepare(problem, van, ids, {**index, pkg.id: pkg})
        eta = day_input.local_instant(depot, day, state.start[(decision.position or 0) + 1] // 60)
    carrier = decision.assignee
    service = (
        day_input.FLEET_SERVICE
        if carrier == model.FLEET
        else (decision.best_partner.service if decision.best_partner else None)
    )
    values = {
        "shipment_id": shipment.id,
        "depot_id": depot.id,
        "day": day,
        "source": "online",
        "plan_id": None,
        "assignee": carrier,
        "service": service if carrier else None,
        "vehicle_id": decision.vehicle_id,
        "sequence": decision.position,
        "eta": eta,
        "cost_minor": None if decision.cost is None else decision.cost.to_minor(),
        "currency": depot.currency if decision.cost is not None else None,
        "reason": decision.reason,
        "detail": decision.detail[:500],
        "rule_ids": list(decision.rule_ids),
        "package": _compact.pack(pkg),
        "decided_at": now,
    }
    alloc = _assign.store(session, tenant_id, values)
    if carrier and shipment.status == "draft":
        # Not frozen here: the platform still picks its rate (POST /rate); a plan freezes its own.
        _assign.set_carrier(session, shipment, carrier, service)
    if carrier:
        _assign.emit_allocated(session, tenant_id, alloc)
    return alloc


def allocation_of(session: Session, tenant_id: str, shipment_id: str) -> tables.ShipmentAllocation:
    shipment_service.get_shipment(session, tenant_id, shipment_id)
    row = session.get(tables.ShipmentAllocation, shipment_id)
    if row is None:
        raise Problem("not-found", f"Shipment {shipment_id} has no allocation yet.")
    return row


def present_allocation(a: tables.ShipmentAllocation) -> dict[str, Any]:
    cost = None
    if a.cost_minor is not None and a.currency:
        cost = {"amount": money.Money.from_minor(a.cost_minor, a.currency).amount, "currency": a.currency}
    return {
        "shipment_id": a.shipment_id,
        "source": a.source,
        "plan_id": a.plan_id,
        "depot_id": a.depot_id,
        "day": a.day,
        "assignee": "fleet" if a.assignee == model.FLEET else ("partner" if a.assignee else "none"),
        "carrier": a.assignee or None,
        "service": a.service,
        "vehicle_id": a.vehicle_id,
        "sequence": a.sequence,
        "eta": a.eta,
        "cost": cost,
        "reason": a.reason,
        "detail": a.detail,
        "rule_ids": a.rule_ids,
        "decided_at": a.decided_at,
    }


def decide_at_booking(session: Session, tenant_id: str, shipment: models.Shipment) -> None:
    """Give a new booking an instant fleet-or-partner decision when the tenant runs a fleet.

    Never fails the booking: any error rolls back only the decision (a savepoint) and is logged;
    the next batch plan allocates the shipment anyway.
    """
    depots = fleet.list_depots(session, tenant_id)
    if not depots:
        return
    try:
        with session.begin_nested():
            decide_online(session, tenant_id, shipment, depots=depots)
    except Exception:
        log.warning("online allocation failed; left for the next batch plan", exc_info=True)
