"""A live price dated only by the carrier's transit days: those are business days, as carriers count them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from gateway.rates import _live
from schemas import carrier, money

FRIDAY = date(2026, 12, 4)


def _result(transit_days: int | None, estimated: date | None = None) -> carrier.RateResult:
    return carrier.RateResult(
        carrier="fedex",
        service_code="FEDEX_GROUND",
        service_name="FedEx Ground",
        total=money.Money(Decimal("12.40"), "USD"),
        transit_days=transit_days,
        estimated_delivery=estimated,
    )


@pytest.mark.parametrize(
    ("ship_day", "days", "arrives"),
    [
        (FRIDAY, 3, date(2026, 12, 9)),  # Friday + 3 business days: Wednesday (it was Monday)
        (FRIDAY, 1, date(2026, 12, 7)),  # the next business day is Monday
        (date(2026, 12, 5), 1, date(2026, 12, 8)),  # sold on Saturday: ships Monday, arrives Tuesday
        (date(2026, 12, 1), 2, date(2026, 12, 3)),  # Tuesday + 2: Thursday, as before
    ],
)
def test_transit_days_are_counted_in_business_days(ship_day: date, days: int, arrives: date) -> None:
    quoted = _live.live_quote("fedex", _result(days), ship_day)
    assert quoted is not None and quoted.estimated_delivery == arrives and not quoted.guaranteed


def test_the_carriers_own_date_wins_over_its_transit_days() -> None:
    quoted = _live.live_quote("fedex", _result(3, date(2026, 12, 8)), FRIDAY)
    assert quoted is not None and quoted.estimated_delivery == date(2026, 12, 8)
