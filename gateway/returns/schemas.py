"""API schemas for returns (the answer is a shipment: ``rates.schemas.ShipmentCreatedSchema``)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from gateway.kernel import schemas as common
from gateway.shipments import schemas as shipment_schemas


class ReturnCreateSchema(Schema):
    """The body of ``POST /v1/shipments/{id}/return``: every member optional."""

    reference = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "The return's reference; default: the original's", "example": "RMA-2041"},
    )
    return_to = fields.Nested(
        common.AddressSchema,
        metadata={"description": "Where the parcel goes back to; default: the original's origin"},
    )
    parcels = fields.List(
        fields.Nested(shipment_schemas.ParcelSchema),
        validate=validate.Length(min=1, max=50),
        metadata={"description": "What comes back; default: the original's parcels"},
    )
    carrier = fields.String(
        validate=validate.Length(min=1, max=50),
        metadata={"description": "The carrier of the return; default: the original's", "example": "ups"},
    )
    service = fields.String(
        validate=validate.Length(min=1, max=50),
        metadata={
            "description": "The carrier's service code; default: the original's when the carrier is the "
            "same, else the carrier's cheapest purchasable rate",
            "example": "03",
        },
    )
    qr_code = common.Boolean(
        metadata={
            "description": "Also ask the carrier for a QR code the customer shows at a counter, which prints "
            "the label there (USPS Label Broker; GET /v1/shipments/{id}/return-qr once bought). A carrier "
            "without one is a 422.",
            "example": False,
        }
    )
    metadata = fields.Dict(
        keys=fields.String(validate=validate.Length(max=40)),
        values=fields.String(validate=validate.Length(max=500)),
        validate=validate.Length(max=20),
    )
