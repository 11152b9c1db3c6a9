"""API schemas of address validation."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from gateway.kernel.schemas import AddressSchema

CLASSES = ("residential", "commercial", "unknown")


class AddressValidateSchema(Schema):
    address = fields.Nested(AddressSchema, required=True)
    carrier = fields.String(
        validate=validate.Length(min=1, max=64),
        allow_none=True,
        metadata={
            "description": "carrier account id or adapter name (ups, fedex, usps); default: the first "
            "enabled carrier that validates addresses",
            "example": "ups",
        },
    )


class NormalisedAddressSchema(Schema):
    street_lines = fields.List(fields.String(), required=True)
    city = fields.String(required=True)
    state = fields.String(allow_none=True)
    postal_code = fields.String(required=True)
    country_code = fields.String(required=True)
    residential = fields.Boolean(
        allow_none=True, metadata={"description": "true: a home; false: a business; null: not known"}
    )


class LocationSchema(Schema):
    latitude = fields.Float(required=True)
    longitude = fields.Float(required=True)
    approximate = fields.Boolean(
        required=True, metadata={"description": "true for a postal-code centroid, not the street address"}
    )
    source = fields.String(required=True, metadata={"description": "zip (embedded data) or http"})


class AddressValidationSchema(Schema):
    carrier = fields.String(required=True, metadata={"description": "the carrier account that answered"})
    adapter = fields.String(required=True, metadata={"example": "ups"})
    address = fields.Nested(NormalisedAddressSchema, required=True)
    classification = fields.String(required=True, validate=validate.OneOf(CLASSES))
    valid = fields.Boolean(
        allow_none=True,
        metadata={
            "description": "true: a deliverable address; false: none found; null: ambiguous or not said"
        },
    )
    candidates = fields.List(fields.Nested(NormalisedAddressSchema), required=True)
    messages = fields.List(fields.String(), required=True)
    location = fields.Nested(LocationSchema, allow_none=True, required=True)
    cached = fields.Boolean(required=True, metadata={"description": "the answer came from the cache"})
