"""API schemas for shipments."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, fields, validate

from schemas import units
from schemas.api import common
from schemas.api import tracking as tracking_schemas


class WeightSchema(Schema):
    value = common.DecimalString(
        required=True, minimum=Decimal(0), exclusive_minimum=True, metadata={"example": "1.5"}
    )
    unit = fields.String(required=True, validate=validate.OneOf(sorted(units.WEIGHT_UNITS)))


class DimensionsSchema(Schema):
    length = common.DecimalString(
        required=True, minimum=Decimal(0), exclusive_minimum=True, metadata={"example": "30"}
    )
    width = common.DecimalString(
        required=True, minimum=Decimal(0), exclusive_minimum=True, metadata={"example": "20"}
    )
    height = common.DecimalString(
        required=True, minimum=Decimal(0), exclusive_minimum=True, metadata={"example": "10"}
    )
    unit = fields.String(required=True, validate=validate.OneOf(sorted(units.LENGTH_UNITS)))


class ParcelSchema(Schema):
    id = fields.String(dump_only=True)
    weight = fields.Nested(WeightSchema, required=True)
    dimensions = fields.Nested(DimensionsSchema, required=True)
    declared_value = fields.Nested(common.MoneySchema, allow_none=True)


class ShipmentCreateSchema(Schema):
    reference = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Your order or shipment reference", "example": "ORDER-1001"},
    )
    origin = fields.Nested(common.AddressSchema, required=True)
    destination = fields.Nested(common.AddressSchema, required=True)
    parcels = fields.List(fields.Nested(ParcelSchema), required=True, validate=validate.Length(min=1, max=50))
    service_level = fields.String(
        validate=validate.Length(max=50), allow_none=True, metadata={"example": "standard"}
    )
    promise_date = fields.Date(allow_none=True, metadata={"description": "Latest acceptable delivery date"})
    metadata = fields.Dict(
        keys=fields.String(validate=validate.Length(max=40)),
        values=fields.String(validate=validate.Length(max=500)),
        validate=validate.Length(max=20),
        load_default=dict,
    )


class ShipmentSchema(Schema):
    id = fields.String(required=True, metadata={"example": "shp_01JD3ZQ4Y8K6V2N0M5T7R9W1XB"})
    reference = fields.String(required=True)
    status = fields.String(required=True, metadata={"example": "draft"})
    origin = fields.Nested(common.AddressSchema, required=True)
    destination = fields.Nested(common.AddressSchema, required=True)
    parcels = fields.List(fields.Nested(ParcelSchema), required=True)
    service_level = fields.String(allow_none=True)
    carrier = fields.String(allow_none=True)
    service = fields.String(allow_none=True)
    tracking_number = fields.String(allow_none=True)
    tracking = fields.Nested(tracking_schemas.TrackingSummarySchema, allow_none=True)
    promise_date = fields.Date(allow_none=True)
    metadata = fields.Dict(keys=fields.String(), values=fields.String())
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class ShipmentListQuerySchema(common.PageQuerySchema):
    status = fields.String(validate=validate.Length(max=32))
    reference = fields.String(validate=validate.Length(max=100))
    created_after = fields.AwareDateTime(metadata={"description": "Inclusive lower bound (RFC 3339)"})
    created_before = fields.AwareDateTime(metadata={"description": "Exclusive upper bound (RFC 3339)"})


class ShipmentPageSchema(Schema):
    data = fields.List(fields.Nested(ShipmentSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)
