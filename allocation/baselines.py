"""What others do, costed the same way as our plans, for the benchmark.

- ``cheapest_partner``: every package to its cheapest allowed partner (what rate-shopping APIs do);
  the vans take only what no partner may.
- ``first_matching_rule``: the first rule naming a target decides, otherwise the cheapest partner
  (what rules engines do); packages sent to the fleet are loaded by greedy insertion.
- ``nearest_neighbour``: each van in turn drives to the nearest package it can still take until
  nothing fits; partners take the rest (what a dispatcher would try first).
- ``fleet_first``: fill the vans by cheapest insertion, nearest packages first, and hand the rest
  to their cheapest partner.

All respect require/forbid rules, on-time minimums (``rules.OnTime``) and eligibility; none looks
at caps, commitments or groups, as the tools they stand for don't either. Every plan is complete,
as the optimizer's is: a package a baseline cannot place goes to its cheapest allowed partner; if
none may take it, to the most likely partner option its on-time minimum dropped (an
``on_time_risk`` issue); else (say no partner meets the promise and the vans are full) to the
cheapest eligible one, late (``Plan.late``);
only a package nobody may carry stays unassigned, a failed delivery that ``penalised_cost``
counts at ``FAILED_DELIVERY_PENALTY``. Both cases are reported as issues.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

from allocation import model, online, plan, rules

# Per failed delivery (a package no van and no partner takes), in the plan's currency: what the
# benchmark adds to a plan's cost so that methods leaving packages behind compare like with like.
FAILED_DELIVERY_PENALTY = Decimal("25.00")


def penalised_cost(result: model.Plan) -> Decimal:
    """Return a plan's total cost plus ``FAILED_DELIVERY_PENALTY`` per unassigned package."""
    return result.total_cost.amount + FAILED_DELIVERY_PENALTY * len(result.unassigned)


def _complete(
    problem: model.Problem,
    ev: rules.Evaluation,
    fleet: Mapping[str, list[str]],
    partners: dict[str, str],
    method: str,
) -> model.Plan:
    """Place every package left over (cheapest allowed partner, else late) and cost the plan."""
    placed = set(partners) | {i for pids in fleet.values() for i in pids}
    late: dict[str, model.PartnerOption] = {}
    fallback: dict[str, model.PartnerOption] = {}
    failed: list[str] = []
    for pkg in problem.packages:
        if pkg.id in placed:
            continue
        allowed = ev.allowed[pkg.id]
        if (c := _cheapest(allowed)) is not None:
            partners[pkg.id] = c
        elif allowed.on_time.fallback:
            fallback[pkg.id] = allowed.on_time.fallback[0]
        elif (opt := plan.late_option(problem, allowed)) is not None:
            late[pkg.id] = opt
        elif allowed.targets:
            failed.append(pkg.id)  # nobody may carry it is already an issue of the rules
    issues = list(ev.issues) + plan.fallback_issue(fallback)
    if late:
        issues.append(
            model.Issue(
                "no_feasible_option",
                "handed to a partner that misses the promise: no van had room and no partner meets it",
                (),
                tuple(late),
            )
        )
    if failed:
        issues.append(
            model.Issue("no_feasible_option", "no van had room and no partner may take it", (), tuple(failed))
        )
    return plan.build_plan(
        problem, ev, fleet, partners, issues=issues, method=method, late=late, fallback=fallback
    )


def _cheapest(allowed: rules.Allowed) -> str | None:
    best = min(allowed.carriers.values(), key=lambda o: o.cost.amount, default=None)
    return None if best is None else best.carrier


def cheapest_partner(problem: model.Problem) -> model.Plan:
    """Send every package to its cheapest allowed partner; vans carry only what no partner may.

    That is rate shopping beside an own fleet: a package no partner quotes (a same-day promise,
    say) still has to be delivered, so it rides a van (greedy insertion) in the baseline as it
    does in the plan, and the two are compared on the same deliveries.
    """
    ev = rules.evaluate(problem)
    partners = {pid: c for pid, a in ev.allowed.items() if (c := _cheapest(a)) is not None}
    vans_only = [p for p in problem.packages if p.id not in partners and ev.allowed[p.id].fleet]
    fleet, _ = _greedy_fleet(problem, ev, vans_only)
    return _complete(problem, ev, fleet, partners, "cheapest partner per package")


