"""Drivers of an applied plan's routes: assign one to a van's route, change it or take it off (audited).

A driver is the id the driver app sends with its events (``adapters.fleet.driver``) and a name to
print. Only a plan that is applied is dispatched, so only its routes take a driver, and only a van
the plan gave stops. One driver drives one van of a plan. Assigning the same driver again changes
nothing (no audit entry); every change is in the allocation audit log, ``entity_type`` plan,
``action`` assign_driver or unassign_driver, with the van and the driver before and after. A change
of driver sends ``shipment.allocated`` again, with ``driver_id`` (null once taken off), for each
shipment still on that van.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.allocation import _assign, plans, runs, tables
from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow


def route_of(row: tables.PlanRun, vehicle_id: str) -> dict[str, Any] | None:
    """The plan's route of that van when it has stops (a van left at the depot has none to drive)."""
    for route in (row.result or {}).get("routes", []):
        if isinstance(route, dict) and str(route.get("vehicle_id")) == vehicle_id and route.get("stops"):
            return route
    return None


def applied_route(session: Session, tenant_id: str, plan_id: str, vehicle_id: str) -> tables.PlanRun:
    """The tenant's applied plan in which the van has a route; a Problem saying which part is missing."""
    row = runs.get_run(session, tenant_id, plan_id, "plan")
    if row.state != "applied":
        raise Problem(
            "conflict",
            f"Plan {row.id} is {row.state}: only an applied plan's routes take a driver; apply it first.",
        )
    if route_of(row, vehicle_id) is None:
        raise Problem("not-found", f"Van {vehicle_id!r} has no route in plan {row.id}.")
    return row


def get_driver(session: Session, tenant_id: str, plan_id: str, vehicle_id: str) -> tables.RouteDriver | None:
    return session.execute(
        sa.select(tables.RouteDriver).where(
            tables.RouteDriver.tenant_id == tenant_id,
            tables.RouteDriver.plan_id == plan_id,
            tables.RouteDriver.vehicle_id == vehicle_id,
        )
    ).scalar_one_or_none()


def drivers_of(
    session: Session, tenant_id: str, plan_ids: Iterable[str]
) -> dict[tuple[str, str], tables.RouteDriver]:
    """The drivers of these plans' routes, by (plan id, van id)."""
    ids = sorted(set(plan_ids))
    if not ids:
        return {}
    rows = session.execute(
        sa.select(tables.RouteDriver).where(
            tables.RouteDriver.tenant_id == tenant_id, tables.RouteDriver.plan_id.in_(ids)
        )
    ).scalars()
    return {(r.plan_id, r.vehicle_id): r for r in rows}


def _announce(session: Session, tenant_id: str, plan_id: str, vehicle_id: str, driver_id: str | None) -> None:
    """Send ``shipment.allocated`` again, with the van's driver (or none), for each shipment the plan
    still has on that van: a platform learns who brings its parcel. Shipments given another decision
    since the plan, or cancelled, are no longer on the van, and hear nothing."""
    on_the_van = session.execute(
        sa.select(tables.ShipmentAllocation)
        .join(models.Shipment, models.Shipment.id == tables.ShipmentAllocation.shipment_id)
        .where(
            tables.ShipmentAllocation.tenant_id == tenant_id,
            tables.ShipmentAllocation.plan_id == plan_id,
            tables.ShipmentAllocation.vehicle_id == vehicle_id,
            models.Shipment.cancelled_at.is_(None),
            models.Shipment.status != "cancelled",
        )
        .order_by(tables.ShipmentAllocation.sequence)
    ).scalars()
    for alloc in on_the_van:
        _assign.emit_allocated(session, tenant_id, alloc, driver_id)


