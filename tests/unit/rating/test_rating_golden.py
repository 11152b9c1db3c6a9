"""Golden tests: every expected charge is worked out by hand in the comment beside it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rating import cards, markup, quote
from schemas import money, types


def _price(doc, spec, ship_at, **kw):
    return quote.price(cards.parse(doc), spec, ship_at, **kw)


def _lines(q: quote.Quote) -> dict[str, str]:
    assert isinstance(q, quote.Quote), q
    return {line.code: str(line.cost.amount) for line in q.lines}


def _no_surcharges(doc):
    doc["surcharges"] = []
    return doc


def test_dimensional_weight_beats_a_light_actual_weight(golden_doc, make_spec, ship_at):
    # 50x40x30 cm = 60000 cm3 / 5000 = 12 kg dimensional > 3 kg actual; 12 kg is above the
    # 10 kg top break: 18.00 + (12 - 10) x 1.10 = 20.20; fuel 10 % = 2.02; total 22.22.
    q = _price(golden_doc, make_spec("3", ("50", "40", "30")), ship_at)
    assert q.billable_weight == Decimal("12")
    assert _lines(q) == {"BASE": "20.20", "FSC": "2.02"}
    assert q.total_cost == money.Money(Decimal("22.22"), "USD")


def test_actual_weight_beats_a_small_box(golden_doc, make_spec, ship_at):
    # 20x20x20 cm = 8000 / 5000 = 1.6 kg dimensional < 7.2 kg actual, rounded up to 7.5 kg;
    # the 10 kg break: 18.00; fuel 1.80; total 19.80.
    q = _price(golden_doc, make_spec("7.2", ("20", "20", "20")), ship_at)
    assert q.billable_weight == Decimal("7.5")
    assert _lines(q) == {"BASE": "18.00", "FSC": "1.80"}
    assert q.total_cost.amount == Decimal("19.80")


@pytest.mark.parametrize(
    ("actual", "billable", "base"),
    [
        # 0.3 kg rounds up to 0.5 kg; the 1 kg break is 7.50, under the 8.00 minimum.
        ("0.3", "0.5", "8.00"),
        ("1", "1", "8.00"),  # at the 1 kg break: still 7.50, so the minimum applies
        ("1.01", "1.5", "9.00"),  # just over 1 kg: rounds to 1.5 kg, the 2 kg break
        ("2", "2", "9.00"),  # at the 2 kg break
        ("2.01", "2.5", "12.00"),  # just over: the 5 kg break
        ("5", "5", "12.00"),
        ("5.01", "5.5", "18.00"),  # the 10 kg break
        ("10", "10", "18.00"),  # top break
        ("10.01", "10.5", "18.55"),  # 18.00 + 0.5 x 1.10
        ("12.2", "12.5", "20.75"),  # 18.00 + 2.5 x 1.10
    ],
)
def test_every_weight_break_boundary_of_zone_one(golden_doc, make_spec, ship_at, actual, billable, base):
    q = _price(_no_surcharges(golden_doc), make_spec(actual), ship_at)
    assert q.billable_weight == Decimal(billable)
    assert _lines(q) == {"BASE": base}


def test_the_minimum_charge_is_applied_and_explained(golden_doc, make_spec, ship_at):
    # 7.50 for the 1 kg break is below the 8.00 minimum: the line is 8.00 and says so.
    q = _price(_no_surcharges(golden_doc), make_spec("0.8"), ship_at)
    (line,) = q.lines
    assert line.cost.amount == Decimal("8.00")
    assert "minimum charge" in line.description


def test_a_zone_without_a_rate_above_its_top_break_refuses_heavier_parcels(golden_doc, make_spec, ship_at):
    # Zone 2 (postal 200-599) stops at 5 kg: 5 kg is priced 15.00, 5.01 kg is refused.
    assert _lines(_price(_no_surcharges(golden_doc), make_spec("5", to="30301"), ship_at)) == {
        "BASE": "15.00"
    }
    refused = _price(golden_doc, make_spec("5.01", to="30301"), ship_at)
    assert isinstance(refused, quote.Ineligible)
    assert refused.reason is quote.Reason.WEIGHT_LIMIT


def test_the_postal_range_picks_the_zone_by_its_first_digits(golden_doc, make_spec, ship_at):
    card = cards.parse(golden_doc)
    assert quote.price(card, make_spec(to="19999"), ship_at).zone == "1"
    assert quote.price(card, make_spec(to="20000"), ship_at).zone == "2"
    assert quote.price(card, make_spec(to="59999"), ship_at).zone == "2"
    assert quote.price(card, make_spec(to="K1A 0B1", country="CA"), ship_at).zone == "3"
    outside = quote.price(card, make_spec(to="60000"), ship_at)
    assert isinstance(outside, quote.Ineligible)
    assert outside.reason is quote.Reason.AREA_NOT_SERVED


def test_residential_delivery_adds_its_fee_and_fuel_applies_to_it(golden_doc, make_spec, ship_at):
    # 1.5 kg -> 9.00; residential 4.00; fuel 10 % of (9.00 + 4.00) = 1.30; total 14.30.
    q = _price(golden_doc, make_spec("1.5", residential=True), ship_at)
    assert _lines(q) == {"BASE": "9.00", "RES": "4.00", "FSC": "1.30"}
    assert q.total_cost.amount == Decimal("14.30")
    unknown = _price(golden_doc, make_spec("1.5", residential=None), ship_at)
    assert "RES" not in _lines(unknown)


@pytest.mark.parametrize(
    ("postal", "charged"), [("14999", False), ("15000", True), ("15999", True), ("16000", False)]
)
def test_remote_area_surcharge_follows_the_postal_list(golden_doc, make_spec, ship_at, postal, charged):
    # DAS 3.00 for US postal codes starting 15; fuel does not apply to it on this card.
    q = _price(golden_doc, make_spec("1.5", to=postal), ship_at)
    assert (_lines(q).get("DAS") == "3.00") is charged
    assert _lines(q)["FSC"] == "0.90"


@pytest.mark.parametrize(
    ("weight", "dims", "charged"),
    [
        ("2", ("99.9", "10", "10"), False),  # longest side just under 100 cm
        ("2", ("100", "10", "10"), False),  # at the threshold: not "exceeds"
        ("2", ("100.1", "10", "10"), True),  # just over
        ("2", ("70", "60", "10"), False),  # second-longest side at 60
        ("2", ("70", "60.1", "10"), True),  # second-longest just over
        ("2", ("90", "40", "40"), False),  # length + girth 90 + 2x(40 + 40) = 250, at the threshold
        ("2", ("90", "40.05", "40"), True),  # 250.1 just over
        ("24.9", ("10", "10", "10"), False),  # weight just under 25 kg
        ("25", ("10", "10", "10"), False),  # at
        ("25.1", ("10", "10", "10"), True),  # just over
    ],
)
def test_additional_handling_thresholds_just_under_at_and_just_over(
    golden_doc, make_spec, ship_at, weight, dims, charged
):
    q = _price(golden_doc, make_spec(weight, dims), ship_at)
    assert (_lines(q).get("AHS") == "12.00") is charged


@pytest.mark.parametrize(("longest", "lps"), [("149.9", False), ("150", False), ("150.1", True)])
def test_large_package_threshold_replaces_additional_handling(golden_doc, make_spec, ship_at, longest, lps):
    # Any longest side over 100 cm triggers AHS; over 150 cm LPS applies instead of it.
    got = _lines(_price(golden_doc, make_spec("2", (longest, "10", "10")), ship_at))
    assert ("LPS" in got) is lps
    assert ("AHS" in got) is not lps


def test_large_package_golden_total(golden_doc, make_spec, ship_at):
    # 160x20x20 cm = 64000 / 5000 = 12.8 kg dim -> 13 kg: 18.00 + 3 x 1.10 = 21.30;
    # LPS 60.00 (AHS superseded); fuel 10 % of BASE only = 2.13; total 83.43.
    q = _price(golden_doc, make_spec("4", ("160", "20", "20")), ship_at)
    assert _lines(q) == {"BASE": "21.30", "LPS": "60.00", "FSC": "2.13"}
    assert q.total_cost.amount == Decimal("83.43")


@pytest.mark.parametrize(
    ("declared", "charge"),
    [
        ("99.99", None),  # under the free 100.00
        ("100.00", None),  # at it
        ("100.01", "2.00"),  # 1 increment x 1.00 = 1.00, raised to the 2.00 minimum
        ("300.00", "2.00"),  # (300 - 100) / 100 = 2 increments = 2.00
        ("300.01", "3.00"),  # 2.0001 increments, any part counts: 3 x 1.00
    ],
)
def test_declared_value_is_charged_per_started_increment_above_the_free_amount(
    golden_doc, make_spec, ship_at, declared, charge
):
    assert _lines(_price(golden_doc, make_spec("1.5", declared=declared), ship_at)).get("DV") == charge


def test_declared_value_in_another_currency_is_refused_clearly(golden_doc, make_spec, ship_at):
    spec = make_spec("1.5", declared="150")
    parcel = spec.parcels[0]
    eur = type(parcel)(
        parcel.weight_kg,
        parcel.length_cm,
        parcel.width_cm,
        parcel.height_cm,
        money.Money(Decimal(150), "EUR"),
    )
    spec = type(spec)(spec.origin, spec.destination, (eur,))
    with pytest.raises(money.CurrencyError, match="EUR"):
        _price(golden_doc, spec, ship_at)


def test_signature_per_package_and_saturday_per_shipment_are_options(golden_doc, make_spec, ship_at):
    # Two 1.5 kg parcels: BASE 2 x 9.00 = 18.00; SIG 2 x 2.50 = 5.00; SAT 15.00; fuel 1.80.
    q = _price(golden_doc, make_spec("1.5", count=2, options=frozenset({"signature", "saturday"})), ship_at)
    assert _lines(q) == {"BASE": "18.00", "SAT": "15.00", "SIG": "5.00", "FSC": "1.80"}
    assert q.billable_weight == Decimal("3.0")
    assert _lines(_price(golden_doc, make_spec("1.5", count=2), ship_at)) == {"BASE": "18.00", "FSC": "1.80"}


def test_money_rounds_half_to_even_at_the_cent(golden_doc, make_spec, ship_at):
    # Fuel 10 % of 9.25 = 0.925: half-even gives 0.92; fuel 10 % of 9.35 = 0.935 gives 0.94.
    golden_doc["rates"]["by_zone"]["1"]["breaks"][1]["price"] = "9.25"
    assert _lines(_price(golden_doc, make_spec("1.5"), ship_at))["FSC"] == "0.92"
    golden_doc["rates"]["by_zone"]["1"]["breaks"][1]["price"] = "9.35"
    assert _lines(_price(golden_doc, make_spec("1.5"), ship_at))["FSC"] == "0.94"


def test_rates_above_the_top_break_round_each_package_to_the_cent(golden_doc, make_spec, ship_at):
    # per_unit_over 1.115 x 0.5 kg = 0.5575 -> 18.5575 rounds half-even to 18.56.
    golden_doc["rates"]["by_zone"]["1"]["per_unit_over"] = "1.115"
    assert _lines(_price(_no_surcharges(golden_doc), make_spec("10.2"), ship_at)) == {"BASE": "18.56"}


def test_pounds_converted_from_kilograms_do_not_round_up_an_extra_pound(make_spec, ship_at):
    # UPS Ground sample, lb/in. 4.536 kg is 10.00016 lb, a 10 lb parcel stored in kg: 10 lb,
    # not 11. 10 lb in zone 2 (Newark -> 100xx): 11.25 + 9 x 0.62 = 16.83; fuel 15.25 % =
    # 2.566575 -> 2.57; total 19.40.
    card = cards.load_sample("ups_ground")
    q = quote.price(card, make_spec("4.536", ("20", "20", "20")), ship_at)
    assert q.billable_weight == Decimal("10")
    assert _lines(q) == {"BASE": "16.83", "FSC": "2.57"}
    assert q.total_cost.amount == Decimal("19.40")


def test_ups_dimensions_round_to_the_nearest_inch_before_the_divisor(make_spec, ship_at):
    # 30.48 cm = 12 in; 31.6 cm = 12.44 in -> 12 in. 12 x 12 x 12 = 1728 / 139 = 12.43 -> 13 lb
    # dimensional > 1 kg (2.205 lb -> 3 lb). 13 lb pays the 15 lb break: 11.25 + 14 x 0.62 =
    # 19.93; fuel 15.25 % = 3.039325 -> 3.04; total 22.97.
    card = cards.load_sample("ups_ground")
    q = quote.price(card, make_spec("1", ("30.48", "30.48", "31.6")), ship_at)
    assert q.billable_weight == Decimal("13")
    assert _lines(q) == {"BASE": "19.93", "FSC": "3.04"}
    assert q.total_cost.amount == Decimal("22.97")


def test_weight_and_size_limits_name_the_reason(golden_doc, make_spec, ship_at):
    card = cards.parse(golden_doc)
    assert isinstance(quote.price(card, make_spec("30", to="K1A", country="CA"), ship_at), quote.Quote)
    heavy = quote.price(card, make_spec("30.01", to="K1A", country="CA"), ship_at)
    assert (heavy.reason, heavy.detail) == (quote.Reason.WEIGHT_LIMIT, "30.01 kg exceeds 30 kg")
    long_ = quote.price(card, make_spec("2", ("200.1", "10", "10")), ship_at)
    assert long_.reason is quote.Reason.DIMENSIONS
    # 190 + 2 x (60 + 50.1) = 410.2 > 400
    girth = quote.price(card, make_spec("2", ("190", "60", "50.1")), ship_at)
    assert girth.reason is quote.Reason.DIMENSIONS
    assert "length plus girth" in girth.detail
    far = quote.price(card, make_spec(to="01000", country="MX"), ship_at)
    assert (far.reason, far.carrier, far.service_code) == (quote.Reason.AREA_NOT_SERVED, "acme", "G")


def test_percent_markup_sets_each_sell_and_fixed_markup_lands_on_the_first_line(
    golden_doc, make_spec, ship_at
):
    # Costs BASE 9.00, RES 4.00, FSC 1.30. 12.5 %: 10.125 -> 10.12 (half even), 4.50, 1.4625 -> 1.46.
    spec = make_spec("1.5", residential=True)
    q = _price(golden_doc, spec, ship_at, markup=markup.Markup(Decimal("12.5")))
    assert [str(line.sell.amount) for line in q.lines] == ["10.12", "4.50", "1.46"]
    assert q.total_cost.amount == Decimal("14.30")
    assert q.total_sell.amount == Decimal("16.08")
    fixed = _price(golden_doc, spec, ship_at, markup=markup.Markup(fixed=money.Money(Decimal("2.00"), "USD")))
    assert [str(line.sell.amount) for line in fixed.lines] == ["11.00", "4.00", "1.30"]
    with pytest.raises(money.CurrencyError):
        _price(golden_doc, spec, ship_at, markup=markup.Markup(fixed=money.Money(Decimal(2), "EUR")))


def test_negative_markup_is_refused():
    with pytest.raises(ValueError, match="must not be negative"):
        markup.Markup(Decimal("-5"))


def test_a_snapshot_keeps_every_line_in_minor_units_with_the_card_version(golden_doc, make_spec, ship_at):
    q = _price(golden_doc, make_spec("1.5", residential=True), ship_at, markup=markup.Markup(Decimal(10)))
    snap = q.to_snapshot()
    assert (snap["card_id"], snap["card_version"], snap["currency"]) == ("golden", 1, "USD")
    assert [(x["code"], x["cost_minor"], x["sell_minor"]) for x in snap["lines"]] == [
        ("BASE", 900, 990),
        ("RES", 400, 440),
        ("FSC", 130, 143),
    ]
    assert (snap["total_cost_minor"], snap["total_sell_minor"]) == (1430, 1573)
    assert snap["estimated_delivery"] == "2026-03-11"


def test_fleet_quote_is_the_marginal_cost_of_one_more_stop(make_spec, ship_at):
    # Own fleet sample, zone B (10-25 km) with a 2.8 km marginal detour:
    #   distance 2.8 x 0.58 = 1.624 -> 1.62; stop 0.90;
    #   driver (2.8 / 24 + 4 / 60) h = 0.18333 h x 27.50 = 5.0416 -> 5.04;
    #   vehicle 96.00 / 110 stops = 0.8727 -> 0.87; total 8.43.
    card = cards.load_sample("fleet_metro")
    q = quote.price(card, make_spec("2"), ship_at, distance_km=Decimal("20"))
    assert _lines(q) == {
        "FLEET_KM": "1.62",
        "FLEET_STOP": "0.90",
        "FLEET_DRIVER": "5.04",
        "FLEET_VEHICLE": "0.87",
    }
    assert q.total_cost.amount == Decimal("8.43")
    assert q.zone == "B"
    # 10:00 in New York is before the 12:00 cut-off and zone B is same-day.
    assert q.estimated_delivery.isoformat() == "2026-03-10"


def test_fleet_needs_a_distance_and_stops_beyond_its_last_band(make_spec, ship_at):
    card = cards.load_sample("fleet_metro")
    no_coords = quote.price(card, make_spec("2"), ship_at)
    assert no_coords.reason is quote.Reason.AREA_NOT_SERVED
    assert "coordinates" in no_coords.detail
    far = quote.price(card, make_spec("2"), ship_at, distance_km=Decimal("60.1"))
    assert far.reason is quote.Reason.AREA_NOT_SERVED
    assert quote.price(card, make_spec("2"), ship_at, distance_km=Decimal("60")).zone == "C"


def test_fleet_uses_straight_line_distance_times_road_factor_from_coordinates(make_spec, ship_at):
    # Newark (40.7357, -74.1724) to Midtown (40.7506, -73.9972): about 14.9 km straight,
    # x 1.35 road factor = 20.1 km: zone B (10-25 km).
    spec = make_spec("2")
    spec = types.ShipmentSpec(
        types.Address("US", "07102", "Newark", latitude=Decimal("40.7357"), longitude=Decimal("-74.1724")),
        types.Address("US", "10001", "New York", latitude=Decimal("40.7506"), longitude=Decimal("-73.9972")),
        spec.parcels,
    )
    assert quote.price(cards.load_sample("fleet_metro"), spec, ship_at).zone == "B"


def test_dhl_worldwide_sample_to_a_remote_scottish_island(make_spec, ship_at):
    # DHL Express Worldwide sample, kg/cm: 2.3 kg actual, 30x20x15 cm = 9000 / 5000 = 1.8 kg
    # dimensional; 2.3 kg rounds up to 2.5 kg. Zone 2 (GB): 57.00 + (2.5 - 0.5) x 12.25 = 81.50.
    # "hs1 2ab" is in the remote-area list (prefix HS): 32.50. Signature 6.00 (not fuelled).
    # Fuel 27.75 % x (81.50 + 32.50) = 31.635 -> 31.64 (half even); total 151.64.
    card = cards.load_sample("dhl_express_worldwide")
    spec = make_spec("2.3", ("30", "20", "15"), to="hs1 2ab", country="GB", options=frozenset({"signature"}))
    q = quote.price(card, spec, ship_at)
    assert _lines(q) == {"BASE": "81.50", "OO": "32.50", "SA": "6.00", "FF": "31.64"}
    assert q.total_cost.amount == Decimal("151.64")
    assert (q.zone, q.guaranteed, q.service_code) == ("2", True, "P")


def test_one_parcel_over_the_limit_makes_the_whole_shipment_ineligible(golden_doc, make_spec, ship_at):
    card = cards.parse(golden_doc)
    light, heavy = make_spec("2").parcels[0], make_spec("31").parcels[0]
    spec = types.ShipmentSpec(make_spec().origin, make_spec().destination, (light, heavy))
    assert quote.price(card, spec, ship_at).reason is quote.Reason.WEIGHT_LIMIT


def test_a_fleet_shipment_of_several_parcels_is_still_one_stop(make_spec, ship_at):
    card = cards.load_sample("fleet_metro")
    one = quote.price(card, make_spec("2"), ship_at, distance_km=Decimal("20"))
    three = quote.price(card, make_spec("2", count=3), ship_at, distance_km=Decimal("20"))
    assert three.total_cost == one.total_cost
    assert three.billable_weight == Decimal("6")


def test_callers_mark_a_service_blocked_by_their_own_rule(golden_doc):
    blocked = quote.ineligible(cards.parse(golden_doc), quote.Reason.BLOCKED_BY_RULE, "tenant excludes acme")
    assert (blocked.reason.value, blocked.card_id, blocked.card_version) == ("blocked_by_rule", "golden", 1)
