"""Plan and simulation runs as the API reads them; the latest finished plan of a depot's day."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.allocation import _running, tables
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow


def get_run(session: Session, tenant_id: str, run_id: str, kind: str) -> tables.PlanRun:
    row = session.execute(
        sa.select(tables.PlanRun).where(
            tables.PlanRun.id == run_id, tables.PlanRun.tenant_id == tenant_id, tables.PlanRun.kind == kind
        )
    ).scalar_one_or_none()
    if row is None:
        raise Problem("not-found", f"No {kind} {run_id!r}.")
    return row


def list_runs(
    session: Session, tenant_id: str, kind: str, *, day: date | None = None, limit: int = 50
) -> list[tables.PlanRun]:
    query = sa.select(tables.PlanRun).where(
        tables.PlanRun.tenant_id == tenant_id, tables.PlanRun.kind == kind
    )
    if day is not None:
        query = query.where(tables.PlanRun.day == day)
    query = query.order_by(tables.PlanRun.created_at.desc(), tables.PlanRun.id.desc()).limit(limit)
    return list(session.execute(query).scalars())


def progress_of(row: tables.PlanRun, now: datetime | None = None) -> int:
    """Return the progress in percent; while solving it follows the clock against the time limit."""
    if row.state == "running" and row.stage == "solving" and row.solve_started_at is not None:
        limit = float(row.request.get("time_limit_s") or 10)
        elapsed = ((now or utcnow()) - row.solve_started_at).total_seconds()
        return min(
            _running.SOLVE_START + _running.SOLVE_SPAN,
            _running.SOLVE_START + int(_running.SOLVE_SPAN * elapsed / max(limit, 0.1)),
        )
    return row.progress


def present_run(row: tables.PlanRun) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "depot_id": row.depot_id,
        "day": row.day,
        "state": row.state,
        "stage": row.stage,
        "progress": progress_of(row),
        "options": {
            k: row.request.get(k) for k in ("time_limit_s", "seed", "engine", "max_iterations", "tenants")
        },
        "error": row.error,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "applied_at": row.applied_at,
        "result": row.result if row.state in ("done", "applied") else None,
    }


def latest_plan(session: Session, tenant_id: str, depot_id: str, day: date) -> tables.PlanRun | None:
    return session.execute(
        sa.select(tables.PlanRun)
        .where(
            tables.PlanRun.tenant_id == tenant_id,
            tables.PlanRun.depot_id == depot_id,
            tables.PlanRun.kind == "plan",
            tables.PlanRun.day == day,
            tables.PlanRun.state.in_(("done", "applied")),
        )
        .order_by(tables.PlanRun.finished_at.desc(), tables.PlanRun.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def latest_plan_ref(
    session: Session, tenant_id: str, depot_id: str, day: date
) -> tuple[str, datetime] | None:
    row = session.execute(
        sa.select(tables.PlanRun.id, tables.PlanRun.finished_at)
        .where(
            tables.PlanRun.tenant_id == tenant_id,
            tables.PlanRun.depot_id == depot_id,
            tables.PlanRun.kind == "plan",
            tables.PlanRun.day == day,
            tables.PlanRun.state.in_(("done", "applied")),
        )
        .order_by(tables.PlanRun.finished_at.desc(), tables.PlanRun.id.desc())
        .limit(1)
    ).first()
    return None if row is None else (row.id, row.finished_at)
