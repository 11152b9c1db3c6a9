"""API schemas for carrier invoices, reconciliation reports, finance decisions and column mappings."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from gateway.kernel import schemas as common
from gateway.reconciliation import parsers
from schemas import money

FORMATS = parsers.FORMATS  # the carrier layouts, then "generic"
RESOLUTIONS = ("accepted", "disputed", "credited")
CHARGE_CLASSES = (
    "additional_handling",
    "address_correction",
    "base",
    "charge_correction",
    "declared_value",
    "fuel",
    "informational",
    "other",
    "oversize",
    "refund",
    "remote_area",
    "residential",
    "saturday",
    "signature",
    "tax",
)
DISCREPANCY_CLASSES = (
    "unknown_tracking",
    "duplicate_charge",
    "wrong_account",
    "fleet_delivered",
    "voided_label",
    "never_scanned",
    "late_delivery",
    "weight_over_declared",
    "dimensions_over_declared",
    "zone_mismatch",
    "base_rate_mismatch",
    "fuel_mismatch",
    "surcharge_not_quoted",
    "total_over_quote",
)
# What a generic CSV mapping may name (gateway/invoices/generic.py parses by this list); the first
# four must be mapped.
REQUIRED_MAPPED_FIELDS = ("invoice_number", "tracking_number", "charge_code", "amount")
MAPPABLE_FIELDS = (
    *REQUIRED_MAPPED_FIELDS,
    "currency",
    "description",
    "charge_class",
    "billed_weight",
    "weight_unit",
    "weight_type",
    "length",
    "width",
    "height",
    "dimension_unit",
    "zone",
    "service",
    "ship_date",
    "invoice_date",
    "account_number",
)
CARRIER_CODE_PATTERN = re.compile(r"^[a-z0-9_]{1,50}$")
CARRIER_CODE = common.FullMatch(CARRIER_CODE_PATTERN, error="a lowercase carrier code such as ups")


class InvoiceMoneySchema(Schema):
    """An exact amount that may be negative (credits), with its currency."""

    amount = common.DecimalString(required=True, metadata={"example": "-12.50"})
    currency = fields.String(required=True, metadata={"example": "USD"})


class UploadFormSchema(Schema):
    """The multipart form of an invoice upload (the file part is named ``file``)."""

    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})
    format = fields.String(
        validate=validate.OneOf(FORMATS),
        metadata={
            "description": f"{', '.join(FORMATS)}; a carrier layout is guessed from the first line when omitted"
        },
    )
    carrier = fields.String(
        validate=CARRIER_CODE,
        metadata={"description": "required for generic files (selects the saved mapping)"},
    )


class ProgressSchema(Schema):
    step = fields.String(allow_none=True, metadata={"example": "duplicate_charge"})
    step_index = fields.Integer()
    steps = fields.Integer()
    percent = fields.Float(metadata={"example": 42.5})
    lines_total = fields.Integer()
    started_at = fields.String(allow_none=True)
    finished_at = fields.String(allow_none=True)


class TotalsSchema(Schema):
    lines = fields.Integer(required=True)
    billed = fields.Nested(InvoiceMoneySchema, required=True)
    expected = fields.Nested(InvoiceMoneySchema, required=True)
    variance = fields.Nested(InvoiceMoneySchema, required=True, metadata={"description": "billed - expected"})
    recoverable = fields.Nested(
        InvoiceMoneySchema, required=True, metadata={"description": "what the findings let you claim back"}
    )
    flagged_lines = fields.Integer(metadata={"description": "lines with at least one discrepancy"})
    findings = fields.Integer(metadata={"description": "discrepancies (a line may have several)"})


class ResolutionTotalsSchema(Schema):
    lines = fields.Integer(required=True)
    recoverable = fields.Nested(InvoiceMoneySchema, required=True)


class ReportSchema(Schema):
    currency = fields.String(allow_none=True)
    totals = fields.Nested(TotalsSchema, required=True)
    by_class = fields.Dict(
        keys=fields.String(validate=validate.OneOf(DISCREPANCY_CLASSES)),
        values=fields.Nested(TotalsSchema),
        required=True,
        metadata={"description": "per discrepancy class: lines, billed, expected, variance, recoverable"},
    )
    by_carrier = fields.Dict(keys=fields.String(), values=fields.Nested(TotalsSchema), required=True)
    by_resolution = fields.Dict(keys=fields.String(), values=fields.Nested(ResolutionTotalsSchema))
    invoices = fields.Integer()


class ReconciliationSchema(Schema):
    invoice_id = fields.String(required=True)
    status = fields.String(
        required=True, validate=validate.OneOf(("queued", "reconciling", "reconciled", "failed"))
    )
    progress = fields.Nested(ProgressSchema, required=True)
    job = fields.Dict(allow_none=True, metadata={"description": "the RQ job running it: id, status, meta"})
    error = fields.String(allow_none=True)
    report = fields.Nested(ReportSchema, allow_none=True)


class InvoiceSchema(Schema):
    id = fields.String(required=True, metadata={"example": "inv_01JD3ZQ4Y8K6V2N0M5T7R9W1XB"})
    carrier = fields.String(required=True)
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))
    invoice_number = fields.String(required=True)
    invoice_date = fields.Date(allow_none=True)
    account_number = fields.String(allow_none=True)
    currency = fields.String(required=True)
    filename = fields.String()
    rows = fields.Integer(required=True, metadata={"description": "data rows of the file"})
    lines = fields.Integer(required=True, metadata={"description": "canonical charge lines stored"})
    billed = fields.Nested(InvoiceMoneySchema, required=True)
    status = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    reconciled_at = fields.DateTime(allow_none=True)
    reconciliation = fields.Nested(ReconciliationSchema, required=True)


class InvoiceListSchema(Schema):
    data = fields.List(fields.Nested(InvoiceSchema), required=True)
    next_cursor = fields.String(allow_none=True)


class InvoiceListArgsSchema(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = common.cursor_field()
    carrier = fields.String(validate=CARRIER_CODE)


class BilledDimensionsSchema(Schema):
    length = common.DecimalString()
    width = common.DecimalString()
    height = common.DecimalString()
    unit = fields.String()


class DiscrepancySchema(Schema):
    class_ = fields.String(
        data_key="class", attribute="class", required=True, validate=validate.OneOf(DISCREPANCY_CLASSES)
    )
    billed = fields.Nested(InvoiceMoneySchema, required=True)
    expected = fields.Nested(InvoiceMoneySchema, allow_none=True)
    recoverable = fields.Nested(InvoiceMoneySchema, required=True)
    reason = fields.String(required=True)
    evidence = fields.Dict(
        required=True,
        metadata={
            "description": "what was compared: quote lines, card terms, events, labels (money as objects)"
        },
    )


class LineSchema(Schema):
    id = fields.Integer(required=True)
    invoice_id = fields.String(required=True)
    row = fields.Integer(required=True, metadata={"description": "1-based line of the uploaded file"})
    tracking_number = fields.String(allow_none=True)
    charge_code = fields.String(required=True)
    charge_class = fields.String(required=True, validate=validate.OneOf(CHARGE_CLASSES))
    description = fields.String()
    amount = fields.Nested(InvoiceMoneySchema, required=True)
    expected = fields.Nested(InvoiceMoneySchema, allow_none=True)
    variance = fields.Nested(InvoiceMoneySchema, allow_none=True)
    recoverable = fields.Nested(InvoiceMoneySchema, required=True)
    billed_weight = common.DecimalString(allow_none=True)
    weight_unit = fields.String(allow_none=True)
    weight_type = fields.String(allow_none=True)
    dimensions = fields.Nested(BilledDimensionsSchema, allow_none=True)
    zone = fields.String(allow_none=True)
    service = fields.String(allow_none=True)
    ship_date = fields.Date(allow_none=True)
    shipment_id = fields.String(allow_none=True)
    is_return = fields.Boolean(
        metadata={"description": "The line bills a return label's shipment (docs/RETURNS.md)"}
    )
    resolution = fields.String(allow_none=True, validate=validate.OneOf(RESOLUTIONS))
    resolution_note = fields.String(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    credited_by_line_id = fields.Integer(allow_none=True)
    discrepancies = fields.List(fields.Nested(DiscrepancySchema), required=True)


class LineListSchema(Schema):
    data = fields.List(fields.Nested(LineSchema), required=True)
    next_after = fields.Integer(
        allow_none=True, metadata={"description": "pass as `after` for the next page"}
    )


class LineListArgsSchema(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    after = fields.Integer(validate=validate.Range(min=0, max=2**63 - 1))  # a BigInteger line id
    flagged = common.QueryBoolean(
        metadata={"description": "only lines with (true) or without (false) findings"}
    )
    class_ = fields.String(data_key="class", validate=validate.OneOf(DISCREPANCY_CLASSES))
    resolution = fields.String(validate=validate.OneOf(RESOLUTIONS))


class LineResolutionSchema(Schema):
    resolution = fields.String(
        required=True,
        allow_none=True,
        validate=validate.OneOf(RESOLUTIONS),
        metadata={"description": "accepted, disputed or credited; null reopens the line"},
    )
    note = fields.String(validate=validate.Length(max=500), allow_none=True)


class ColumnMappingSchema(Schema):
    """How to read a generic CSV invoice: header names per canonical field, and parsing options."""

    columns = fields.Dict(
        keys=fields.String(validate=validate.OneOf(MAPPABLE_FIELDS)),
        values=fields.String(validate=validate.Length(min=1, max=200)),
        required=True,
        metadata={
            "required": ["invoice_number", "tracking_number", "charge_code", "amount"],
            "example": {
                "invoice_number": "Invoice",
                "tracking_number": "Tracking",
                "charge_code": "Code",
                "amount": "Amount",
            },
        },
    )
    codes = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=32)),
        values=fields.String(validate=validate.OneOf(CHARGE_CLASSES)),
        load_default=dict,
        metadata={"description": "carrier charge code -> canonical charge class", "example": {"FRT": "base"}},
    )
    delimiter = fields.String(load_default=",", validate=validate.OneOf((",", ";", "\t", "|")))
    decimal_separator = fields.String(load_default=".", validate=validate.OneOf((".", ",")))
    date_format = fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.Length(max=40),
        metadata={"example": "%Y-%m-%d", "pattern": "^$|%"},  # a strptime format, as checked below
    )
    currency = fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.OneOf(sorted(money.CURRENCIES)),
        metadata={"description": "used when the file has no currency column"},
    )
    weight_unit = fields.String(load_default="lb", validate=validate.OneOf(("lb", "kg", "oz")))
    dimension_unit = fields.String(load_default="in", validate=validate.OneOf(("in", "cm")))

    # A currency column or a default currency (as _required_columns checks); the columns' keys are
    # the mappable fields (OpenAPI 3.0 has no propertyNames: they are listed one by one).
    OPENAPI_RULES: ClassVar[dict[str, Any]] = {
        "anyOf": [
            {"properties": {"columns": {"required": ["currency"]}}},
            {"required": ["currency"], "properties": {"currency": {"type": "string"}}},
        ],
        "allOf": [
            {
                "properties": {
                    "columns": {
                        "properties": {name: {"type": "string"} for name in MAPPABLE_FIELDS},
                        "additionalProperties": False,
                    }
                }
            }
        ],
    }

    @validates_schema
    def _required_columns(self, data: dict, **kwargs: object) -> None:
        missing = [
            f
            for f in ("invoice_number", "tracking_number", "charge_code", "amount")
            if f not in data["columns"]
        ]
        if missing:
            raise ValidationError({"columns": [f"must map {', '.join(missing)}"]})
        if "currency" not in data["columns"] and not data.get("currency"):
            raise ValidationError({"currency": ["give a currency column or a default currency"]})
        if data.get("date_format") and "%" not in data["date_format"]:
            raise ValidationError({"date_format": ["a strptime format such as %Y-%m-%d"]})


class ColumnMappingOutSchema(ColumnMappingSchema):
    carrier = fields.String(required=True)
    updated_at = fields.DateTime(required=True)


class ReportArgsSchema(Schema):
    carrier = fields.String(validate=CARRIER_CODE)
    currency = fields.String(validate=validate.OneOf(sorted(money.CURRENCIES)))
    created_after = fields.DateTime()
    created_before = fields.DateTime()


class DisputeExportArgsSchema(Schema):
    resolution = fields.String(load_default="disputed", validate=validate.OneOf(RESOLUTIONS))
