"""Label batches: up to ``MAX_BATCH`` purchases queued at once, their progress, and one merged PDF."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.jobs import outbox
from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow
from gateway.labels import _lookups, render, requesting, storage
from gateway.labels import documents as label_documents
from gateway.labels import jobs as label_jobs
from gateway.labels.states import OWN_FLEET, QUEUE
from gateway.labels.tables import TERMINAL_JOB_STATES, Label, LabelBatch, LabelJob

if TYPE_CHECKING:
    from gateway.kernel.container import Container

log = logging.getLogger(__name__)


def create_batch(
    session: Session,
    tenant_id: str,
    shipment_ids: Sequence[str],
    *,
    label_format: str,
    container: Container | None = None,
) -> LabelBatch:
    """One purchase job per shipment; every shipment must be found and ready, or nothing is queued."""
    ordered = list(dict.fromkeys(shipment_ids))
    if len(ordered) != len(shipment_ids):
        raise Problem(
            "validation-error",
            "A shipment id appears more than once.",
            errors={"shipment_ids": ["duplicate ids"]},
        )
    rows = {
        s.id: s
        for s in session.execute(
            sa.select(models.Shipment).where(
                models.Shipment.tenant_id == tenant_id, models.Shipment.id.in_(ordered)
            )
        ).scalars()
    }
    errors: dict[str, list[str]] = {}
    for position, shipment_id in enumerate(ordered):
        shipment = rows.get(shipment_id)
        if shipment is None:
            errors[f"shipment_ids.{position}"] = [f"no shipment {shipment_id}"]
            continue
        refusal = requesting.refusal(session, shipment)
        if refusal is not None:
            errors[f"shipment_ids.{position}"] = [refusal.detail]
    if errors:  # 409: well-formed ids the tenant's shipments (their state) refuse
        raise Problem(
            "conflict",
            f"{len(errors)} of {len(ordered)} shipments cannot get a label now; nothing was queued.",
            errors=errors,
        )
    _refuse_what_the_carriers_would(ordered, rows, container)
    batch = LabelBatch(tenant_id=tenant_id, label_format=label_format, total=len(ordered), state="running")
    session.add(batch)
    session.flush()
    for shipment_id in ordered:
        requesting.enqueue(session, rows[shipment_id], label_format, batch_id=batch.id)
    return batch


def _refuse_what_the_carriers_would(
    ordered: list[str], rows: dict[str, models.Shipment], container: Container | None
) -> None:
    """422 shipment-invalid naming every shipment a carrier would refuse, as one label request does."""
    errors: dict[str, list[str]] = {}
    problems: list[dict[str, Any]] = []
    sellers: dict[tuple[str, str | None], bool] = {}
    for position, shipment_id in enumerate(ordered):
        try:
            requesting.refuse_what_the_carrier_would(rows[shipment_id], container, sellers=sellers)
        except Problem as refused:
            found = refused.extra.get("problems") or [
                {"path": "carrier", "code": refused.slug, "message": refused.detail}
            ]
            errors[f"shipment_ids.{position}"] = [f"{p['path']}: {p['message']}" for p in found]
            problems += [{"shipment_id": shipment_id, **p} for p in found]
    if errors:
        raise Problem(
            "shipment-invalid",
            f"{len(errors)} of {len(ordered)} shipments would be refused by their carrier; nothing was queued.",
            errors=errors,
            extra={"problems": problems},
        )


def get_batch(session: Session, tenant_id: str, batch_id: str) -> LabelBatch:
    batch = session.execute(
        sa.select(LabelBatch).where(LabelBatch.id == batch_id, LabelBatch.tenant_id == tenant_id)
    ).scalar_one_or_none()
    if batch is None:
        raise Problem("not-found", f"No batch {batch_id!r}.")
    return batch


def batch_progress(session: Session, batch: LabelBatch) -> dict[str, int]:
    counts = dict.fromkeys(("queued", "running", "succeeded", "failed", "needs_review"), 0)
    for state, count in session.execute(
        sa.select(LabelJob.state, sa.func.count())
        .where(LabelJob.batch_id == batch.id)
        .group_by(LabelJob.state)
    ).all():
        counts[state] = int(count)
    return counts


def present_batch(session: Session, batch: LabelBatch) -> dict[str, Any]:
    counts = batch_progress(session, batch)
    finished = sum(counts[s] for s in TERMINAL_JOB_STATES)
    done = finished >= batch.total
    jobs = session.execute(
        sa.select(LabelJob.id, LabelJob.shipment_id, LabelJob.state, LabelJob.last_error_code)
        .where(LabelJob.batch_id == batch.id)
        .order_by(LabelJob.created_at, LabelJob.id)
    ).all()
    return {
        "id": batch.id,
        "state": "done" if done else "running",
        "label_format": batch.label_format,
        "total": batch.total,
        "progress": {**counts, "finished": finished, "percent": round(100 * finished / batch.total, 1)},
        "jobs": [
            {"job_id": j.id, "shipment_id": j.shipment_id, "state": j.state, "error_code": j.last_error_code}
            for j in jobs
        ],
        "labels_pdf": f"/v1/batches/{batch.id}/labels.pdf" if done else None,
        "created_at": batch.created_at,
        "completed_at": batch.completed_at,
    }


def _batch_labels(session: Session, batch: LabelBatch) -> list[tuple[str, Label | None]]:
    """The batch's shipments whose job succeeded, in request order, with their labels."""
    rows = session.execute(
        sa.select(LabelJob.shipment_id, Label)
        .outerjoin(Label, Label.shipment_id == LabelJob.shipment_id)
        .where(LabelJob.batch_id == batch.id, LabelJob.state == "succeeded")
        .order_by(LabelJob.created_at, LabelJob.id)
    ).all()
    return [(shipment_id, label) for shipment_id, label in rows]


