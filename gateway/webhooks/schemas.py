"""API schemas for outbound webhooks: endpoints, events, deliveries, the delivery log."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from gateway.kernel import schemas as common

EVENT_TYPES = (
    "shipment.allocated",
    "label.purchased",
    "label.failed",
    "tracking.updated",
    "tracking.exception",
    "shipment.delivered",
    "reconciliation.completed",
    "shipment.at_risk",
    "exception.escalated",
    "recipient.notify",
)
_TYPES_DOC = (
    "Event types to receive: " + ", ".join(EVENT_TYPES) + ". Payload schemas: GET /v1/webhook-event-types."
)

_URL_DOC = (
    "Where to POST. https; must resolve to a public address (private, loopback and link-local "
    "addresses are refused unless allowlisted; http only for an allowlisted or local receiver)."
)
_PORT = r"(?:[0-9]{1,4}|[0-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
# What urls.check_url accepts for a public https receiver, as a pattern: an absolute https URL
# with an ASCII host, no credentials, a valid port. Documented only: the gateway's own check
# (urls.check_url) also admits IDN hosts, IPv6 literals and local http receivers.
URL_PATTERN = rf"^[Hh][Tt][Tt][Pp][Ss]://[A-Za-z0-9._~!$&'()*+,;=%-]+(?::{_PORT}?)?(?:[/?#][!-~]*)?$"


class WebhookEndpointCreateSchema(Schema):
    url = fields.String(
        required=True,
        validate=validate.Length(min=8, max=2048),
        metadata={
            "description": _URL_DOC,
            "example": "https://platform.example.com/hooks/handoff",
            "pattern": URL_PATTERN,
        },
    )
    event_types = fields.List(
        fields.String(validate=validate.OneOf(EVENT_TYPES)),
        required=True,
        validate=validate.Length(min=1, max=len(EVENT_TYPES)),
        metadata={"description": _TYPES_DOC, "example": ["label.purchased", "tracking.updated"]},
    )
    description = fields.String(load_default="", validate=validate.Length(max=500))
    enabled = common.Boolean(load_default=True)


class WebhookEndpointUpdateSchema(Schema):
    url = fields.String(
        validate=validate.Length(min=8, max=2048), metadata={"description": _URL_DOC, "pattern": URL_PATTERN}
    )
    event_types = fields.List(
        fields.String(validate=validate.OneOf(EVENT_TYPES)),
        validate=validate.Length(min=1, max=len(EVENT_TYPES)),
    )
    description = fields.String(validate=validate.Length(max=500))
    enabled = common.Boolean(
        metadata={"description": "false pauses deliveries; true re-enables an endpoint the gateway disabled."}
    )


class WebhookEndpointSchema(Schema):
    id = fields.String(required=True, metadata={"example": "whe_01JD3Q6D2B7C8E9F0G1H2J3K4M"})
    url = fields.String(required=True)
    description = fields.String(required=True)
    event_types = fields.List(fields.String(), required=True)
    enabled = fields.Boolean(required=True)
    disabled_reason = fields.String(
        allow_none=True,
        required=True,
        metadata={
            "description": "Set when the gateway disabled the endpoint: gone (it answered 410) or failing "
            "(every delivery failed for too long). Null when enabled or paused by you."
        },
    )
    disabled_detail = fields.String(allow_none=True, required=True)
    disabled_at = fields.DateTime(allow_none=True, required=True)
    consecutive_failures = fields.Integer(required=True)
    failing_since = fields.DateTime(allow_none=True, required=True)
    last_success_at = fields.DateTime(allow_none=True, required=True)
    previous_secret_expires_at = fields.DateTime(
        allow_none=True,
        required=True,
        metadata={
            "description": "While set, deliveries carry a second signature made with the previous secret."
        },
    )
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class WebhookEndpointWithSecretSchema(WebhookEndpointSchema):
    secret = fields.String(
        required=True,
        metadata={
            "description": "The signing secret (whsec_...). Shown only in this response: store it now.",
            "example": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        },
    )


class WebhookEndpointListSchema(Schema):
    data = fields.List(fields.Nested(WebhookEndpointSchema), required=True)


class WebhookRotateSecretSchema(Schema):
    grace_period_seconds = fields.Integer(
        load_default=86400,
        validate=validate.Range(min=0, max=7 * 86400),
        metadata={"description": "How long the old secret keeps signing beside the new one (default 24 h)."},
    )


class WebhookTestSendResultSchema(Schema):
    event_id = fields.String(required=True)
    delivery_id = fields.String(required=True)


class WebhookReplayRangeSchema(Schema):
    since = fields.AwareDateTime(required=True, default_timezone=None)
    until = fields.AwareDateTime(load_default=None, allow_none=True)
    only_failed = common.Boolean(
        load_default=False, metadata={"description": "Skip events already delivered to this endpoint."}
    )


class WebhookReplayEventSchema(Schema):
    endpoint_id = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=32),
        metadata={
            "description": "Only this endpoint; default every enabled endpoint subscribed to the type."
        },
    )


class WebhookReplayResultSchema(Schema):
    queued = fields.Integer(required=True, metadata={"description": "Deliveries queued."})
    delivery_ids = fields.List(fields.String())


class WebhookEventSchema(Schema):
    id = fields.String(
        required=True, metadata={"description": "Also the webhook-id header: deduplicate on it."}
    )
    type = fields.String(required=True)
    occurred_at = fields.DateTime(required=True)
    created_at = fields.DateTime(required=True)
    data = fields.Dict(required=True)


class WebhookEventListQuerySchema(common.PageQuerySchema):
    type = fields.String(load_default=None, validate=validate.OneOf((*EVENT_TYPES, "webhook.test")))
    since = fields.AwareDateTime(load_default=None)
    until = fields.AwareDateTime(load_default=None)


class WebhookEventPageSchema(Schema):
    data = fields.List(fields.Nested(WebhookEventSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class WebhookDeliverySchema(Schema):
    id = fields.String(required=True)
    event_id = fields.String(required=True)
    event_type = fields.String(required=True)
    endpoint_id = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "event, replay or test"})
    state = fields.String(required=True, metadata={"description": "pending, succeeded, failed or cancelled"})
    attempts = fields.Integer(required=True)
    next_attempt_at = fields.DateTime(allow_none=True, required=True)
    last_status_code = fields.Integer(allow_none=True, required=True)
    last_error = fields.String(allow_none=True, required=True)
    created_at = fields.DateTime(required=True)
    first_attempt_at = fields.DateTime(allow_none=True, required=True)
    completed_at = fields.DateTime(allow_none=True, required=True)


class WebhookDeliveryListQuerySchema(common.PageQuerySchema):
    state = fields.String(
        load_default=None, validate=validate.OneOf(("pending", "succeeded", "failed", "cancelled"))
    )
    event_id = fields.String(load_default=None, validate=validate.Length(max=32))


class WebhookDeliveryPageSchema(Schema):
    data = fields.List(fields.Nested(WebhookDeliverySchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class WebhookAttemptSchema(Schema):
    id = fields.Integer(required=True)
    delivery_id = fields.String(required=True)
    event_id = fields.String(required=True)
    number = fields.Integer(required=True)
    attempted_at = fields.DateTime(required=True)
    status_code = fields.Integer(allow_none=True, required=True)
    latency_ms = fields.Integer(required=True)
    outcome = fields.String(required=True, metadata={"description": "succeeded, retry, failed or refused"})
    error = fields.String(allow_none=True, required=True)
    response_body = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "The start of the answer (at most 4 KiB read)."},
    )
    next_attempt_at = fields.DateTime(allow_none=True, required=True)


# Attempts page by their integer id alone.
ATTEMPT_CURSOR_PATTERN = r"^[0-9]{1,18}$"


class WebhookAttemptListQuerySchema(common.PageQuerySchema):
    cursor = common.cursor_field(ATTEMPT_CURSOR_PATTERN)
    delivery_id = fields.String(load_default=None, validate=validate.Length(max=32))


class WebhookAttemptPageSchema(Schema):
    data = fields.List(fields.Nested(WebhookAttemptSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class WebhookEventTypeSchema(Schema):
    type = fields.String(required=True)
    description = fields.String(required=True)
    schema = fields.Dict(
        required=True, metadata={"description": "JSON Schema (2020-12) of the event's data."}
    )


class WebhookEventTypeListSchema(Schema):
    data = fields.List(fields.Nested(WebhookEventTypeSchema), required=True)
