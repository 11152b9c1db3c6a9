"""API schemas for customs: the declaration on a shipment, and the document download's query."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, fields, validate

from gateway.kernel import schemas as common
from schemas import types, units

# The largest line weight a declaration takes (as the parcel weights: 10^8 of any unit).
MAX_WEIGHT = Decimal("99999999")
MAX_QUANTITY = 1_000_000


class TaxIdSchema(Schema):
    type = fields.String(
        required=True,
        validate=validate.OneOf(types.TAX_ID_TYPES),
        metadata={"description": "EIN (US), EORI (EU/UK customs), VAT, or IOSS (EU import one-stop shop)"},
    )
    number = fields.String(
        required=True, validate=validate.Length(min=1, max=35), metadata={"example": "DE123456789012345"}
    )


class CustomsWeightSchema(Schema):
    value = common.DecimalString(
        required=True,
        minimum=Decimal(0),
        exclusive_minimum=True,
        maximum=MAX_WEIGHT,
        metadata={"example": "0.4"},
    )
    unit = fields.String(required=True, validate=validate.OneOf(sorted(units.WEIGHT_UNITS)))


class CustomsItemSchema(Schema):
    description = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "What it is, as customs reads it", "example": "Cotton T-shirt"},
    )
    quantity = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=MAX_QUANTITY), metadata={"example": 2}
    )
    unit_value = fields.Nested(
        common.MoneySchema, required=True, metadata={"description": "The value of one unit"}
    )
    weight = fields.Nested(
        CustomsWeightSchema, required=True, metadata={"description": "The net weight of the whole line"}
    )
    hs_code = fields.String(
        allow_none=True,
        validate=validate.Length(min=1, max=20),
        metadata={
            "description": "Harmonized System code, 6 to 10 digits (dots and spaces are ignored); "
            "required for goods crossing a customs border",
            "example": "6109.10",
        },
    )
    origin_country = fields.String(
        required=True,
        validate=common.FullMatch(r"^[A-Z]{2}$", error="an ISO 3166-1 alpha-2 country code such as CN"),
        metadata={"description": "Where the goods were made (ISO 3166-1 alpha-2)", "example": "US"},
    )


class CustomsSchema(Schema):
    """A customs declaration: checked per destination before a label is bought (docs/CUSTOMS.md)."""

    content_type = fields.String(
        required=True,
        validate=validate.OneOf(types.CONTENT_TYPES),
        metadata={"description": "merchandise, documents, gift, sample or return", "example": "merchandise"},
    )
    incoterm = fields.String(
        load_default="DAP",
        validate=validate.OneOf(types.INCOTERMS),
        metadata={"description": "DAP: the recipient pays duties and taxes; DDP: the shipper does"},
    )
    items = fields.List(
        fields.Nested(CustomsItemSchema),
        load_default=list,
        validate=validate.Length(max=100),
        metadata={"description": "What is shipped; goods need at least one (documents may have none)"},
    )
    exporter_tax_ids = fields.List(
        fields.Nested(TaxIdSchema), load_default=list, validate=validate.Length(max=5)
    )
    importer_tax_ids = fields.List(
        fields.Nested(TaxIdSchema), load_default=list, validate=validate.Length(max=5)
    )
    invoice_number = fields.String(
        allow_none=True,
        validate=validate.Length(min=1, max=35),
        metadata={"description": "The commercial invoice's number (default: the shipment id)"},
    )


class DocumentQuerySchema(Schema):
    source = fields.String(
        load_default="gateway",
        validate=validate.OneOf(("gateway", "carrier")),
        metadata={
            "description": "gateway: the invoice rendered from the declaration; carrier: the carrier's "
            "paperless-trade copy (DHL Express, FedEx), when it returned one"
        },
    )
