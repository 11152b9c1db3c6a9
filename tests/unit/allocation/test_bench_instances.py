"""The benchmark readers build the published instances the way their conventions say."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from allocation import solver

ROOT = Path(__file__).resolve().parents[3]
SHARED = ROOT / ".." / "shared" / "bench"

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="benchmark instances live in ../shared/bench")


def bench_module():
    spec = importlib.util.spec_from_file_location("bench_allocation", ROOT / "bench" / "allocation.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_solomon_arcs_are_truncated_to_one_decimal_and_scaled_by_ten():
    problem = bench_module().solomon_problem(SHARED / "solomon" / "original" / "C101.txt")
    assert problem.num_clients == 100
    # depot (40, 50) to customer 1 (45, 68): sqrt(349) = 18.681..., truncated to 18.6
    assert problem.distance[0, 1] == 186
    assert problem.service[0] == 900 and problem.windows[0] == (9120, 9670)


def test_pyvrp_reaches_the_best_known_c101_distance_within_one_percent_in_two_seconds():
    bench = bench_module()
    problem = bench.solomon_problem(SHARED / "solomon" / "original" / "C101.txt")
    result = solver.route(problem, engine="pyvrp", seconds=2.0, seed=1)
    assert result.feasible
    assert result.distance / 10 <= bench.bks()["C101"] * 1.01


def test_ce01_carrier_prices_become_prizes_and_the_plan_cost_is_recomputed_exactly():
    bench = bench_module()
    problem, exact = bench.vrppc_problem(SHARED / "vrppc" / "CE-01.txt")
    assert problem.num_clients == 50 and not any(problem.required)
    nobody = solver.RoutingResult("none", True, (), 0, 0, 0.0)
    assert bench.vrppc_exact_cost(problem, exact, nobody) == pytest.approx(sum(problem.prize) / 1000)
