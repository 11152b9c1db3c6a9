"""Batch plans: request one (queued through the outbox), the job that solves the day, applying it.

The pure engine (``allocation``) decides; this module feeds it the day from the database
(``day_input``) and stores what it said (``results``). Applying a finished plan gives each draft
shipment its carrier (or the fleet) and freezes the planned partner rate when still valid.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from allocation import baselines, model, rules, solver
from gateway.allocation import (
    _assign,
    _compact,
    _loading,
    _running,
    day_input,
    fleet,
    results,
    rule_sets,
    runs,
    tables,
)
from gateway.allocation import jobs as allocation_jobs
from gateway.jobs import outbox
from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.kernel.types import new_id, utcnow
from gateway.rates import selection as rate_selection
from gateway.rates import tables as rating_tables
from schemas import money

if TYPE_CHECKING:
    from gateway.kernel.container import Container


def request_plan(session: Session, tenant_id: str, actor: str | None, data: dict[str, Any]) -> tables.PlanRun:
    """Record a batch plan for a depot's day and queue its job (through the outbox)."""
    depot = _running.pick_depot(session, tenant_id, data.get("depot_id"))
    row = tables.PlanRun(
        id=new_id("alp"),
        tenant_id=tenant_id,
        depot_id=depot.id,
        kind="plan",
        day=data["day"],
        state="queued",
        stage="queued",
        progress=0,
        request={**_running.request_options(data), "tenants": data.get("tenants")},
        created_by=actor,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    outbox.add(session, allocation_jobs.run_plan, row.id, queue=_running.QUEUE)
    return row


def run_plan(container: Container, run_id: str) -> str:
    """The batch plan job: build the day, solve, cost the rate-shopping baseline, store the result."""
    loaded = _running.load(container, run_id)
    if loaded is None:
        return "skipped"
    row, depot = loaded
    stage = _running.Stage(container, run_id)
    try:
        with container.sessions() as session:
            built = day_input.build_day(
                session,
                row.tenant_id,
                depot,
                row.day,
                tenants=row.request.get("tenants"),
                settings=container.settings,
            )
            rule_set, used_rules = rule_sets.active_rules(session, row.tenant_id)
            vehicles = _loading.vehicles(session, row.tenant_id, depot)
            fleet_used = _loading.fleet_snapshot(session, row.tenant_id, depot)
        problem = built.problem(depot, vehicles, rule_set)
        stage("solving", _running.SOLVE_START, solve_started_at=utcnow())
        plan = solver.solve(problem, _running.solve_options(row.request, container.settings))
        stage("baseline", 92)
        baseline = baselines.cheapest_partner(problem)
        result = results.plan_result(problem, plan, baseline, built, depot, fleet_used)
        result["configuration"] = {"rule_sets": used_rules, **fleet_used}
        packed = {
            "currency": problem.currency,
            "packages": [_compact.pack(p) for p in problem.packages],
            "routes": {r.vehicle_id: [st.package_id for st in r.stops] for r in plan.routes},
            "handovers": {h.carrier: list(h.package_ids) for h in plan.handovers},
        }
    except (model.ModelError, rules.RulesError, solver.SolverError, Problem) as exc:
        _running.fail(stage, exc)
        return "failed"
    stage("done", 100, state="done", result=result, problem=packed, finished_at=utcnow())
    return "done"


def _freeze_rate(session: Session, tenant_id: str, shipment: models.Shipment, rate_id: str | None) -> bool:
    """Freeze the plan's partner rate on the shipment when it is still valid; return whether it was."""
    if not rate_id:
        return False
    try:
        with session.begin_nested():
            rate_selection.select_rate(session, tenant_id, shipment.id, rate_id)
    except Problem:
        return False
    return True


def apply_plan(session: Session, tenant_id: str, actor: str | None, plan_id: str) -> dict[str, Any]:
    """Make a finished plan the day's dispatch: each draft shipment gets its carrier (or the fleet)."""
    row = runs.get_run(session, tenant_id, plan_id, "plan")
    if row.state == "applied":
        return {"plan_id": row.id, "state": row.state, "applied": [], "skipped": [], "already_applied": True}
    if row.state != "done" or row.result is None:
        raise Problem("conflict", f"Plan {row.id} is {row.state}; only a finished plan can be applied.")
    ids = [p["shipment_id"] for p in row.result["packages"]]
    shipments: dict[str, models.Shipment] = {}
    for chunk in _loading.chunks(ids):
        for s in (
            session.execute(
                sa.select(models.Shipment).where(
                    models.Shipment.tenant_id == tenant_id, models.Shipment.id.in_(chunk)
                )
            )
            .unique()
            .scalars()
        ):
            shipments[s.id] = s
    applied, skipped = [], []
    now = utcnow()
    wanted = [p["rate_id"] for p in row.result["packages"] if p["assignee"] == "partner" and p.get("rate_id")]
    live: set[str] = set()
    for chunk in _loading.chunks(wanted):
        live.update(
            session.execute(
                sa.select(rating_tables.RateQuote.id).where(
                    rating_tables.RateQuote.id.in_(chunk),
                    rating_tables.RateQuote.tenant_id == tenant_id,
                    rating_tables.RateQuote.expires_at > now,
                )
            ).scalars()
        )
    for p in row.result["packages"]:
        shipment = shipments.get(p["shipment_id"])
        if shipment is None or shipment.status != "draft":
            skipped.append(
                {
                    "shipment_id": p["shipment_id"],
                    "reason": "deleted" if shipment is None else f"shipment is {shipment.status}",
                }
            )
            continue
        if p["carrier"] is None:
            skipped.append({"shipment_id": p["shipment_id"], "reason": "no feasible option"})
            continue
        rate_id = p.get("rate_id") if p.get("rate_id") in live else None
        if p["assignee"] == "fleet" or not _freeze_rate(session, tenant_id, shipment, rate_id):
            _assign.set_carrier(session, shipment, p["carrier"], p["service"])
        cost = p["cost"]
        alloc = _assign.store(
            session,
            tenant_id,
            {
                "shipment_id": shipment.id,
                "depot_id": row.depot_id,
                "day": row.day,
                "source": "plan",
                "plan_id": row.id,
                "assignee": p["carrier"],
                "service": p["service"],
                "vehicle_id": p["vehicle_id"],
                "sequence": p["stop"],
                "eta": datetime.fromisoformat(p["eta"]) if p["eta"] else None,
                "cost_minor": None
                if cost is None
                else money.Money(Decimal(cost["amount"]), cost["currency"]).to_minor(),
                "currency": None if cost is None else cost["currency"],
                "reason": p["reason"],
                "detail": p["detail"][:500],
                "rule_ids": p["rule_ids"],
                "decided_at": now,
            },
        )
        _assign.emit_allocated(session, tenant_id, alloc)
        applied.append({"shipment_id": shipment.id, "carrier": p["carrier"], "service": p["service"]})
    row.state = "applied"
    row.applied_at = now
    row.applied_by = actor
    audit_plan(
        session,
        tenant_id,
        actor,
        row,
        "apply",
        {"applied": len(applied), "skipped": len(skipped), "day": row.day.isoformat()},
    )
    return {
        "plan_id": row.id,
        "state": row.state,
        "applied": applied,
        "skipped": skipped,
        "already_applied": False,
    }


def audit_plan(
    session: Session,
    tenant_id: str,
    actor: str | None,
    row: tables.PlanRun,
    action: str,
    changes: dict[str, Any],
) -> None:
    """Flush the plan's changes, then record ``action`` on it (``entity_type`` plan) in the allocation audit log."""
    session.flush()
    fleet.audit(session, tenant_id, actor, "plan", row.id, action, changes)
