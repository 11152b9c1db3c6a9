"""Allocation: ops rule sets, the own fleet, batch plans, what-if simulations and per-shipment decisions."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView

from gateway.allocation import decisions, drivers, fleet, plans, rule_sets, runs, simulations
from gateway.allocation import schemas as schema
from gateway.kernel import auth, idempotency
from gateway.kernel.errors import Problem
from gateway.kernel.http import IDEMPOTENCY_HEADER, Blueprint
from gateway.kernel.web import container, db
from gateway.shipments import booking as shipment_service

blp = Blueprint(
    "allocation",
    __name__,
    url_prefix="/v1",
    description="Own fleet or partner for every package: rules, fleet, plans, simulations",
)

_IDEMPOTENCY_HEADER = IDEMPOTENCY_HEADER


def _written(rs: Any, version: Any) -> dict[str, Any]:
    return {**rule_sets.present_rule_set(rs, version), **rule_sets.check_rules(db(), rs.tenant_id)}


# --- rule sets --------------------------------------------------------------------------------


@blp.route("/allocation/rule-sets")
class RuleSets(MethodView):
    @auth.require("ops")
    @blp.arguments(schema.AllocationListQuerySchema, location="query")
    @blp.response(200, schema.RuleSetListSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """List rule sets (active ones unless include_inactive) at their current version."""
        tenant_id = auth.current().tenant_id
        rows = rule_sets.list_rule_sets(db(), tenant_id, include_inactive=query["include_inactive"])
        return {"data": [rule_sets.present_rule_set(r, rule_sets.rule_set_version(db(), r)) for r in rows]}

    @blp.doc(parameters=[_IDEMPOTENCY_HEADER])
    @auth.require("ops")
    @idempotency.write_endpoint
    @blp.arguments(schema.RuleSetWriteSchema)
    @blp.response(201, schema.RuleSetWrittenSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a rule set (version 1), validated by the JSON Schema; reports conflicts and dead ends."""
        principal = auth.current()
        rs, version = rule_sets.create_rule_set(db(), principal.tenant_id, principal.key_id, data)
        return (
            _written(rs, version),
            201,
            {"Location": url_for("allocation.RuleSetById", rule_set_id=rs.id)},
        )


@blp.route("/allocation/rule-sets/check")
class RuleCheck(MethodView):
    @auth.require("ops")
    @blp.response(200, schema.RuleCheckSchema)
    def get(self) -> Any:
        """Evaluate the active rules on the latest day of shipments: conflicts and packages left with nothing."""
        return rule_sets.check_rules(db(), auth.current().tenant_id)


# A rule set id is rls_ and a 26-character ULID: the fixed length (documented) keeps
# /rule-sets/check out of these routes, so a PUT or DELETE there is a 405 with Allow: GET.
@blp.route("/allocation/rule-sets/<string(length=30):rule_set_id>")
class RuleSetById(MethodView):
    @auth.require("ops")
    @blp.response(200, schema.RuleSetSchema)
    def get(self, rule_set_id: str) -> Any:
        """Read a rule set at its current version."""
        rs = rule_sets.get_rule_set(db(), auth.current().tenant_id, rule_set_id)
        return rule_sets.present_rule_set(rs, rule_sets.rule_set_version(db(), rs))

    @blp.doc(parameters=[_IDEMPOTENCY_HEADER])
    @auth.require("ops")
    @idempotency.write_endpoint
    @blp.arguments(schema.RuleSetUpdateSchema)
    @blp.response(200, schema.RuleSetWrittenSchema)
    @blp.alt_response(409, description="base_version is no longer the current version")
    def put(self, data: dict[str, Any], rule_set_id: str) -> Any:
        """Replace the rules: a new version (the old one stays readable); reactivates a deactivated set."""
        principal = auth.current()
        rs, version = rule_sets.update_rule_set(
            db(), principal.tenant_id, principal.key_id, rule_set_id, data
        )
        return _written(rs, version)

    @auth.require("ops")
    @idempotency.write_endpoint
    @blp.response(200, schema.RuleSetSchema)
    def delete(self, rule_set_id: str) -> Any:
        """Deactivate a rule set: plans stop using it; its versions and audit trail stay."""
        principal = auth.current()
        rs = rule_sets.deactivate_rule_set(db(), principal.tenant_id, principal.key_id, rule_set_id)
        return rule_sets.present_rule_set(rs, rule_sets.rule_set_version(db(), rs))


