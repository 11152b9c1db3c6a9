"""API schemas of playbooks and exceptions."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from gateway.exceptions import playbooks
from gateway.kernel import schemas as common

_OWNER = validate.OneOf(playbooks.OWNERS)


class PlaybookWriteSchema(Schema):
    document = fields.Dict(
        required=True,
        metadata={
            "description": "The playbook as described by schemas/json/playbook.schema.json: at_risk_threshold, "
            "business_hours and entries (reason, milestone, owner, timer, actions, escalate_to, escalation_timer)"
        },
    )
    note = fields.String(load_default="", validate=validate.Length(max=500))


class PlaybookVersionSchema(Schema):
    version = fields.Integer(allow_none=True, metadata={"description": "null: the built-in default"})
    document = fields.Dict(required=True)
    note = fields.String(allow_none=True)
    created_by = fields.String(allow_none=True, metadata={"description": "The API key id that saved it"})
    created_at = fields.DateTime(allow_none=True)


class PlaybookSchema(PlaybookVersionSchema):
    defaults = fields.List(
        fields.Dict(),
        required=True,
        metadata={"description": "The built-in entry of every reason, used where the document names none"},
    )


class PlaybookListSchema(Schema):
    data = fields.List(fields.Nested(PlaybookVersionSchema), required=True)


class ExceptionQuerySchema(common.PageQuerySchema):
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "resolved", "all"]))
    owner = fields.String(validate=_OWNER)
    reason = fields.String(validate=validate.Length(min=1, max=64))
    shipment_id = fields.String(validate=validate.Length(min=1, max=32))
    overdue = fields.Boolean(metadata={"description": "Only open exceptions whose timer has run out"})


class ExceptionActionSchema(Schema):
    at = fields.String(required=True)
    action = fields.String(required=True)
    by = fields.String(required=True)
    outcome = fields.String(required=True)
    detail = fields.String(required=True)


class ExceptionSchema(Schema):
    id = fields.String(required=True)
    shipment_id = fields.String(required=True)
    reason = fields.String(required=True)
    milestone = fields.String(allow_none=True)
    status = fields.String(required=True, metadata={"enum": ["open", "resolved"]})
    owner = fields.String(required=True, metadata={"enum": list(playbooks.OWNERS)})
    opened_at = fields.DateTime(required=True)
    due_at = fields.DateTime(allow_none=True, metadata={"description": "When the owner's timer runs out"})
    overdue = fields.Boolean(required=True)
    escalation_level = fields.Integer(required=True)
    escalated_at = fields.DateTime(allow_none=True)
    playbook_version = fields.Integer(allow_none=True)
    actions = fields.List(fields.Nested(ExceptionActionSchema), required=True)
    detail = fields.Dict(required=True)
    resolved_at = fields.DateTime(allow_none=True)
    resolved_by = fields.String(allow_none=True)
    resolution = fields.String(allow_none=True)


class ExceptionPageSchema(Schema):
    data = fields.List(fields.Nested(ExceptionSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class ResolveSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class TakeActionSchema(Schema):
    action = fields.String(
        required=True,
        validate=validate.OneOf([*playbooks.ACTIONS, "note"]),
    )
    note = fields.String(load_default="", validate=validate.Length(max=2000))
