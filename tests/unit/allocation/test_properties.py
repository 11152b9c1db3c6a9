"""Every rule holds in every plan, or the plan reports the violation as infeasible."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocation import model, plan, rules, solver
from tests.unit.allocation import helpers as h

CARRIERS = ("A", "B", "C")
TARGETS = (model.FLEET, *CARRIERS)
ZONES = ("Z1", "Z2")
TENANTS = ("t1", "t2")


@st.composite
def condition(draw: st.DrawFn) -> dict:
    kind = draw(st.sampled_from(["all", "zone", "tenant", "hazmat", "heavy"]))
    return {
        "all": {},
        "zone": {"zone": [draw(st.sampled_from(ZONES))]},
        "tenant": {"tenant": [draw(st.sampled_from(TENANTS))]},
        "hazmat": {"hazmat": True},
        "heavy": {"weight_kg": {"min": "5"}},
    }[kind]


@st.composite
def rule_doc(draw: st.DrawFn, i: int) -> dict:
    kind = draw(st.sampled_from(["forbid", "require", "prefer", "cap", "commit", "ship_together"]))
    action: dict = {"type": kind}
    if kind in ("forbid", "require"):
        action["target"] = draw(st.sampled_from(TARGETS))
    elif kind == "prefer":
        action["target"] = draw(st.sampled_from(TARGETS))
        action["bias"] = str(draw(st.integers(-8, 8)))
    elif kind == "cap":
        action["carrier"] = draw(st.sampled_from(CARRIERS))
        if draw(st.booleans()):
            action["max_packages"] = draw(st.integers(0, 3))
        else:
            action["max_kg"] = str(draw(st.integers(0, 12)))
    elif kind == "commit":
        action.update(
            carrier=draw(st.sampled_from(CARRIERS)), period="P", min_packages=draw(st.integers(1, 4))
        )
    else:
        action["by"] = draw(st.sampled_from(["tenant", "zone"]))
    return {"id": f"r{i}", "when": draw(condition()), "action": action}


@st.composite
def days(draw: st.DrawFn) -> model.Problem:
    n = draw(st.integers(2, 7))
    packages = [
        h.pkg(
            f"p{i}",
            draw(st.integers(-20, 20)),
            draw(st.integers(-20, 20)),
            str(draw(st.integers(1, 8))),
            zone=draw(st.sampled_from(ZONES)),
            tenant=draw(st.sampled_from(TENANTS)),
            hazmat=draw(st.booleans()),
            group=draw(st.sampled_from([None, None, "g1", "g2"])),
        )
        for i in range(n)
    ]
    options = {
        p.id: tuple(
            h.offer(c, str(draw(st.integers(3, 40))))
            for c in draw(st.lists(st.sampled_from(CARRIERS), unique=True, max_size=3))
        )
        for p in packages
    }
    vans = [
        h.van(f"V{k}", kg="15", max_stops=draw(st.integers(1, 4))) for k in range(draw(st.integers(0, 2)))
    ]
    rule_set = rules.parse(
        {"version": 1, "rules": [draw(rule_doc(i)) for i in range(draw(st.integers(0, 4)))]}
    )
    return h.day(packages, vans, options, rule_set)


def named(issues: tuple[model.Issue, ...], package_id: str) -> bool:
    return any(package_id in i.package_ids for i in issues)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days())
def test_every_rule_is_respected_or_the_violation_is_reported(problem):
    result = solver.solve(problem, model.SolveOptions(time_limit_s=0.3, max_iterations=50, seed=0))
    check_plan(problem, result)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days())
def test_the_ortools_engine_respects_every_rule_too(problem):
    check_plan(problem, solver.solve(problem, model.SolveOptions(engine="ortools", time_limit_s=0.2, seed=0)))


def check_plan(problem: model.Problem, result: model.Plan) -> None:
    ev = rules.evaluate(problem)
    weights = {p.id: p.weight_kg for p in problem.packages}
    assert Counter(d.package_id for d in result.decisions) == Counter(p.id for p in problem.packages)
    where = {d.package_id: d for d in result.decisions}

    for d in result.decisions:
        if d.assignee:
            assert d.assignee in ev.allowed[d.package_id].targets, d
        else:
            assert named(result.issues, d.package_id), f"{d.package_id} dropped without an issue"

    for cap in ev.caps:
        taken = [i for i in cap.package_ids if where[i].assignee == cap.carrier]
        if cap.max_packages is not None:
            assert len(taken) <= cap.max_packages
        if cap.max_kg is not None:
            assert sum((weights[i] for i in taken), Decimal(0)) <= cap.max_kg

    for com in ev.commitments:
        sent = sum(1 for i in com.package_ids if where[i].assignee == com.carrier)
        if sent < com.min_packages:
            assert any(i.kind == "commitment_shortfall" and com.rule_id in i.rule_ids for i in result.issues)

    for group in ev.groups:
        members = [where[i] for i in group.package_ids]
        if any(not m.assignee for m in members):
            assert all(named(result.issues, m.package_id) for m in members if not m.assignee)
            continue
        assert len({m.assignee for m in members}) == 1, group
        assert len({m.vehicle_id for m in members}) == 1, group

    vans = {v.id: v for v in problem.vehicles}
    for r in result.routes:
        *_, ok = plan.simulate(problem, vans[r.vehicle_id], [s.package_id for s in r.stops])
        assert ok, r
    assert (
        result.total_cost.amount
        == sum((d.cost.amount for d in result.decisions if d.assignee != model.FLEET), Decimal(0))
        + result.fleet_cost.amount
    )
