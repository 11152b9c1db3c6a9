"""API schemas for per-shipment allocation decisions (from a plan or online at booking)."""

from __future__ import annotations

from marshmallow import Schema, fields

from gateway.kernel import schemas as common


class AllocationSchema(Schema):
    shipment_id = fields.String(required=True)
    source = fields.String(required=True, metadata={"enum": ["plan", "online"]})
    plan_id = fields.String(allow_none=True)
    depot_id = fields.String(required=True)
    day = fields.Date(required=True)
    assignee = fields.String(required=True, metadata={"enum": ["fleet", "partner", "none"]})
    carrier = fields.String(allow_none=True)
    service = fields.String(allow_none=True)
    vehicle_id = fields.String(allow_none=True)
    sequence = fields.Integer(
        allow_none=True, metadata={"description": "Stop number (plan) or insertion index"}
    )
    eta = fields.DateTime(allow_none=True)
    cost = fields.Nested(common.MoneySchema, allow_none=True)
    reason = fields.String(required=True)
    detail = fields.String(required=True)
    rule_ids = fields.List(fields.String(), required=True)
    decided_at = fields.DateTime(required=True)
