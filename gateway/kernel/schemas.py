"""Reusable API fields and schemas: decimals as strings, money, addresses, pagination."""

from __future__ import annotations

import functools
import re
import zoneinfo
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from schemas import countries, money

_DECIMAL_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
# Decimal strings, declared exactly: |value| < 10**12 (what every amount and measure column holds).
_DECIMAL_DIGITS = 12
_FRACTION = r"(?:\.[0-9]+)?"
_ZERO_FRACTION = r"(?:\.0+)?"
_NONZERO_FRACTION = r"\.[0-9]*[1-9][0-9]*"


def _same_length(a: str, b: str) -> list[str]:
    """Regexes for the integers from ``a`` to ``b``, both written with the same number of digits."""
    if a == b:
        return [a]
    if a[0] == b[0]:
        return [a[0] + tail for tail in _same_length(a[1:], b[1:])]
    rest = len(a) - 1
    low, high = int(a[0]), int(b[0])
    head: list[str] = []
    tail: list[str] = []
    if a[1:] != "0" * rest:
        head = [a[0] + t for t in _same_length(a[1:], "9" * rest)]
        low += 1
    if b[1:] != "9" * rest:
        tail = [b[0] + t for t in _same_length("0" * rest, b[1:])]
        high -= 1
    if low <= high:
        first = str(low) if low == high else f"[{low}-{high}]"
        head.append(first + ("" if not rest else "[0-9]" if rest == 1 else f"[0-9]{{{rest}}}"))
    return head + tail


def _integers(low: int, high: int) -> str:
    """A regex for the integers from ``low`` to ``high`` (0 <= low <= high), leading zeros allowed."""
    if low == high == 0:
        return "0+"
    digits = len(str(high))
    if low == 0 and high == 10**digits - 1:
        return f"0*[0-9]{{1,{digits}}}"
    if high == 10**digits - 1 and str(low).strip("0") == "1":  # 10**k to all nines
        return f"0*[1-9][0-9]{{{len(str(low)) - 1},{digits - 1}}}"
    parts: list[str] = []
    for length in range(len(str(low)), digits + 1):
        a, b = max(low, 10 ** (length - 1) if length > 1 else 0), min(high, 10**length - 1)
        if a <= b:
            parts += _same_length(str(a), str(b))
    return "0*" + (parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")")


def _magnitudes(low: int, low_in: bool, high: int, high_in: bool) -> list[str]:
    """Regexes for the unsigned decimal strings between ``low`` and ``high`` (integers >= 0)."""
    if low > high or (low == high and not (low_in and high_in)):
        return []
    if low == high:
        return [_integers(low, low) + _ZERO_FRACTION]
    parts = [] if low_in else [_integers(low, low) + _NONZERO_FRACTION]
    start = low if low_in else low + 1
    if start <= high - 1:
        parts.append(_integers(start, high - 1) + _FRACTION)
    if high_in:
        parts.append(_integers(high, high) + _ZERO_FRACTION)
    return parts


def decimal_pattern(
    minimum: int | None = None,
    min_inclusive: bool = True,
    maximum: int | None = None,
    max_inclusive: bool = True,
) -> str:
    """The regex of exactly the decimal strings (``-?digits[.digits]``) within integer bounds.

    It is what the OpenAPI document declares for a DecimalString, so a client can check a value
    before sending it; ``DecimalString`` accepts exactly the strings it matches.
    """
    cap = 10**_DECIMAL_DIGITS
    low, low_in = (-cap, False) if minimum is None else (minimum, min_inclusive)
    high, high_in = (cap, False) if maximum is None else (maximum, max_inclusive)
    # Unsigned strings hold value = magnitude; signed ones value = -magnitude ("-0" included).
    unsigned = _magnitudes(*((low, low_in) if low >= 0 else (0, True)), high, high_in) if high >= 0 else []
    signed = _magnitudes(*((-high, high_in) if high <= 0 else (0, True)), -low, low_in) if low <= 0 else []
    if unsigned == signed:
        return "^-?(?:" + "|".join(unsigned) + ")$"
    return "^(?:" + "|".join(unsigned + ["-" + part for part in signed]) + ")$"


