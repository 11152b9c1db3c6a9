"""API schemas for allocation rule sets and their checks."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from gateway.kernel import schemas as common


class RuleSetWriteSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    rules = fields.List(
        fields.Raw(),
        required=True,
        metadata={
            "description": "Rules as in schemas/json/allocation_rules.schema.json; validated against it, "
            "errors name the dotted path (rules.0.action.target)."
        },
    )


class RuleSetUpdateSchema(RuleSetWriteSchema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    base_version = fields.Integer(
        validate=validate.Range(min=1, max=2**31 - 1),  # versions are Integer columns
        metadata={"description": "Refuse (409) unless this is still the current version"},
    )


class AllocationIssueSchema(Schema):
    kind = fields.String(
        required=True,
        metadata={
            "enum": [
                "conflict",
                "no_feasible_option",
                "cap_exceeded",
                "commitment_shortfall",
                "group_split",
                "on_time_risk",
            ]
        },
    )
    message = fields.String(required=True)
    rule_ids = fields.List(fields.String(), required=True)
    shipment_ids = fields.List(fields.String(), required=True, metadata={"description": "At most 200"})
    shipment_count = fields.Integer(required=True)


class CheckedAgainstSchema(Schema):
    depot_id = fields.String(required=True)
    day = fields.Date(required=True)
    packages = fields.Integer(required=True)


class RuleSetSchema(Schema):
    id = fields.String(required=True, metadata={"example": "rls_01JD3ZQ4Y8K6V2N0M5T7R9W1XB"})
    name = fields.String(required=True)
    active = fields.Boolean(required=True)
    version = fields.Integer(required=True, metadata={"description": "The version shown"})
    current_version = fields.Integer(required=True)
    rules = fields.List(fields.Raw(), required=True)
    created_by = fields.String(allow_none=True, metadata={"description": "API key id"})
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    version_created_at = fields.DateTime(required=True)
    deactivated_at = fields.DateTime(allow_none=True)


class RuleSetWrittenSchema(RuleSetSchema):
    issues = fields.List(
        fields.Nested(AllocationIssueSchema),
        required=True,
        metadata={
            "description": "Conflicts and dead ends of all active rules on the latest day of shipments"
        },
    )
    checked_against = fields.Nested(CheckedAgainstSchema, allow_none=True, required=True)


class RuleSetListSchema(Schema):
    data = fields.List(fields.Nested(RuleSetSchema), required=True)


class AllocationListQuerySchema(Schema):
    include_inactive = common.QueryBoolean(load_default=False)


class RuleCheckSchema(Schema):
    issues = fields.List(fields.Nested(AllocationIssueSchema), required=True)
    checked_against = fields.Nested(CheckedAgainstSchema, allow_none=True, required=True)