def assign_driver(
    session: Session, tenant_id: str, actor: str | None, plan_id: str, vehicle_id: str, data: dict[str, Any]
) -> tables.RouteDriver:
    """Give the van's route of an applied plan its driver, or change it; the same driver again is a no-op."""
    row = applied_route(session, tenant_id, plan_id, vehicle_id)
    driver_id = str(data["driver_id"]).strip()
    driver_name = str(data["driver_name"]).strip()
    elsewhere = session.execute(
        sa.select(tables.RouteDriver.vehicle_id).where(
            tables.RouteDriver.tenant_id == tenant_id,
            tables.RouteDriver.plan_id == row.id,
            tables.RouteDriver.driver_id == driver_id,
            tables.RouteDriver.vehicle_id != vehicle_id,
        )
    ).first()
    if elsewhere is not None:
        raise Problem(
            "conflict",
            f"Driver {driver_id!r} already drives van {elsewhere.vehicle_id!r} in plan {row.id}: "
            "take them off that van first.",
        )
    current = get_driver(session, tenant_id, row.id, vehicle_id)
    if current is not None and (current.driver_id, current.driver_name) == (driver_id, driver_name):
        return current
    before = (None, None) if current is None else (current.driver_id, current.driver_name)
    if current is None:
        current = tables.RouteDriver(tenant_id=tenant_id, plan_id=row.id, vehicle_id=vehicle_id)
        current.driver_id, current.driver_name = driver_id, driver_name
        current.assigned_by, current.assigned_at = actor, utcnow()
        try:
            with session.begin_nested():
                session.add(current)
        except IntegrityError:  # assigned at the same moment by another request: change that one
            current = get_driver(session, tenant_id, row.id, vehicle_id)
            if current is None:
                raise
            before = (current.driver_id, current.driver_name)
    current.driver_id, current.driver_name = driver_id, driver_name
    current.assigned_by, current.assigned_at = actor, utcnow()
    plans.audit_plan(
        session,
        tenant_id,
        actor,
        row,
        "assign_driver",
        {
            "vehicle_id": vehicle_id,
            "driver_id": [before[0], driver_id],
            "driver_name": [before[1], driver_name],
        },
    )
    if before[0] != driver_id:
        _announce(session, tenant_id, row.id, vehicle_id, driver_id)
    return current


def unassign_driver(
    session: Session, tenant_id: str, actor: str | None, plan_id: str, vehicle_id: str
) -> bool:
    """Take the driver off the van's route of an applied plan; whether there was one (none: a no-op)."""
    row = applied_route(session, tenant_id, plan_id, vehicle_id)
    current = get_driver(session, tenant_id, row.id, vehicle_id)
    if current is None:
        return False
    before = (current.driver_id, current.driver_name)
    session.delete(current)
    plans.audit_plan(
        session,
        tenant_id,
        actor,
        row,
        "unassign_driver",
        {"vehicle_id": vehicle_id, "driver_id": [before[0], None], "driver_name": [before[1], None]},
    )
    _announce(session, tenant_id, row.id, vehicle_id, None)
    return True


def present_driver(row: tables.RouteDriver) -> dict[str, Any]:
    return {
        "plan_id": row.plan_id,
        "vehicle_id": row.vehicle_id,
        "driver_id": row.driver_id,
        "driver_name": row.driver_name,
        "assigned_by": row.assigned_by,
        "assigned_at": row.assigned_at,
    }


def present_plan(session: Session, row: tables.PlanRun) -> dict[str, Any]:
    """A plan as the API reads it (``runs.present_run``), each route with its driver (null when none)."""
    out = runs.present_run(row)
    result = out.get("result")
    if not isinstance(result, dict) or not isinstance(result.get("routes"), list):
        return out
    found = drivers_of(session, row.tenant_id, [row.id]) if row.state == "applied" else {}
    routes = []
    for route in result["routes"]:
        if isinstance(route, dict):
            driver = found.get((row.id, str(route.get("vehicle_id"))))
            route = {**route, "driver": None if driver is None else present_driver(driver)}
        routes.append(route)
    out["result"] = {**result, "routes": routes}
    return out
