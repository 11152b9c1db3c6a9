"""API schemas for the allocation audit log (rule sets, depots, vans, plans and their route drivers)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from gateway.kernel import schemas as common


class AllocationAuditQuerySchema(common.PageQuerySchema):
    cursor = common.cursor_field(r"^-?[0-9]{1,16}\.[0-9]{1,18}$")  # audit entry ids are integers
    entity_type = fields.String(validate=validate.OneOf(["rule_set", "depot", "vehicle", "plan"]))
    entity_id = fields.String(validate=validate.Length(max=32))


class AllocationAuditEntrySchema(Schema):
    id = fields.Integer(required=True)
    entity_type = fields.String(required=True)
    entity_id = fields.String(required=True)
    action = fields.String(
        required=True,
        metadata={"enum": ["create", "update", "deactivate", "apply", "assign_driver", "unassign_driver"]},
    )
    version = fields.Integer(allow_none=True)
    actor = fields.String(
        allow_none=True, metadata={"description": "The API key id (or console user id) that made the change"}
    )
    changes = fields.Dict(
        required=True,
        metadata={
            "description": "field -> [before, after]; rule sets list added/removed/changed rule ids; "
            "a driver (un)assignment names its vehicle_id"
        },
    )
    created_at = fields.DateTime(required=True)


class AllocationAuditPageSchema(Schema):
    data = fields.List(fields.Nested(AllocationAuditEntrySchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)
