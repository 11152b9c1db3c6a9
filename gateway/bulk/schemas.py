"""API schemas for bulk booking (docs/BULK.md)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from gateway.bulk.tables import ROW_STATES, UPLOAD_STATES
from gateway.kernel import schemas as common

ROW_CURSOR_PATTERN = r"^[0-9]{1,5}$"


class BulkCreateSchema(Schema):
    """The JSON body: its rows are validated one by one by the job, so a bad row is that row's error."""

    shipments = fields.List(
        fields.Raw(
            metadata={
                "description": "A shipment as POST /v1/shipments takes it (ShipmentCreate), plus an optional "
                "key (your idempotency key for the row, 1 to 200 printable ASCII characters, no spaces); "
                "validated row by row: a row that is not one fails alone, with its errors"
            }
        ),
        required=True,
        validate=validate.Length(min=1),  # more than 10,000 is a 413, not a 422: no maxItems
        metadata={"description": "1 to 10,000 rows; more is a 413 (payload-too-large)"},
    )


class BulkProgressSchema(Schema):
    done = fields.Integer(required=True)
    total = fields.Integer(required=True)
    percent = fields.Float(required=True)


class BulkCountsSchema(Schema):
    booked = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    pending = fields.Integer(required=True)


class BulkRowSchema(Schema):
    row = fields.Integer(required=True, metadata={"description": "1 for the first row (after a CSV header)"})
    key = fields.String(allow_none=True, required=True)
    state = fields.String(required=True, validate=validate.OneOf(ROW_STATES))
    shipment_id = fields.String(allow_none=True, required=True)
    replayed = fields.Boolean(
        required=True, metadata={"description": "The row's key had booked this shipment before"}
    )
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        allow_none=True,
        required=True,
        metadata={"description": "Dotted paths of the row's JSON shape (parcels.0.weight.value) → messages"},
    )
    columns = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "CSV uploads: the column each error path came from"},
    )


class BulkSchema(Schema):
    id = fields.String(required=True, metadata={"example": "blk_01JD3ZQ4Y8K6V2N0M5T7R9W1XB"})
    state = fields.String(required=True, validate=validate.OneOf(UPLOAD_STATES))
    format = fields.String(required=True, validate=validate.OneOf(("json", "csv")))
    progress = fields.Nested(BulkProgressSchema, required=True)
    counts = fields.Nested(BulkCountsSchema, required=True)
    created_at = fields.DateTime(required=True)
    started_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)


class BulkWithRowsSchema(BulkSchema):
    rows = fields.List(fields.Nested(BulkRowSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class BulkRowsQuerySchema(common.PageQuerySchema):
    cursor = common.cursor_field(ROW_CURSOR_PATTERN)
    state = fields.String(validate=validate.OneOf(ROW_STATES))
