"""API schemas for rate shopping and quote selection."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from gateway.kernel import schemas as common
from gateway.predictions import schemas as prediction_schemas
from gateway.shipments import schemas as shipment_schemas


class RateRequestSchema(shipment_schemas.ShipmentCreateSchema):
    """A prospective shipment: the shipment create body without a reference."""

    class Meta:
        exclude = ("reference",)


class ChargeLineSchema(Schema):
    code = fields.String(required=True, metadata={"example": "BASE"})
    description = fields.String(required=True)
    cost = fields.Nested(
        common.MoneySchema, required=True, metadata={"description": "What the carrier charges"}
    )
    sell = fields.Nested(
        common.MoneySchema, required=True, metadata={"description": "After the tenant's markup"}
    )


class RateSchema(Schema):
    id = fields.String(required=True, metadata={"example": "rte_01JD3ZQ4Y8K6V2N0M5T7R9W1XB"})
    carrier = fields.String(required=True)
    service_code = fields.String(required=True)
    service_name = fields.String(required=True)
    source = fields.String(
        required=True,
        metadata={
            "description": "Where the price comes from: the tenant's contract card, the carrier's live "
            "answer, or a bundled sample card. One rate per carrier service; the delivery estimate is the "
            "carrier's live one when it answered, else the card's.",
            "enum": ["contract", "live", "sample"],
        },
    )
    card_id = fields.String(allow_none=True)
    card_version = fields.Integer(allow_none=True)
    zone = fields.String(allow_none=True)
    billable_weight = common.DecimalString(allow_none=True)
    weight_unit = fields.String(allow_none=True)
    estimated_delivery = fields.Date(required=True)
    guaranteed = fields.Boolean(required=True)
    prediction = fields.Nested(
        prediction_schemas.PredictionSchema,
        allow_none=True,
        metadata={
            "description": "When it should arrive, learned from your deliveries (docs/PREDICTIONS.md): the p50, "
            "p80 and p95 dates and the probability of arriving by the promise date"
        },
    )
    labels = fields.List(
        fields.String(),
        required=True,
        metadata={
            "example": ["cheapest"],
            "description": "cheapest, fastest, best_value: given among purchasable rates only",
        },
    )
    purchasable = fields.Boolean(
        metadata={
            "description": "Whether a label can be bought at this rate: an enabled carrier adapter sells its "
            "carrier's labels, or it is the own fleet. A rate that is not purchasable has no labels, is "
            "listed after the purchasable ones and is never allocated. Always given by rating; absent "
            "only on the rates kept with shipments created before it existed."
        },
    )
    not_purchasable_reason = fields.String(
        allow_none=True, metadata={"description": "Why the rate cannot be bought; null when it can"}
    )
    total_cost = fields.Nested(common.MoneySchema, required=True)
    total_sell = fields.Nested(common.MoneySchema, required=True)
    duties_and_taxes = fields.Nested(
        common.MoneySchema,
        allow_none=True,
        metadata={
            "description": "The carrier's estimate of the destination's duties and taxes for the shipment's "
            "customs declaration (docs/CUSTOMS.md), apart from the price: paid by the recipient (DAP) or "
            "the shipper (DDP). Null when the carrier gave none (only FedEx live rates do today)."
        },
    )
    lines = fields.List(fields.Nested(ChargeLineSchema), required=True)
    expires_at = fields.DateTime(required=True)


class IneligibleSchema(Schema):
    carrier = fields.String(required=True)
    service_code = fields.String(required=True)
    card_id = fields.String(required=True)
    reason = fields.String(
        required=True,
        metadata={"enum": ["weight_limit", "dimensions", "area_not_served", "too_slow", "blocked_by_rule"]},
    )
    detail = fields.String(required=True)
    estimated_delivery = fields.Date(allow_none=True)


class CarrierErrorSchema(Schema):
    carrier = fields.String(required=True)
    code = fields.String(required=True, metadata={"example": "timeout"})
    message = fields.String(required=True)


class RateShopSchema(Schema):
    source = fields.String(
        required=True, metadata={"description": "contract, or sample when the tenant has no rate cards yet"}
    )
    deadline_ms = fields.Integer(required=True)
    rates = fields.List(fields.Nested(RateSchema), required=True)
    ineligible = fields.List(fields.Nested(IneligibleSchema), required=True)
    errors = fields.List(fields.Nested(CarrierErrorSchema), required=True)


class RateSelectionSchema(Schema):
    rate_id = fields.String(required=True, validate=validate.Length(min=1, max=32))


class QuoteSnapshotSchema(Schema):
    shipment_id = fields.String(required=True)
    status = fields.String(required=True)
    carrier = fields.String(required=True)
    service = fields.String(required=True)
    rate_id = fields.String(required=True)
    source = fields.String(required=True)
    service_name = fields.String(required=True)
    card_id = fields.String(allow_none=True)
    card_version = fields.Integer(allow_none=True)
    currency = fields.String(required=True)
    estimated_delivery = fields.Date(allow_none=True)
    total_cost = fields.Nested(common.MoneySchema, required=True)
    total_sell = fields.Nested(common.MoneySchema, required=True)
    lines = fields.List(fields.Nested(ChargeLineSchema), required=True)
    selected_at = fields.DateTime(required=True)


class ShipmentCreatedSchema(shipment_schemas.ShipmentSchema):
    """A created shipment with the rates it was quoted at creation."""

    rates = fields.Nested(RateShopSchema, required=True)


class ShipmentWithRatesSchema(shipment_schemas.ShipmentSchema):
    """A shipment as read back: the rates quoted at its creation, when it was rated."""

    rates = fields.Nested(RateShopSchema)
