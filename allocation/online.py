"""Cheap insertion: where one more package fits on the vans, and what it costs there.

Used for the online mode (one booking gets an instant decision against the current plan, to be
re-optimised at the next batch) and by the greedy baselines. Each route is prepared once in
O(stops) (arrival times and the latest start each stop tolerates); then every insertion position
is checked in O(1), so a 2,000-package plan answers in a few milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from allocation import model, plan, rules
from schemas import money


@dataclass(slots=True)
class RouteState:
    """A van's route prepared for O(1) insertion checks (times in seconds since midnight)."""

    vehicle: model.Vehicle
    package_ids: list[str]
    locations: list[model.Location]  # depot, stops..., depot
    start: list[int]  # service start per node; node 0 is departure, last is return
    latest: list[int]  # latest service start per node that keeps the rest feasible
    service: list[int]  # seconds of service per node
    load_kg: Decimal = Decimal(0)
    load_m3: Decimal = Decimal(0)
    extra: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Insertion:
    """The cheapest feasible place for a package on one van."""

    vehicle_id: str
    position: int  # index in the van's stop list where the package goes
    cost: Decimal  # added distance and time cost (plus the fixed cost when the van was idle)


@dataclass(frozen=True, slots=True)
class OnlineDecision:
    """An instant decision for one booking."""

    package_id: str
    assignee: str  # model.FLEET, a carrier, or "" when nothing can take it
    vehicle_id: str | None
    position: int | None
    cost: money.Money | None
    best_partner: model.PartnerOption | None
    fleet_cost: money.Money | None
    reason: model.Reason
    detail: str
    rule_ids: tuple[str, ...] = ()


def prepare(
    problem: model.Problem,
    vehicle: model.Vehicle,
    package_ids: list[str],
    index: Mapping[str, model.Package] | None = None,
) -> RouteState:
    """Prepare a van's current route for insertion checks."""
    pkgs = index if index is not None else {p.id: p for p in problem.packages}
    speed = plan.fleet_speed_kmh(problem)
    shift_open = max(vehicle.shift_start, problem.depot.opens) * 60
    shift_close = min(vehicle.shift_end, problem.depot.closes) * 60
    locations = [problem.depot.location, *(pkgs[i].location for i in package_ids), problem.depot.location]
    windows = [(shift_open, shift_close)]
    windows += [plan.window_seconds(problem, pkgs[i]) for i in package_ids]
    windows.append((shift_open, shift_close))
    service = [0, *(pkgs[i].service_minutes * 60 for i in package_ids), 0]
    start = [shift_open]
    for k in range(1, len(locations)):
        travel = plan.travel_seconds(problem.km_between(locations[k - 1], locations[k]), speed)
        start.append(max(windows[k][0], start[-1] + service[k - 1] + travel))
    latest = [0] * len(locations)
    latest[-1] = min(shift_close, shift_open + (vehicle.shift_end - vehicle.shift_start) * 60)
    for k in range(len(locations) - 2, -1, -1):
        travel = plan.travel_seconds(problem.km_between(locations[k], locations[k + 1]), speed)
        latest[k] = min(windows[k][1], latest[k + 1] - travel - service[k])
    return RouteState(
        vehicle=vehicle,
        package_ids=list(package_ids),
        locations=locations,
        start=start,
        latest=latest,
        service=service,
        load_kg=sum((pkgs[i].weight_kg for i in package_ids), Decimal(0)),
        load_m3=sum((pkgs[i].volume_m3 for i in package_ids), Decimal(0)),
    )


def best_insertion(problem: model.Problem, state: RouteState, pkg: model.Package) -> Insertion | None:
    """Return the cheapest feasible insertion of a package into one route, or None."""
    van = state.vehicle
    if state.load_kg + pkg.weight_kg > van.capacity_kg or state.load_m3 + pkg.volume_m3 > van.capacity_m3:
        return None
    if van.max_stops is not None and len(state.package_ids) >= van.max_stops:
        return None
    speed = plan.fleet_speed_kmh(problem)
    early, late = plan.window_seconds(problem, pkg)
    svc = pkg.service_minutes * 60
    hour_cost = van.cost_per_hour / 3600
    best: Insertion | None = None
    locs = state.locations
    to_pkg = [problem.km_between(loc, pkg.location) for loc in locs]
    for k in range(len(locs) - 1):
        t_in = plan.travel_seconds(to_pkg[k], speed)
        t_out = plan.travel_seconds(to_pkg[k + 1], speed)
        begin = max(early, state.start[k] + state.service[k] + t_in)
        if begin > late:
            continue
        if begin + svc + t_out > state.latest[k + 1]:
            continue
        old_km = problem.km_between(locs[k], locs[k + 1])
        added_km = to_pkg[k] + to_pkg[k + 1] - old_km
        added_s = t_in + t_out + svc - plan.travel_seconds(old_km, speed)
        cost = Decimal(str(round(added_km, 3))) * van.cost_per_km + Decimal(max(0, added_s)) * hour_cost
        if not state.package_ids:
            cost += van.fixed_cost
        if best is None or cost < best.cost:
            best = Insertion(van.id, k, cost)
    return best