class DecimalString(fields.Field):
    """An exact decimal: a numeric string (``"1.25"``) or a JSON number; dumped as a plain string.

    Its bounds (``minimum``/``maximum``, and any ``validate.Range``: whole numbers) are declared
    exactly: a JSON number with ``minimum``/``maximum``, a string with the pattern of exactly the
    strings in range (``decimal_pattern``). Nothing else is accepted: no exponent, no blanks.
    """

    def __init__(
        self,
        *,
        minimum: Decimal | int | None = None,
        exclusive_minimum: bool = False,
        maximum: Decimal | int | None = None,
        exclusive_maximum: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        # A Range validator is folded into the bounds, so the document declares it as a pattern.
        bounds: list[tuple[Any, bool, Any, bool]] = [
            (minimum, not exclusive_minimum, maximum, not exclusive_maximum)
        ]
        for validator in list(self.validators):
            if isinstance(validator, validate.Range):
                bounds.append(
                    (validator.min, validator.min_inclusive, validator.max, validator.max_inclusive)
                )
                self.validators.remove(validator)
        self.minimum: Decimal | None = None
        self.maximum: Decimal | None = None
        self.min_inclusive = self.max_inclusive = True
        for low, low_in, high, high_in in bounds:
            if low is not None:
                low = Decimal(low)
                if self.minimum is None or low > self.minimum:
                    self.minimum, self.min_inclusive = low, low_in
                elif low == self.minimum:
                    self.min_inclusive = self.min_inclusive and low_in
            if high is not None:
                high = Decimal(high)
                if self.maximum is None or high < self.maximum:
                    self.maximum, self.max_inclusive = high, high_in
                elif high == self.maximum:
                    self.max_inclusive = self.max_inclusive and high_in
        for bound in (self.minimum, self.maximum):
            if bound is not None and bound != bound.to_integral_value():
                raise ValueError(f"DecimalString bounds are whole numbers, not {bound}")
        self.pattern = re.compile(
            decimal_pattern(
                None if self.minimum is None else int(self.minimum),
                self.min_inclusive,
                None if self.maximum is None else int(self.maximum),
                self.max_inclusive,
            )
        )
        cap = 10**_DECIMAL_DIGITS
        number: dict[str, Any] = {"type": "number"}
        if self.minimum is None:
            number.update(minimum=-cap, exclusiveMinimum=True)
        else:
            number.update(minimum=int(self.minimum), exclusiveMinimum=not self.min_inclusive)
        if self.maximum is None:
            number.update(maximum=cap, exclusiveMaximum=True)
        else:
            number.update(maximum=int(self.maximum), exclusiveMaximum=not self.max_inclusive)
        for key in ("exclusiveMinimum", "exclusiveMaximum"):
            if not number[key]:
                del number[key]
        string = {"type": "string", "format": "decimal", "pattern": self.pattern.pattern}
        self.metadata = {"anyOf": [string, number], **self.metadata}

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return format(Decimal(value).normalize(), "f")

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, (str, int, Decimal, float)):
            raise ValidationError('Must be a decimal number, e.g. "1.25".')
        try:
            result = Decimal(value.strip() if isinstance(value, str) else str(value))
        except InvalidOperation as exc:
            raise ValidationError('Must be a decimal number, e.g. "1.25".') from exc
        if not result.is_finite():
            raise ValidationError("Must be a finite number.")
        if result and result.adjusted() >= _DECIMAL_DIGITS:  # abs >= 1e12, without overflowing on 1e999999999
            raise ValidationError("Number is too large.")
        if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value):  # no exponent, sign or blank
            raise ValidationError('Must be a decimal number, e.g. "1.25".')
        if self.minimum is not None:
            if not self.min_inclusive and result <= self.minimum:
                raise ValidationError(f"Must be greater than {self.minimum}.")
            if self.min_inclusive and result < self.minimum:
                raise ValidationError(f"Must be at least {self.minimum}.")
        if self.maximum is not None:
            if not self.max_inclusive and result >= self.maximum:
                raise ValidationError(f"Must be less than {self.maximum}.")
            if self.max_inclusive and result > self.maximum:
                raise ValidationError(f"Must be at most {self.maximum}.")
        return result


class FullMatch(validate.Regexp):
    """``validate.Regexp`` over the whole value: its pattern's ``$`` would also pass "ups\\n".

    The pattern is documented as is (``^...$`` means the whole string in JSON Schema).
    """

    def __call__(self, value: Any) -> Any:  # as Regexp's: str in, str out (bytes, bytes)
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


@functools.cache
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones() | {"UTC"}))


