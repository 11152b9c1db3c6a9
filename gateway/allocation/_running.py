"""What batch plans and what-ifs share: the depot, the solve options, the job's stage and progress."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from allocation import model, solver
from gateway.allocation import fleet, tables
from gateway.kernel import config
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow

if TYPE_CHECKING:
    from gateway.kernel.container import Container

log = logging.getLogger(__name__)


QUEUE = "allocation"
SOLVE_START, SOLVE_SPAN = 20, 70  # progress while solving runs from 20 % to 90 %


def pick_depot(session: Session, tenant_id: str, depot_id: str | None) -> tables.Depot:
    # 409, not 422: the request is well formed; the tenant's fleet (depots) decides.
    if depot_id:
        try:
            depot = fleet.get_depot(session, tenant_id, depot_id)
        except Problem:
            raise Problem("conflict", errors={"depot_id": ["no such depot"]}) from None
        if not depot.active:
            raise Problem("conflict", errors={"depot_id": ["the depot is deactivated"]})
        return depot
    depots = fleet.list_depots(session, tenant_id)
    if not depots:
        raise Problem(
            "conflict",
            "Configure a depot and its vans first (POST /v1/allocation/depots).",
            errors={"depot_id": ["no active depot"]},
        )
    if len(depots) > 1:
        raise Problem("conflict", errors={"depot_id": ["required when there are several depots"]})
    return depots[0]


def request_options(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "time_limit_s": str(data.get("time_limit_s") or Decimal(10)),
        "seed": int(data.get("seed") or 0),
        "engine": data.get("engine") or solver.DEFAULT_ENGINE,
        "max_iterations": data.get("max_iterations"),
    }


class Stage:
    """Write a run's stage and progress in its own short transaction, and into the RQ job's meta."""

    def __init__(self, container: Container, run_id: str) -> None:
        self.container = container
        self.run_id = run_id

    def __call__(self, stage: str, progress: int, **values: Any) -> None:
        with self.container.sessions() as session:
            session.execute(
                sa.update(tables.PlanRun)
                .where(tables.PlanRun.id == self.run_id)
                .values(stage=stage, progress=progress, **values)
            )
            session.commit()
        try:
            from rq import get_current_job

            job = get_current_job()
            if job is not None:
                job.meta["allocation"] = {"id": self.run_id, "stage": stage, "progress": progress}
                job.save_meta()
        except Exception:  # progress in Redis is a convenience; the database row is the record
            log.debug("could not write job meta", exc_info=True)


def solve_options(request: dict[str, Any], settings: Mapping[str, Any]) -> model.SolveOptions:
    return model.SolveOptions(
        engine=request.get("engine") or solver.DEFAULT_ENGINE,
        time_limit_s=float(request.get("time_limit_s") or 10),
        seed=int(request.get("seed") or 0),
        max_iterations=request.get("max_iterations"),
        workers=config.read(settings, "ALLOCATION_SOLVER_WORKERS"),
    )


def load(container: Container, run_id: str) -> tuple[tables.PlanRun, tables.Depot] | None:
    with container.sessions() as session:
        row = session.get(tables.PlanRun, run_id)
        if row is None or row.state in ("done", "failed", "applied"):
            return None  # a re-delivered job for a finished run does nothing
        depot = session.get(tables.Depot, row.depot_id)
        if depot is None:
            return None
        session.execute(
            sa.update(tables.PlanRun)
            .where(tables.PlanRun.id == run_id)
            .values(state="running", stage="loading", progress=5, started_at=utcnow(), error=None)
        )
        session.commit()
        return row, depot


def fail(stage: Stage, exc: Exception) -> None:
    log.warning("allocation run failed", extra={"run_id": stage.run_id, "error": str(exc)})
    stage("failed", 100, state="failed", error=str(exc)[:2000], finished_at=utcnow())
