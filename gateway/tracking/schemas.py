"""API schemas for tracking: callbacks, timelines, unmapped codes, mapping overrides, exceptions."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from gateway.kernel import schemas as common
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


class NumberConflictSchema(Schema):
    type = fields.String(metadata={"example": "tracking-number-reissued"})
    carrier = fields.String()
    tracking_number = fields.String()
    receives_events = fields.Boolean(
        metadata={"description": "True for the shipment whose label took it first: only it gets events"}
    )
    account = fields.String(allow_none=True, metadata={"description": "The carrier account of this label"})
    same_tenant_shipments = fields.List(
        fields.String(), metadata={"description": "Your other shipments with this number"}
    )
    other_tenants = fields.Boolean(metadata={"description": "Whether a shipment outside your tenant has it"})
    detail = fields.String()
    detected_at = fields.String(metadata={"format": "date-time"})


class CarrierWarningsSchema(Schema):
    warnings = fields.List(
        fields.String(),
        metadata={"description": 'As "code: text", e.g. "TW0001: Tracking Information Not Found"'},
    )
    since = fields.String(metadata={"format": "date-time", "description": "When the carrier first said so"})


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
    number_conflict = fields.Nested(
        NumberConflictSchema,
        allow_none=True,
        metadata={"description": "Set when the carrier issued this tracking number to another shipment too"},
    )
    carrier_warnings = fields.Nested(
        CarrierWarningsSchema,
        allow_none=True,
        metadata={
            "description": "What the carrier warned about this number when last asked; null when nothing"
        },
    )
    events = fields.List(fields.Nested(EventSchema))


class ProofReviewSchema(Schema):
    decision = fields.String(
        required=True,
        validate=validate.OneOf(["accepted", "rejected"]),
        metadata={
            "description": "accepted: the parcel was delivered (as of its first delivery scan); "
            "rejected: it was not, and is an open `lost` exception for the shipper"
        },
    )
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


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
    informational = common.Boolean(load_default=False)
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
    number_conflict = fields.Nested(NumberConflictSchema, allow_none=True)


class OpenExceptionListSchema(Schema):
    data = fields.List(fields.Nested(OpenExceptionSchema))
