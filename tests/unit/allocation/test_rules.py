from __future__ import annotations

import json
from decimal import Decimal

import jsonschema
import pytest

from allocation import model, rules
from tests.unit.allocation import helpers as h


def doc(*items: dict) -> dict:
    return {"version": 1, "rules": list(items)}


def rule(rid: str, action: dict, when: dict | None = None) -> dict:
    return {"id": rid, "when": when or {}, "action": action}


def test_schema_document_is_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(rules.load_schema())


def test_unknown_action_type_is_reported_with_its_path():
    with pytest.raises(rules.RulesError) as err:
        rules.parse(doc(rule("r1", {"type": "forbidd", "target": "fleet"})))
    assert any(e.startswith("rules/0/action/type:") and "'forbidd'" in e for e in err.value.errors)


def test_cap_without_a_limit_names_the_missing_fields():
    with pytest.raises(rules.RulesError) as err:
        rules.parse(doc(rule("cap1", {"type": "cap", "carrier": "UPS"})))
    assert any("max_packages" in e and "max_kg" in e for e in err.value.errors)


def test_money_as_float_and_unknown_condition_field_are_both_reported():
    bad = doc(rule("p1", {"type": "prefer", "target": "UPS", "bias": -1.5}, {"colour": ["red"]}))
    with pytest.raises(rules.RulesError) as err:
        rules.parse(bad)
    text = "\n".join(err.value.errors)
    assert 'rules/0/action/bias: write -1.5 as a decimal string ("-1.5")' in text
    assert "rules/0/when" in text and "colour" in text


def test_duplicate_ids_and_inverted_ranges_are_rejected():
    bad = doc(
        rule("same", {"type": "forbid", "target": "fleet"}, {"weight_kg": {"min": "10", "max": "2"}}),
        rule("same", {"type": "forbid", "target": "UPS"}),
    )
    with pytest.raises(rules.RulesError) as err:
        rules.parse(bad)
    text = "\n".join(err.value.errors)
    assert "duplicate rule id 'same'" in text
    assert "min 10 is above max 2" in text


def test_fleet_cannot_be_capped_like_a_carrier():
    errors = rules.validate(doc(rule("c", {"type": "cap", "carrier": "fleet", "max_packages": 3})))
    assert errors == [
        "rules/0/action/carrier: 'fleet' is not allowed here: caps and commitments apply to partner carriers"
    ]


def test_document_round_trips_through_parse_and_to_document():
    original = doc(
        rule("a", {"type": "forbid", "target": "fleet"}, {"hazmat": True, "postal_prefix": ["75", "92"]}),
        rule("b", {"type": "prefer", "target": "UPS", "bias": "-0.50"}, {"value": {"min": "100"}}),
        rule("c", {"type": "cap", "carrier": "UPS", "max_kg": "250.5"}, {"zone": ["Z1"]}),
        rule("d", {"type": "commit", "carrier": "DHL", "period": "2026-11", "min_packages": 900}),
        rule("e", {"type": "ship_together", "by": "tenant"}, {"tenant": ["acme"]}),
    )
    parsed = rules.parse(original)
    again = rules.parse(json.loads(json.dumps(rules.to_document(parsed))))
    assert again == parsed


def test_conditions_match_on_every_attribute():
    p = h.pkg(
        "p",
        0,
        0,
        "12",
        zone="Z2",
        postal_code="75011",
        service_level="express",
        tags=frozenset({"a", "b"}),
        tenant="acme",
        dims_cm=(Decimal(80), Decimal(20), Decimal(10)),
    )
    yes = rules.parse(
        doc(
            rule(
                "r",
                {"type": "forbid", "target": "fleet"},
                {
                    "zone": ["Z2"],
                    "postal_prefix": ["75"],
                    "weight_kg": {"min": "10", "max": "12"},
                    "longest_side_cm": {"max": "80"},
                    "service_level": ["express"],
                    "tags_all": ["a", "b"],
                    "tenant": ["acme"],
                },
            )
        )
    )
    assert rules.matches(yes.rules[0].when, p)
    no = rules.parse(doc(rule("r", {"type": "forbid", "target": "fleet"}, {"postal_prefix": ["92"]})))
    assert not rules.matches(no.rules[0].when, p)