class TimeZoneName(validate.OneOf):
    """An IANA time zone this system knows, documented as their enum (read on first use, not at import)."""

    def __init__(self, error: str | None = None) -> None:  # the choices are lazy: no super().__init__
        self.error = error or "Must be an IANA time zone such as Europe/Berlin."
        self.labels: list[str] = []

    # OneOf stores its choices as attributes; here they are read when first needed.
    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]  # a property where OneOf has an attribute
        return _zone_names()

    @property
    def choices_text(self) -> str:  # type: ignore[override]  # a property where OneOf has an attribute
        return ", ".join(self.choices)

    labels_text = ""


class Boolean(fields.Boolean):
    """A JSON ``true`` or ``false`` and nothing else (marshmallow's also takes 1, "yes", "on"...)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class QueryBoolean(fields.Boolean):
    """A query parameter spelled ``true`` or ``false``, as the OpenAPI document's boolean is sent."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if value not in ("true", "false"):
            raise self.make_error("invalid", input=value)
        is_true: bool = value == "true"
        return is_true


class MoneyAmount(DecimalString):
    """A money amount: a JSON number with a fraction is refused (send ``"12.50"``, a string).

    JSON Schema validators check ``multipleOf`` on binary floats (0.07 is no multiple of 0.01
    to them), so only whole JSON numbers can be declared exactly; decimals go in the string.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        result = super()._deserialize(value, attr, data, **kwargs)
        if not isinstance(value, str) and result != result.to_integral_value():
            raise ValidationError('An amount with decimals is sent as a string, e.g. "12.50".')
        return result


def _minor_units(places: int) -> dict[str, Any]:
    """The amounts exact to ``places`` decimals: whole JSON numbers, strings with that many."""
    fraction = r"\.0+" if not places else rf"\.[0-9]{{1,{places}}}0*"
    return {"anyOf": [{"type": "string", "pattern": rf"^-?[0-9]+(?:{fraction})?$"}, {"type": "integer"}]}


def _currencies_by_places() -> dict[int, list[str]]:
    groups: dict[int, list[str]] = {}
    for code in sorted(money.CURRENCIES):
        groups.setdefault(money.exponent(code), []).append(code)
    return dict(sorted(groups.items()))


class MoneySchema(Schema):
    """An amount in a currency, exact to the currency's minor unit (docs/PROBLEMS.md)."""

    amount = MoneyAmount(
        required=True,
        minimum=Decimal(0),
        metadata={
            "example": "25.00",
            "description": "At most as many decimals as the currency has (USD 2, JPY 0, KWD 3), "
            "below 10^12; decimals only in a string",
        },
    )
    currency = fields.String(
        required=True,
        validate=validate.OneOf(sorted(money.CURRENCIES)),
        metadata={"description": "ISO 4217 code", "example": "USD"},
    )

    OPENAPI_RULES: ClassVar[dict[str, Any]] = {
        "anyOf": [
            {"properties": {"currency": {"enum": codes}, "amount": _minor_units(places)}}
            for places, codes in _currencies_by_places().items()
        ]
    }

    @validates_schema
    def _exact_in_minor_units(self, data: dict[str, Any], **_: Any) -> None:
        amount, currency = data.get("amount"), data.get("currency")
        if amount is None or currency not in money.CURRENCIES:
            return
        places = money.exponent(currency)
        if amount != amount.quantize(Decimal(1).scaleb(-places)):
            raise ValidationError(f"{currency} has {places} decimal places.", "amount")


class AddressSchema(Schema):
    name = fields.String(validate=validate.Length(max=200), allow_none=True)
    company = fields.String(validate=validate.Length(max=200), allow_none=True)
    street_lines = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        required=True,
        validate=validate.Length(min=1, max=3),
        metadata={"example": ["1 Main St"]},
    )
    city = fields.String(required=True, validate=validate.Length(min=1, max=100))
    state = fields.String(validate=validate.Length(max=100), allow_none=True)
    postal_code = fields.String(
        validate=validate.Length(max=20), allow_none=True, metadata={"example": "10001"}
    )
    country_code = fields.String(
        required=True,
        validate=validate.OneOf(
            sorted(countries.ISO_3166_ALPHA2), error="Must be an ISO 3166-1 alpha-2 code."
        ),
        metadata={"example": "US"},
    )
    phone = fields.String(validate=validate.Length(max=40), allow_none=True)
    email = fields.Email(validate=validate.Length(max=254), allow_none=True)
    residential = Boolean(allow_none=True)
    latitude = DecimalString(allow_none=True, validate=validate.Range(min=-90, max=90))
    longitude = DecimalString(allow_none=True, validate=validate.Range(min=-180, max=180))

    # A postal code (not blank) is required unless the country has none: declared as _postal_code_present checks.
    OPENAPI_RULES: ClassVar[dict[str, Any]] = {
        "anyOf": [
            {"properties": {"country_code": {"enum": sorted(countries.NO_POSTAL_CODE)}}},
            {
                "required": ["postal_code"],
                "properties": {"postal_code": {"type": "string", "pattern": r"\S"}},
            },
        ]
    }

    @validates_schema
    def _postal_code_present(self, data: dict[str, Any], **_: Any) -> None:
        country = data.get("country_code")
        if (
            country
            and country not in countries.NO_POSTAL_CODE
            and not (data.get("postal_code") or "").strip()
        ):
            raise ValidationError(f"A postal code is required for {country}.", "postal_code")


