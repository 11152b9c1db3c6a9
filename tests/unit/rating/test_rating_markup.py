"""Choosing a tenant's markup rule, and marking up a quote priced elsewhere."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from rating import markup, quote
from schemas import money

TEN = markup.Markup(Decimal(10))
UPS = markup.Markup(fixed=money.Money(Decimal("1.50"), "USD"))
GROUND = markup.Markup(Decimal(0))
RULES = {(markup.ANY, markup.ANY): TEN, ("ups", markup.ANY): UPS, ("ups", "03"): GROUND}


def test_the_most_specific_rule_wins():
    assert markup.choose(RULES, "ups", "03") is GROUND  # zero percent is a rule, not a miss
    assert markup.choose(RULES, "ups", "13") is UPS
    assert markup.choose(RULES, "dhl", "P") is TEN


def test_no_rules_or_no_match_is_no_markup():
    assert markup.choose({}, "ups", "03") is None
    assert markup.choose({("dhl", markup.ANY): TEN}, "ups", "03") is None


def _usd(amount: str) -> money.Money:
    return money.Money(Decimal(amount), "USD")


def test_with_markup_recomputes_every_sell_from_cost_and_leaves_cost_alone():
    lines = (
        quote.ChargeLine("TOTAL", "Carrier quoted total", _usd("8.05"), _usd("8.05")),
        quote.ChargeLine("FSC", "Fuel", _usd("0.25"), _usd("0.25")),
    )
    q = quote.Quote("live:x", 0, "x", "S", "S", "USD", lines, "", Decimal(0), "", date(2026, 1, 2), False)
    # 12.5 %: 8.05 -> 9.05625 -> 9.06; 0.25 -> 0.28125 -> 0.28; then 1.00 fixed on the first line.
    marked = quote.with_markup(q, markup.Markup(Decimal("12.5"), _usd("1.00")))
    assert [(str(line.cost.amount), str(line.sell.amount)) for line in marked.lines] == [
        ("8.05", "10.06"),
        ("0.25", "0.28"),
    ]
    assert marked.total_cost == q.total_cost
    assert quote.with_markup(q, None).lines == q.lines
