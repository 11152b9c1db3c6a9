"""API schemas for tenant markups (ops)."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, fields, validate

from gateway.kernel import schemas as common

_SCOPE = validate.Length(min=1, max=50)


class MarkupRuleSchema(Schema):
    carrier = fields.String(
        allow_none=True,
        load_default=None,
        validate=_SCOPE,
        metadata={"description": "Carrier code; null for the tenant's default rule", "example": "ups"},
    )
    service_code = fields.String(
        allow_none=True,
        load_default=None,
        validate=_SCOPE,
        metadata={"description": "The carrier's service code; null for every service of the carrier"},
    )
    percent = common.DecimalString(
        load_default=Decimal(0),
        minimum=Decimal(0),
        maximum=Decimal(1000),  # markups.MAX_PERCENT, declared
        metadata={
            "description": 'Added to every charge line\'s cost, e.g. "12.5" for 12.5 %; at most 4 decimals'
        },
    )
    fixed = fields.Nested(
        common.MoneySchema,
        allow_none=True,
        load_default=None,
        metadata={"description": "Added once per shipment, on the first charge line"},
    )


class MarkupSetSchema(Schema):
    rules = fields.List(
        fields.Nested(MarkupRuleSchema),
        required=True,
        validate=validate.Length(max=500),
        metadata={
            "description": "The whole rule set; the most specific rule wins (service, carrier, default)"
        },
    )


class MarkupsSchema(MarkupSetSchema):
    updated_at = fields.DateTime(allow_none=True)
    updated_by = fields.String(allow_none=True, metadata={"description": "API key id of the last change"})
