"""API schemas for rate card operations (ops): upload, versions, activation, dry runs."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from gateway.kernel import schemas as common


class RateCardDocumentSchema(Schema):
    """A rate card document, passed through untouched: the JSON Schema validates it."""

    class Meta:
        unknown = INCLUDE


class AuditEntrySchema(Schema):
    action = fields.String(
        required=True,
        metadata={"enum": ["card.uploaded", "card.activated", "card.retired", "card.ends"]},
    )
    by = fields.String(allow_none=True, metadata={"description": "API key id"})
    at = fields.DateTime(required=True)
    detail = fields.Dict(required=True)


class RateCardVersionSchema(Schema):
    id = fields.String(required=True, metadata={"example": "rcv_01JD3ZQ4Y8K6V2N0M5T7R9W1XB"})
    card_id = fields.String(required=True)
    version = fields.Integer(required=True)
    carrier = fields.String(required=True)
    service_code = fields.String(required=True)
    service_name = fields.String(required=True)
    currency = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": ["draft", "active", "retired"]})
    in_force = fields.Boolean(
        required=True, metadata={"description": "Whether this version prices shipments today"}
    )
    effective_from = fields.Date(required=True)
    effective_to = fields.Date(allow_none=True)
    uploaded_by = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    activated_at = fields.DateTime(allow_none=True)
    retired_at = fields.DateTime(allow_none=True)


class RateCardVersionDetailSchema(RateCardVersionSchema):
    document = fields.Dict(required=True, metadata={"description": "The card as uploaded"})
    history = fields.List(fields.Nested(AuditEntrySchema), required=True)


class RateCardSchema(Schema):
    card_id = fields.String(required=True)
    carrier = fields.String(required=True)
    service_code = fields.String(required=True)
    service_name = fields.String(required=True)
    latest_version = fields.Integer(required=True)
    version_in_force = fields.Integer(allow_none=True)
    versions = fields.List(fields.Nested(RateCardVersionSchema), required=True)


class RateCardListSchema(Schema):
    data = fields.List(fields.Nested(RateCardSchema), required=True)


class ActivationRequestSchema(Schema):
    effective_from = fields.Date(
        metadata={"description": "First day in force; defaults to the document's effective_from"}
    )
    effective_to = fields.Date(
        allow_none=True,
        metadata={
            "description": "Last day in force (inclusive); null for open-ended; defaults to the document's"
        },
    )


class ActivationSchema(RateCardVersionDetailSchema):
    retired = fields.List(
        fields.Nested(RateCardVersionSchema),
        required=True,
        metadata={"description": "Versions of the same service retired by this activation"},
    )
    ending = fields.List(
        fields.Nested(RateCardVersionSchema),
        required=True,
        metadata={"description": "Versions still in force until the day before this one starts"},
    )


class DryRunRequestSchema(Schema):
    last = fields.Integer(
        load_default=100,
        validate=validate.Range(min=1, max=1000),
        metadata={"description": "How many of the tenant's most recent shipments to price"},
    )


class SignedMoneySchema(Schema):
    amount = common.DecimalString(required=True, metadata={"description": "May be negative"})
    currency = fields.String(required=True)


class DryRunIneligibleSchema(Schema):
    reason = fields.String(required=True)
    detail = fields.String(required=True)


class DryRunSideSchema(Schema):
    card_version = fields.Integer(required=True)
    total_cost = fields.Nested(common.MoneySchema, allow_none=True)
    total_sell = fields.Nested(common.MoneySchema, allow_none=True)
    ineligible = fields.Nested(DryRunIneligibleSchema, allow_none=True)


class DryRunDifferenceSchema(Schema):
    cost = fields.Nested(SignedMoneySchema, required=True)
    sell = fields.Nested(SignedMoneySchema, required=True)


class DryRunShipmentSchema(Schema):
    shipment_id = fields.String(required=True)
    reference = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    current = fields.Nested(
        DryRunSideSchema,
        allow_none=True,
        metadata={"description": "Under the version in force; null if none"},
    )
    candidate = fields.Nested(DryRunSideSchema, required=True)
    difference = fields.Nested(
        DryRunDifferenceSchema,
        allow_none=True,
        metadata={"description": "candidate - current, when both priced it"},
    )


class DryRunTotalsSchema(Schema):
    current_cost = fields.Nested(SignedMoneySchema, required=True)
    candidate_cost = fields.Nested(SignedMoneySchema, required=True)
    difference_cost = fields.Nested(SignedMoneySchema, required=True)
    current_sell = fields.Nested(SignedMoneySchema, required=True)
    candidate_sell = fields.Nested(SignedMoneySchema, required=True)
    difference_sell = fields.Nested(SignedMoneySchema, required=True)


class DryRunSchema(Schema):
    card_id = fields.String(required=True)
    candidate_version = fields.Integer(required=True)
    current_version = fields.Integer(allow_none=True)
    carrier = fields.String(required=True)
    service_code = fields.String(required=True)
    markup_applied = fields.Boolean(required=True)
    shipments = fields.Integer(required=True, metadata={"description": "Shipments priced"})
    compared = fields.Integer(required=True, metadata={"description": "Priced under both versions"})
    only_current = fields.Integer(required=True)
    only_candidate = fields.Integer(required=True)
    neither = fields.Integer(required=True)
    totals = fields.Nested(
        DryRunTotalsSchema, required=True, metadata={"description": "Sums over the compared shipments"}
    )
    results = fields.List(fields.Nested(DryRunShipmentSchema), required=True)
