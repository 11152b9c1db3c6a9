"""The shared API fields accept exactly what the OpenAPI document declares for them."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields, validate

from gateway.kernel import schemas
from gateway.kernel.http import attachment
from gateway.kernel.paging import decode_cursor, encode_cursor

_DECIMAL_TEXT = st.builds(
    lambda sign, zeros, whole, fraction: f"{sign}{'0' * zeros}{whole}{fraction}",
    st.sampled_from(["", "-"]),
    st.integers(0, 2),
    st.one_of(st.integers(0, 400), st.integers(0, 10**13)),
    st.sampled_from(["", ".0", ".00", ".5", ".001", ".999"]),
)

_BOUNDS = [
    {},
    {"minimum": Decimal(0)},
    {"minimum": Decimal(0), "exclusive_minimum": True},
    {"validate": validate.Range(min=-90, max=90)},
    {"validate": validate.Range(min=1, max=3)},
    {"minimum": Decimal(0), "exclusive_minimum": True, "validate": validate.Range(max=200)},
]


@pytest.mark.parametrize("bounds", _BOUNDS)
@given(text=_DECIMAL_TEXT)
def test_a_decimal_string_is_accepted_exactly_when_its_declared_pattern_matches(bounds, text):
    field = schemas.DecimalString(**bounds)
    declared = field.metadata["anyOf"][0]["pattern"]
    try:
        field.deserialize(text)
        accepted = True
    except ValidationError:
        accepted = False
    assert accepted == bool(re.fullmatch(declared, text)), (declared, text)


@pytest.mark.parametrize(
    "text", [" 1.5", "1.5 ", "1e3", "+1", ".5", "1.", "\u0661"]
)  # an Arabic-Indic one: not [0-9]
def test_a_decimal_string_outside_the_declared_grammar_is_refused(text):
    with pytest.raises(ValidationError):
        schemas.DecimalString().deserialize(text)


def test_a_decimal_json_number_is_bounded_as_declared():
    field = schemas.DecimalString(
        minimum=Decimal(0), exclusive_minimum=True, validate=validate.Range(max=200)
    )
    number = field.metadata["anyOf"][1]
    assert number == {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 200}
    assert field.deserialize(Decimal("199.5")) == Decimal("199.5")
    for value in (0, Decimal("200.01"), True):
        with pytest.raises(ValidationError):
            field.deserialize(value)


@pytest.mark.parametrize("value", [1, 0, "true", "1", None])
def test_a_body_boolean_is_a_json_boolean_only(value):
    with pytest.raises(ValidationError):
        schemas.Boolean().deserialize(value)


def test_a_query_boolean_is_spelt_true_or_false():
    field = schemas.QueryBoolean()
    assert (field.deserialize("true"), field.deserialize("false")) == (True, False)
    for value in ("1", "yes", "True", "on"):
        with pytest.raises(ValidationError):
            field.deserialize(value)


def test_a_full_match_refuses_what_the_dollar_of_its_pattern_lets_through():
    class Carrier(Schema):
        code = fields.String(validate=schemas.FullMatch(r"^[a-z]{1,5}$"))

    assert Carrier().load({"code": "ups"}) == {"code": "ups"}
    with pytest.raises(ValidationError):
        Carrier().load({"code": "ups\n"})


@given(micros=st.integers(0, 10**16 - 1), row_id=st.from_regex(r"[0-9A-Za-z_]{1,64}", fullmatch=True))
def test_every_cursor_the_pattern_declares_decodes_and_encoding_round_trips(micros, row_id):
    cursor = f"{micros}.{row_id}"
    assert re.fullmatch(schemas.CURSOR_PATTERN, cursor)
    when, decoded = decode_cursor(cursor)
    assert decoded == row_id
    assert encode_cursor(when, row_id) == cursor


def test_a_content_disposition_survives_any_carrier_tracking_number():
    header = attachment('1Z 9"9\r\nü.pdf')
    assert "\r" not in header and "\n" not in header
    assert header == "attachment; filename=\"1Z_9_9___.pdf\"; filename*=UTF-8''1Z%209%229%0D%0A%C3%BC.pdf"


_MONEY_RULES = {
    code: branch["properties"]["amount"]
    for branch in schemas.MoneySchema.OPENAPI_RULES["anyOf"]
    for code in branch["properties"]["currency"]["enum"]
}


@pytest.mark.parametrize("currency", ["JPY", "USD", "KWD"])
@given(text=_DECIMAL_TEXT)
def test_a_money_amount_is_accepted_exactly_when_its_currency_rule_and_pattern_match(currency, text):
    field = schemas.MoneySchema().fields["amount"]
    declared = [field.metadata["anyOf"][0]["pattern"], _MONEY_RULES[currency]["anyOf"][0]["pattern"]]
    try:
        schemas.MoneySchema().load({"amount": text, "currency": currency})
        accepted = True
    except ValidationError:
        accepted = False
    assert accepted == all(re.fullmatch(p, text) for p in declared), (currency, text)


def test_a_money_amount_refuses_decimals_its_currency_lacks_and_fractional_json_numbers():
    money = schemas.MoneySchema()
    assert money.load({"amount": "12.50", "currency": "USD"})["amount"] == Decimal("12.50")
    assert money.load({"amount": Decimal("1200"), "currency": "JPY"})["amount"] == Decimal(1200)
    with pytest.raises(ValidationError) as refused:
        money.load({"amount": "999999999999.9999", "currency": "USD"})
    assert refused.value.messages == {"amount": ["USD has 2 decimal places."]}
    with pytest.raises(ValidationError) as refused:
        money.load({"amount": "1.5", "currency": "JPY"})
    assert refused.value.messages == {"amount": ["JPY has 0 decimal places."]}
    with pytest.raises(ValidationError) as refused:
        money.load({"amount": Decimal("12.5"), "currency": "USD"})  # a JSON number, read exactly
    assert refused.value.messages == {
        "amount": ['An amount with decimals is sent as a string, e.g. "12.50".']
    }
    assert _MONEY_RULES["KWD"]["anyOf"][1] == {"type": "integer"}
