from __future__ import annotations

import json
import time
from dataclasses import replace
from decimal import Decimal

import pytest

from allocation import baselines, generator, model, online, rules
from schemas import money
from tests.unit.allocation import helpers as h


def test_same_seed_gives_the_same_day_and_another_seed_a_different_one():
    a, b, c = (
        generator.generate_day(300, seed=7),
        generator.generate_day(300, seed=7),
        generator.generate_day(300, seed=8),
    )
    assert a == b
    assert a.packages != c.packages


def test_default_day_has_two_thousand_packages_twentyfive_vans_and_three_priced_partners():
    day = generator.generate_day()
    assert len(day.packages) == 2000 and len(day.vehicles) == 25
    carriers = {o.carrier for opts in day.options.values() for o in opts}
    assert carriers == {"ParcelCo", "SwiftExpress", "CheapPost"}
    assert all(isinstance(o.cost.amount, Decimal) for opts in day.options.values() for o in opts)


def test_heavier_and_farther_packages_cost_more_with_every_partner():
    near = h.pkg("n", 1, 1, "2", zone="Z1")
    far_heavy = h.pkg("f", 70, 0, "9", zone="Z4")
    for a, b in zip(generator.partner_options(near), generator.partner_options(far_heavy), strict=True):
        assert b.cost.amount > a.cost.amount


def test_cheapest_partner_baseline_costs_the_sum_of_cheapest_allowed_prices():
    day = generator.generate_day(200, vans=3, seed=3)
    ev = rules.evaluate(day)
    plan = baselines.cheapest_partner(day)
    expected = sum(
        (min(o.cost.amount for o in a.carriers.values()) for a in ev.allowed.values() if a.carriers),
        Decimal(0),
    )
    assert plan.total_cost.amount == expected and plan.routes == ()


def test_fleet_first_fills_vans_and_first_matching_rule_keeps_hazmat_off_them():
    day = generator.generate_day(300, vans=4, seed=3)
    fleet_first = baselines.fleet_first(day)
    assert fleet_first.routes and fleet_first.fleet_share_percent() > 20
    first_rule = baselines.first_matching_rule(day)
    hazmat = {p.id for p in day.packages if p.hazmat}
    assert all(first_rule.decision(i).assignee != model.FLEET for i in hazmat)


def test_online_decision_takes_well_under_100_ms_on_a_busy_plan():
    day = generator.generate_day(800, vans=10, seed=5)
    current = baselines.fleet_first(day)
    stop = current.routes[0].stops[1]
    new = h.pkg("NEW", stop.location.x + 0.05, stop.location.y, "1", zone="Z3", promise_days=2)
    durations = []
    for _ in range(5):
        started = time.perf_counter()
        decision = online.decide(day, current, new, generator.partner_options(new))
        durations.append(time.perf_counter() - started)
    assert sorted(durations)[2] < 0.1
    assert decision.assignee in (model.FLEET, "ParcelCo", "SwiftExpress", "CheapPost")
    assert decision.fleet_cost is not None  # a van passes by, so an insertion exists


def test_online_sends_a_package_next_to_a_stop_to_that_van_when_partners_are_dear():
    day = h.day([h.pkg("a", 5, 0), h.pkg("b", 5, 5)], [h.van("V1")], {})
    current = baselines.fleet_first(day)
    new = h.pkg("c", 5, 2.5, "1")
    decision = online.decide(day, current, new, (h.offer("A", "30"),))
    assert (decision.assignee, decision.vehicle_id, decision.reason) == (model.FLEET, "V1", "cost")
    assert decision.position == 1


def test_online_respects_rules_and_names_them():
    rs = rules.parse(
        {
            "version": 1,
            "rules": [
                {"id": "no-haz", "when": {"hazmat": True}, "action": {"type": "forbid", "target": "fleet"}}
            ],
        }
    )
    day = h.day([h.pkg("a", 5, 0)], [h.van("V1")], {}, rs)
    current = baselines.fleet_first(day)
    decision = online.decide(day, current, h.pkg("haz", 5, 0.1, hazmat=True), (h.offer("A", "30"),))
    assert (decision.assignee, decision.reason, decision.rule_ids) == ("A", "rule", ("no-haz",))


def test_online_refuses_a_capped_carrier_once_the_plan_used_up_its_cap():
    rs = rules.parse(
        {
            "version": 1,
            "rules": [
                {"id": "a-cap", "when": {}, "action": {"type": "cap", "carrier": "A", "max_packages": 1}}
            ],
        }
    )
    day = h.day([h.pkg("a", 5, 0)], [], {"a": (h.offer("A", "3"),)}, rs)
    current = baselines.cheapest_partner(day)
    decision = online.decide(day, current, h.pkg("b", 5, 1), (h.offer("A", "3"), h.offer("B", "9")))
    assert decision.assignee == "B" and "a-cap" in decision.rule_ids


def test_plan_serialises_to_json_with_money_as_decimal_strings():
    day = generator.generate_day(60, vans=2, seed=2)
    plan = baselines.fleet_first(day)
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["total_cost"]["currency"] == "EUR"
    assert Decimal(data["total_cost"]["amount"]) == plan.total_cost.rounded().amount
    assert len(data["decisions"]) == 60
    assert {"stops", "load_kg", "duration_minutes", "cost"} <= set(data["routes"][0])


def test_problem_rejects_partner_options_in_another_currency():
    dollars = replace(h.offer("A", "3"), cost=money.Money(Decimal(3), "USD"))
    with pytest.raises(model.ModelError, match="USD"):
        h.day([h.pkg("a", 1, 1)], [], {"a": (dollars,)})
