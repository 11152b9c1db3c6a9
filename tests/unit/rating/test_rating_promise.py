"""Delivery dates: cut-off, business days, holidays, Saturday delivery and promise dates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from rating import cards, errors, quote

NY = ZoneInfo("America/New_York")


def _eta(doc, spec, at, **kw):
    result = quote.price(cards.parse(doc), spec, at, **kw)
    return result.estimated_delivery


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2026, 3, 10, 16, 59), date(2026, 3, 11)),  # Tue before 17:00: leaves Tue, 1 day -> Wed
        (datetime(2026, 3, 10, 17, 0), date(2026, 3, 12)),  # at the cut-off: leaves Wed -> Thu
        (datetime(2026, 3, 13, 18, 0), date(2026, 3, 17)),  # Fri after cut-off: leaves Mon -> Tue
        (datetime(2026, 3, 14, 9, 0), date(2026, 3, 17)),  # Saturday: leaves Mon -> Tue
    ],
)
def test_cut_off_decides_the_pickup_day(golden_doc, make_spec, local, expected):
    assert _eta(golden_doc, make_spec(), local.replace(tzinfo=NY)) == expected


def test_cut_off_is_read_in_the_cards_time_zone_not_utc(golden_doc, make_spec):
    # 21:30 UTC on Tue 10 March is 17:30 in New York (EDT): after the cut-off.
    assert _eta(golden_doc, make_spec(), datetime(2026, 3, 10, 21, 30, tzinfo=UTC)) == date(2026, 3, 12)
    # 20:30 UTC is 16:30 in New York: before it.
    assert _eta(golden_doc, make_spec(), datetime(2026, 3, 10, 20, 30, tzinfo=UTC)) == date(2026, 3, 11)


def test_a_holiday_pushes_delivery_to_the_next_business_day(golden_doc, make_spec):
    # Thu 2 July 2026, zone 1 (1 day): Fri 3 July is the observed Independence Day holiday,
    # then the weekend, so delivery is Mon 6 July.
    assert _eta(golden_doc, make_spec(), datetime(2026, 7, 2, 10, 0, tzinfo=NY)) == date(2026, 7, 6)
    # Zone 2 (2 days) from Wed 1 July: Thu 2, then Fri 3 is skipped: Mon 6 July.
    assert _eta(golden_doc, make_spec(to="30301"), datetime(2026, 7, 1, 10, 0, tzinfo=NY)) == date(2026, 7, 6)


def test_no_pickup_on_a_holiday(golden_doc, make_spec):
    # Fri 25 Dec 2026 is a holiday: picked up Mon 28, zone 1 delivers Tue 29.
    assert _eta(golden_doc, make_spec(), datetime(2026, 12, 25, 9, 0, tzinfo=NY)) == date(2026, 12, 29)


def test_saturday_delivery_lands_on_saturday_only_when_asked_and_offered(golden_doc, make_spec):
    friday = datetime(2026, 3, 13, 10, 0, tzinfo=NY)
    assert _eta(golden_doc, make_spec(options=frozenset({"saturday"})), friday) == date(2026, 3, 14)
    assert _eta(golden_doc, make_spec(), friday) == date(2026, 3, 16)
    golden_doc["surcharges"] = [s for s in golden_doc["surcharges"] if s["kind"] != "saturday"]
    assert _eta(golden_doc, make_spec(options=frozenset({"saturday"})), friday) == date(2026, 3, 16)


def test_a_service_slower_than_the_promise_date_is_too_slow(golden_doc, make_spec):
    at = datetime(2026, 3, 10, 10, 0, tzinfo=NY)
    ok = quote.price(cards.parse(golden_doc), make_spec(to="30301"), at, promise_date=date(2026, 3, 12))
    assert isinstance(ok, quote.Quote)
    slow = quote.price(cards.parse(golden_doc), make_spec(to="30301"), at, promise_date=date(2026, 3, 11))
    assert isinstance(slow, quote.Ineligible)
    assert slow.reason is quote.Reason.TOO_SLOW
    assert slow.estimated_delivery == date(2026, 3, 12)
    assert "2026-03-11" in slow.detail


def test_a_naive_ship_time_is_refused(golden_doc, make_spec):
    with pytest.raises(errors.RatingError, match="timezone-aware"):
        quote.price(cards.parse(golden_doc), make_spec(), datetime(2026, 3, 10, 10, 0))


def test_zero_transit_days_delivers_the_same_business_day(golden_doc, make_spec):
    golden_doc["transit"]["days_by_zone"]["1"] = 0
    assert _eta(golden_doc, make_spec(), datetime(2026, 3, 10, 10, 0, tzinfo=NY)) == date(2026, 3, 10)
    assert _eta(golden_doc, make_spec(), datetime(2026, 3, 14, 10, 0, tzinfo=NY)) == date(2026, 3, 16)


def test_repeated_quotes_on_the_same_day_give_the_same_date_as_a_fresh_card(golden_doc, make_spec):
    card = cards.parse(golden_doc)
    times = [datetime(2026, 3, d, h, 0, tzinfo=NY) for d in range(9, 16) for h in (8, 16, 17, 23)]
    first = [quote.price(card, make_spec(), t).estimated_delivery for t in times]
    again = [quote.price(card, make_spec(), t).estimated_delivery for t in times]
    fresh = [quote.price(cards.parse(golden_doc), make_spec(), t).estimated_delivery for t in times]
    assert first == again == fresh