@blp.route("/allocation/rule-sets/<string(length=30):rule_set_id>/versions")
class RuleSetVersions(MethodView):
    @auth.require("ops")
    @blp.response(200, schema.RuleSetListSchema)
    def get(self, rule_set_id: str) -> Any:
        """Every version of a rule set, newest first."""
        tenant_id = auth.current().tenant_id
        rs = rule_sets.get_rule_set(db(), tenant_id, rule_set_id)
        versions = rule_sets.rule_set_versions(db(), tenant_id, rule_set_id)
        return {"data": [rule_sets.present_rule_set(rs, v) for v in versions]}


@blp.route("/allocation/rule-sets/<string(length=30):rule_set_id>/versions/<int:version>")
class RuleSetVersion(MethodView):
    @auth.require("ops")
    @blp.response(200, schema.RuleSetSchema)
    def get(self, rule_set_id: str, version: int) -> Any:
        """One version of a rule set."""
        rs = rule_sets.get_rule_set(db(), auth.current().tenant_id, rule_set_id)
        return rule_sets.present_rule_set(rs, rule_sets.rule_set_version(db(), rs, version))


# --- fleet ------------------------------------------------------------------------------------


@blp.route("/allocation/depots")
class Depots(MethodView):
    @auth.require("ops")
    @blp.arguments(schema.AllocationListQuerySchema, location="query")
    @blp.response(200, schema.DepotListSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """List depots."""
        rows = fleet.list_depots(db(), auth.current().tenant_id, include_inactive=query["include_inactive"])
        return {"data": [fleet.present_depot(d) for d in rows]}

    @blp.doc(parameters=[_IDEMPOTENCY_HEADER])
    @auth.require("ops")
    @idempotency.write_endpoint
    @blp.arguments(schema.DepotWriteSchema)
    @blp.response(201, schema.DepotSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a depot (audited)."""
        principal = auth.current()
        depot = fleet.create_depot(db(), principal.tenant_id, principal.key_id, data)
        return (
            fleet.present_depot(depot),
            201,
            {"Location": url_for("allocation.DepotById", depot_id=depot.id)},
        )


@blp.route("/allocation/depots/<string:depot_id>")
class DepotById(MethodView):
    @auth.require("ops")
    @blp.response(200, schema.DepotSchema)
    def get(self, depot_id: str) -> Any:
        """Read a depot."""
        return fleet.present_depot(fleet.get_depot(db(), auth.current().tenant_id, depot_id))

    @auth.require("ops")
    @idempotency.write_endpoint
    @blp.arguments(schema.DepotUpdateSchema)
    @blp.response(200, schema.DepotSchema)
    def patch(self, data: dict[str, Any], depot_id: str) -> Any:
        """Change a depot: a new version, before/after values in the audit log."""
        principal = auth.current()
        return fleet.present_depot(
            fleet.update_depot(db(), principal.tenant_id, principal.key_id, depot_id, data)
        )

    @auth.require("ops")
    @idempotency.write_endpoint
    @blp.response(200, schema.DepotSchema)
    def delete(self, depot_id: str) -> Any:
        """Deactivate a depot (audited)."""
        principal = auth.current()
        return fleet.present_depot(
            fleet.deactivate_depot(db(), principal.tenant_id, principal.key_id, depot_id)
        )


@blp.route("/allocation/vehicles")
class Vehicles(MethodView):
    @auth.require("ops")
    @blp.arguments(schema.VehicleListQuerySchema, location="query")
    @blp.response(200, schema.VehicleListSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """List vans, optionally of one depot."""
        rows = fleet.list_vehicles(
            db(),
            auth.current().tenant_id,
            depot_id=query.get("depot_id"),
            include_inactive=query["include_inactive"],
        )
        return {"data": [fleet.present_vehicle(v) for v in rows]}

    @blp.doc(parameters=[_IDEMPOTENCY_HEADER])
    @auth.require("ops")
    @idempotency.write_endpoint
    @blp.arguments(schema.VehicleWriteSchema)
    @blp.response(201, schema.VehicleSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Add a van to a depot; costs in the depot's currency (audited)."""
        principal = auth.current()
        van = fleet.create_vehicle(db(), principal.tenant_id, principal.key_id, data)
        return (
            fleet.present_vehicle(van),
            201,
            {"Location": url_for("allocation.VehicleById", vehicle_id=van.id)},
        )


@blp.route("/allocation/vehicles/<string:vehicle_id>")
class VehicleById(MethodView):
    @auth.require("ops")
    @blp.response(200, schema.VehicleSchema)
    def get(self, vehicle_id: str) -> Any:
        """Read a van."""
        return fleet.present_vehicle(fleet.get_vehicle(db(), auth.current().tenant_id, vehicle_id))

    @auth.require("ops")
    @idempotency.write_endpoint
    @blp.arguments(schema.VehicleUpdateSchema)
    @blp.response(200, schema.VehicleSchema)
    def patch(self, data: dict[str, Any], vehicle_id: str) -> Any:
        """Change a van: a new version, before/after values in the audit log."""
        principal = auth.current()
        van = fleet.update_vehicle(db(), principal.tenant_id, principal.key_id, vehicle_id, data)
        return fleet.present_vehicle(van)

    @auth.require("ops")
    @idempotency.write_endpoint
    @blp.response(200, schema.VehicleSchema)
    def delete(self, vehicle_id: str) -> Any:
        """Deactivate a van (audited); plans that used it keep their routes."""
        principal = auth.current()
        return fleet.present_vehicle(
            fleet.deactivate_vehicle(db(), principal.tenant_id, principal.key_id, vehicle_id)
        )


@blp.route("/allocation/audit")
class Audit(MethodView):
    @auth.require("ops")
    @blp.arguments(schema.AllocationAuditQuerySchema, location="query")
    @blp.response(200, schema.AllocationAuditPageSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """Who changed which rule set, depot or van (or applied a plan), when, and what changed."""
        limit = query.pop("limit", None) or 50
        rows, next_cursor = fleet.list_audit(db(), auth.current().tenant_id, limit=limit, **query)
        return {
            "data": [
                {
                    "id": r.id,
                    "entity_type": r.entity_type,
                    "entity_id": r.entity_id,
                    "action": r.action,
                    "version": r.version,
                    "actor": r.actor,
                    "changes": r.changes,
                    "created_at": r.created_at,
                }
                for r in rows
            ],
            "next_cursor": next_cursor,
        }


# --- plans ------------------------------------------------------------------------------------


@blp.route("/allocation/plans")
class Plans(MethodView):
    @auth.require("ops")
    @blp.arguments(schema.RunListQuerySchema, location="query")
    @blp.response(200, schema.PlanListSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """List plans, newest first (without their results)."""
        rows = runs.list_runs(
            db(), auth.current().tenant_id, "plan", day=query.get("day"), limit=query["limit"]
        )
        return {"data": [{**runs.present_run(r), "result": None} for r in rows]}

    @blp.doc(parameters=[_IDEMPOTENCY_HEADER])
    @auth.require("ops")
    @idempotency.write_endpoint
    @blp.arguments(schema.PlanRequestSchema)
    @blp.response(202, schema.PlanSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Plan a depot's day as an RQ job: poll the Location for progress and the result."""
        principal = auth.current()
        row = plans.request_plan(db(), principal.tenant_id, principal.key_id, data)
        return runs.present_run(row), 202, {"Location": url_for("allocation.PlanById", plan_id=row.id)}


@blp.route("/allocation/plans/<string:plan_id>")
class PlanById(MethodView):
    @auth.require("ops")
    @blp.response(200, schema.PlanSchema)
    def get(self, plan_id: str) -> Any:
        """A plan's state and progress; when done, per-package decisions, routes and drivers, handovers, savings."""
        return drivers.present_plan(db(), runs.get_run(db(), auth.current().tenant_id, plan_id, "plan"))


@blp.route("/allocation/plans/<string:plan_id>/apply")
class PlanApply(MethodView):
    @blp.doc(parameters=[_IDEMPOTENCY_HEADER])
    @auth.require("ops")
    @idempotency.write_endpoint
    @blp.response(200, schema.ApplyResultSchema)
    @blp.alt_response(409, description="The plan is not finished")
    def post(self, plan_id: str) -> Any:
        """Make the plan the day's dispatch: every draft shipment gets its carrier (or the fleet)."""
        principal = auth.current()
        return plans.apply_plan(db(), principal.tenant_id, principal.key_id, plan_id)


@blp.route("/allocation/plans/<string:plan_id>/vehicles/<string:vehicle_id>/driver")
class RouteDriver(MethodView):
    @blp.doc(parameters=[_IDEMPOTENCY_HEADER])
    @auth.require("ops")
    @idempotency.write_endpoint
    @blp.arguments(schema.RouteDriverWriteSchema)
    @blp.response(200, schema.RouteDriverSchema)
    @blp.alt_response(
        409, description="The plan is not applied, or the driver already drives another of its vans"
    )
    def put(self, data: dict[str, Any], plan_id: str, vehicle_id: str) -> Any:
        """Assign or change the driver of a van's route in an applied plan (audited); the same again is a no-op."""
        principal = auth.current()
        row = drivers.assign_driver(db(), principal.tenant_id, principal.key_id, plan_id, vehicle_id, data)
        return drivers.present_driver(row)

    @auth.require("ops")
    @idempotency.write_endpoint
    @blp.response(204)
    @blp.alt_response(409, description="The plan is not applied")
    def delete(self, plan_id: str, vehicle_id: str) -> Any:
        """Take the driver off a van's route in an applied plan (audited); none assigned is not an error."""
        principal = auth.current()
        drivers.unassign_driver(db(), principal.tenant_id, principal.key_id, plan_id, vehicle_id)
        return None


# --- simulations ------------------------------------------------------------------------------


@blp.route("/allocation/simulations")
class Simulations(MethodView):
    @auth.require("ops")
    @blp.arguments(schema.RunListQuerySchema, location="query")
    @blp.response(200, schema.PlanListSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """List simulations, newest first (without their results)."""
        rows = runs.list_runs(
            db(), auth.current().tenant_id, "simulation", day=query.get("day"), limit=query["limit"]
        )
        return {"data": [{**runs.present_run(r), "result": None} for r in rows]}

    @blp.doc(parameters=[_IDEMPOTENCY_HEADER])
    @auth.require("ops")
    @idempotency.write_endpoint
    @blp.arguments(schema.SimulationRequestSchema)
    @blp.response(202, schema.SimulationSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """What if: run candidate rules and/or vans over a day against the active configuration; applies nothing."""
        principal = auth.current()
        row = simulations.request_simulation(db(), principal.tenant_id, principal.key_id, data)
        return (
            runs.present_run(row),
            202,
            {"Location": url_for("allocation.SimulationById", simulation_id=row.id)},
        )


@blp.route("/allocation/simulations/<string:simulation_id>")
class SimulationById(MethodView):
    @auth.require("ops")
    @blp.response(200, schema.SimulationSchema)
    def get(self, simulation_id: str) -> Any:
        """A simulation's state and progress; when done, candidate versus active configuration."""
        return runs.present_run(runs.get_run(db(), auth.current().tenant_id, simulation_id, "simulation"))


# --- per shipment -----------------------------------------------------------------------------


@blp.route("/shipments/<string:shipment_id>/allocate")
class ShipmentAllocate(MethodView):
    @blp.doc(parameters=[_IDEMPOTENCY_HEADER])
    @auth.require("platform", "ops")
    @idempotency.write_endpoint
    @blp.response(200, schema.AllocationSchema)
    @blp.alt_response(409, description="No depot is configured")
    def post(self, shipment_id: str) -> Any:
        """Decide fleet or partner now, by cheap insertion against today's plan (re-optimised at the next batch)."""
        tenant_id = auth.current().tenant_id
        shipment = shipment_service.get_shipment(db(), tenant_id, shipment_id)
        alloc = decisions.decide_online(db(), tenant_id, shipment, settings=container().settings)
        if alloc is None:
            raise Problem(
                "conflict", "No active depot: configure the fleet first (POST /v1/allocation/depots)."
            )
        return decisions.present_allocation(alloc)


@blp.route("/shipments/<string:shipment_id>/allocation")
class ShipmentAllocation(MethodView):
    @auth.require("platform", "ops", "finance")
    @blp.response(200, schema.AllocationSchema)
    def get(self, shipment_id: str) -> Any:
        """The shipment's current fleet-or-partner decision, and why."""
        return decisions.present_allocation(
            decisions.allocation_of(db(), auth.current().tenant_id, shipment_id)
        )
