"""The assignment-level rules that routing cannot express, settled by CP-SAT."""

from __future__ import annotations

from allocation import generator, model, rules, solver
from tests.unit.allocation import helpers as h

QUICK = model.SolveOptions(time_limit_s=1.0, max_iterations=300, seed=0)


def doc(*items: dict) -> model.RuleSet:
    return rules.parse({"version": 1, "rules": list(items)})


def test_capped_partner_overflow_is_routed_on_the_van_instead_of_dropped():
    packages = [h.pkg(f"p{i}", 1 + i, 1) for i in range(3)]
    options = {p.id: (h.offer("A", "2"),) for p in packages}
    rs = doc({"id": "a-cap", "when": {}, "action": {"type": "cap", "carrier": "A", "max_packages": 1}})
    plan = solver.solve(h.day(packages, [h.van("V1")], options, rs), QUICK)
    assignees = [d.assignee for d in plan.decisions]
    assert assignees.count("A") <= 1
    assert assignees.count(model.FLEET) >= 2
    assert plan.unassigned == ()


def test_commitment_pulls_a_stop_off_the_van_to_meet_the_minimum():
    packages = [h.pkg("p0", 1, 0), h.pkg("p1", 1, 1)]
    options = {p.id: (h.offer("B", "30"),) for p in packages}
    rs = doc(
        {
            "id": "b-min",
            "when": {},
            "action": {"type": "commit", "carrier": "B", "period": "P", "min_packages": 1},
        }
    )
    plan = solver.solve(h.day(packages, [h.van("V1")], options, rs), QUICK)
    assert sorted(d.assignee for d in plan.decisions) == ["B", model.FLEET]
    assert not [i for i in plan.issues if i.kind == "commitment_shortfall"]


def test_unmeetable_commitment_is_reported_with_its_rule():
    packages = [h.pkg("p0", 1, 0)]
    rs = doc(
        {
            "id": "b-min",
            "when": {},
            "action": {"type": "commit", "carrier": "B", "period": "P", "min_packages": 5},
        }
    )
    plan = solver.solve(h.day(packages, [h.van("V1")], {"p0": (h.offer("B", "3"),)}, rs), QUICK)
    assert plan.decision("p0").assignee == "B"
    assert any(i.kind == "commitment_shortfall" and i.rule_ids == ("b-min",) for i in plan.issues)


def test_package_only_the_fleet_may_take_but_cannot_fit_is_reported_unassigned():
    packages = [h.pkg("big", 1, 1, "150")]
    plan = solver.solve(h.day(packages, [h.van("V1", kg="100")], {"big": ()}), QUICK)
    assert plan.unassigned == ("big",)
    assert plan.decision("big").reason == "infeasible"
    assert any("big" in i.package_ids for i in plan.issues)


def test_ship_together_members_share_one_carrier_even_when_another_is_cheaper_for_one():
    packages = [h.pkg("a", 30, 30, group="G"), h.pkg("b", 31, 30, group="G")]
    options = {"a": (h.offer("A", "5"), h.offer("B", "9")), "b": (h.offer("A", "9"), h.offer("B", "5"))}
    plan = solver.solve(h.day(packages, [], options), QUICK)
    assert plan.decision("a").assignee == plan.decision("b").assignee


def test_decisions_explain_rule_cost_and_eligibility():
    rs = doc(
        {"id": "no-hazmat-van", "when": {"hazmat": True}, "action": {"type": "forbid", "target": "fleet"}}
    )
    packages = [h.pkg("haz", 1, 1, hazmat=True), h.pkg("near", 1, 0), h.pkg("heavy", 2, 2, "500")]
    options = {p.id: (h.offer("A", "40"),) for p in packages}
    plan = solver.solve(h.day(packages, [h.van("V1")], options, rs), QUICK)
    haz, near, heavy = (plan.decision(i) for i in ("haz", "near", "heavy"))
    assert (haz.assignee, haz.reason, haz.rule_ids) == ("A", "rule", ("no-hazmat-van",))
    assert (near.assignee, near.reason) == (model.FLEET, "cost")
    assert near.cost.amount < near.best_partner_cost.amount
    assert (heavy.assignee, heavy.reason) == ("A", "eligibility")
    assert [h_.carrier for h_ in plan.handovers] == ["A"]
    assert plan.handovers[0].package_ids == ("haz", "heavy")


def test_same_seed_and_iteration_cap_give_the_same_plan():
    day = generator.generate_day(60, vans=2, seed=4)
    options = model.SolveOptions(time_limit_s=30, max_iterations=200, seed=3)
    first, second = solver.solve(day, options), solver.solve(day, options)
    assert first.decisions == second.decisions and first.routes == second.routes
