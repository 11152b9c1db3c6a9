"""Property tests: prices never fall as weight grows within a zone, are never negative, and add up."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from rating import cards, markup, quote
from schemas import money, types

# Destinations each sample card serves, so most draws price instead of being refused.
DESTINATIONS: dict[str, list[tuple[str, str]]] = {
    "ups_ground": [("US", "10001"), ("US", "15001"), ("US", "60601"), ("US", "94105"), ("US", "05601")],
    "ups_2nd_day_air_am": [("US", "10001"), ("US", "30301"), ("US", "80202"), ("US", "12812")],
    "ups_next_day_air_saver": [("US", "10001"), ("US", "73301"), ("US", "98101")],
    "dhl_express_worldwide": [("GB", "HS1 2AB"), ("DE", "10115"), ("AU", "0870"), ("JP", "100-0001")],
    "dhl_express_domestic": [("US", "10001"), ("US", "60601"), ("US", "99501")],
    "empire_next_day": [("US", "10001"), ("US", "02108"), ("US", "12207")],
    "fleet_metro": [("US", "10001"), ("US", "07030")],
}
SHIP_AT = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
ORIGIN = types.Address("US", "07102", "Newark")


@functools.cache
def _card(name: str) -> cards.RateCard:
    return cards.load_sample(name)


def _dec(lo: str, hi: str, places: int = 2):
    return st.decimals(Decimal(lo), Decimal(hi), places=places, allow_nan=False, allow_infinity=False)


@st.composite
def shipments(draw):
    name = draw(st.sampled_from(sorted(DESTINATIONS)))
    country, postal = draw(st.sampled_from(DESTINATIONS[name]))
    dims = tuple(draw(_dec("1", "180", 1)) for _ in range(3))
    w1 = draw(_dec("0.01", "90", 3))
    w2 = w1 + draw(_dec("0", "60", 3))
    declared = draw(st.none() | _dec("0", "5000").map(lambda a: money.Money(a, "USD")))
    options = frozenset(draw(st.sets(st.sampled_from(["signature", "saturday"]))))
    residential = draw(st.sampled_from([None, False, True]))
    count = draw(st.integers(1, 3))
    km = draw(_dec("0.1", "70", 1))
    mk = draw(
        st.none()
        | st.builds(
            markup.Markup,
            _dec("0", "40", 3),
            st.none() | _dec("0", "5").map(lambda a: money.Money(a, "USD")),
        )
    )

    def spec(weight: Decimal) -> types.ShipmentSpec:
        parcel = types.Parcel(weight, *dims, declared_value=declared)
        dest = types.Address(country, postal, "X", residential=residential)
        return types.ShipmentSpec(ORIGIN, dest, (parcel,) * count, options=options)

    return name, spec(w1), spec(w2), km, mk


def _price(name, spec, km, mk):
    return quote.price(_card(name), spec, SHIP_AT, markup=mk, distance_km=km)


_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(shipments())
def test_price_never_decreases_as_weight_grows_within_a_zone(case):
    name, light, heavy, km, mk = case
    a, b = _price(name, light, km, mk), _price(name, heavy, km, mk)
    event(f"{type(a).__name__} -> {type(b).__name__}")
    if isinstance(a, quote.Quote) and isinstance(b, quote.Quote):
        assert a.zone == b.zone
        assert a.total_cost.amount <= b.total_cost.amount
        assert a.total_sell.amount <= b.total_sell.amount
    elif isinstance(a, quote.Ineligible) and a.reason is quote.Reason.WEIGHT_LIMIT:
        # A heavier parcel is never accepted where a lighter one was refused for weight.
        assert isinstance(b, quote.Ineligible)


@_SETTINGS
@given(shipments())
def test_no_charge_is_ever_negative(case):
    name, _, heavy, km, mk = case
    q = _price(name, heavy, km, mk)
    if isinstance(q, quote.Quote):
        assert q.lines
        for line in q.lines:
            assert line.cost.amount >= 0
            assert line.sell.amount >= line.cost.amount


@_SETTINGS
@given(shipments())
def test_totals_equal_the_sum_of_exact_cent_lines(case):
    name, light, _, km, mk = case
    q = _price(name, light, km, mk)
    if isinstance(q, quote.Quote):
        assert all(line.cost.amount == line.cost.rounded().amount for line in q.lines)
        assert all(line.sell.amount == line.sell.rounded().amount for line in q.lines)
        snap = q.to_snapshot()
        assert snap["total_cost_minor"] == sum(x["cost_minor"] for x in snap["lines"])
        assert snap["total_sell_minor"] == sum(x["sell_minor"] for x in snap["lines"])
        assert q.total_cost.amount == sum(line.cost.amount for line in q.lines)