def _member(field: fields.Field, description: str) -> fields.Field:
    field.metadata = {**field.metadata, "description": description}
    return field


class ProblemSchema(Schema):
    """RFC 9457 problem details, as every error is answered.

    Besides the standard members, some types carry extension members (docs/PROBLEMS.md says
    which); every one a problem can carry is listed here, and no other is sent.
    """

    type = fields.String(required=True, metadata={"description": "Stable URI of the problem type"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    instance = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    error_source = fields.String(validate=validate.OneOf(["gateway", "carrier"]))
    errors = _member(
        fields.Raw(),
        "Field errors ({dotted.path: [messages]}) or, for invoice-malformed, a list of {row, reason}",
    )
    # Extension members, by the types that carry them.
    problems = _member(fields.List(fields.Dict()), "shipment-invalid: every problem as {path, code, message}")
    shipment_status = _member(
        fields.String(),
        "label-already-purchased, label-in-progress, label-not-purchased, not-found, precondition-failed, "
        "precondition-required, shipment-cancelled",
    )
    tracking_number = _member(
        fields.String(allow_none=True),
        "label-already-purchased, label-document-unavailable, label-void-unsupported, tracking-number-*",
    )
    job_id = _member(fields.String(allow_none=True), "label-in-progress: the job to poll")
    state = _member(fields.String(), "job-not-actionable: the job's state")
    milestone = _member(fields.String(), "no-proof-in-review: the shipment's tracking milestone now")
    shipment_ids = _member(fields.List(fields.String()), "tracking-number-taken: your shipments holding it")
    carrier = _member(
        fields.String(), "label-void-unsupported, tracking-number-unconfirmed, carrier-not-configured"
    )
    account = _member(
        fields.String(allow_none=True), "tracking-number-unconfirmed: the carrier account asked"
    )
    confirmed_tracking_numbers = _member(
        fields.List(fields.String()), "tracking-number-unconfirmed: what the carrier shows instead"
    )
    code = _member(fields.String(allow_none=True), "carrier-rejected: the carrier's own error code")
    carrier_code = _member(fields.String(allow_none=True), "carrier-rejected on a void: the carrier's code")
    carrier_message = _member(
        fields.String(allow_none=True), "carrier-rejected on a void: the carrier's message"
    )
    source = _member(fields.String(), "label-document-unavailable: how the label was confirmed")
    available_formats = _member(
        fields.List(fields.String()), "label-format-unavailable: the formats this label converts to"
    )
    progress = _member(
        fields.Dict(keys=fields.String(), values=fields.Integer()),
        "batch-not-done: jobs by state",
    )
    excluded_shipments = _member(
        fields.List(fields.String()),
        "label-document-unavailable on a batch PDF: shipments without a printable label",
    )
    invoice_id = _member(fields.String(), "invoice-duplicate: the invoice uploaded before")
    error_count = _member(fields.Integer(), "invoice-malformed: rows in error in all")
    errors_shown = _member(fields.Integer(), "invoice-malformed: rows listed in errors")


# A page cursor: the last row's instant (microseconds since 1970, UTC) and id, as
# ``gateway.shipments.booking.encode_cursor`` writes it. Every string this pattern matches is a
# cursor (of a page that may be empty); any other is a 400 (bad-request, errors.cursor).
CURSOR_PATTERN = r"^-?[0-9]{1,16}\.[0-9A-Za-z_]{1,64}$"


def cursor_field(pattern: str = CURSOR_PATTERN) -> fields.String:
    return fields.String(
        load_default=None,
        validate=validate.Length(min=1),  # "" is no cursor at all: a 422, not the first page
        metadata={"pattern": pattern, "description": "The next_cursor of the previous page"},
    )


class PageQuerySchema(Schema):
    limit = fields.Integer(load_default=None, validate=validate.Range(min=1, max=200))
    cursor = cursor_field()
