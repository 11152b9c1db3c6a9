"""The day's lower bound never exceeds a plan's cost, and it is not trivially low."""

from __future__ import annotations

import itertools
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocation import baselines, bounds, generator, model, rules, solver
from schemas import money
from tests.unit.allocation import helpers as h
from tests.unit.allocation.test_properties import days
from tests.unit.allocation.test_solver_bruteforce import brute_force, random_day


def delivered(p: model.Plan) -> list[str]:
    return [d.package_id for d in p.decisions if d.assignee]


def within_a_cent_below(bound: Decimal | None, exact: Decimal) -> bool:
    """The bound is floored to cents after a 1e-7 safety margin, so an exact value may lose a cent."""
    return bound is not None and exact - Decimal("0.01") <= bound <= exact


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("windows", [False, True])
def test_the_bound_is_at_most_the_brute_force_optimum_and_above_zero(seed, windows):
    problem = random_day(seed, windows=windows)
    bound = bounds.lower_bound(problem)
    assert bound is not None
    assert Decimal(0) < bound <= brute_force(problem)


def test_the_bound_is_tight_when_partners_are_far_cheaper_than_any_van():
    # Every van stop costs more than 2 x 15 km x 1.00 EUR/km: partners at 3 EUR win, exactly.
    packages = [h.pkg(f"p{i}", 15.0 + i, 15.0) for i in range(4)]
    problem = h.day(packages, [h.van("V1")], {p.id: (h.offer("UPS", "3"),) for p in packages})
    assert brute_force(problem) == Decimal("12.00")
    assert within_a_cent_below(bounds.lower_bound(problem), Decimal("12.00"))


def test_with_no_van_allowed_the_bound_is_every_packages_cheapest_partner():
    packages = [h.pkg(f"p{i}", float(i), 1.0) for i in range(5)]
    options: dict[str, tuple[model.PartnerOption, ...]] = {
        p.id: (h.offer("UPS", str(5 + i)), h.offer("DHL", str(7 - i))) for i, p in enumerate(packages)
    }
    cheapest = sum(min(Decimal(5 + i), Decimal(7 - i)) for i in range(5))
    no_vans = h.day(packages, [], options)
    assert bounds.lower_bound(no_vans) == cheapest  # no van: no solver, the sum itself
    forbid_fleet = rules.parse(
        {
            "version": 1,
            "rules": [{"id": "nofleet", "when": {}, "action": {"type": "forbid", "target": "fleet"}}],
        }
    )
    ruled = h.day(packages, [h.van("V1")], options, forbid_fleet)
    assert bounds.lower_bound(ruled) == cheapest
    result = solver.solve(ruled, model.SolveOptions(time_limit_s=0.5, max_iterations=50))
    assert result.lower_bound is not None and result.lower_bound.amount == cheapest
    assert result.total_cost.amount == cheapest and result.gap == 0


def test_a_package_only_a_van_may_carry_costs_at_least_a_van_day_and_the_trip():
    # No partner quotes p0, 3 km from the depot: a van (fixed 10.00, 1.00/km) must go and come back.
    problem = h.day([h.pkg("p0", 3.0, 0.0)], [h.van("V1")], {})
    assert within_a_cent_below(bounds.lower_bound(problem), Decimal("16.00"))
    result = solver.solve(problem, model.SolveOptions(time_limit_s=0.5, max_iterations=50))
    assert result.total_cost.amount == Decimal("16.000")
    assert result.lower_bound is not None and result.gap is not None
    assert result.lower_bound.amount == bounds.lower_bound(problem)
    assert Decimal(0) <= result.gap < Decimal("0.001")