def _printable(label: Label | None) -> bool:
    if label is None or label.status != "purchased":
        return False
    if label.carrier == OWN_FLEET:
        return True
    return (
        label.storage_key is not None and label.format is not None and render.can_convert(label.format, "PDF")
    )


def build_batch_pdf(container: Container, session: Session, batch: LabelBatch) -> storage.Stored | None:
    """Merge the batch's printable labels into one PDF, store it and record it on the batch (commits)."""
    documents: list[bytes] = []
    for shipment_id, label in _batch_labels(session, batch):
        if not _printable(label):
            continue
        data, _fmt, _label = label_documents.label_document(
            container, session, batch.tenant_id, shipment_id, "PDF"
        )
        documents.append(data)
    if not documents:
        return None
    stored = _lookups.label_storage(container).put(
        f"{batch.tenant_id}/batches/{batch.id}.pdf", render.merge_pdfs(documents)
    )
    session.execute(
        sa.update(LabelBatch)
        .where(LabelBatch.id == batch.id)
        .values(
            state="done",
            completed_at=sa.func.coalesce(LabelBatch.completed_at, utcnow()),
            merged_storage_key=stored.key,
            merged_checksum=stored.checksum,
        )
    )
    session.commit()
    return stored


def merge_batch(container: Container, batch_id: str) -> str:
    """The job run when a batch's last purchase finished: build its merged PDF ahead of the download."""
    with container.sessions() as session:
        batch = session.get(LabelBatch, batch_id)
        if batch is None or batch.merged_storage_key is not None:
            return "nothing to do"
        counts = batch_progress(session, batch)
        if sum(counts[s] for s in TERMINAL_JOB_STATES) < batch.total:
            return "not done"
        return "merged" if build_batch_pdf(container, session, batch) else "no printable label"


def maybe_merge_later(session: Session, job_id: str) -> None:
    """In the transaction that finishes a batch's job: if it was the last one, queue the merge."""
    batch_id = session.execute(sa.select(LabelJob.batch_id).where(LabelJob.id == job_id)).scalar_one_or_none()
    if batch_id is None:
        return
    remaining = session.execute(
        sa.select(sa.func.count())
        .select_from(LabelJob)
        .where(LabelJob.batch_id == batch_id, LabelJob.state.not_in(TERMINAL_JOB_STATES))
    ).scalar_one()
    if remaining == 0:  # two last jobs racing may both queue it (harmless) or neither (built on download)
        outbox.add(session, label_jobs.merge_batch, batch_id, queue=QUEUE)


def batch_pdf(
    container: Container, session: Session, tenant_id: str, batch_id: str
) -> tuple[bytes, list[str]]:
    """The merged PDF of every label the batch bought, in request order; and the shipments left out."""
    batch = get_batch(session, tenant_id, batch_id)
    counts = batch_progress(session, batch)
    if sum(counts[s] for s in TERMINAL_JOB_STATES) < batch.total:
        raise Problem(
            "batch-not-done",
            f"Batch {batch.id} is still running; the merged PDF is offered once every job has finished.",
            extra={"progress": counts},
        )
    excluded = [shipment_id for shipment_id, label in _batch_labels(session, batch) if not _printable(label)]
    data: bytes | None = None
    if batch.merged_storage_key is not None:
        try:
            data = _lookups.label_storage(container).get(batch.merged_storage_key, batch.merged_checksum)
        except storage.StorageError:
            log.warning("merged batch PDF unreadable; building it again", extra={"batch_id": batch.id})
    if data is None:
        stored = build_batch_pdf(container, session, batch)
        if stored is None:
            raise Problem(
                "label-document-unavailable",
                f"Batch {batch.id} has no label that can be printed as PDF.",
                extra={"excluded_shipments": excluded},
            )
        data = _lookups.label_storage(container).get(stored.key, stored.checksum)
    return data, excluded
