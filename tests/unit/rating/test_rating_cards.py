"""Rate card loading: bad cards fail with errors that name the field; samples are valid."""

from __future__ import annotations

import json
from datetime import date

import pytest

from rating import cards, errors


def _problems(doc) -> str:
    with pytest.raises(errors.CardError) as caught:
        cards.parse(doc)
    assert cards.validate(doc) == list(caught.value.problems)
    return str(caught.value)


def test_every_bundled_sample_card_is_valid():
    names = cards.sample_names()
    assert {"ups_ground", "ups_2nd_day_air_am", "ups_next_day_air_saver", "fleet_metro"} <= set(names)
    loaded = cards.load_samples()
    assert {(c.carrier, c.service_code) for c in loaded} >= {
        ("ups", "03"),
        ("ups", "59"),
        ("ups", "13"),
        ("dhl_express", "P"),
        ("dhl_express", "N"),
        ("fleet", "SDV"),
    }
    assert {c.currency for c in loaded} == {"USD"}


def test_the_golden_card_is_valid(golden_doc):
    assert cards.validate(golden_doc) == []


def test_a_json_float_for_money_is_refused_and_the_field_is_named(golden_doc):
    text = json.dumps(golden_doc).replace('"price": "9.00"', '"price": 9.0')
    with pytest.raises(errors.CardError) as caught:
        cards.loads(text)
    assert caught.value.problems == (
        "rates.by_zone.1.breaks[1].price: 9.0 must be a decimal string such as '12.50'"
        " (JSON numbers are refused so amounts stay exact)",
        "rates.by_zone.2.breaks[0].price: 9.0 must be a decimal string such as '12.50'"
        " (JSON numbers are refused so amounts stay exact)",
    )


def test_a_malformed_amount_names_the_surcharge_field(golden_doc):
    golden_doc["surcharges"][1]["amount"] = "4,00"
    assert "surcharges[1].amount: '4,00' must be a decimal string" in _problems(golden_doc)


def test_a_missing_currency_is_named(golden_doc):
    del golden_doc["currency"]
    assert "(card): 'currency' is a required property" in _problems(golden_doc)


def test_an_unknown_currency_is_named(golden_doc):
    golden_doc["currency"] = "ERU"
    assert "currency: 'ERU' is not a supported ISO 4217 code" in _problems(golden_doc)


def test_an_unknown_surcharge_kind_is_named(golden_doc):
    golden_doc["surcharges"][1]["kind"] = "hazmat"
    assert "surcharges[1].kind: 'hazmat' is not one of" in _problems(golden_doc)


def test_a_fuel_surcharge_with_a_flat_amount_is_refused(golden_doc):
    golden_doc["surcharges"][0]["amount"] = "5.00"
    assert "surcharges[0]: Additional properties are not allowed ('amount' was unexpected)" in _problems(
        golden_doc
    )


def test_fuel_on_an_unknown_line_code_is_named(golden_doc):
    golden_doc["surcharges"][0]["applies_to"] = ["BASE", "NOPE"]
    assert "surcharges[0].applies_to: 'NOPE' is not a non-fuel line code" in _problems(golden_doc)


def test_a_duplicate_surcharge_code_is_named(golden_doc):
    golden_doc["surcharges"][2]["code"] = "RES"
    assert "surcharges[2].code: 'RES' is used twice" in _problems(golden_doc)


def test_a_zone_without_rates_or_transit_days_is_named(golden_doc):
    del golden_doc["rates"]["by_zone"]["3"]
    del golden_doc["transit"]["days_by_zone"]["2"]
    message = _problems(golden_doc)
    assert "rates.by_zone: no rates for zone(s) 3" in message
    assert "transit.days_by_zone: no transit days for zone(s) 2" in message


def test_weight_breaks_must_ascend_and_never_get_cheaper(golden_doc):
    golden_doc["rates"]["by_zone"]["1"]["breaks"][2]["price"] = "8.00"
    assert "rates.by_zone.1.breaks: a heavier break must not be cheaper" in _problems(golden_doc)
    golden_doc["rates"]["by_zone"]["1"]["breaks"][2] = {"up_to": "2", "price": "12.00"}
    assert "rates.by_zone.1.breaks: up_to must be strictly ascending" in _problems(golden_doc)


def test_an_unknown_time_zone_and_a_bad_cut_off_are_named(golden_doc):
    golden_doc["transit"]["timezone"] = "Mars/Olympus"
    golden_doc["transit"]["cutoff"] = "25:00"
    message = _problems(golden_doc)
    assert "transit.cutoff: '25:00' does not match" in message


def test_an_unknown_time_zone_is_named(golden_doc):
    golden_doc["transit"]["timezone"] = "Mars/Olympus"
    assert "transit.timezone: 'Mars/Olympus' is not a known IANA time zone" in _problems(golden_doc)


def test_a_bad_holiday_date_is_named(golden_doc):
    golden_doc["transit"]["calendar"]["holidays"] = ["2026-02-30"]
    assert "transit.calendar.holidays[0]: '2026-02-30' is not a 'date'" in _problems(golden_doc)


def test_effective_to_before_effective_from_is_named(golden_doc):
    golden_doc["effective_to"] = "2025-12-31"
    assert "effective_to: must not be before effective_from" in _problems(golden_doc)


def test_a_card_needs_rates_or_a_fleet_cost_model(golden_doc):
    del golden_doc["rates"]
    assert "(card):" in _problems(golden_doc)


def test_invalid_json_text_is_a_card_error():
    with pytest.raises(errors.CardError, match="not valid JSON"):
        cards.loads("{")


def test_effective_picks_the_highest_version_in_force_on_the_day(golden_doc):
    v1 = cards.parse(golden_doc)
    golden_doc.update(version=2, effective_from="2026-06-01", effective_to=None)
    v2 = cards.parse(golden_doc)
    assert cards.effective([v1, v2], date(2026, 5, 31)) == [v1]
    assert cards.effective([v1, v2], date(2026, 6, 1)) == [v2]
    assert cards.effective([v1, v2], date(2027, 1, 1)) == [v2]
    assert cards.effective([v1], date(2025, 12, 31)) == []