def insert(
    problem: model.Problem,
    state: RouteState,
    pkg: model.Package,
    position: int,
    index: Mapping[str, model.Package] | None = None,
) -> RouteState:
    """Return the route with a package inserted at a position (re-prepared)."""
    ids = [*state.package_ids[:position], pkg.id, *state.package_ids[position:]]
    return prepare(problem, state.vehicle, ids, index)


def decide(
    problem: model.Problem, current: model.Plan, pkg: model.Package, options: tuple[model.PartnerOption, ...]
) -> OnlineDecision:
    """Decide one new booking against the current plan by cheapest insertion versus partner price."""
    if any(p.id == pkg.id for p in problem.packages):
        raise model.ModelError(f"package {pkg.id} is already in the day's plan")
    single = replace(problem, packages=(pkg,), options={pkg.id: options})
    ev = rules.evaluate(single)
    allowed = ev.allowed[pkg.id]
    rule_ids = tuple(sorted({r for ids in allowed.removed_by.values() for r in ids}))
    cur = problem.currency
    # Caps already used up by today's plan close that carrier for this booking.
    carriers = dict(allowed.carriers)
    weights = {p.id: p.weight_kg for p in problem.packages}

    def full(carrier: str) -> tuple[str, ...]:
        """The caps that today's plan already used up for this carrier."""
        closed: list[str] = []
        for cap in ev.caps:
            if pkg.id not in cap.package_ids or cap.carrier != carrier:
                continue
            taken = [i for h in current.handovers if h.carrier == cap.carrier for i in h.package_ids]
            over_count = cap.max_packages is not None and len(taken) + 1 > cap.max_packages
            over_kg = (
                cap.max_kg is not None
                and sum((weights.get(i, Decimal(0)) for i in taken), Decimal(0)) + (pkg.weight_kg)
                > cap.max_kg
            )
            if over_count or over_kg:
                closed.append(cap.rule_id)
        return tuple(closed)

    for carrier in list(carriers):
        if closed := full(carrier):
            del carriers[carrier]
            rule_ids = (*rule_ids, *closed)
    best_partner = min(
        carriers.values(), key=lambda o: o.cost.amount + allowed.bias.get(o.carrier, 0), default=None
    )
    fleet_best: Insertion | None = None
    if allowed.fleet:
        by_van = {r.vehicle_id: [s.package_id for s in r.stops] for r in current.routes}
        index = {p.id: p for p in problem.packages}
        for van in problem.vehicles:
            state = prepare(problem, van, by_van.get(van.id, []), index)
            ins = best_insertion(problem, state, pkg)
            if ins is not None and (fleet_best is None or ins.cost < fleet_best.cost):
                fleet_best = ins
    fleet_cost = None if fleet_best is None else money.Money(fleet_best.cost, cur)
    partner_biased = (
        math.inf
        if best_partner is None
        else best_partner.cost.amount + allowed.bias.get(best_partner.carrier, 0)
    )
    if (
        fleet_best is not None
        and fleet_best.cost + allowed.bias.get(model.FLEET, Decimal(0)) <= partner_biased
    ):
        reason: model.Reason = "rule" if allowed.required_by or best_partner is None else "cost"
        detail = f"insert on {fleet_best.vehicle_id} at stop {fleet_best.position + 1}"
        if note := allowed.on_time.describe(allowed.on_time.fleet_probability):
            detail += f"; {note}"
        return OnlineDecision(
            pkg.id,
            model.FLEET,
            fleet_best.vehicle_id,
            fleet_best.position,
            fleet_cost,
            best_partner,
            fleet_cost,
            reason,
            detail,
            allowed.required_by or rule_ids,
        )
    if best_partner is not None:
        if allowed.fleet and fleet_best is None:
            reason, detail = "capacity", "no van can fit it in"
        elif not allowed.fleet and model.FLEET in allowed.on_time.dropped:
            reason = "rule" if allowed.on_time.rule_ids else "eligibility"
            detail = allowed.on_time.fleet_dropped()
        elif not allowed.fleet:
            reason = "rule" if model.FLEET in allowed.removed_by else "eligibility"
            detail = allowed.fleet_reason or "a rule keeps it off the fleet"
        else:
            reason, detail = (
                "cost",
                f"{best_partner.carrier} at {best_partner.cost} beats the van at {fleet_cost}",
            )
        if note := allowed.on_time.describe(best_partner.on_time_probability):
            detail += f"; {note}"
        return OnlineDecision(
            pkg.id,
            best_partner.carrier,
            None,
            None,
            best_partner.cost,
            best_partner,
            fleet_cost,
            reason,
            detail,
            rule_ids,
        )
    # Never refused for its on-time minimum alone: the most likely option it dropped, if any has room.
    if (opt := next((o for o in allowed.on_time.fallback if not full(o.carrier)), None)) is not None:
        p = "unknown" if opt.on_time_probability is None else rules.percent(opt.on_time_probability)
        return OnlineDecision(
            pkg.id,
            opt.carrier,
            None,
            None,
            opt.cost,
            opt,
            fleet_cost,
            "capacity",
            f"{opt.carrier} on time with probability {p}, below the required "
            f"{rules.percent(allowed.on_time.minimum or 0)}: no option that meets it had room",
            (*rule_ids, *allowed.on_time.rule_ids),
        )
    return OnlineDecision(
        pkg.id,
        "",
        None,
        None,
        None,
        None,
        fleet_cost,
        "infeasible",
        "no van fits it and no partner may take it",
        rule_ids,
    )
