"""API schemas for tracking: callbacks, timelines, unmapped codes, mapping overrides, exceptions."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas import taxonomy

_MILESTONES = [m.value for m in taxonomy.Milestone]
_REASONS = [r.value for r in taxonomy.ExceptionReason]


class CallbackAcceptedSchema(Schema):
    id = fields.Integer(metadata={"description": "Inbox row id"})
    carrier = fields.String()
    received_at = fields.DateTime()


class TokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds"})


class RawCodeSchema(Schema):
    code = fields.String()
    subcode = fields.String(allow_none=True)
    message = fields.String(allow_none=True)


class CanonicalMeaningSchema(Schema):
    milestone = fields.String(allow_none=True)
    detail = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)


class EventSchema(Schema):
    tracking_number = fields.String()
    carrier = fields.String()
    occurred_at = fields.String(metadata={"format": "date-time"})
    milestone = fields.String(allow_none=True)
    detail = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    terminal = fields.Boolean()
    action_required = fields.Boolean()
    action_party = fields.String(allow_none=True)
    mapping = fields.String(metadata={"description": "mapped, informational or unmapped"})
    unmapped = fields.Boolean()
    raw = fields.Nested(RawCodeSchema, metadata={"description": "The carrier's own code and message"})
    canonical = fields.Nested(CanonicalMeaningSchema)
    location = fields.Dict(allow_none=True)
    estimated_delivery = fields.String(allow_none=True)
    source_event_id = fields.String(allow_none=True)
    source = fields.String()
    pod = fields.Dict(allow_none=True)
    attributes = fields.Dict()


class TrackingSummarySchema(Schema):
    """A shipment's current canonical milestone, derived from its events (null before any label)."""

    milestone = fields.String(metadata={"example": "out_for_delivery"})
    detail = fields.String(allow_none=True)
    reason = fields.String(allow_none=True, metadata={"description": "Exception reason code, if any"})
    action_required = fields.Boolean()
    action_party = fields.String(allow_none=True)
    status_at = fields.DateTime(allow_none=True, metadata={"description": "Carrier time of that status"})
    estimated_delivery = fields.Date(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)


class TimelineSchema(Schema):
    shipment_id = fields.String()
    tracking_number = fields.String(allow_none=True)
    carrier = fields.String(allow_none=True)
    milestone = fields.String()
    detail = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    terminal = fields.Boolean()
    action_required = fields.Boolean()
    action_party = fields.String(allow_none=True)
    estimated_delivery = fields.String(allow_none=True)
    delivered_at = fields.String(allow_none=True)
    unmapped_count = fields.Integer()
    pod_flags = fields.List(fields.Dict())
    events = fields.List(fields.Nested(EventSchema))


class UnmappedQuerySchema(Schema):
    carrier = fields.String(validate=validate.Length(max=50))


class UnmappedExampleSchema(Schema):
    event_id = fields.String(allow_none=True)
    tracking_number = fields.String(allow_none=True)
    message = fields.String(allow_none=True)
    occurred_at = fields.DateTime(allow_none=True)
    payload = fields.Raw(allow_none=True, metadata={"description": "The raw push that carried it"})


class UnmappedCodeSchema(Schema):
    carrier = fields.String()
    code = fields.String()
    subcode = fields.String(allow_none=True)
    count = fields.Integer()
    example = fields.Nested(UnmappedExampleSchema)


class UnmappedListSchema(Schema):
    data = fields.List(fields.Nested(UnmappedCodeSchema))


class MappingPutSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    subcode = fields.String(load_default="", validate=validate.Length(max=64), allow_none=True)
    milestone = fields.String(validate=validate.OneOf(_MILESTONES), allow_none=True)
    detail = fields.String(validate=validate.Length(max=64), allow_none=True)
    reason = fields.String(validate=validate.OneOf(_REASONS), allow_none=True)
    informational = fields.Boolean(load_default=False)
    note = fields.String(load_default="", validate=validate.Length(max=1000))


class MappingSchema(Schema):
    carrier = fields.String()
    code = fields.String()
    subcode = fields.String()
    version = fields.Integer()
    milestone = fields.String(allow_none=True)
    detail = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    informational = fields.Boolean()
    note = fields.String()
    previous = fields.Dict(allow_none=True, metadata={"description": "The row this version replaced"})
    created_by = fields.String(metadata={"description": "API key id"})
    created_at = fields.DateTime()
    shipments_rederived = fields.Integer()


class ExceptionsQuerySchema(Schema):
    reason = fields.String(validate=validate.OneOf(_REASONS))
    carrier = fields.String(validate=validate.Length(max=50))
    older_than_hours = fields.Integer(validate=validate.Range(min=0, max=24 * 365))
    limit = fields.Integer(validate=validate.Range(min=1, max=200), load_default=100)


class OpenExceptionSchema(Schema):
    shipment_id = fields.String()
    tracking_number = fields.String(allow_none=True)
    carrier = fields.String(allow_none=True)
    milestone = fields.String()
    detail = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    action_party = fields.String(allow_none=True)
    since = fields.DateTime(allow_none=True)
    age_hours = fields.Integer(allow_none=True)
    pod_flags = fields.List(fields.Dict())


class OpenExceptionListSchema(Schema):
    data = fields.List(fields.Nested(OpenExceptionSchema))
