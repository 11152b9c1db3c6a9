"""API schemas for labels, purchase jobs (with the ops dead-letter actions) and batches."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, pre_load, validate

from gateway.kernel import schemas as common

FORMATS = ("pdf", "png", "zpl")
JOB_STATES = ("queued", "running", "succeeded", "failed", "needs_review")


class _Lowercase(Schema):
    """Accept label formats in any case (``PDF`` or ``pdf``)."""

    @pre_load
    def _lower(self, data: Any, **_: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("label_format"), str):
            return {**data, "label_format": data["label_format"].lower()}
        return data


class LabelRequestSchema(_Lowercase):
    label_format = fields.String(
        load_default="pdf",
        validate=validate.OneOf(FORMATS),
        metadata={"description": "Format to keep the label in (others are converted on download)"},
    )


MAX_WAIT_SECONDS = 30


class LabelWaitQuerySchema(Schema):
    wait = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=MAX_WAIT_SECONDS),
        metadata={
            "description": f"Seconds (0 to {MAX_WAIT_SECONDS}) to wait for the purchase to finish: "
            "200 with the finished job (and its label) if it does, else the 202 as with 0"
        },
    )


class LabelFileQuerySchema(Schema):
    tenant = fields.String(load_default=None, metadata={"description": "Signed: the label's tenant"})
    expires = fields.String(load_default=None, metadata={"description": "Signed: expiry, Unix seconds"})
    signature = fields.String(load_default=None, metadata={"description": "HMAC-SHA256, base64url"})


class LabelDownloadQuerySchema(Schema):
    format = fields.String(
        load_default=None,
        validate=validate.OneOf(FORMATS),
        metadata={"description": "pdf, png or zpl; default: the format it was bought in"},
    )


class LabelSchema(Schema):
    id = fields.String(required=True)
    shipment_id = fields.String(required=True)
    carrier = fields.String(required=True)
    service = fields.String(allow_none=True)
    tracking_number = fields.String(required=True)
    tracking_numbers = fields.List(fields.String(), required=True)
    status = fields.String(required=True, validate=validate.OneOf(["purchased", "voided"]))
    cost = fields.Nested(common.MoneySchema, allow_none=True)
    format = fields.String(allow_none=True)
    checksum = fields.String(allow_none=True)
    document_available = fields.Boolean(required=True)
    source = fields.String(required=True, metadata={"description": "carrier, lookup, local or ops"})
    purchased_at = fields.DateTime(required=True)
    voided_at = fields.DateTime(allow_none=True)
    url = fields.String(
        allow_none=True,
        metadata={
            "description": "Signed link to the document in its kept format, no API key needed; "
            "null when there is no document (or no signing key in production)"
        },
    )
    url_expires_at = fields.DateTime(allow_none=True, metadata={"description": "When `url` stops working"})


class LabelJobErrorSchema(Schema):
    code = fields.String(allow_none=True)
    message = fields.String(allow_none=True)


class LabelAttemptSchema(Schema):
    id = fields.Integer(required=True)
    operation = fields.String(required=True, metadata={"description": "purchase, lookup or void"})
    carrier = fields.String(required=True)
    reference = fields.String(required=True)
    outcome = fields.String(required=True)
    error_code = fields.String(allow_none=True)
    error_message = fields.String(allow_none=True)
    http_status = fields.Integer(allow_none=True)
    evidence = fields.Dict(required=True)
    started_at = fields.DateTime(required=True)
    finished_at = fields.DateTime(allow_none=True)


class LabelJobSchema(Schema):
    id = fields.String(required=True, metadata={"example": "job_01JD3ZQ4Y8K6V2N0M5T7R9W1XB"})
    kind = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(JOB_STATES))
    shipment_id = fields.String(required=True)
    shipment_status = fields.String(allow_none=True)
    carrier = fields.String(allow_none=True)
    reference = fields.String(allow_none=True)
    batch_id = fields.String(allow_none=True)
    label_format = fields.String(required=True)
    attempts = fields.Integer(required=True, metadata={"description": "Purchase calls made to the carrier"})
    last_error = fields.Nested(LabelJobErrorSchema, allow_none=True)
    next_attempt_at = fields.DateTime(allow_none=True)
    outbox_state = fields.String(allow_none=True, metadata={"description": "dead: the job runner gave up"})
    label = fields.Nested(LabelSchema, allow_none=True)
    attempt_log = fields.List(fields.Nested(LabelAttemptSchema), required=True)
    resolution = fields.List(fields.Dict(), required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    finished_at = fields.DateTime(allow_none=True)


class LabelJobListQuerySchema(common.PageQuerySchema):
    state = fields.List(fields.String(validate=validate.OneOf(JOB_STATES)), load_default=list)


class LabelJobPageSchema(Schema):
    data = fields.List(fields.Nested(LabelJobSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class LabelJobRequeueSchema(Schema):
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    confirm_not_purchased = common.Boolean(
        load_default=False,
        metadata={
            "description": "You checked the carrier account and no label exists: buy again without a lookup"
        },
    )


class LabelJobResolveSchema(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(["purchased", "not_purchased"]))
    tracking_number = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=64)
    )
    carrier_shipment_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class LabelBatchCreateSchema(_Lowercase):
    shipment_ids = fields.List(
        fields.String(validate=common.FullMatch(r"^[0-9A-Za-z_]{1,32}$", error="not a shipment id")),
        required=True,
        validate=validate.Length(min=1, max=1000),
        metadata={"uniqueItems": True},  # a repeated id is a 422 (duplicate ids)
    )
    label_format = fields.String(load_default="pdf", validate=validate.OneOf(FORMATS))


class LabelBatchProgressSchema(Schema):
    queued = fields.Integer(required=True)
    running = fields.Integer(required=True)
    succeeded = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    needs_review = fields.Integer(required=True)
    finished = fields.Integer(required=True)
    percent = fields.Float(required=True)


class LabelBatchJobSchema(Schema):
    job_id = fields.String(required=True)
    shipment_id = fields.String(required=True)
    state = fields.String(required=True)
    error_code = fields.String(allow_none=True)


class LabelBatchSchema(Schema):
    id = fields.String(required=True, metadata={"example": "bat_01JD3ZQ4Y8K6V2N0M5T7R9W1XB"})
    state = fields.String(required=True, validate=validate.OneOf(["running", "done"]))
    label_format = fields.String(required=True)
    total = fields.Integer(required=True)
    progress = fields.Nested(LabelBatchProgressSchema, required=True)
    jobs = fields.List(fields.Nested(LabelBatchJobSchema), required=True)
    labels_pdf = fields.String(allow_none=True, metadata={"description": "The merged PDF, once done"})
    created_at = fields.DateTime(required=True)
    completed_at = fields.DateTime(allow_none=True)
