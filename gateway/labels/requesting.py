"""Requesting a label: refuse clearly, or move the shipment to ``label_requested`` and queue its job."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.jobs import outbox
from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.kernel.types import rowcount, utcnow
from gateway.labels import _lookups
from gateway.labels import jobs as label_jobs
from gateway.labels.states import IN_FLIGHT, QUEUE, REQUESTABLE
from gateway.labels.tables import LabelJob
from gateway.returns import carriers as return_carriers
from gateway.validation import checking as validation


def refusal(session: Session, shipment: models.Shipment) -> Problem | None:
    """Why this shipment cannot get a purchase request now, or None."""
    status = shipment.status
    if status in ("purchased", "voided"):
        return Problem(
            "label-already-purchased",
            f"Shipment {shipment.id} already has a label ({status}); a second purchase would buy twice.",
            extra={"shipment_status": status, "tracking_number": shipment.tracking_number},
        )
    if status in IN_FLIGHT or status == "needs_review":
        job = _lookups.latest_job(session, shipment.id)
        return Problem(
            "label-in-progress",
            f"Shipment {shipment.id} is {status}: its label purchase is under way or awaits review.",
            extra={"shipment_status": status, "job_id": job.id if job else None},
        )
    if status == "cancelled":
        return Problem("shipment-cancelled", f"Shipment {shipment.id} is cancelled; book a new one.")
    if status not in REQUESTABLE:
        return Problem("conflict", f"Shipment {shipment.id} is {status}; no label can be bought for it.")
    if not shipment.carrier or not shipment.service:
        return Problem(
            "shipment-not-rated",
            f"Select a rate for shipment {shipment.id} first (POST /v1/shipments/{shipment.id}/rate).",
        )
    return None


def enqueue(
    session: Session, shipment: models.Shipment, label_format: str, batch_id: str | None = None
) -> LabelJob:
    """Move the shipment to label_requested and record its job and outbox row (caller's transaction)."""
    # Conditional: two concurrent requests (no Idempotency-Key) cannot both start a purchase.
    moved = session.execute(
        sa.update(models.Shipment)
        .where(
            models.Shipment.id == shipment.id,
            models.Shipment.status.in_(REQUESTABLE),
            # An edit that commits first clears the chosen rate: then there is nothing to buy.
            models.Shipment.carrier.is_not(None),
            models.Shipment.service.is_not(None),
        )
        .values(status="label_requested", updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if rowcount(moved) != 1:
        session.refresh(shipment)
        raise refusal(session, shipment) or Problem("label-in-progress")
    job = LabelJob(
        tenant_id=shipment.tenant_id,
        shipment_id=shipment.id,
        batch_id=batch_id,
        state="queued",
        label_format=label_format,
        attempts=0,
        resolution=[],
    )
    session.add(job)
    entry = outbox.add(session, label_jobs.purchase, shipment.id, queue=QUEUE)
    job.outbox_id = entry.id
    session.flush()
    session.refresh(shipment)
    return job


def request_label(
    session: Session, tenant_id: str, shipment_id: str, *, label_format: str = "PDF"
) -> LabelJob:
    """Ask for a label: 409 when the shipment has one or is buying one; else a queued job."""
    shipment = _lookups.tenant_shipment(session, tenant_id, shipment_id)
    # Read first (no lock): a worker may hold the row for the length of a carrier call.
    problem = refusal(session, shipment)
    if problem is not None:
        raise problem
    refuse_what_the_carrier_would(shipment)
    return enqueue(session, shipment, label_format.upper())


def refuse_what_the_carrier_would(shipment: models.Shipment) -> None:
    """The 422 a label request answers before queuing when the carrier would refuse the purchase.

    A return on a carrier without return labels (a rate chosen by hand may name one), or a shipment
    the selected service's own rules refuse (shipment-invalid): a purchase that would fail is never queued.
    """
    if shipment.is_return and shipment.carrier:
        return_carriers.refuse_label_unless_supported(shipment.carrier)
    validation.refuse_label_if_invalid(shipment)
