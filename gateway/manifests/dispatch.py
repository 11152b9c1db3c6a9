"""The own fleet's dispatch manifests: one per van of an applied allocation plan, stops in route order.

An applied plan (``gateway.allocation.plans.apply_plan``) keeps its routes in ``allocation_plans.result``
(``routes[].stops[]``: sequence, shipment, ETA) and the packages' delivery windows in its compact
``problem`` (``packages[]``: ``[id, x, y, kg, m3, [start, end] | null, service minutes]``, minutes since
the depot's local midnight). Each van's stops become one ``dispatch`` manifest, closed at once (there is
no carrier to call). A stop is listed when its shipment still has this plan's decision for this van, is
not cancelled, and is on no manifest yet; a van with nothing new gets no manifest.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.allocation import fleet
from gateway.allocation import tables as allocation
from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow
from gateway.labels.tables import Label
from gateway.manifests import _members, documents
from gateway.manifests.tables import Manifest, ManifestShipment

if TYPE_CHECKING:
    from gateway.kernel.container import Container

FLEET = "fleet"


def _plans(
    session: Session, tenant_id: str, plan_id: str | None, day: date | None
) -> list[allocation.PlanRun]:
    query = sa.select(allocation.PlanRun).where(
        allocation.PlanRun.tenant_id == tenant_id, allocation.PlanRun.kind == "plan"
    )
    if plan_id is not None:
        plan = session.execute(query.where(allocation.PlanRun.id == plan_id)).scalar_one_or_none()
        if plan is None:
            raise Problem("validation-error", f"No plan {plan_id!r}.", errors={"plan_id": ["no such plan"]})
        if plan.state != "applied":
            raise Problem(
                "conflict",
                f"Plan {plan.id} is {plan.state}: only an applied plan is dispatched (POST "
                f"/v1/allocation/plans/{plan.id}/apply first).",
            )
        return [plan]
    assert day is not None
    plans = list(
        session.execute(
            query.where(allocation.PlanRun.day == day, allocation.PlanRun.state == "applied").order_by(
                allocation.PlanRun.applied_at, allocation.PlanRun.id
            )
        ).scalars()
    )
    if not plans:
        raise Problem(
            "validation-error",
            f"No applied allocation plan for {day.isoformat()}: apply one, or name it in plan_id.",
            errors={"date": ["no applied plan on this day"]},
        )
    return plans


def _windows(plan: allocation.PlanRun) -> dict[str, str]:
    out: dict[str, str] = {}
    for packed in (plan.problem or {}).get("packages", []):
        if (
            isinstance(packed, list)
            and len(packed) >= 6
            and isinstance(packed[5], list)
            and len(packed[5]) == 2
        ):
            start, end = packed[5]
            out[str(packed[0])] = f"{fleet.clock(int(start))}-{fleet.clock(int(end))}"
    return out


def _van(
    session: Session, tenant_id: str, plan: allocation.PlanRun, zone: str, route: dict[str, Any]
) -> Manifest | None:
    stops = [s for s in route.get("stops", []) if isinstance(s, dict) and s.get("shipment_id")]
    ids = [str(s["shipment_id"]) for s in stops]
    if not ids:
        return None
    vehicle_id = str(route.get("vehicle_id") or "")
    decided = set(
        session.execute(
            sa.select(allocation.ShipmentAllocation.shipment_id).where(
                allocation.ShipmentAllocation.tenant_id == tenant_id,
                allocation.ShipmentAllocation.shipment_id.in_(ids),
                allocation.ShipmentAllocation.plan_id == plan.id,
                allocation.ShipmentAllocation.vehicle_id == vehicle_id,
            )
        ).scalars()
    )
    listed = set(
        session.execute(
            sa.select(ManifestShipment.shipment_id).where(ManifestShipment.shipment_id.in_(ids))
        ).scalars()
    )
    shipments = {
        s.id: s
        for s in session.execute(
            sa.select(models.Shipment).where(
                models.Shipment.tenant_id == tenant_id, models.Shipment.id.in_(ids)
            )
        )
        .unique()
        .scalars()
        if s.cancelled_at is None and s.status != "cancelled"
    }
    labels = {
        lb.shipment_id: lb
        for lb in session.execute(
            sa.select(Label).where(
                Label.tenant_id == tenant_id, Label.shipment_id.in_(ids), Label.status == "purchased"
            )
        ).scalars()
    }
    costs = {
        a.shipment_id: a
        for a in session.execute(
            sa.select(allocation.ShipmentAllocation).where(
                allocation.ShipmentAllocation.shipment_id.in_(decided)
            )
        ).scalars()
    }
    todo = [
        s
        for s in stops
        if s["shipment_id"] in decided and s["shipment_id"] in shipments and s["shipment_id"] not in listed
    ]
    if not todo:
        return None
    windows = _windows(plan)
    row = Manifest(
        tenant_id=tenant_id,
        carrier=FLEET,
        account=None,
        kind="dispatch",
        state="closed",
        manifest_date=plan.day,
        time_zone=zone,
        plan_id=plan.id,
        vehicle_id=vehicle_id[:32] or None,
        vehicle_name=(route.get("vehicle_name") or None) and str(route["vehicle_name"])[:200],
        attempts=0,
        carrier_alerts=[],
        totals={},
        closed_at=utcnow(),
    )
    session.add(row)
    session.flush()
    members: list[ManifestShipment] = []
    for stop in todo:
        shipment = shipments[stop["shipment_id"]]
        label = labels.get(shipment.id)
        decision = costs.get(shipment.id)
        d = shipment.destination
        member = _members.member(
            tenant_id,
            row.id,
            int(stop.get("sequence") or len(members) + 1),
            shipment,
            tracking_number=label.tracking_number if label else shipment.tracking_number,
            service=(decision.service if decision else None) or shipment.service,
            cost_minor=decision.cost_minor if decision else None,
            currency=decision.currency if decision else None,
            stop={
                "street_lines": [line for line in (d.street1, d.street2, d.street3) if line],
                "name": d.name or d.company,
                "window": windows.get(shipment.id),
                "eta": stop.get("eta_local"),
            },
        )
        session.add(member)
        members.append(member)
    session.flush()
    row.totals = _members.totals(members)
    row.shipment_count = len(members)
    return row


def dispatch(container: Container, session: Session, tenant_id: str, data: dict[str, Any]) -> list[Manifest]:
    """One dispatch manifest per van of the applied plan (or of every plan applied on the day); flushed."""
    plan_id = data.get("plan_id")
    day = data.get("date")
    if plan_id is None and day is None:
        zone = data.get("time_zone") or "UTC"
        day = utcnow().astimezone(ZoneInfo(zone)).date()
    made: list[Manifest] = []
    for plan in _plans(session, tenant_id, plan_id, day):
        if day is not None and plan_id is not None and plan.day != day:
            raise Problem(
                "validation-error",
                f"Plan {plan.id} is for {plan.day.isoformat()}, not {day.isoformat()}.",
                errors={"date": ["not the plan's day"]},
            )
        depot = session.get(allocation.Depot, plan.depot_id)
        zone = depot.timezone if depot is not None else "UTC"
        for route in (plan.result or {}).get("routes", []):
            if isinstance(route, dict):
                row = _van(session, tenant_id, plan, zone, route)
                if row is not None:
                    made.append(row)
    if not made:
        raise Problem(
            "manifest-empty",
            "Every van of the plan is dispatched already (its stops are on manifests), or the plan routes no van.",
            extra={"carrier": FLEET, "plan_id": plan_id, "date": day.isoformat() if day else None},
        )
    for row in made:
        documents.render_and_store(container, session, row)
    return made
