"""Reusable API fields and schemas: decimals as strings, money, addresses, pagination."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from schemas import countries, money


class DecimalString(fields.Field):
    """An exact decimal: accepts a JSON number or a numeric string, returns a plain string."""

    def __init__(self, *, minimum: Decimal | None = None, exclusive_minimum: bool = False, **kwargs: Any):
        metadata = kwargs.pop("metadata", {})
        metadata.setdefault("type", "string")
        metadata.setdefault("format", "decimal")
        metadata.setdefault("pattern", r"^-?[0-9]+(\.[0-9]+)?$")
        super().__init__(metadata=metadata, **kwargs)
        self.minimum = minimum
        self.exclusive_minimum = exclusive_minimum

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return format(Decimal(value).normalize(), "f")

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, (str, int, Decimal, float)):
            raise ValidationError('Must be a decimal number, e.g. "1.25".')
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValidationError('Must be a decimal number, e.g. "1.25".') from exc
        if not result.is_finite():
            raise ValidationError("Must be a finite number.")
        if abs(result) >= Decimal("1e12"):
            raise ValidationError("Number is too large.")
        if self.minimum is not None:
            if self.exclusive_minimum and result <= self.minimum:
                raise ValidationError(f"Must be greater than {self.minimum}.")
            if not self.exclusive_minimum and result < self.minimum:
                raise ValidationError(f"Must be at least {self.minimum}.")
        return result


class MoneySchema(Schema):
    amount = DecimalString(required=True, minimum=Decimal(0), metadata={"example": "25.00"})
    currency = fields.String(
        required=True,
        validate=validate.OneOf(sorted(money.CURRENCIES)),
        metadata={"description": "ISO 4217 code", "example": "USD"},
    )


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
    residential = fields.Boolean(allow_none=True)
    latitude = DecimalString(allow_none=True, validate=validate.Range(min=-90, max=90))
    longitude = DecimalString(allow_none=True, validate=validate.Range(min=-180, max=180))

    @validates_schema
    def _postal_code_present(self, data: dict[str, Any], **_: Any) -> None:
        country = data.get("country_code")
        if (
            country
            and country not in countries.NO_POSTAL_CODE
            and not (data.get("postal_code") or "").strip()
        ):
            raise ValidationError(f"A postal code is required for {country}.", "postal_code")


class ProblemSchema(Schema):
    """RFC 9457 problem details, as every error is answered."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    instance = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    error_source = fields.String(validate=validate.OneOf(["gateway", "carrier"]))
    errors = fields.Raw()


class PageQuerySchema(Schema):
    limit = fields.Integer(load_default=None, validate=validate.Range(min=1, max=200))
    cursor = fields.String(load_default=None, validate=validate.Length(max=500))