def test_packages_nobody_may_carry_are_left_out_and_an_impossible_set_has_no_bound():
    packages = [h.pkg("p0", 1.0, 0.0), h.pkg("heavy", 2.0, 0.0, kg="500")]
    problem = h.day(packages, [h.van("V1", kg="100")], {"p0": (h.offer("UPS", "4"),)})
    # "heavy" fits no van and no partner quotes it: every plan leaves it, so the bound does too.
    assert within_a_cent_below(bounds.lower_bound(problem), Decimal("4.00"))
    assert bounds.lower_bound(problem, ["p0", "heavy"]) is None


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days())
def test_no_plan_the_solver_returns_costs_less_than_its_bound(problem):
    """Days with caps, commitments, groups, require/forbid and prefer rules, 0-2 small vans."""
    result = solver.solve(problem, model.SolveOptions(time_limit_s=0.3, max_iterations=50, seed=0))
    assert result.lower_bound is not None
    assert result.lower_bound.amount <= result.total_cost.amount
    assert result.lower_bound == money.Money(
        bounds.lower_bound(problem, delivered(result)) or Decimal(0), problem.currency
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_method_beats_the_bound_on_a_generated_day(seed):
    problem = generator.generate_day(packages=60, vans=3, seed=seed)
    plans = [solver.solve(problem, model.SolveOptions(time_limit_s=2.0, seed=seed, max_iterations=300))]
    plans += [fn(problem) for fn in baselines.BASELINES.values()]
    checked = 0
    for p in plans:
        if p.late:
            continue  # a late handover uses an option the rules do not allow on time
        bound = bounds.lower_bound(problem, delivered(p))
        assert bound is not None and Decimal(0) < bound <= p.total_cost.amount
        checked += 1
    assert checked >= 2
    solved = plans[0]
    assert solved.gap is not None and Decimal(0) <= solved.gap < Decimal("0.5")


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 10_000))
def test_the_bound_holds_on_any_seeded_day_with_caps_and_commitments(seed):
    problem = generator.generate_day(packages=30, vans=2, seed=seed)
    result = solver.solve(problem, model.SolveOptions(time_limit_s=1.0, seed=0, max_iterations=100))
    assert result.lower_bound is not None
    assert result.lower_bound.amount <= result.total_cost.amount


def test_the_bound_holds_in_haversine_with_a_road_factor():
    pkgs = [h.pkg(f"p{i}", 13.40 + 0.01 * i, 52.52 + 0.007 * (i % 3)) for i in range(5)]
    van = h.van("V1", kg="10")
    problem = model.Problem(
        depot=model.Depot("D", model.Location(13.40, 52.50)),
        vehicles=(van,),
        packages=tuple(pkgs),
        options={p.id: (h.offer("UPS", "4.5"),) for p in pkgs},
        distance_model="haversine",
        road_factor=Decimal("1.3"),
    )
    bound = bounds.lower_bound(problem)
    assert bound is not None and Decimal(0) < bound <= brute_force(problem)


def tiny_routing(
    distance: list[list[int]], demand: list[int], prize: list[int], fixed: int
) -> solver.RoutingProblem:
    n = len(demand)
    matrix = np.array(distance, dtype=np.int64)
    return solver.RoutingProblem(
        distance=matrix,
        duration=matrix.copy(),
        demand=[(d,) for d in demand],
        service=[0] * n,
        windows=[(0, 10_000)] * n,
        prize=prize,
        required=[p < 0 for p in prize],
        vehicle_types=[solver.RoutingVehicleType(count=2, capacity=(10,), fixed_cost=fixed)],
    )


def routing_optimum(problem: solver.RoutingProblem) -> int:
    """Brute force: every split of the clients over two vans or their prize, every order."""
    n = problem.num_clients
    d = problem.distance
    fixed = problem.vehicle_types[0].fixed_cost

    def tour(clients: tuple[int, ...]) -> int:
        if not clients:
            return 0
        if sum(problem.demand[c][0] for c in clients) > problem.vehicle_types[0].capacity[0]:
            return 10**9
        return fixed + min(
            sum(int(d[a, b]) for a, b in itertools.pairwise((0, *(c + 1 for c in order), 0)))
            for order in itertools.permutations(clients)
        )

    best = 10**9
    for where in itertools.product(range(3), repeat=n):
        if any(w == 0 and problem.required[i] for i, w in enumerate(where)):
            continue
        cost = sum(problem.prize[i] for i, w in enumerate(where) if w == 0)
        cost += sum(tour(tuple(i for i, w in enumerate(where) if w == k)) for k in (1, 2))
        best = min(best, cost)
    return best


def test_the_routing_bound_holds_even_where_truncated_distances_break_the_triangle_inequality():
    # 0-1-2 costs 1 + 1 but 0-2 costs 5: the closure under shortest paths keeps the bound valid.
    distance = [
        [0, 1, 5, 4, 6],
        [1, 0, 1, 4, 6],
        [5, 1, 0, 3, 5],
        [4, 4, 3, 0, 2],
        [6, 6, 5, 2, 0],
    ]
    for prize, fixed in (([-1, -1, -1, -1], 0), ([3, 9, -1, 2], 4), ([20, 20, 20, 20], 1)):
        problem = tiny_routing(distance, [3, 4, 5, 2], prize, fixed)
        value = bounds.solve_relaxation(bounds.routing_relaxation(problem), np.ones(4, dtype=bool))
        assert value is not None
        assert 0 < value <= routing_optimum(problem)
