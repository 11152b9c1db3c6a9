"""On days small enough to enumerate, the solver's plan costs exactly the optimum."""

from __future__ import annotations

import itertools
import random
from decimal import Decimal
from functools import cache

import pytest

from allocation import model, plan, rules, solver
from tests.unit.allocation import helpers as h


def random_day(seed: int, *, windows: bool) -> model.Problem:
    rng = random.Random(seed)
    n = rng.randint(4, 6)
    packages = []
    for i in range(n):
        window = None
        if windows and rng.random() < 0.5:
            start = rng.choice([8, 9, 10, 11])
            window = model.TimeWindow(start * 60, (start + 1) * 60)
        packages.append(
            h.pkg(
                f"p{i}",
                rng.uniform(-15, 15),
                rng.uniform(-15, 15),
                str(rng.randint(1, 6)),
                window=window,
                service_minutes=rng.choice([5, 20]),
            )
        )
    vans = [h.van(f"V{k}", kg="10", per_hour="0" if windows else "20") for k in range(rng.randint(1, 2))]
    options = {
        p.id: tuple(
            h.offer(c, str(rng.randint(5, 40))) for c in rng.sample(["UPS", "DHL"], rng.randint(1, 2))
        )
        for p in packages
    }
    return h.day(packages, vans, options)


def brute_force(problem: model.Problem) -> Decimal:
    """Return the optimal total cost by trying every split, every van and every stop order."""
    ev = rules.evaluate(problem)
    ids = [p.id for p in problem.packages]
    cheapest = {i: min(o.cost.amount for o in ev.allowed[i].carriers.values()) for i in ids}
    van = problem.vehicles[0]  # the vans are identical, so one route cache serves all

    @cache
    def best_route(subset: frozenset[str]) -> Decimal | None:
        best = None
        for order in itertools.permutations(sorted(subset)):
            _, depart, back, km, ok = plan.simulate(problem, van, order)
            if ok:
                cost = plan.route_cost(van, Decimal(str(round(km, 3))), back - depart)
                best = cost if best is None or cost < best else best
        return best

    best_total: Decimal | None = None
    for where in itertools.product(range(len(problem.vehicles) + 1), repeat=len(ids)):
        total = Decimal(0)
        for k in range(1, len(problem.vehicles) + 1):
            subset = frozenset(i for i, w in zip(ids, where, strict=True) if w == k)
            if subset:
                cost = best_route(subset)
                if cost is None:
                    break
                total += cost
        else:
            total += sum((cheapest[i] for i, w in zip(ids, where, strict=True) if w == 0), Decimal(0))
            best_total = total if best_total is None or total < best_total else best_total
    assert best_total is not None
    return best_total


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("windows", [False, True])
def test_pyvrp_plan_costs_the_brute_force_optimum(seed, windows):
    problem = random_day(seed, windows=windows)
    result = solver.solve(
        problem, model.SolveOptions(engine="pyvrp", time_limit_s=1.5, seed=0, max_iterations=500)
    )
    assert result.unassigned == ()
    assert abs(result.total_cost.amount - brute_force(problem)) <= Decimal("0.01")


@pytest.mark.parametrize("seed", range(3))
def test_ortools_engine_also_reaches_the_optimum_on_tiny_days(seed):
    problem = random_day(seed, windows=False)
    result = solver.solve(problem, model.SolveOptions(engine="ortools", time_limit_s=1.5, seed=0))
    assert abs(result.total_cost.amount - brute_force(problem)) <= Decimal("0.01")


def test_every_route_in_the_plan_is_feasible_and_costed_from_its_stops():
    problem = random_day(3, windows=True)
    result = solver.solve(problem, model.SolveOptions(time_limit_s=1.0, max_iterations=300))
    vans = {v.id: v for v in problem.vehicles}
    for r in result.routes:
        order = [s.package_id for s in r.stops]
        *_, km, ok = plan.simulate(problem, vans[r.vehicle_id], order)
        assert ok
        assert r.distance_km == Decimal(str(round(km, 3)))
    assert result.total_cost == result.fleet_cost + result.partner_cost


def test_unknown_engine_is_a_clear_error():
    with pytest.raises(solver.SolverError, match="unknown routing engine 'gurobi'"):
        solver.solve(random_day(0, windows=False), model.SolveOptions(engine="gurobi"))
