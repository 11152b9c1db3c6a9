"""API schemas for allocation: rule sets, the own fleet, the audit log, plans, simulations, decisions."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, fields, validate

from schemas import money
from schemas.api import common

_CLOCK = {"pattern": r"^([01][0-9]|2[0-4]):[0-5][0-9]$", "example": "08:00"}
_ENGINES = ("pyvrp", "ortools")


# --- rule sets --------------------------------------------------------------------------------


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
        validate=validate.Range(min=1),
        metadata={"description": "Refuse (409) unless this is still the current version"},
    )


class AllocationIssueSchema(Schema):
    kind = fields.String(
        required=True,
        metadata={
            "enum": ["conflict", "no_feasible_option", "cap_exceeded", "commitment_shortfall", "group_split"]
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
    include_inactive = fields.Boolean(load_default=False)


class RuleCheckSchema(Schema):
    issues = fields.List(fields.Nested(AllocationIssueSchema), required=True)
    checked_against = fields.Nested(CheckedAgainstSchema, allow_none=True, required=True)


# --- fleet ------------------------------------------------------------------------------------


class DepotWriteSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    latitude = common.DecimalString(required=True, validate=validate.Range(min=-90, max=90))
    longitude = common.DecimalString(required=True, validate=validate.Range(min=-180, max=180))
    opens = fields.String(load_default="00:00", metadata=_CLOCK)
    closes = fields.String(load_default="24:00", metadata={**_CLOCK, "example": "20:00"})
    timezone = fields.String(
        load_default="UTC", validate=validate.Length(min=1, max=64), metadata={"example": "Europe/Berlin"}
    )
    currency = fields.String(
        required=True,
        validate=validate.OneOf(sorted(money.CURRENCIES)),
        metadata={"description": "Fleet costs and plans are in this currency"},
    )
    road_factor = common.DecimalString(
        load_default=None,
        validate=validate.Range(min=1, max=3),
        metadata={"description": "Road km per straight-line km (default 1.3)"},
    )


class DepotUpdateSchema(DepotWriteSchema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    latitude = common.DecimalString(validate=validate.Range(min=-90, max=90))
    longitude = common.DecimalString(validate=validate.Range(min=-180, max=180))
    opens = fields.String(metadata=_CLOCK)
    closes = fields.String(metadata=_CLOCK)
    timezone = fields.String(validate=validate.Length(min=1, max=64))
    currency = fields.String(validate=validate.OneOf(sorted(money.CURRENCIES)))
    road_factor = common.DecimalString(validate=validate.Range(min=1, max=3))
    active = fields.Boolean(metadata={"description": "true reactivates a deactivated depot"})


class DepotSchema(Schema):
    id = fields.String(required=True, metadata={"example": "dep_01JD3ZQ4Y8K6V2N0M5T7R9W1XB"})
    name = fields.String(required=True)
    latitude = common.DecimalString(required=True)
    longitude = common.DecimalString(required=True)
    opens = fields.String(required=True)
    closes = fields.String(required=True)
    timezone = fields.String(required=True)
    currency = fields.String(required=True)
    road_factor = common.DecimalString(required=True)
    active = fields.Boolean(required=True)
    version = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class DepotListSchema(Schema):
    data = fields.List(fields.Nested(DepotSchema), required=True)


class _VehicleFields(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    capacity_kg = common.DecimalString(required=True, minimum=Decimal(0), exclusive_minimum=True)
    capacity_m3 = common.DecimalString(required=True, minimum=Decimal(0), exclusive_minimum=True)
    shift_start = fields.String(metadata=_CLOCK)
    shift_end = fields.String(metadata={**_CLOCK, "example": "18:00"})
    max_stops = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=10_000))
    speed_kmh = common.DecimalString(
        minimum=Decimal(0),
        exclusive_minimum=True,
        validate=validate.Range(max=200),
        metadata={"example": "30"},
    )
    cost_per_km = common.DecimalString(
        required=True, minimum=Decimal(0), metadata={"description": "In the depot's currency"}
    )
    cost_per_hour = common.DecimalString(required=True, minimum=Decimal(0))
    cost_per_day = common.DecimalString(
        required=True, minimum=Decimal(0), metadata={"description": "Fixed, per day the van is used"}
    )


class VehicleWriteSchema(_VehicleFields):
    depot_id = fields.String(required=True, validate=validate.Length(min=1, max=32))


class VehicleUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    capacity_kg = common.DecimalString(minimum=Decimal(0), exclusive_minimum=True)
    capacity_m3 = common.DecimalString(minimum=Decimal(0), exclusive_minimum=True)
    shift_start = fields.String(metadata=_CLOCK)
    shift_end = fields.String(metadata=_CLOCK)
    max_stops = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=10_000))
    speed_kmh = common.DecimalString(
        minimum=Decimal(0), exclusive_minimum=True, validate=validate.Range(max=200)
    )
    cost_per_km = common.DecimalString(minimum=Decimal(0))
    cost_per_hour = common.DecimalString(minimum=Decimal(0))
    cost_per_day = common.DecimalString(minimum=Decimal(0))
    active = fields.Boolean(metadata={"description": "true reactivates a deactivated van"})


class VehicleSchema(Schema):
    id = fields.String(required=True, metadata={"example": "veh_01JD3ZQ4Y8K6V2N0M5T7R9W1XB"})
    depot_id = fields.String(required=True)
    name = fields.String(required=True)
    capacity_kg = common.DecimalString(required=True)
    capacity_m3 = common.DecimalString(required=True)
    shift_start = fields.String(required=True)
    shift_end = fields.String(required=True)
    max_stops = fields.Integer(allow_none=True)
    speed_kmh = common.DecimalString(required=True)
    cost_per_km = fields.Nested(common.MoneySchema, required=True)
    cost_per_hour = fields.Nested(common.MoneySchema, required=True)
    cost_per_day = fields.Nested(common.MoneySchema, required=True)
    active = fields.Boolean(required=True)
    version = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class VehicleListSchema(Schema):
    data = fields.List(fields.Nested(VehicleSchema), required=True)


class VehicleListQuerySchema(AllocationListQuerySchema):
    depot_id = fields.String(validate=validate.Length(max=32))


# --- audit ------------------------------------------------------------------------------------


class AllocationAuditQuerySchema(common.PageQuerySchema):
    entity_type = fields.String(validate=validate.OneOf(["rule_set", "depot", "vehicle", "plan"]))
    entity_id = fields.String(validate=validate.Length(max=32))


class AllocationAuditEntrySchema(Schema):
    id = fields.Integer(required=True)
    entity_type = fields.String(required=True)
    entity_id = fields.String(required=True)
    action = fields.String(required=True, metadata={"enum": ["create", "update", "deactivate", "apply"]})
    version = fields.Integer(allow_none=True)
    actor = fields.String(allow_none=True, metadata={"description": "The API key id that made the change"})
    changes = fields.Dict(
        required=True,
        metadata={"description": "field -> [before, after]; rule sets list added/removed/changed rule ids"},
    )
    created_at = fields.DateTime(required=True)


class AllocationAuditPageSchema(Schema):
    data = fields.List(fields.Nested(AllocationAuditEntrySchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


# --- plans and simulations --------------------------------------------------------------------


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
    lower_bound = fields.Nested(common.MoneySchema, allow_none=True)
    gap = fields.String(allow_none=True)
    totals = fields.Nested(PlanTotalsSchema, required=True)
    baseline = fields.Nested(
        PlanBaselineSchema, required=True, metadata={"description": "Every package to its cheapest partner"}
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


# --- decisions --------------------------------------------------------------------------------


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
