"""Requesting a label: refuse clearly, or move the shipment to ``label_requested`` and queue its job."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from adapters import base as adapters
from gateway.jobs import outbox
from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.kernel.types import rowcount, utcnow
from gateway.labels import _lookups
from gateway.labels import jobs as label_jobs
from gateway.labels.states import IN_FLIGHT, OWN_FLEET, QUEUE, REQUESTABLE
from gateway.labels.tables import LabelJob
from gateway.returns import carriers as return_carriers
from gateway.validation import checking as validation

if TYPE_CHECKING:
    from gateway.kernel.container import Container


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
    session: Session,
    tenant_id: str,
    shipment_id: str,
    *,
    label_format: str = "PDF",
    container: Container | None = None,
) -> LabelJob:
    """Ask for a label: 409 when the shipment has one or is buying one; else a queued job."""
    shipment = _lookups.tenant_shipment(session, tenant_id, shipment_id)
    # Read first (no lock): a worker may hold the row for the length of a carrier call.
    problem = refusal(session, shipment)
    if problem is not None:
        raise problem
    refuse_what_the_carrier_would(shipment, container)
    return enqueue(session, shipment, label_format.upper())


def refuse_what_the_carrier_would(
    shipment: models.Shipment,
    container: Container | None = None,
    *,
    sellers: dict[tuple[str, str | None], bool] | None = None,
) -> None:
    """The 422 a label request answers before queuing when the purchase could only fail.

    A return on a carrier without return labels (a rate chosen by hand may name one), a shipment the
    selected service's own rules refuse (shipment-invalid), or no enabled adapter that sells the
    carrier's labels (carrier-not-configured, where the purchase would end ``carrier_not_configured``;
    checked when a ``container`` is given). What the carrier says of the shipment comes first.
    ``sellers`` remembers the adapter answer per (carrier, account) across a batch.
    """
    if shipment.is_return and shipment.carrier:
        return_carriers.refuse_label_unless_supported(shipment.carrier)
    validation.refuse_label_if_invalid(shipment)
    if container is not None and shipment.carrier and shipment.carrier != OWN_FLEET:
        known = sellers if sellers is not None else {}
        key = (shipment.carrier, shipment.carrier_account_id)
        if key not in known:
            adapter = _lookups.carrier_adapter(
                container, shipment.carrier, tenant_id=shipment.tenant_id, shipment_id=shipment.id
            )
            known[key] = adapter is not None and adapter.supports(adapters.Capability.LABEL)
        if not known[key]:
            raise Problem(
                "carrier-not-configured",
                f"No enabled carrier adapter sells {shipment.carrier} labels, so this shipment's label "
                "cannot be bought; nothing was queued. Enable the carrier (CARRIERS, or a carrier account) "
                "or select another rate.",
                extra={"carrier": shipment.carrier},
            )
