"""The attempt log of a purchase job: claim the shipment and commit an attempt before any carrier call,
finish it, note a retry, or conclude the job without a label (``failed``/``needs_review``)."""

from __future__ import annotations

import logging
import os
import random
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from adapters import base as adapters
from gateway import webhooks
from gateway.jobs import outbox
from gateway.kernel import models
from gateway.kernel.types import rowcount, utcnow
from gateway.labels import _lookups, _timing, batches
from gateway.labels.states import IN_FLIGHT, UNRESOLVED
from gateway.labels.tables import LabelAttempt, LabelJob

if TYPE_CHECKING:
    from gateway.kernel.container import Container

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    shipment_id: str
    tenant_id: str
    job_id: str
    job_attempts: int
    carrier: str
    service: str
    label_format: str


def who() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def describe(exc: BaseException) -> str:
    if isinstance(exc, adapters.CarrierError):
        return f"{exc.code or type(exc).__name__}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"[:500]


def begin_attempt(
    container: Container, plan: Plan, *, operation: str = "purchase", evidence: dict[str, Any] | None = None
) -> int:
    """Claim the shipment and commit an attempt row before any carrier call; return the attempt id.

    A purchase claim bumps the job's attempt counter only if nobody else did since we read it and no
    other purchase attempt is unresolved: exactly one runner can be between "recorded" and "answered".
    """
    busy = _timing.setting(container, "LABEL_BUSY_RETRY_SECONDS")
    with container.sessions() as session:
        query = sa.select(models.Shipment.id, models.Shipment.status).where(
            models.Shipment.id == plan.shipment_id
        )
        if _lookups.is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        row = session.execute(query).one_or_none()
        if row is None:
            session.rollback()
            raise outbox.RetryLater(busy + random.uniform(0, 1), "shipment locked by another runner")
        if row.status not in IN_FLIGHT:
            session.rollback()
            raise outbox.RetryLater(0, f"shipment became {row.status}")  # the next run returns at once
        if operation == "purchase":
            if _lookups.unresolved_attempts(session, plan.shipment_id):
                session.rollback()
                raise outbox.RetryLater(busy + random.uniform(0, 1), "another purchase attempt is unresolved")
            claimed = session.execute(
                sa.update(LabelJob)
                .where(
                    LabelJob.id == plan.job_id,
                    LabelJob.attempts == plan.job_attempts,
                    LabelJob.state.in_(("queued", "running")),
                )
                .values(
                    attempts=plan.job_attempts + 1, state="running", next_attempt_at=None, updated_at=utcnow()
                )
            )
            if rowcount(claimed) != 1:
                session.rollback()
                raise outbox.RetryLater(busy + random.uniform(0, 1), "another runner claimed this job")
            session.execute(
                sa.update(models.Shipment)
                .where(models.Shipment.id == plan.shipment_id, models.Shipment.status.in_(IN_FLIGHT))
                .values(status="purchasing", updated_at=utcnow())
            )
        attempt = LabelAttempt(
            job_id=plan.job_id,
            tenant_id=plan.tenant_id,
            shipment_id=plan.shipment_id,
            operation=operation,
            carrier=plan.carrier,
            reference=plan.shipment_id,
            outcome="started",
            evidence=evidence or {},
        )
        session.add(attempt)
        session.commit()
        return attempt.id


def finish_attempt(
    container: Container,
    attempt_id: int,
    outcome: str,
    *,
    error: BaseException | None = None,
    evidence: dict[str, Any] | None = None,
    session: Session | None = None,
) -> None:
    values: dict[str, Any] = {"outcome": outcome, "finished_at": utcnow()}
    if error is not None:
        if isinstance(error, adapters.CarrierError):
            values.update(
                error_code=(error.code or type(error).__name__)[:100],
                error_message=error.message[:2000],
                http_status=error.http_status,
            )
        else:
            values.update(error_code=type(error).__name__[:100], error_message=str(error)[:2000])
    own = session is None
    s = session or container.sessions()
    try:
        if evidence:
            current = s.execute(
                sa.select(LabelAttempt.evidence).where(LabelAttempt.id == attempt_id)
            ).scalar_one()
            values["evidence"] = {**(current or {}), **evidence}
        s.execute(sa.update(LabelAttempt).where(LabelAttempt.id == attempt_id).values(**values))
        if own:
            s.commit()
    finally:
        if own:
            s.close()


def mark_attempts(container: Container, ids: Sequence[int], outcome: str) -> None:
    with container.sessions() as session:
        session.execute(
            sa.update(LabelAttempt)
            .where(LabelAttempt.id.in_(list(ids)), LabelAttempt.outcome.in_(UNRESOLVED))
            .values(outcome=outcome, finished_at=utcnow())
        )
        session.commit()


def note_retry(container: Container, plan: Plan, code: str, message: str, delay: float) -> None:
    with container.sessions() as session:
        session.execute(
            sa.update(LabelJob)
            .where(LabelJob.id == plan.job_id, LabelJob.state.in_(("queued", "running")))
            .values(
                last_error_code=code[:100],
                last_error=message[:2000],
                next_attempt_at=utcnow() + timedelta(seconds=delay),
                updated_at=utcnow(),
            )
        )
        session.commit()


def conclude(container: Container, plan: Plan, status: str, *, code: str, message: str) -> bool:
    """End an in-flight purchase as failed or needs_review (nothing recorded as bought)."""
    with container.sessions() as session:
        moved = session.execute(
            sa.update(models.Shipment)
            .where(models.Shipment.id == plan.shipment_id, models.Shipment.status.in_(IN_FLIGHT))
            .values(status=status, updated_at=utcnow())
        )
        if rowcount(moved) != 1:
            session.rollback()
            return False
        now = utcnow()
        session.execute(
            sa.update(LabelJob)
            .where(LabelJob.id == plan.job_id)
            .values(
                state=status,
                last_error_code=code[:100],
                last_error=message[:2000],
                finished_at=now,
                next_attempt_at=None,
                updated_at=now,
            )
        )
        shipment = session.get(models.Shipment, plan.shipment_id)
        webhooks.emit(
            session,
            plan.tenant_id,
            "label.failed",
            {
                "shipment_id": plan.shipment_id,
                "status": status,
                "carrier": plan.carrier or None,
                "service": plan.service or None,
                "error": {"code": code, "message": message[:2000], "retryable": False},
                "failed_at": now.isoformat(),
                "reference": shipment.reference if shipment else None,
            },
            occurred_at=now,
        )
        batches.maybe_merge_later(session, plan.job_id)
        session.commit()
    log.info(
        "label purchase concluded", extra={"shipment_id": plan.shipment_id, "status": status, "code": code}
    )
    return True
