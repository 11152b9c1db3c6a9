"""API schemas for end-of-day manifests."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from gateway.kernel import schemas as common
from gateway.manifests.tables import KINDS, STATES

_ID = r"^[A-Za-z0-9_]{1,32}$"


class ManifestCreateSchema(Schema):
    carrier = fields.String(
        required=True,
        validate=validate.Length(min=1, max=32),
        metadata={"example": "fedex", "description": "The carrier to close (its adapter name), or fleet"},
    )
    account = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "The enabled adapter's id (CARRIERS); needed when the carrier has several"},
    )
    date = fields.Date(
        load_default=None,
        metadata={"description": "The day to close, local to time_zone (default: today there)"},
    )
    time_zone = fields.String(
        load_default="UTC",
        validate=common.TimeZoneName(),
        metadata={"example": "America/Chicago", "description": "The zone the day is counted in"},
    )
    plan_id = fields.String(
        load_default=None,
        validate=common.FullMatch(_ID, error="a plan id"),
        metadata={
            "description": "fleet only: the applied allocation plan to dispatch (default: every plan "
            "applied on date)"
        },
    )

    @validates_schema
    def _fleet_only(self, data: dict[str, Any], **_: Any) -> None:
        fleet = data.get("carrier") == "fleet"
        if data.get("plan_id") is not None and not fleet:
            raise ValidationError("Only the fleet is dispatched from a plan.", "plan_id")
        if fleet and data.get("account") is not None:
            raise ValidationError("The own fleet has no carrier account.", "account")


class ManifestWeightTotalSchema(Schema):
    value = fields.String(required=True, metadata={"example": "12.5"})
    unit = fields.String(required=True, metadata={"example": "kg"})


class ManifestCostTotalSchema(Schema):
    amount = common.DecimalString(required=True, metadata={"example": "42.10"})
    currency = fields.String(required=True, metadata={"example": "USD"})


class ManifestTotalsSchema(Schema):
    count = fields.Integer(required=True)
    weight = fields.List(
        fields.Nested(ManifestWeightTotalSchema), required=True, metadata={"description": "Per unit"}
    )
    cost = fields.List(
        fields.Nested(ManifestCostTotalSchema), required=True, metadata={"description": "Per currency"}
    )


class ManifestDestinationSchema(Schema):
    city = fields.String(required=True)
    postal_code = fields.String(required=True)
    country_code = fields.String(required=True)


class ManifestStopSchema(Schema):
    street_lines = fields.List(fields.String(), required=True)
    name = fields.String(allow_none=True, required=True)
    window = fields.String(allow_none=True, required=True, metadata={"example": "09:00-12:00"})
    eta = fields.String(allow_none=True, required=True, metadata={"example": "10:42"})


class ManifestShipmentSchema(Schema):
    position = fields.Integer(
        required=True, metadata={"description": "Line on the document; the stop for a van"}
    )
    shipment_id = fields.String(required=True)
    tracking_number = fields.String(allow_none=True, required=True)
    reference = fields.String(required=True)
    service = fields.String(allow_none=True, required=True)
    destination = fields.Nested(ManifestDestinationSchema, required=True)
    weight = fields.Nested(ManifestWeightTotalSchema, allow_none=True, required=True)
    cost = fields.Nested(ManifestCostTotalSchema, allow_none=True, required=True)
    stop = fields.Nested(ManifestStopSchema, allow_none=True, required=True)


class ManifestCarrierDocumentSchema(Schema):
    type = fields.String(required=True, metadata={"example": "OP_950"})
    url = fields.String(required=True)


class ManifestSummarySchema(Schema):
    id = fields.String(required=True)
    carrier = fields.String(required=True)
    account = fields.String(allow_none=True, required=True)
    kind = fields.String(
        required=True,
        validate=validate.OneOf(KINDS),
        metadata={
            "description": "carrier: closed at the carrier too; gateway: the carrier has no close "
            "call, this manifest is the record; dispatch: one van of the own fleet"
        },
    )
    state = fields.String(required=True, validate=validate.OneOf(STATES))
    date = fields.Date(required=True)
    time_zone = fields.String(required=True)
    plan_id = fields.String(allow_none=True, required=True)
    vehicle_id = fields.String(allow_none=True, required=True)
    vehicle_name = fields.String(allow_none=True, required=True)
    shipment_count = fields.Integer(required=True)
    totals = fields.Nested(ManifestTotalsSchema, required=True)
    document_url = fields.String(
        allow_none=True, required=True, metadata={"description": "The gateway's PDF"}
    )
    carrier_document = fields.Nested(
        ManifestCarrierDocumentSchema,
        allow_none=True,
        required=True,
        metadata={
            "description": "The carrier's own manifest (FedEx OP-950, USPS PS 5630), when it returned one"
        },
    )
    carrier_reference = fields.String(
        allow_none=True, required=True, metadata={"description": "The carrier's manifest number (USPS EFN)"}
    )
    carrier_alerts = fields.List(fields.String(), required=True)
    carrier_code = fields.String(allow_none=True, required=True)
    carrier_message = fields.String(
        allow_none=True, required=True, metadata={"description": "Its last error"}
    )
    attempts = fields.Integer(required=True)
    closed_at = fields.AwareDateTime(allow_none=True, required=True)
    created_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)


class ManifestSchema(ManifestSummarySchema):
    shipments = fields.List(fields.Nested(ManifestShipmentSchema), required=True)


class ManifestCreatedSchema(Schema):
    data = fields.List(
        fields.Nested(ManifestSchema),
        required=True,
        metadata={"description": "The manifest made: one for a carrier, one per van for the fleet"},
    )


class ManifestListQuerySchema(common.PageQuerySchema):
    carrier = fields.String(validate=validate.Length(min=1, max=32))
    date = fields.Date(metadata={"description": "Manifests of this day"})
    state = fields.String(validate=validate.OneOf(STATES))


class ManifestPageSchema(Schema):
    data = fields.List(fields.Nested(ManifestSummarySchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class ManifestDocumentQuerySchema(Schema):
    source = fields.String(
        load_default="gateway",
        validate=validate.OneOf(("gateway", "carrier")),
        metadata={"description": "gateway: the gateway's PDF; carrier: the carrier's own document"},
    )