def test_forbid_removes_the_target_and_names_the_rule():
    rs = rules.parse(
        doc(rule("no-van-heavy", {"type": "forbid", "target": "fleet"}, {"weight_kg": {"min": "20"}}))
    )
    problem = h.day(
        [h.pkg("heavy", 1, 1, "25"), h.pkg("light", 1, 1, "2")],
        [h.van("V1")],
        {"heavy": (h.offer("UPS", "9"),), "light": (h.offer("UPS", "5"),)},
        rs,
    )
    ev = rules.evaluate(problem)
    assert ev.allowed["heavy"].targets == {"UPS"}
    assert ev.allowed["heavy"].removed_by == {model.FLEET: ("no-van-heavy",)}
    assert ev.allowed["light"].targets == {"UPS", model.FLEET}


def test_contradicting_requires_are_reported_as_a_conflict_with_both_rules():
    rs = rules.parse(
        doc(
            rule("to-van", {"type": "require", "target": "fleet"}, {"tenant": ["acme"]}),
            rule("to-ups", {"type": "require", "target": "UPS"}, {"zone": ["Z1"]}),
        )
    )
    problem = h.day(
        [h.pkg("p", 1, 1, tenant="acme", zone="Z1")], [h.van("V1")], {"p": (h.offer("UPS", "5"),)}, rs
    )
    ev = rules.evaluate(problem)
    kinds = {(i.kind, i.rule_ids) for i in ev.issues}
    assert ("conflict", ("to-ups", "to-van")) in kinds
    assert ("no_feasible_option", ("to-ups", "to-van")) in kinds
    assert ev.infeasible == {"p"}


def test_rules_that_leave_no_option_are_reported_not_dropped():
    rs = rules.parse(
        doc(
            rule("no-van", {"type": "forbid", "target": "fleet"}, {"hazmat": True}),
            rule("no-ups", {"type": "forbid", "target": "UPS"}, {"hazmat": True}),
        )
    )
    problem = h.day([h.pkg("p", 1, 1, hazmat=True)], [h.van("V1")], {"p": (h.offer("UPS", "5"),)}, rs)
    issue = next(i for i in rules.evaluate(problem).issues if i.kind == "no_feasible_option")
    assert issue.rule_ids == ("no-ups", "no-van") and issue.package_ids == ("p",)


def test_partner_missing_the_promise_is_not_an_option():
    problem = h.day(
        [h.pkg("p", 1, 1, promise_days=1)],
        [],
        {
            "p": (
                h.offer("Slow", "2", transit_days=3, meets_promise=False),
                h.offer("Fast", "6", transit_days=1),
            ),
        },
    )
    assert rules.evaluate(problem).allowed["p"].targets == {"Fast"}


def test_commitment_asks_today_for_the_remaining_minimum_spread_over_days_left():
    rs = rules.parse(
        doc(
            rule("dhl-month", {"type": "commit", "carrier": "DHL", "period": "2026-11", "min_packages": 1000})
        )
    )
    problem = h.day(
        [h.pkg("p", 1, 1)],
        [h.van("V1")],
        {"p": (h.offer("DHL", "5"),)},
        rs,
        progress=(model.PeriodProgress("DHL", shipped_packages=900, days_left=3),),
    )
    ev = rules.evaluate(problem)
    assert ev.commitments[0].min_packages == 34  # ceil(100 / 3)
    assert any(i.kind == "commitment_shortfall" and i.rule_ids == ("dhl-month",) for i in ev.issues)


def test_ship_together_group_without_a_shared_carrier_is_reported():
    problem = h.day(
        [h.pkg("a", 1, 1, group="G"), h.pkg("b", 2, 2, group="G", hazmat=True)],
        [],
        {"a": (h.offer("UPS", "5"),), "b": (h.offer("DHL", "5"),)},
    )
    issues = rules.evaluate(problem).issues
    assert any(i.kind == "no_feasible_option" and set(i.package_ids) == {"a", "b"} for i in issues)


def test_a_parcel_a_playbook_moved_to_a_partner_never_goes_back_on_a_van():
    moved = h.pkg("moved", 1, 1, tags=frozenset({rules.MOVE_TO_PARTNER_TAG}))
    plain = h.pkg("plain", 1, 2)
    problem = h.day(
        [moved, plain],
        [h.van("V1")],
        {"moved": (h.offer("ups", "9.00"),), "plain": (h.offer("ups", "9.00"),)},
        rules.with_built_ins(rules.parse(doc())),
    )
    allowed = rules.evaluate(problem).allowed
    assert allowed["moved"].targets == {"ups"}
    assert allowed["moved"].removed_by[model.FLEET] == ("builtin:move_to_partner",)
    assert allowed["plain"].targets == {"ups", model.FLEET}
