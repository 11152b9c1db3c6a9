"""Risk-aware allocation: a minimum on-time probability per package or service level (issue 21).

The cheapest option that is likely enough to arrive on time: an option below the minimum is never
picked while another meets it (and has room); when none meets it, the most likely one is, and the
plan says so.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocation import baselines, model, online, rules, solver
from schemas import money
from tests.unit.allocation import helpers as h

FAST = model.SolveOptions(time_limit_s=0.3, max_iterations=50, seed=0)


def rule_set(*items: dict) -> model.RuleSet:
    return rules.parse({"version": 1, "rules": list(items)})


def min_on_time(rid: str, probability: object, **when: object) -> dict:
    return {"id": rid, "when": dict(when), "action": {"type": "min_on_time", "probability": probability}}


def offer(
    carrier: str, price: str, p: float | None, service: str = "std", **kw: object
) -> model.PartnerOption:
    return model.PartnerOption(
        carrier=carrier,
        service=service,
        cost=money.Money(Decimal(price), "EUR"),
        on_time_probability=p,
        **kw,  # type: ignore[arg-type]
    )


def every_method(problem: model.Problem) -> dict[str, model.Plan]:
    plans = {name: method(problem) for name, method in baselines.BASELINES.items()}
    plans["solver"] = solver.solve(problem, FAST)
    return plans


# ---- parsing and validation ------------------------------------------------------------------


def test_min_on_time_rule_parses_and_round_trips():
    rs = rule_set(min_on_time("express-90", 0.9, service_level=["express"]))
    (rule,) = rs.rules
    assert (rule.action, rule.probability, rule.when.service_levels) == (
        "min_on_time",
        0.9,
        frozenset({"express"}),
    )
    assert rules.parse(rules.to_document(rs)) == rs


@pytest.mark.parametrize(
    ("probability", "message"),
    [
        (1.5, "rules/0/action/probability: probability must be between 0 and 1, got 1.5"),
        (-0.1, "rules/0/action/probability: probability must be between 0 and 1, got -0.1"),
        ("0.9", "rules/0/action/probability: write the probability as a number from 0 to 1"),
        (True, "rules/0/action/probability: write the probability as a number from 0 to 1"),
    ],
)
def test_min_on_time_probability_outside_zero_to_one_is_a_clear_rule_error(probability, message):
    with pytest.raises(rules.RulesError) as err:
        rule_set(min_on_time("r", probability))
    assert any(e.startswith(message) for e in err.value.errors), err.value.errors


def test_min_on_time_needs_a_probability_and_nothing_else():
    errors = rules.validate(
        {"version": 1, "rules": [{"id": "r", "when": {}, "action": {"type": "min_on_time", "target": "A"}}]}
    )
    assert any("'probability' is a required property" in e for e in errors), errors
    assert any("unknown field(s)" in e and "target" in e for e in errors), errors


def test_probabilities_in_the_model_must_be_between_zero_and_one():
    with pytest.raises(model.ModelError, match="between 0 and 1"):
        offer("A", "5", 1.2)
    with pytest.raises(model.ModelError, match="package a: minimum"):
        h.pkg("a", 1, 1, min_on_time_probability=-0.5)
    with pytest.raises(model.ModelError, match="fleet"):
        h.day([], [], {}, fleet_on_time_probability=float("nan"))
    assert offer("A", "5", 0.0).on_time_probability == 0.0  # both ends are fine
    assert offer("A", "5", 1).on_time_probability == 1


# ---- evaluation --------------------------------------------------------------------------------


def test_a_service_level_rule_drops_partner_options_below_the_minimum_when_another_meets_it():
    options = (offer("A", "5", 0.8), offer("A", "9", 0.95, service="express"), offer("B", "7", 0.7))
    problem = h.day(
        [h.pkg("x", 1, 1, service_level="express"), h.pkg("s", 1, 1)],
        [],
        {"x": options, "s": options},
        rule_set(min_on_time("express-90", 0.9, service_level=["express"])),
    )
    ev = rules.evaluate(problem)
    express, standard = ev.allowed["x"], ev.allowed["s"]
    assert {c: o.service for c, o in express.carriers.items()} == {"A": "express"}
    assert express.on_time.dropped == frozenset({"B"}) and express.on_time.rule_ids == ("express-90",)
    assert {c: o.service for c, o in standard.carriers.items()} == {"A": "std", "B": "std"}
    assert not ev.issues


def test_unknown_probability_never_meets_a_minimum_another_option_meets():
    problem = h.day(
        [h.pkg("a", 1, 1, min_on_time_probability=0.9)],
        [],
        {"a": (offer("A", "3", None), offer("B", "8", 0.92))},
    )
    assert set(rules.evaluate(problem).allowed["a"].carriers) == {"B"}


def test_when_nothing_is_known_every_option_stays_and_the_plan_says_so():
    problem = h.day(
        [h.pkg("a", 1, 1, min_on_time_probability=0.9)],
        [h.van("V1")],
        {"a": (offer("A", "3", None), offer("B", "8", None))},
    )
    ev = rules.evaluate(problem)
    assert ev.allowed["a"].targets == {"A", "B", model.FLEET}
    (issue,) = ev.issues
    assert issue.kind == "on_time_risk" and issue.package_ids == ("a",) and "90%" in issue.message


def test_rules_come_first_a_required_target_is_kept_below_the_minimum():
    problem = h.day(
        [h.pkg("a", 1, 1)],
        [],
        {"a": (offer("A", "3", 0.5), offer("B", "8", 0.99))},
        rule_set(
            {"id": "only-a", "when": {}, "action": {"type": "require", "target": "A"}},
            min_on_time("all-90", 0.9),
        ),
    )
    ev = rules.evaluate(problem)
    assert set(ev.allowed["a"].carriers) == {"A"}
    assert [i.kind for i in ev.issues] == ["on_time_risk"]
    assert ev.issues[0].rule_ids == ("all-90",)


def test_the_strictest_minimum_wins():
    problem = h.day(
        [h.pkg("a", 1, 1, service_level="express", min_on_time_probability=0.5)],
        [],
        {"a": (offer("A", "3", 0.85), offer("B", "8", 0.97))},
        rule_set(min_on_time("low", 0.6), min_on_time("high", 0.95, service_level=["express"])),
    )
    allowed = rules.evaluate(problem).allowed["a"]
    assert set(allowed.carriers) == {"B"}
    assert (allowed.on_time.minimum, allowed.on_time.rule_ids) == (0.95, ("high", "low"))


# ---- plans: solver, baselines, online ------------------------------------------------------------


def test_every_method_picks_the_cheapest_option_likely_enough_and_says_why():
    problem = h.day(
        [h.pkg("a", 30, 0, service_level="express")],
        [],
        {"a": (offer("A", "4", 0.8), offer("B", "6", 0.93), offer("C", "9", 0.99))},
        rule_set(min_on_time("express-90", 0.9, service_level=["express"])),
    )
    for name, result in every_method(problem).items():
        d = result.decision("a")
        assert d.assignee == "B", name
        assert "on-time probability 93% against the required 90%" in d.detail, (name, d.detail)


def test_a_van_known_to_be_reliable_beats_a_cheaper_partner_below_the_minimum():
    problem = h.day(
        [h.pkg("a", 30, 0, min_on_time_probability=0.95)],
        [h.van("V1")],
        {"a": (offer("A", "1", 0.9),)},
        fleet_on_time_probability=0.98,
    )
    for name, result in every_method(problem).items():
        d = result.decision("a")
        assert d.assignee == model.FLEET, name
        if name == "solver":
            assert (d.reason, "98%" in d.detail) == ("eligibility", True), d
    decision = online.decide(
        h.day([], [h.van("V1")], {}, fleet_on_time_probability=0.98),
        baselines.fleet_first(h.day([], [h.van("V1")], {})),
        h.pkg("a", 30, 0, min_on_time_probability=0.95),
        (offer("A", "1", 0.9),),
    )
    assert decision.assignee == model.FLEET and "98%" in decision.detail


def test_a_partner_likely_enough_beats_a_cheap_van_of_unknown_reliability():
    problem = h.day(
        [h.pkg("a", 1, 0)],
        [h.van("V1")],
        {"a": (offer("A", "40", 0.95),)},
        rule_set(min_on_time("all", 0.9)),
    )
    for name, result in every_method(problem).items():
        d = result.decision("a")
        assert (d.assignee, d.reason, d.rule_ids) == ("A", "rule", ("all",)), (name, d)
        assert "van's on-time probability (unknown) is below the required 90%" in d.detail, d.detail


def test_when_no_option_meets_the_minimum_the_most_likely_one_is_used_and_reported():
    problem = h.day(
        [h.pkg("a", 30, 0, min_on_time_probability=0.99)],
        [],
        {"a": (offer("A", "4", 0.8), offer("B", "6", 0.9), offer("C", "5", 0.9, service="x"))},
    )
    for name, result in every_method(problem).items():
        d = result.decision("a")
        assert (d.assignee, d.service) == ("C", "x"), name  # 90%, then the cheaper one
        assert "no option meets it" in d.detail
        assert any(i.kind == "on_time_risk" and "a" in i.package_ids for i in result.issues), name
        assert not result.unassigned


def test_a_package_is_never_left_undelivered_because_the_option_that_meets_it_has_no_room():
    # Only the van meets the minimum, and it is full: the partner below the minimum takes it.
    problem = h.day(
        [h.pkg("big", 1, 0, "9"), h.pkg("a", 2, 0, "5", min_on_time_probability=0.95)],
        [h.van("V1", kg="10")],
        {"a": (offer("A", "30", 0.7),)},
        fleet_on_time_probability=0.99,
    )
    for name, result in every_method(problem).items():
        assert not result.unassigned, name
        d = result.decision("a")
        if d.assignee == "A":
            assert "below the required 95%" in d.detail, (name, d.detail)
            assert any(i.kind == "on_time_risk" and i.package_ids == ("a",) for i in result.issues), name
        else:
            assert d.assignee == model.FLEET and result.decision("big").assignee != model.FLEET, name


def test_online_falls_back_to_a_partner_below_the_minimum_when_the_vans_are_full():
    day = h.day([h.pkg("big", 1, 0, "10")], [h.van("V1", kg="10")], {}, fleet_on_time_probability=0.99)
    current = baselines.fleet_first(day)
    new = h.pkg("a", 1, 0, "1", min_on_time_probability=0.95)
    decision = online.decide(day, current, new, (offer("A", "9", 0.7), offer("B", "8", 0.6)))
    assert (decision.assignee, decision.reason) == ("A", "capacity")
    assert "70%" in decision.detail and "below the required 95%" in decision.detail


def test_online_keeps_to_options_that_meet_the_minimum():
    day = h.day([], [], {}, rule_set(min_on_time("all-90", 0.9)))
    current = baselines.cheapest_partner(day)
    decision = online.decide(day, current, h.pkg("a", 1, 0), (offer("A", "3", 0.5), offer("B", "9", 0.91)))
    assert decision.assignee == "B" and "91%" in decision.detail


# ---- property: never below the minimum while another option meets it -----------------------------

PROBS = (None, 0.3, 0.6, 0.85, 0.9, 0.95, 1.0)


@st.composite
def risky_days(draw: st.DrawFn, roomy: bool) -> model.Problem:
    n = draw(st.integers(2, 7))
    packages = [
        h.pkg(
            f"p{i}",
            draw(st.integers(-20, 20)),
            draw(st.integers(-20, 20)),
            str(draw(st.integers(1, 8))),
            service_level=draw(st.sampled_from(["standard", "express"])),
            min_on_time_probability=draw(st.sampled_from([None, None, 0.5, 0.9])),
        )
        for i in range(n)
    ]
    options = {
        p.id: tuple(
            offer(
                c,
                str(draw(st.integers(3, 40))),
                draw(st.sampled_from(PROBS)),
                service=s,
                meets_promise=draw(st.sampled_from([True, True, True, False])),
            )
            for c in draw(st.lists(st.sampled_from("ABC"), unique=True, max_size=3))
            for s in draw(st.lists(st.sampled_from(["std", "fast"]), unique=True, min_size=1))
        )
        for p in packages
    }
    if roomy:  # the vans can always take every package: no fallback is ever needed
        vans = [h.van("V1", kg="1000")]
    else:
        vans = [
            h.van(f"V{k}", kg="15", max_stops=draw(st.integers(1, 4))) for k in range(draw(st.integers(0, 2)))
        ]
    docs: list[dict] = []
    for i in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["min_on_time", "min_on_time", "prefer", "forbid"]))
        when = draw(st.sampled_from([{}, {"service_level": ["express"]}]))
        target = draw(st.sampled_from([model.FLEET, "A", "B", "C"]))
        action: dict = {"type": kind}
        if kind == "min_on_time":
            action["probability"] = draw(st.sampled_from([0.5, 0.8, 0.9, 0.95]))
        elif kind == "prefer":
            action.update(target=target, bias=str(draw(st.integers(-30, 30))))
        else:
            action["target"] = target
        docs.append({"id": f"r{i}", "when": when, "action": action})
    fleet_p = draw(st.sampled_from([None, 0.8, 0.95]))
    return h.day(packages, vans, options, rule_set(*docs), fleet_on_time_probability=fleet_p)


def available(problem: model.Problem, pkg: model.Package) -> tuple[float | None, list[float | None]]:
    """The package's minimum and the probabilities of every option it may use, worked out afresh."""
    matched = [r for r in problem.rules.rules if rules.matches(r.when, pkg)]
    forbidden = {r.target for r in matched if r.action == "forbid"}
    minimums = [r.probability for r in matched if r.action == "min_on_time"]
    if pkg.min_on_time_probability is not None:
        minimums.append(pkg.min_on_time_probability)
    probs = [
        o.on_time_probability
        for o in problem.options.get(pkg.id, ())
        if o.usable and o.carrier not in forbidden
    ]
    if problem.vehicles and model.FLEET not in forbidden and rules.fleet_reason(problem, pkg) is None:
        probs.append(problem.fleet_on_time_probability)
    return (max(minimums) if minimums else None), probs


