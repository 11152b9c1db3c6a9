"""API schemas for batch allocation plans: the run request, the result, applying it."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, fields, validate

from gateway.allocation.schemas.drivers import RouteDriverSchema
from gateway.allocation.schemas.rules import AllocationIssueSchema
from gateway.kernel import schemas as common

_ENGINES = ("pyvrp", "ortools")


class _RunRequestSchema(Schema):
    day = fields.Date(required=True, metadata={"description": "The depot's local day of the shipments"})
    depot_id = fields.String(
        validate=validate.Length(max=32), metadata={"description": "Needed when there are several depots"}
    )
    tenants = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)),
        validate=validate.Length(min=1, max=100),
        metadata={
            "description": "Only packages whose tenant label (metadata.tenant, else your slug) is listed"
        },
    )
    time_limit_s = common.DecimalString(
        load_default=Decimal(10), validate=validate.Range(min=1, max=240), metadata={"example": "10"}
    )
    seed = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**31 - 1))
    engine = fields.String(load_default="pyvrp", validate=validate.OneOf(_ENGINES))
    max_iterations = fields.Integer(
        allow_none=True,
        validate=validate.Range(min=1, max=10_000_000),
        metadata={"description": "With the seed, makes the plan exactly repeatable"},
    )


class PlanRequestSchema(_RunRequestSchema):
    pass


class PlanOptionsSchema(Schema):
    time_limit_s = fields.String(allow_none=True)
    seed = fields.Integer(allow_none=True)
    engine = fields.String(allow_none=True)
    max_iterations = fields.Integer(allow_none=True)
    tenants = fields.List(fields.String(), allow_none=True)


class RouteStopSchema(Schema):
    sequence = fields.Integer(required=True)
    shipment_id = fields.String(required=True)
    reference = fields.String(required=True)
    eta = fields.String(required=True, metadata={"format": "date-time", "description": "Service start"})
    eta_local = fields.String(required=True, metadata={"example": "09:42"})
    arrival = fields.String(required=True, metadata={"format": "date-time"})


class FleetRouteSchema(Schema):
    vehicle_id = fields.String(required=True)
    vehicle_name = fields.String(allow_none=True)
    depart = fields.String(required=True, metadata={"format": "date-time"})
    back = fields.String(required=True, metadata={"format": "date-time"})
    duration_minutes = fields.Integer(required=True)
    distance_km = common.DecimalString(required=True)
    load_kg = common.DecimalString(required=True)
    load_m3 = common.DecimalString(required=True)
    cost = fields.Nested(common.MoneySchema, required=True)
    stops = fields.List(fields.Nested(RouteStopSchema), required=True)
    driver = fields.Nested(
        RouteDriverSchema,
        allow_none=True,
        metadata={
            "description": "Who drives the route once the plan is applied; null when nobody is assigned"
        },
    )


class AllocationSignedMoneySchema(Schema):
    amount = common.DecimalString(required=True, metadata={"description": "May be negative"})
    currency = fields.String(required=True)


class PackageDecisionSchema(Schema):
    shipment_id = fields.String(required=True)
    reference = fields.String(required=True)
    assignee = fields.String(required=True, metadata={"enum": ["fleet", "partner", "none"]})
    carrier = fields.String(allow_none=True, metadata={"description": "fleet, a carrier, or null"})
    service = fields.String(allow_none=True)
    rate_id = fields.String(
        allow_none=True, metadata={"description": "The quoted rate the partner price came from"}
    )
    vehicle_id = fields.String(allow_none=True)
    stop = fields.Integer(allow_none=True)
    eta = fields.String(allow_none=True, metadata={"format": "date-time"})
    cost = fields.Nested(common.MoneySchema, allow_none=True)
    best_partner_cost = fields.Nested(common.MoneySchema, allow_none=True)
    reason = fields.String(
        required=True, metadata={"enum": ["rule", "cost", "capacity", "eligibility", "infeasible"]}
    )
    detail = fields.String(required=True)
    rule_ids = fields.List(fields.String(), required=True)
    approximate_location = fields.Boolean(
        required=True, metadata={"description": "The address had no coordinates; placed by postal code"}
    )


class PartnerHandoverSchema(Schema):
    carrier = fields.String(required=True)
    shipment_ids = fields.List(fields.String(), required=True)
    packages = fields.Integer(required=True)
    weight_kg = common.DecimalString(required=True)
    cost = fields.Nested(common.MoneySchema, required=True)


class InfeasiblePackageSchema(Schema):
    shipment_id = fields.String(required=True)
    reference = fields.String(required=True)
    reasons = fields.List(fields.String(), required=True)
    rule_ids = fields.List(fields.String(), required=True)


class AllocationSkippedSchema(Schema):
    shipment_id = fields.String(required=True)
    reason = fields.String(required=True)


class PlanTotalsSchema(Schema):
    fleet = fields.Nested(common.MoneySchema, required=True)
    partners = fields.Nested(common.MoneySchema, required=True)
    total = fields.Nested(common.MoneySchema, required=True)
    packages = fields.Integer(required=True)
    fleet_packages = fields.Integer(required=True)
    partner_packages = fields.Integer(required=True)
    infeasible_packages = fields.Integer(required=True)


class PlanBaselineSchema(Schema):
    method = fields.String(required=True)
    total = fields.Nested(common.MoneySchema, required=True)
    unassigned = fields.Integer(required=True)


class PlanSavingsSchema(Schema):
    amount = fields.Nested(AllocationSignedMoneySchema, required=True)
    percent = fields.String(allow_none=True, metadata={"example": "18.40"})


class CarrierShareSchema(Schema):
    packages = fields.Integer(required=True)
    percent = fields.String(required=True)
    cost = fields.Nested(common.MoneySchema, required=True)


class FleetUseSchema(Schema):
    vans_available = fields.Integer(required=True)
    vans_used = fields.Integer(required=True)
    stops = fields.Integer(required=True)
    load_kg = common.DecimalString(required=True)
    utilisation_kg_percent = fields.String(allow_none=True)
    utilisation_shift_percent = fields.String(allow_none=True)
    distance_km = common.DecimalString(required=True)


class OnTimeSummarySchema(Schema):
    mean_probability = fields.String(
        allow_none=True,
        required=True,
        metadata={
            "description": "Mean on-time probability (0-1) of the chosen options with a known one; "
            "null when none is known",
            "example": "0.912",
        },
    )
    known = fields.Integer(required=True, metadata={"description": "Packages whose option has one"})
    unknown = fields.Integer(
        required=True, metadata={"description": "Packages unassigned or whose option has none"}
    )


class PlanSummarySchema(Schema):
    total_cost = fields.Nested(common.MoneySchema, required=True)
    fleet_cost = fields.Nested(common.MoneySchema, required=True)
    partner_cost = fields.Nested(common.MoneySchema, required=True)
    cost_per_package = fields.Nested(common.MoneySchema, required=True)
    packages = fields.Integer(required=True)
    fleet = fields.Nested(FleetUseSchema, required=True)
    missed_promises = fields.Integer(
        required=True, metadata={"description": "Packages no van or partner could take in time"}
    )
    on_time = fields.Nested(
        OnTimeSummarySchema,
        allow_none=True,
        metadata={
            "description": "How likely the chosen options are to arrive on time (absent on older plans)"
        },
    )
    share = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(CarrierShareSchema),
        required=True,
        metadata={"description": "per carrier"},
    )


class PlanResultSchema(Schema):
    currency = fields.String(required=True)
    engine = fields.String(required=True)
    method = fields.String(required=True)
    solve_seconds = fields.Float(required=True)
    lower_bound = fields.Nested(
        common.MoneySchema,
        allow_none=True,
        metadata={
            "description": "Proven lower bound on the cost of any plan delivering the same packages "
            "(a relaxation; see docs/ALLOCATION.md); null when none could be proven"
        },
    )
    gap = fields.String(
        allow_none=True, metadata={"description": "(total - lower_bound) / total, a decimal fraction"}
    )
    gap_percent = fields.String(
        allow_none=True,
        metadata={"description": "The gap in percent, two decimals: how far the plan may be from optimal"},
    )
    totals = fields.Nested(PlanTotalsSchema, required=True)
    baseline = fields.Nested(
        PlanBaselineSchema,
        required=True,
        metadata={
            "description": "Every package to its cheapest partner; vans only for what no partner may take"
        },
    )
    savings = fields.Nested(PlanSavingsSchema, required=True)
    summary = fields.Nested(PlanSummarySchema, required=True)
    packages = fields.List(fields.Nested(PackageDecisionSchema), required=True)
    routes = fields.List(fields.Nested(FleetRouteSchema), required=True)
    handovers = fields.List(fields.Nested(PartnerHandoverSchema), required=True)
    infeasible = fields.List(fields.Nested(InfeasiblePackageSchema), required=True)
    issues = fields.List(fields.Nested(AllocationIssueSchema), required=True)
    skipped = fields.List(fields.Nested(AllocationSkippedSchema), required=True)
    configuration = fields.Dict(required=True, metadata={"description": "Rule set and fleet versions used"})


class _RunSchema(Schema):
    id = fields.String(required=True)
    kind = fields.String(required=True)
    depot_id = fields.String(required=True)
    day = fields.Date(required=True)
    state = fields.String(
        required=True, metadata={"enum": ["queued", "running", "done", "failed", "applied"]}
    )
    stage = fields.String(required=True)
    progress = fields.Integer(required=True, metadata={"description": "Percent"})
    options = fields.Nested(PlanOptionsSchema, required=True)
    error = fields.String(allow_none=True)
    created_by = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    applied_at = fields.DateTime(allow_none=True)


class PlanSchema(_RunSchema):
    result = fields.Nested(PlanResultSchema, allow_none=True)


class PlanListSchema(Schema):
    data = fields.List(fields.Nested(_RunSchema), required=True)


class RunListQuerySchema(Schema):
    day = fields.Date()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class AppliedShipmentSchema(Schema):
    shipment_id = fields.String(required=True)
    carrier = fields.String(required=True)
    service = fields.String(allow_none=True)


class ApplyResultSchema(Schema):
    plan_id = fields.String(required=True)
    state = fields.String(required=True)
    already_applied = fields.Boolean(required=True)
    applied = fields.List(fields.Nested(AppliedShipmentSchema), required=True)
    skipped = fields.List(fields.Nested(AllocationSkippedSchema), required=True)
