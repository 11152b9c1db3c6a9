"""Rate shopping: sorting, the three labels, and failing carriers beside the rates that came back."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest

from rating import errors, quote, shop
from schemas import money


def _q(carrier: str, total: str, eta: date, currency: str = "USD") -> quote.Quote:
    amount = money.Money(Decimal(total), currency)
    return quote.Quote(
        card_id=f"{carrier}-card",
        card_version=1,
        carrier=carrier,
        service_code="S",
        service_name=carrier,
        currency=currency,
        lines=(quote.ChargeLine("BASE", "Transportation", amount, amount),),
        zone="1",
        billable_weight=Decimal(1),
        weight_unit="kg",
        estimated_delivery=eta,
        guaranteed=False,
    )


def _labels(result: shop.ShopResult) -> dict[str, set[str]]:
    return {o.quote.carrier: {str(label) for label in o.labels} for o in result.options}


def test_rates_are_sorted_cheapest_first_and_labelled():
    # slow 10.00 in 5 days, mid 12.00 in 2 days, fast 30.00 in 1 day. Scaled price + scaled
    # days: slow 0 + 1 = 1; mid 0.1 + 0.25 = 0.35; fast 1 + 0 = 1. Mid is the best value.
    result = shop.shop(
        [
            _q("fast", "30.00", date(2026, 3, 11)),
            _q("slow", "10.00", date(2026, 3, 15)),
            _q("mid", "12.00", date(2026, 3, 12)),
        ]
    )
    assert [o.quote.carrier for o in result.options] == ["slow", "mid", "fast"]
    assert _labels(result) == {"slow": {"cheapest"}, "mid": {"best_value"}, "fast": {"fastest"}}


def test_one_rate_that_is_cheapest_and_fastest_carries_every_label():
    result = shop.shop([_q("a", "9.00", date(2026, 3, 11)), _q("b", "12.00", date(2026, 3, 12))])
    assert _labels(result) == {"a": {"cheapest", "fastest", "best_value"}, "b": set()}


def test_equal_prices_break_ties_by_earlier_delivery():
    result = shop.shop([_q("late", "9.00", date(2026, 3, 13)), _q("early", "9.00", date(2026, 3, 11))])
    assert [o.quote.carrier for o in result.options] == ["early", "late"]


def test_a_failing_carrier_is_reported_beside_the_rates_that_came_back():
    down = shop.CarrierError("dhl_express", "timeout", "no answer within 2 s")
    refused = quote.Ineligible("ups-card", 1, "ups", "03", quote.Reason.WEIGHT_LIMIT, "too heavy")
    result = shop.shop([_q("empire", "9.00", date(2026, 3, 11)), refused], [down])
    assert [o.quote.carrier for o in result.options] == ["empire"]
    assert result.errors == (down,)
    assert result.ineligible == (refused,)


def test_no_rates_at_all_is_an_empty_result_not_an_error():
    down = shop.CarrierError("ups", "unavailable", "503")
    result = shop.shop([], [down])
    assert result.options == ()
    assert result.errors == (down,)


def test_rates_in_different_currencies_are_not_compared():
    with pytest.raises(errors.RatingError, match="currencies"):
        shop.shop([_q("a", "9.00", date(2026, 3, 11)), _q("b", "9.00", date(2026, 3, 11), "EUR")])


def test_a_rate_nobody_can_sell_gets_no_label_and_comes_after_the_purchasable_ones():
    # empire is cheapest and fastest, but no adapter sells its labels.
    result = shop.shop(
        [
            _q("empire", "5.00", date(2026, 3, 10)),
            _q("ups", "9.00", date(2026, 3, 12)),
            _q("fleet", "12.00", date(2026, 3, 11)),
        ],
        sellable={"ups", "fleet"},
    )
    assert [(o.quote.carrier, o.purchasable) for o in result.options] == [
        ("ups", True),
        ("fleet", True),
        ("empire", False),
    ]
    assert _labels(result) == {"ups": {"cheapest", "best_value"}, "fleet": {"fastest"}, "empire": set()}


def _live(carrier: str, total: str, eta: date) -> quote.Quote:
    return dataclasses.replace(
        _q(carrier, total, eta), card_id=f"live:{carrier}", card_version=0, guaranteed=True
    )


def test_a_contract_card_prices_the_service_and_the_live_answer_dates_it():
    card, live = _q("ups", "22.14", date(2026, 12, 4)), _live("ups", "11.69", date(2026, 12, 7))
    [merged] = shop.one_per_service([card], [live], card_price_first=True)
    assert merged.price_from == shop.PRICE_FROM_CARD
    assert merged.result.total_sell.amount == Decimal("22.14")
    assert (merged.result.estimated_delivery, merged.result.guaranteed) == (date(2026, 12, 7), True)


def test_without_a_contract_the_live_answer_is_the_rate():
    card, live = _q("ups", "22.14", date(2026, 12, 4)), _live("ups", "11.69", date(2026, 12, 7))
    [merged] = shop.one_per_service([card], [live], card_price_first=False)
    assert merged.price_from == shop.PRICE_FROM_LIVE and merged.result == live


def test_the_cheapest_of_several_live_answers_for_one_service_is_kept():
    dear, cheap = _live("ups", "14.00", date(2026, 12, 7)), _live("ups", "11.69", date(2026, 12, 8))
    [merged] = shop.one_per_service([], [dear, cheap], card_price_first=False)
    assert merged.result == cheap


def test_a_promise_is_met_or_missed_once_on_the_merged_estimate():
    card, live = _q("ups", "22.14", date(2026, 12, 4)), _live("ups", "11.69", date(2026, 12, 7))
    [merged] = shop.one_per_service([card], [live], card_price_first=True, promise_date=date(2026, 12, 5))
    assert isinstance(merged.result, quote.Ineligible)
    assert (merged.result.reason, merged.result.estimated_delivery) == (
        quote.Reason.TOO_SLOW,
        date(2026, 12, 7),
    )


def test_a_card_refusal_gives_way_to_a_live_quote_and_stands_without_one():
    refused = quote.Ineligible("ups-card", 1, "ups", "03", quote.Reason.WEIGHT_LIMIT, "too heavy")
    live = dataclasses.replace(_live("ups", "30.00", date(2026, 12, 7)), service_code="03")
    [with_live] = shop.one_per_service([refused], [live], card_price_first=True)
    assert with_live.result == live
    [alone] = shop.one_per_service([refused], [], card_price_first=True)
    assert alone.result == refused