def chosen(problem: model.Problem, d: model.Decision) -> float | None:
    if d.assignee == model.FLEET:
        return problem.fleet_on_time_probability
    (opt,) = [o for o in problem.options[d.package_id] if (o.carrier, o.service) == (d.assignee, d.service)]
    return opt.on_time_probability


def check(problem: model.Problem, result: model.Plan, *, roomy: bool) -> None:
    for pkg in problem.packages:
        d = result.decision(pkg.id)
        minimum, probs = available(problem, pkg)
        if minimum is None or not d.assignee or pkg.id in result.late:
            continue
        p = chosen(problem, d)
        if any(q is not None and q >= minimum for q in probs):
            if p is None or p < minimum:
                # Only a fallback, when nothing that meets it had room, and always reported.
                assert not roomy, (pkg.id, d, probs)
                assert any(i.kind == "on_time_risk" and pkg.id in i.package_ids for i in result.issues)
        else:
            assert any(i.kind == "on_time_risk" and pkg.id in i.package_ids for i in result.issues)
            known = [q for q in probs if q is not None]
            if roomy and known:
                assert p == max(known), (pkg.id, d, probs)  # the most likely option


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(risky_days(roomy=True))
def test_no_method_picks_an_option_below_the_minimum_while_another_meets_it(problem):
    for name, result in every_method(problem).items():
        try:
            check(problem, result, roomy=True)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc
        assert set(result.unassigned) <= rules.evaluate(problem).infeasible, name


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(risky_days(roomy=False))
def test_with_full_vans_a_package_below_the_minimum_is_only_ever_a_reported_fallback(problem):
    for name, result in every_method(problem).items():
        try:
            check(problem, result, roomy=False)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc
        if result.lower_bound is not None:  # a fallback's price counts in the bound too
            assert result.lower_bound.amount <= result.total_cost.amount, name