def _greedy_fleet(
    problem: model.Problem, ev: rules.Evaluation, order: Iterable[model.Package]
) -> tuple[dict[str, list[str]], list[model.Package]]:
    """Insert packages one by one at their cheapest feasible place; return routes and leftovers."""
    index = {p.id: p for p in problem.packages}
    states = {v.id: online.prepare(problem, v, [], index) for v in problem.vehicles}
    left: list[model.Package] = []
    for pkg in order:
        if not ev.allowed[pkg.id].fleet:
            left.append(pkg)
            continue
        best: online.Insertion | None = None
        for state in states.values():
            ins = online.best_insertion(problem, state, pkg)
            if ins is not None and (best is None or ins.cost < best.cost):
                best = ins
        if best is None:
            left.append(pkg)
        else:
            states[best.vehicle_id] = online.insert(
                problem, states[best.vehicle_id], pkg, best.position, index
            )
    return {vid: s.package_ids for vid, s in states.items() if s.package_ids}, left


def fleet_first(problem: model.Problem) -> model.Plan:
    """Fill the vans greedily, nearest packages first, then hand the rest to the cheapest partner."""
    ev = rules.evaluate(problem)
    order = sorted(problem.packages, key=lambda p: problem.km_between(problem.depot.location, p.location))
    fleet, _ = _greedy_fleet(problem, ev, order)
    return _complete(problem, ev, fleet, {}, "fleet first, greedy insertion")


def nearest_neighbour(problem: model.Problem) -> model.Plan:
    """Route each van to the nearest package it can still take until none fits; partners take the rest."""
    ev = rules.evaluate(problem)
    speed = plan.fleet_speed_kmh(problem)
    depot = problem.depot.location
    # Ranking only: planar distance (longitude scaled at the depot's latitude when haversine);
    # feasibility and costs use the problem's own distances.
    squeeze = math.cos(math.radians(depot.y)) if problem.distance_model == "haversine" else 1.0
    remaining = [p for p in problem.packages if ev.allowed[p.id].fleet]
    fleet: dict[str, list[str]] = {}
    for van in problem.vehicles:
        t = t0 = max(van.shift_start, problem.depot.opens) * 60
        close = min(van.shift_end, problem.depot.closes) * 60
        longest = (van.shift_end - van.shift_start) * 60
        here, kg, m3 = depot, Decimal(0), Decimal(0)
        stops: list[str] = []
        while remaining and (van.max_stops is None or len(stops) < van.max_stops):
            near = [math.hypot((p.location.x - here.x) * squeeze, p.location.y - here.y) for p in remaining]
            ranked = sorted(range(len(remaining)), key=near.__getitem__)
            chosen = None
            for k in ranked:
                pkg = remaining[k]
                if kg + pkg.weight_kg > van.capacity_kg or m3 + pkg.volume_m3 > van.capacity_m3:
                    continue
                early, late = plan.window_seconds(problem, pkg)
                begin = max(early, t + plan.travel_seconds(problem.km_between(here, pkg.location), speed))
                done = begin + pkg.service_minutes * 60
                back = done + plan.travel_seconds(problem.km_between(pkg.location, depot), speed)
                if begin <= late and back <= close and back - t0 <= longest:
                    chosen, t = k, done
                    break
            if chosen is None:
                break
            pkg = remaining.pop(chosen)
            stops.append(pkg.id)
            here, kg, m3 = pkg.location, kg + pkg.weight_kg, m3 + pkg.volume_m3
        if stops:
            fleet[van.id] = stops
    return _complete(problem, ev, fleet, {}, "fleet first, nearest neighbour")


def first_matching_rule(problem: model.Problem) -> model.Plan:
    """Let the first rule that names a target decide each package; default to the cheapest partner."""
    ev = rules.evaluate(problem)
    deciding = [r for r in problem.rules.rules if r.enabled and r.action in ("require", "prefer")]
    to_fleet: list[model.Package] = []
    partners: dict[str, str] = {}
    for pkg in problem.packages:
        allowed = ev.allowed[pkg.id]
        target = next(
            (r.target for r in deciding if rules.matches(r.when, pkg) and r.target in allowed.targets), None
        )
        if target == model.FLEET:
            to_fleet.append(pkg)
        elif target is not None:
            partners[pkg.id] = target
        elif (c := _cheapest(allowed)) is not None:
            partners[pkg.id] = c
        elif allowed.fleet:
            to_fleet.append(pkg)
    fleet, _ = _greedy_fleet(problem, ev, to_fleet)
    return _complete(problem, ev, fleet, partners, "first matching rule")


BASELINES: dict[str, Callable[[model.Problem], model.Plan]] = {
    "cheapest partner": cheapest_partner,
    "first matching rule": first_matching_rule,
    "fleet first, nearest neighbour": nearest_neighbour,
    "fleet first greedy": fleet_first,
}
