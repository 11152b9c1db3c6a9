"""Ops on jobs that need a person: requeue a failed, needs-review or dead-lettered job; resolve a
needs-review one (the label was bought, with its confirmed number, or was not)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from adapters import base as adapters
from gateway import webhooks
from gateway.exchanges import service as exchanges
from gateway.jobs import outbox
from gateway.jobs.tables import OutboxEntry
from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow
from gateway.labels import _lookups, reads
from gateway.labels import jobs as label_jobs
from gateway.labels.states import OWN_FLEET, QUEUE, UNRESOLVED
from gateway.labels.tables import Label, LabelAttempt, LabelJob
from gateway.rates import tables as rating_tables
from gateway.tracking import ingest as tracking
from gateway.tracking import jobs as tracking_jobs
from gateway.tracking import matching as tracking_matching
from schemas import carrier as carrier_types

if TYPE_CHECKING:
    from gateway.kernel.container import Container


def requeue_job(
    session: Session,
    tenant_id: str,
    job_id: str,
    *,
    actor: str,
    note: str | None,
    confirm_not_purchased: bool,
) -> LabelJob:
    """Run a failed, needs-review or stuck job again (caller's transaction)."""
    job = reads.get_job(session, tenant_id, job_id)
    shipment = _lookups.tenant_shipment(session, tenant_id, job.shipment_id)
    entry = session.get(OutboxEntry, job.outbox_id) if job.outbox_id is not None else None
    stuck = job.state in ("queued", "running") and (entry is None or entry.state == "dead")
    if job.state not in ("failed", "needs_review") and not stuck:
        raise Problem(
            "job-not-actionable",
            f"Job {job.id} is {job.state}; only failed, needs-review or dead-lettered jobs can be requeued.",
            extra={"state": job.state},
        )
    if job.state in ("failed", "needs_review"):
        latest = _lookups.latest_job(session, shipment.id)
        if latest is not None and latest.id != job.id:
            raise Problem("job-not-actionable", f"Job {job.id} was superseded by {latest.id}.")
        if shipment.status not in (job.state,):
            raise Problem(
                "job-not-actionable", f"Shipment {shipment.id} is {shipment.status}; nothing to requeue."
            )
    now = utcnow()
    if confirm_not_purchased:
        session.execute(
            sa.update(LabelAttempt)
            .where(
                LabelAttempt.shipment_id == shipment.id,
                LabelAttempt.operation == "purchase",
                LabelAttempt.outcome.in_(UNRESOLVED),
            )
            .values(outcome="dismissed", finished_at=now)
        )
    session.execute(
        sa.update(models.Shipment)
        .where(models.Shipment.id == shipment.id)
        .values(status="label_requested", updated_at=now)
    )
    job.state = "queued"
    job.attempts = 0
    job.finished_at = None
    job.next_attempt_at = None
    job.resolution = [
        *(job.resolution or []),
        {
            "action": "requeue",
            "by": actor,
            "at": now.isoformat(),
            "note": note,
            "confirm_not_purchased": confirm_not_purchased,
        },
    ]
    if entry is not None and entry.state == "dead":
        outbox.requeue(session, entry.id)
    else:
        job.outbox_id = outbox.add(session, label_jobs.purchase, shipment.id, queue=QUEUE).id
    session.flush()
    return job


def resolve_job(
    session: Session,
    tenant_id: str,
    job_id: str,
    *,
    actor: str,
    outcome: str,
    tracking_number: str | None,
    carrier_shipment_id: str | None,
    note: str | None,
    container: Container,
) -> LabelJob:
    """Ops settle a needs-review job: the label was bought (give its number) or was not.

    A number another shipment holds (any tenant's) is refused, and so is one the carrier, when it can
    look a purchase up by our reference, does not confirm for this shipment on our account.
    """
    job = reads.get_job(session, tenant_id, job_id)
    shipment = _lookups.tenant_shipment(session, tenant_id, job.shipment_id)
    if job.state != "needs_review" or shipment.status != "needs_review":
        raise Problem(
            "job-not-actionable",
            f"Job {job.id} is {job.state}; only a needs-review job can be resolved.",
            extra={"state": job.state},
        )
    account: str | None = None
    found: carrier_types.ShipmentLookup | None = None
    if outcome == "purchased" and tracking_number:
        tracking_number = tracking_number.strip()
        account, found = _confirm_number(session, container, shipment, tracking_number)
    now = utcnow()
    entry = {"action": "resolve", "outcome": outcome, "by": actor, "at": now.isoformat(), "note": note}
    unresolved_outcome = "found" if outcome == "purchased" else "dismissed"
    session.execute(
        sa.update(LabelAttempt)
        .where(
            LabelAttempt.shipment_id == shipment.id,
            LabelAttempt.operation == "purchase",
            LabelAttempt.outcome.in_(UNRESOLVED),
        )
        .values(outcome=unresolved_outcome, finished_at=now)
    )
    job.resolution = [*(job.resolution or []), entry]
    job.finished_at = now
    if outcome == "purchased":
        if not tracking_number:
            raise Problem(
                "validation-error",
                "Give the tracking number of the label found at the carrier.",
                errors={"tracking_number": ["required when outcome is purchased"]},
            )
        snapshot = session.execute(
            sa.select(rating_tables.ShipmentQuoteSnapshot).where(
                rating_tables.ShipmentQuoteSnapshot.shipment_id == shipment.id
            )
        ).scalar_one_or_none()
        label = Label(
            tenant_id=tenant_id,
            shipment_id=shipment.id,
            carrier=shipment.carrier or "",
            service=shipment.service,
            tracking_number=tracking_number,
            status="purchased",
            cost_minor=snapshot.total_cost_minor if snapshot else None,
            currency=snapshot.currency if snapshot else None,
            purchased_at=now,
            carrier_shipment_id=carrier_shipment_id
            or (found.carrier_shipment_id if found else None)
            or tracking_number,
            tracking_numbers=list(found.tracking_numbers) if found else [tracking_number],
            source="ops",
            job_id=job.id,
            account=account,
        )
        session.add(label)
        shipment.status = "purchased"
        shipment.tracking_number = tracking_number
        job.state = "succeeded"
        session.flush()
        tracking.attach_parked(session, shipment)
        outbox.add(session, tracking_jobs.start_tracking, shipment.id, queue="tracking")
        webhooks.emit(
            session,
            tenant_id,
            "label.purchased",
            {
                "shipment_id": shipment.id,
                "label_id": label.id,
                "carrier": label.carrier,
                "service": label.service,
                "tracking_number": tracking_number,
                "cost": None,
                "format": None,
                "purchased_at": now.isoformat(),
                "reference": shipment.reference,
            },
            occurred_at=now,
        )
    else:
        shipment.status = "failed"
        job.state = "failed"
        job.last_error_code = "resolved_not_purchased"
        job.last_error = (
            f"Ops confirmed no label was bought{': ' + note if note else ''}. Request a label again."
        )
    session.flush()
    return job


def _confirm_number(
    session: Session, container: Container, shipment: models.Shipment, number: str
) -> tuple[str | None, carrier_types.ShipmentLookup | None]:
    """Refuse a number another shipment holds or the carrier does not confirm; return (account, lookup)."""
    if _lookups.is_postgres(
        session
    ):  # two resolves naming one number take turns, so both cannot pass the check
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"tracking:{number}"))))
    taken = [
        h
        for candidate in dict.fromkeys((number, number.upper()))
        for h in tracking_matching.holders(session, None, candidate)
        if h.id != shipment.id
    ]
    if taken:
        mine = sorted(h.id for h in taken if h.tenant_id == shipment.tenant_id)
        raise Problem(
            "tracking-number-taken",
            f"Tracking number {number} belongs to another shipment"
            + (f" of yours ({', '.join(mine)})" if mine else "")
            + "; a label's number can be attached to one shipment only. Check the number at the carrier.",
            extra={"tracking_number": number, "shipment_ids": mine},
        )
    adapter = (
        _lookups.carrier_adapter(
            container, shipment.carrier or "", tenant_id=shipment.tenant_id, shipment_id=shipment.id
        )
        if shipment.carrier != OWN_FLEET
        else None
    )
    if adapter is None or not adapter.supports(adapters.Capability.LOOKUP_SHIPMENT):
        return (adapter.account_id if adapter is not None else None), None
    try:
        with exchanges.scope(tenant_id=shipment.tenant_id, shipment_id=shipment.id):
            found = adapter.lookup_shipment(shipment.id)
    except adapters.CarrierRejected as exc:
        raise Problem(
            "carrier-rejected", exc.message, error_source="carrier", extra={"code": exc.code}
        ) from None
    except adapters.AdapterError as exc:
        raise Problem(
            "carrier-unavailable",
            f"{shipment.carrier} did not answer the lookup by reference ({type(exc).__name__}); try again later.",
            error_source="carrier",
        ) from None
    if not found.found or (number not in found.tracking_numbers and number != found.carrier_shipment_id):
        raise Problem(
            "tracking-number-unconfirmed",
            f"{shipment.carrier} account {adapter.account_id} shows "
            + (f"tracking numbers {', '.join(found.tracking_numbers)}" if found.found else "no shipment")
            + f" under reference {shipment.id}, not {number}.",
            extra={
                "tracking_number": number,
                "carrier": shipment.carrier,
                "account": adapter.account_id,
                "confirmed_tracking_numbers": list(found.tracking_numbers),
            },
        )
    return adapter.account_id, found
