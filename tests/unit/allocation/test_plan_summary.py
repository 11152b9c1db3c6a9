"""A plan's summary says how likely its chosen options are to arrive on time (what-ifs compare it)."""

from __future__ import annotations

from allocation import baselines, model, solver
from gateway.allocation import results
from tests.unit.allocation import helpers as h
from tests.unit.allocation.test_on_time import FAST, offer


def test_the_mean_on_time_probability_counts_each_chosen_option_once_and_unknowns_apart():
    problem = h.day(
        [h.pkg("a", 30, 0), h.pkg("b", 31, 0), h.pkg("c", 32, 0)],
        [],  # no van: every package goes to its partner
        {"a": (offer("A", "5", 0.9),), "b": (offer("B", "5", 0.7),), "c": (offer("C", "5", None),)},
    )
    plan = solver.solve(problem, FAST)

    on_time = results.summarise(problem, plan)["on_time"]

    assert on_time == {"mean_probability": "0.800", "known": 2, "unknown": 1}


def test_a_van_counts_with_the_fleets_reliability_and_is_unknown_without_it():
    packages = [h.pkg("a", 1, 0)]
    options = {"a": (offer("A", "40", 0.6),)}
    reliable = h.day(packages, [h.van("V1")], options, fleet_on_time_probability=0.98)
    plan = baselines.fleet_first(reliable)
    assert plan.decision("a").assignee == model.FLEET
    assert results.summarise(reliable, plan)["on_time"] == {
        "mean_probability": "0.980",
        "known": 1,
        "unknown": 0,
    }

    unknown = h.day(packages, [h.van("V1")], options)
    plan = baselines.fleet_first(unknown)
    assert results.summarise(unknown, plan)["on_time"] == {"mean_probability": None, "known": 0, "unknown": 1}
