"""Reading label jobs and labels as the API shows them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.jobs.tables import OutboxEntry
from gateway.kernel import models, paging
from gateway.kernel.errors import Problem
from gateway.labels import _lookups, signed_urls
from gateway.labels.tables import Label, LabelAttempt, LabelJob
from schemas import money


def get_job(session: Session, tenant_id: str, job_id: str) -> LabelJob:
    job = session.execute(
        sa.select(LabelJob).where(LabelJob.id == job_id, LabelJob.tenant_id == tenant_id)
    ).scalar_one_or_none()
    if job is None:
        raise Problem("not-found", f"No job {job_id!r}.")
    return job


def _attempt_view(a: LabelAttempt) -> dict[str, Any]:
    return {
        "id": a.id,
        "operation": a.operation,
        "carrier": a.carrier,
        "reference": a.reference,
        "outcome": a.outcome,
        "error_code": a.error_code,
        "error_message": a.error_message,
        "http_status": a.http_status,
        "evidence": a.evidence or {},
        "started_at": a.started_at,
        "finished_at": a.finished_at,
    }


def present_jobs(
    session: Session, jobs: Sequence[LabelJob], *, with_attempts: bool = True
) -> list[dict[str, Any]]:
    """Shape jobs as the API shows them, with their shipment, label and attempt log."""
    if not jobs:
        return []
    shipment_ids = {j.shipment_id for j in jobs}
    shipments = {
        s.id: s
        for s in session.execute(
            sa.select(
                models.Shipment.id, models.Shipment.status, models.Shipment.carrier, models.Shipment.reference
            ).where(models.Shipment.id.in_(shipment_ids))
        ).all()
    }
    labels = {
        lbl.shipment_id: lbl
        for lbl in session.execute(sa.select(Label).where(Label.shipment_id.in_(shipment_ids))).scalars()
    }
    outbox_ids = [j.outbox_id for j in jobs if j.outbox_id is not None]
    outbox_states: dict[int, str] = dict(
        session.execute(sa.select(OutboxEntry.id, OutboxEntry.state).where(OutboxEntry.id.in_(outbox_ids)))
        .tuples()
        .all()
        if outbox_ids
        else []
    )
    attempts: dict[str, list[LabelAttempt]] = {}
    if with_attempts:
        for a in session.execute(
            sa.select(LabelAttempt)
            .where(LabelAttempt.job_id.in_([j.id for j in jobs]))
            .order_by(LabelAttempt.id)
        ).scalars():
            attempts.setdefault(a.job_id, []).append(a)
    out = []
    for j in jobs:
        s = shipments.get(j.shipment_id)
        lbl = labels.get(j.shipment_id)
        out.append(
            {
                "id": j.id,
                "kind": j.kind,
                "state": j.state,
                "shipment_id": j.shipment_id,
                "shipment_status": s.status if s else None,
                "carrier": s.carrier if s else None,
                "reference": s.reference if s else None,
                "batch_id": j.batch_id,
                "label_format": j.label_format,
                "attempts": j.attempts,
                "last_error": (
                    {"code": j.last_error_code, "message": j.last_error}
                    if (j.last_error or j.last_error_code)
                    else None
                ),
                "next_attempt_at": j.next_attempt_at if j.state in ("queued", "running") else None,
                "outbox_state": outbox_states.get(j.outbox_id) if j.outbox_id is not None else None,
                "label": present_label(lbl) if lbl is not None and j.state == "succeeded" else None,
                "attempt_log": [_attempt_view(a) for a in attempts.get(j.id, [])],
                "resolution": list(j.resolution or []),
                "created_at": j.created_at,
                "updated_at": j.updated_at,
                "finished_at": j.finished_at,
            }
        )
    return out


def present_label(lbl: Label) -> dict[str, Any]:
    cost = None
    if lbl.cost_minor is not None and lbl.currency:
        value = money.Money.from_minor(lbl.cost_minor, lbl.currency)
        cost = {"amount": value.amount, "currency": value.currency}
    return {
        "id": lbl.id,
        "shipment_id": lbl.shipment_id,
        "carrier": lbl.carrier,
        "service": lbl.service,
        "tracking_number": lbl.tracking_number,
        "tracking_numbers": list(lbl.tracking_numbers or []),
        "status": lbl.status,
        "cost": cost,
        "format": lbl.format,
        "checksum": lbl.checksum,
        "document_available": lbl.storage_key is not None,
        "source": lbl.source,
        "purchased_at": lbl.purchased_at,
        "voided_at": lbl.voided_at,
        **signed_urls.for_label(
            lbl.tenant_id, lbl.id, lbl.format, lbl.storage_key is not None and lbl.format is not None
        ),
    }


def list_jobs(
    session: Session,
    tenant_id: str,
    *,
    states: Iterable[str] = (),
    dead_letter: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[LabelJob], str | None]:
    """A page of jobs, newest first. ``dead_letter``: failed, needs_review, or given up by the outbox."""
    query = sa.select(LabelJob).where(LabelJob.tenant_id == tenant_id)
    states = list(states)
    if dead_letter:
        dead_outbox = sa.select(OutboxEntry.id).where(OutboxEntry.state == "dead")
        query = query.where(
            sa.or_(
                LabelJob.state.in_(("failed", "needs_review")),
                sa.and_(LabelJob.state.in_(("queued", "running")), LabelJob.outbox_id.in_(dead_outbox)),
            )
        )
    if states:
        query = query.where(LabelJob.state.in_(states))
    rows, next_cursor = paging.newest_first(session, query, LabelJob, limit=limit, cursor=cursor)
    return list(rows), next_cursor


def get_label(session: Session, tenant_id: str, shipment_id: str) -> Label:
    shipment = _lookups.tenant_shipment(session, tenant_id, shipment_id)
    label = session.execute(sa.select(Label).where(Label.shipment_id == shipment.id)).scalar_one_or_none()
    if label is None:
        raise Problem(
            "not-found",
            f"Shipment {shipment.id} has no label ({shipment.status}).",
            extra={"shipment_status": shipment.status},
        )
    return label
