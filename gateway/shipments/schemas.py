"""API schemas for shipments."""

from __future__ import annotations

import copy
from decimal import Decimal

from marshmallow import Schema, fields, missing, validate

from gateway.customs import schemas as customs_schemas
from gateway.kernel import schemas as common
from gateway.tracking import schemas as tracking_schemas
from gateway.trackpage import links as trackpage_links
from schemas import units

# The largest values the parcel columns hold (Numeric(12, 4) weights, Numeric(12, 3) dimensions):
# anything larger is refused here as a 422, never left to overflow the database.
MAX_WEIGHT = Decimal("99999999")
MAX_DIMENSION = Decimal("999999999")


class WeightSchema(Schema):
    value = common.DecimalString(
        required=True,
        minimum=Decimal(0),
        exclusive_minimum=True,
        maximum=MAX_WEIGHT,
        metadata={"example": "1.5"},
    )
    unit = fields.String(required=True, validate=validate.OneOf(sorted(units.WEIGHT_UNITS)))


class DimensionsSchema(Schema):
    length = common.DecimalString(
        required=True,
        minimum=Decimal(0),
        exclusive_minimum=True,
        maximum=MAX_DIMENSION,
        metadata={"example": "30"},
    )
    width = common.DecimalString(
        required=True,
        minimum=Decimal(0),
        exclusive_minimum=True,
        maximum=MAX_DIMENSION,
        metadata={"example": "20"},
    )
    height = common.DecimalString(
        required=True,
        minimum=Decimal(0),
        exclusive_minimum=True,
        maximum=MAX_DIMENSION,
        metadata={"example": "10"},
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
    customs = fields.Nested(
        customs_schemas.CustomsSchema,
        allow_none=True,
        metadata={
            "description": "The customs declaration, for a shipment crossing a customs border (docs/CUSTOMS.md)"
        },
    )
    metadata = fields.Dict(
        keys=fields.String(validate=validate.Length(max=40)),
        values=fields.String(validate=validate.Length(max=500)),
        validate=validate.Length(max=20),
        load_default=dict,
    )


def _all_optional(schema: type[Schema], name: str, **replace: fields.Field) -> type[Schema]:
    """``schema``'s fields, each optional and with no default (same validators): a patch's shape."""
    declared: dict[str, fields.Field] = {}
    for key, field in schema._declared_fields.items():
        declared[key] = replace.get(key) or copy.deepcopy(field)
        declared[key].required = False
        declared[key].load_default = missing
    return Schema.from_dict(declared, name=name)


# A partial address: the members sent replace the shipment's, null clears an optional one; the
# merged address is then validated as booking validates it (ShipmentCreateSchema).
AddressPatchSchema = _all_optional(common.AddressSchema, "AddressPatchSchema")

# The body of PATCH /v1/shipments/{id}: any booking field. Addresses merge member by member;
# parcels and metadata are replaced whole; null clears service_level or promise_date. The merged
# shipment is validated exactly as POST /v1/shipments validates a booking (gateway.shipments.editing).
ShipmentPatchSchema = _all_optional(
    ShipmentCreateSchema,
    "ShipmentPatchSchema",
    origin=fields.Nested(AddressPatchSchema),
    destination=fields.Nested(AddressPatchSchema),
)


class ShipmentSchema(Schema):
    id = fields.String(required=True, metadata={"example": "shp_01JD3ZQ4Y8K6V2N0M5T7R9W1XB"})
    reference = fields.String(required=True)
    status = fields.String(
        required=True,
        metadata={
            "example": "draft",
            "description": "draft, label_requested, purchasing, needs_review, purchased, failed, "
            "voided or cancelled",
        },
    )
    version = fields.Integer(
        required=True,
        metadata={
            "example": 1,
            "description": '1 when booked, +1 on each edit and on cancel; the ETag is W/"<version>"',
        },
    )
    cancelled_at = fields.DateTime(allow_none=True, metadata={"description": "When the draft was cancelled"})
    origin = fields.Nested(common.AddressSchema, required=True)
    destination = fields.Nested(common.AddressSchema, required=True)
    parcels = fields.List(fields.Nested(ParcelSchema), required=True)
    service_level = fields.String(allow_none=True)
    carrier = fields.String(allow_none=True)
    service = fields.String(allow_none=True)
    tracking_number = fields.String(allow_none=True)
    tracking = fields.Nested(tracking_schemas.TrackingSummarySchema, allow_none=True)
    is_return = fields.Boolean(
        metadata={"description": "A return label's shipment (POST /v1/shipments/{id}/return)"}
    )
    return_of = fields.String(
        allow_none=True, metadata={"description": "For a return: the id of the shipment it brings back"}
    )
    returns = fields.List(
        fields.String(), metadata={"description": "The ids of this shipment's returns, oldest first"}
    )
    tracking_url = fields.Function(
        trackpage_links.for_representation,
        dump_only=True,
        allow_none=True,
        metadata={
            "type": "string",
            "description": "The recipient's public tracking page (no API key needed)",
        },
    )
    promise_date = fields.Date(allow_none=True)
    customs = fields.Nested(customs_schemas.CustomsSchema, allow_none=True)
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
