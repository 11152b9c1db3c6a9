"""API schemas for validation before purchase."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from gateway.kernel import schemas as common
from gateway.shipments import schemas as shipment_schemas

CARRIER_CODE = common.FullMatch(r"^[a-z][a-z0-9_]{0,39}$", error="a lowercase carrier code such as ups")
SERVICE_CODE = validate.Length(min=1, max=64)


class ValidateShipmentSchema(Schema):
    """Check a stored shipment; carrier and service default to the selected rate's."""

    carrier = fields.String(
        validate=CARRIER_CODE,
        metadata={"description": "Carrier to check against (default: the selected rate's)", "example": "ups"},
    )
    service = fields.String(
        validate=SERVICE_CODE,
        metadata={"description": "Carrier service code (default: the selected rate's)", "example": "03"},
    )


class ValidateBookingSchema(shipment_schemas.ShipmentCreateSchema):
    """A booking body as ``POST /v1/shipments`` takes it, plus the carrier and service to check against."""

    carrier = fields.String(required=True, validate=CARRIER_CODE, metadata={"example": "dhl_express"})
    service = fields.String(required=True, validate=SERVICE_CODE, metadata={"example": "P"})


class ValidSchema(Schema):
    valid = fields.Boolean(required=True, metadata={"description": "Always true: problems answer 422"})
    carrier = fields.String(required=True)
    service = fields.String(required=True)


class ProblemItemSchema(Schema):
    path = fields.String(required=True, metadata={"example": "destination.phone"})
    code = fields.String(required=True, metadata={"example": "required"})
    message = fields.String(required=True)


class ShipmentInvalidSchema(common.ProblemSchema):
    """A 422 of these operations: shipment-invalid (with ``problems``) or validation-error."""

    problems = fields.List(
        fields.Nested(ProblemItemSchema),
        metadata={"description": "shipment-invalid: every problem with its dotted path and stable code"},
    )
