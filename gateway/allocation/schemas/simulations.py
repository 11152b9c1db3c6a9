"""API schemas for what-if simulations: candidate rules and vans against the active configuration."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from gateway.allocation.schemas.fleet import _VehicleFields
from gateway.allocation.schemas.plans import (
    AllocationSignedMoneySchema,
    AllocationSkippedSchema,
    PlanSummarySchema,
    _RunRequestSchema,
    _RunSchema,
)
from gateway.allocation.schemas.rules import AllocationIssueSchema


class SimVehicleSchema(_VehicleFields):
    id = fields.String(validate=validate.Length(min=1, max=32))


class SimulationRequestSchema(_RunRequestSchema):
    rules = fields.List(
        fields.Raw(),
        metadata={"description": "Candidate rules replacing every active rule set (allocation_rules schema)"},
    )
    vehicles = fields.List(
        fields.Nested(SimVehicleSchema),
        validate=validate.Length(max=500),
        metadata={"description": "Candidate vans replacing the depot's active vans"},
    )


class SimSideSchema(PlanSummarySchema):
    issues = fields.List(fields.Nested(AllocationIssueSchema), required=True)


class CurrentPlanSummarySchema(PlanSummarySchema):
    plan_id = fields.String(required=True)


class SimulationDifferenceSchema(Schema):
    total_cost = fields.Nested(AllocationSignedMoneySchema, required=True)
    percent = fields.String(allow_none=True)
    cheaper = fields.Boolean(required=True)


class SimulationChangeSchema(Schema):
    shipment_id = fields.String(required=True)
    active = fields.String(allow_none=True)
    candidate = fields.String(allow_none=True)


class SimulationResultSchema(Schema):
    currency = fields.String(required=True)
    packages = fields.Integer(required=True)
    candidate = fields.Nested(SimSideSchema, required=True)
    active = fields.Nested(SimSideSchema, required=True, metadata={"description": "The active configuration"})
    current_plan = fields.Nested(
        CurrentPlanSummarySchema, allow_none=True, metadata={"description": "The day's latest stored plan"}
    )
    difference = fields.Nested(
        SimulationDifferenceSchema, required=True, metadata={"description": "candidate - active"}
    )
    changed = fields.List(
        fields.Nested(SimulationChangeSchema), required=True, metadata={"description": "At most 1000"}
    )
    changed_count = fields.Integer(required=True)
    configuration = fields.Dict(required=True)
    skipped = fields.List(fields.Nested(AllocationSkippedSchema), required=True)


class SimulationSchema(_RunSchema):
    result = fields.Nested(SimulationResultSchema, allow_none=True)
