"""What others do, costed the same way as our plans, for the benchmark.

- ``cheapest_partner``: every package to its cheapest allowed partner (what rate-shopping APIs do).
- ``first_matching_rule``: the first rule naming a target decides, otherwise the cheapest partner
  (what rules engines do); packages sent to the fleet are loaded by greedy insertion.
- ``fleet_first``: fill the vans by cheapest insertion, nearest packages first, and hand the rest
  to their cheapest partner.

All respect require/forbid rules and eligibility; none looks at caps, commitments or groups, as
the tools they stand for don't either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from allocation import model, online, plan, rules


def _cheapest(allowed: rules.Allowed) -> str | None:
    best = min(allowed.carriers.values(), key=lambda o: o.cost.amount, default=None)
    return None if best is None else best.carrier


def cheapest_partner(problem: model.Problem) -> model.Plan:
    """Send every package to its cheapest allowed partner."""
    ev = rules.evaluate(problem)
    partners = {pid: c for pid, a in ev.allowed.items() if (c := _cheapest(a)) is not None}
    return plan.build_plan(problem, ev, {}, partners, issues=ev.issues, method="cheapest partner per package")


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
    fleet, left = _greedy_fleet(problem, ev, order)
    partners = {p.id: c for p in left if (c := _cheapest(ev.allowed[p.id])) is not None}
    return plan.build_plan(
        problem, ev, fleet, partners, issues=ev.issues, method="fleet first, greedy insertion"
    )


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
    fleet, left = _greedy_fleet(problem, ev, to_fleet)
    partners.update({p.id: c for p in left if (c := _cheapest(ev.allowed[p.id])) is not None})
    return plan.build_plan(problem, ev, fleet, partners, issues=ev.issues, method="first matching rule")


BASELINES: dict[str, Callable[[model.Problem], model.Plan]] = {
    "cheapest partner": cheapest_partner,
    "first matching rule": first_matching_rule,
    "fleet first greedy": fleet_first,
}
