"""Rate shopping: sorting, the three labels, and failing carriers beside the rates that came back."""

from __future__ import annotations

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
