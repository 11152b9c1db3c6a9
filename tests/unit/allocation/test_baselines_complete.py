"""Issue 22: every baseline returns a complete plan, so the benchmark compares like with like."""

from __future__ import annotations

from decimal import Decimal

import pytest

from allocation import baselines, generator, model, rules
from tests.unit.allocation import helpers as h
from tests.unit.allocation.test_solver_budget import van_only_day


def promised_today_day() -> model.Problem:
    """A small van that fits two stops, three packages no partner delivers in time, one nobody may take."""
    today = {"promise_days": 0}
    packages = [
        h.pkg("v0", 1, 0, **today),
        h.pkg("v1", 2, 0, **today),
        h.pkg("v2", 3, 0, **today),
        h.pkg("p0", 4, 0),
        h.pkg("gone", 5, 0, "500", **today),  # too heavy for the van, and every partner refuses it
    ]
    slow = (h.offer("A", "6", meets_promise=False, transit_days=2), h.offer("B", "5", meets_promise=False))
    options = {
        "v0": slow,
        "v1": slow,
        "v2": slow,
        "p0": (h.offer("A", "4"),),
        "gone": (h.offer("A", "9", eligible=False, reason="over 70 kg"),),
    }
    return h.day(packages, [h.van("V1", max_stops=2)], options)


@pytest.mark.parametrize("name", sorted(baselines.BASELINES))
def test_every_baseline_places_every_package_some_carrier_may_take(name):
    day = promised_today_day()
    plan = baselines.BASELINES[name](day)
    placed = {s.package_id for r in plan.routes for s in r.stops} | {
        i for ho in plan.handovers for i in ho.package_ids
    }
    assert placed == {"v0", "v1", "v2", "p0"}
    assert plan.unassigned == ("gone",)
    assert baselines.penalised_cost(plan) == plan.total_cost.amount + baselines.FAILED_DELIVERY_PENALTY
    # What a van could not take goes late to the cheapest partner, counted and reported.
    assert plan.late and set(plan.late) <= {"v0", "v1", "v2"}
    for pid in plan.late:
        d = plan.decision(pid)
        assert (d.assignee, d.cost.amount) == ("B", Decimal(5)) and d.detail.startswith("late:")
        assert "no partner meets the promise" in d.detail
    assert any(set(plan.late) <= set(i.package_ids) for i in plan.issues)
    assert any("gone" in i.package_ids for i in plan.issues)
    handed = sum((ho.cost.amount for ho in plan.handovers), Decimal(0))
    assert plan.partner_cost.amount == handed


def test_rate_shopping_puts_what_no_partner_delivers_in_time_on_the_vans_and_the_rest_late():
    plan = baselines.cheapest_partner(promised_today_day())
    (route,) = plan.routes  # the van takes two of the three no partner delivers today
    on_van = {s.package_id for s in route.stops}
    assert len(on_van) == 2 and on_van < {"v0", "v1", "v2"}
    assert plan.late == tuple({"v0", "v1", "v2"} - on_van)  # the third goes late, not dropped
    assert plan.decision("p0").assignee == "A"  # what a partner delivers in time goes to the partner
    assert plan.total_cost.amount == route.cost.amount + 4 + 5


@pytest.mark.parametrize("name", sorted(baselines.BASELINES))
def test_baselines_are_complete_and_feasible_on_a_generated_day(name):
    day = van_only_day(250, vans=2, seed=3)
    ev = rules.evaluate(day)
    plan = baselines.BASELINES[name](day)
    assert set(plan.unassigned) <= ev.infeasible
    assert len(plan.decisions) == len(day.packages)
    assert not [i for i in plan.issues if "breaks a van limit" in i.message]


def test_nearest_neighbour_fills_the_vans_first_with_the_nearest_packages():
    day = generator.generate_day(200, vans=2, seed=6)
    plan = baselines.nearest_neighbour(day)
    assert plan.routes and plan.method == "fleet first, nearest neighbour"
    first = plan.routes[0].stops[0]
    fleet_ok = [p for p in day.packages if rules.evaluate(day).allowed[p.id].fleet]
    nearest = min(fleet_ok, key=lambda p: day.km_between(day.depot.location, p.location))
    assert day.km_between(day.depot.location, first.location) == pytest.approx(
        day.km_between(day.depot.location, nearest.location)
    )
