"""What-ifs: solve a day with candidate rules and/or vans and with the active configuration; compare.

Nothing is applied: a simulation runs as an RQ job through the outbox like a batch plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from allocation import model, rules, solver
from gateway.allocation import _format, _loading, _running, day_input, fleet, results, rule_sets, runs, tables
from gateway.allocation import jobs as allocation_jobs
from gateway.jobs import outbox
from gateway.kernel.errors import Problem
from gateway.kernel.types import new_id, utcnow

if TYPE_CHECKING:
    from gateway.kernel.container import Container


def _candidate_vehicles(depot: tables.Depot, raw: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, v in enumerate(raw):
        state = {
            "shift_start": "08:00",
            "shift_end": "18:00",
            **{k: (str(x) if isinstance(x, Decimal) else x) for k, x in v.items()},
        }
        try:
            fleet.vehicle_from_state(f"sim-{i + 1}", state, depot.currency)
        except Problem as exc:
            fields = exc.errors if isinstance(exc.errors, dict) else {}
            errors = {f"vehicles.{i}.{k}": msgs for k, msgs in fields.items()}
            raise Problem("validation-error", exc.detail, errors=errors) from None
        except model.ModelError as exc:
            raise Problem("validation-error", str(exc), errors={f"vehicles.{i}": [str(exc)]}) from None
        out.append({"id": v.get("id") or f"sim-{i + 1}", **state})
    return out


def request_simulation(
    session: Session, tenant_id: str, actor: str | None, data: dict[str, Any]
) -> tables.PlanRun:
    """Record a what-if over a day (candidate rules and/or fleet) and queue it; nothing is applied."""
    if data.get("rules") is None and data.get("vehicles") is None:
        raise Problem(
            "validation-error",
            "Give candidate rules, vehicles or both.",
            errors={"_schema": ["give rules and/or vehicles to compare"]},
        )
    depot = _running.pick_depot(session, tenant_id, data.get("depot_id"))
    request: dict[str, Any] = {**_running.request_options(data), "tenants": data.get("tenants")}
    if data.get("rules") is not None:
        doc = rule_sets.rule_document("candidate", data["rules"], 1)
        errors = rule_sets.rule_errors(doc)
        if errors:
            raise Problem("validation-error", "The candidate rules are not valid; see errors.", errors=errors)
        request["rules"] = doc
    if data.get("vehicles") is not None:
        request["vehicles"] = _candidate_vehicles(depot, data["vehicles"])
    row = tables.PlanRun(
        id=new_id("asm"),
        tenant_id=tenant_id,
        depot_id=depot.id,
        kind="simulation",
        day=data["day"],
        state="queued",
        stage="queued",
        progress=0,
        request=request,
        created_by=actor,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    outbox.add(session, allocation_jobs.run_simulation, row.id, queue=_running.QUEUE)
    return row


def run_simulation(container: Container, run_id: str) -> str:
    """The what-if job: solve the day with the candidate and with the active configuration; compare."""
    loaded = _running.load(container, run_id)
    if loaded is None:
        return "skipped"
    row, depot = loaded
    stage = _running.Stage(container, run_id)
    request = row.request
    try:
        with container.sessions() as session:
            built = day_input.build_day(
                session,
                row.tenant_id,
                depot,
                row.day,
                statuses=None,
                excluded=day_input.SIMULATION_EXCLUDED,
                tenants=request.get("tenants"),
                settings=container.settings,
            )
            rule_set, used_rules = rule_sets.active_rules(session, row.tenant_id)
            vehicles = _loading.vehicles(session, row.tenant_id, depot)
            current = runs.latest_plan(session, row.tenant_id, depot.id, row.day)
            current_summary = None
            if current is not None and current.result is not None:
                current_summary = {"plan_id": current.id, **current.result["summary"]}
        active = built.problem(depot, vehicles, rule_set)
        candidate = active
        if request.get("rules") is not None:
            candidate = replace(candidate, rules=rule_sets.combine([request["rules"]]))
        if request.get("vehicles") is not None:
            candidate = replace(
                candidate,
                vehicles=tuple(
                    fleet.vehicle_from_state(v["id"], v, depot.currency) for v in request["vehicles"]
                ),
            )
        # The time limit covers the whole what-if: half for each configuration, so the job stays
        # inside the outbox's job timeout like a plan does.
        options = _running.solve_options(request, container.settings)
        options = replace(options, time_limit_s=options.time_limit_s / 2)
        stage("solving", _running.SOLVE_START, solve_started_at=utcnow())
        cand_plan = solver.solve(candidate, options)
        act_plan = solver.solve(active, options)
        stage("comparing", 95)
        cand = results.summarise(candidate, cand_plan)
        act = results.summarise(active, act_plan)
        delta = cand_plan.total_cost.amount - act_plan.total_cost.amount
        base = act_plan.total_cost.amount
        changed = [
            {"shipment_id": c.package_id, "active": a.assignee or None, "candidate": c.assignee or None}
            for c, a in zip(cand_plan.decisions, act_plan.decisions, strict=True)
            if c.assignee != a.assignee
        ]
        result = {
            "currency": active.currency,
            "packages": len(active.packages),
            "candidate": {**cand, "issues": [_format.issue(i) for i in cand_plan.issues]},
            "active": {**act, "issues": [_format.issue(i) for i in act_plan.issues]},
            "current_plan": current_summary,
            "difference": {
                "total_cost": _format.amount(delta, active.currency),
                "percent": None if base == 0 else f"{delta / base * 100:.2f}",
                "cheaper": delta < 0,
            },
            "changed": changed[:1000],
            "changed_count": len(changed),
            "configuration": {
                "active_rule_sets": used_rules,
                "candidate_rules": request.get("rules") is not None,
                "candidate_vehicles": len(request["vehicles"])
                if request.get("vehicles") is not None
                else None,
            },
            "skipped": built.skipped,
        }
    except (model.ModelError, rules.RulesError, solver.SolverError, Problem) as exc:
        _running.fail(stage, exc)
        return "failed"
    stage("done", 100, state="done", result=result, finished_at=utcnow())
    return "done"
