"""Recording a bought label: store its document, then the label, the tracking number and the events in
one transaction; a label another runner recorded first makes this one a second purchase, voided."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from adapters import base as adapters
from gateway import webhooks
from gateway.jobs import outbox
from gateway.kernel import models
from gateway.kernel.types import rowcount, utcnow
from gateway.labels import _attempts, _lookups, batches, render, storage
from gateway.labels.states import IN_FLIGHT, OWN_FLEET
from gateway.labels.tables import Label, LabelJob
from gateway.rates import tables as rating_tables
from gateway.tracking import ingest as tracking
from gateway.tracking import jobs as tracking_jobs
from schemas import carrier as carrier_types
from schemas import money

if TYPE_CHECKING:
    from gateway.kernel.container import Container

log = logging.getLogger(__name__)


def record_purchase(
    container: Container,
    plan: _attempts.Plan,
    attempt_id: int,
    *,
    tracking_numbers: Sequence[str],
    carrier_shipment_id: str | None,
    document: tuple[bytes, str] | None,
    charges: money.Money | None,
    source: str,
    finish_attempt: bool = True,
    account: str | None = None,
) -> str:
    """Store the document, then record the label, the tracking number and the events in one transaction."""
    tracking_number = tracking_numbers[0] if tracking_numbers else (carrier_shipment_id or "")
    stored: storage.Stored | None = None
    fmt: str | None = None
    if document is not None:
        data, fmt = document
        key = f"{plan.tenant_id}/{plan.shipment_id}/a{attempt_id}.{render.EXTENSIONS.get(fmt, 'bin')}"
        stored = _lookups.label_storage(container).put(key, data)
    now = utcnow()
    with container.sessions() as session:
        moved = session.execute(
            sa.update(models.Shipment)
            .where(models.Shipment.id == plan.shipment_id, models.Shipment.status.in_(IN_FLIGHT))
            .values(status="purchased", tracking_number=tracking_number, updated_at=now)
        )
        if rowcount(moved) != 1:
            session.rollback()
            return second_label(container, plan, attempt_id, tracking_numbers, carrier_shipment_id)
        snapshot = session.execute(
            sa.select(rating_tables.ShipmentQuoteSnapshot).where(
                rating_tables.ShipmentQuoteSnapshot.shipment_id == plan.shipment_id
            )
        ).scalar_one_or_none()
        if charges is not None:
            cost_minor, currency = charges.to_minor(), charges.currency
        elif snapshot is not None:
            cost_minor, currency = snapshot.total_cost_minor, snapshot.currency
        else:
            cost_minor, currency = None, None
        label = Label(
            tenant_id=plan.tenant_id,
            shipment_id=plan.shipment_id,
            carrier=plan.carrier,
            service=plan.service or None,
            tracking_number=tracking_number,
            status="purchased",
            cost_minor=cost_minor,
            currency=currency,
            format=fmt,
            storage_key=stored.key if stored else None,
            checksum=stored.checksum if stored else None,
            purchased_at=now,
            carrier_shipment_id=carrier_shipment_id,
            tracking_numbers=list(tracking_numbers),
            source=source,
            job_id=plan.job_id,
            account=account,
        )
        session.add(label)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return second_label(container, plan, attempt_id, tracking_numbers, carrier_shipment_id)
        session.execute(
            sa.update(LabelJob)
            .where(LabelJob.id == plan.job_id)
            .values(state="succeeded", finished_at=now, next_attempt_at=None, updated_at=now)
        )
        if finish_attempt:
            _attempts.finish_attempt(
                container,
                attempt_id,
                "succeeded",
                evidence={
                    "tracking_numbers": list(tracking_numbers),
                    "carrier_shipment_id": carrier_shipment_id,
                },
                session=session,
            )
        shipment = session.get(models.Shipment, plan.shipment_id)
        assert shipment is not None
        session.refresh(shipment)
        tracking.attach_parked(session, shipment)
        outbox.add(session, tracking_jobs.start_tracking, shipment.id, queue="tracking")
        cost = None
        if cost_minor is not None and currency:
            value = money.Money.from_minor(cost_minor, currency)
            cost = {"amount": format(value.amount, "f"), "currency": value.currency}
        webhooks.emit(
            session,
            plan.tenant_id,
            "label.purchased",
            {
                "shipment_id": plan.shipment_id,
                "label_id": label.id,
                "carrier": plan.carrier,
                "service": plan.service or None,
                "tracking_number": tracking_number,
                "cost": cost,
                "format": fmt.lower() if fmt else None,
                "purchased_at": now.isoformat(),
                "reference": shipment.reference,
            },
            occurred_at=now,
        )
        batches.maybe_merge_later(session, plan.job_id)
        session.commit()
    log.info(
        "label purchased",
        extra={"shipment_id": plan.shipment_id, "carrier": plan.carrier, "source": source},
    )
    return "purchased"


def second_label(
    container: Container,
    plan: _attempts.Plan,
    attempt_id: int,
    tracking_numbers: Sequence[str],
    carrier_shipment_id: str | None,
) -> str:
    """Another runner recorded a label first: this one is a second purchase. Keep the evidence, void it."""
    evidence: dict[str, Any] = {
        "duplicate": True,
        "tracking_numbers": list(tracking_numbers),
        "carrier_shipment_id": carrier_shipment_id,
    }
    with container.sessions() as session:
        existing = session.execute(
            sa.select(Label).where(Label.shipment_id == plan.shipment_id)
        ).scalar_one_or_none()
    if existing is not None and existing.tracking_number in tracking_numbers:
        _attempts.finish_attempt(container, attempt_id, "found", evidence={"same_label": True})
        return "purchased"
    log.error(
        "a second label was bought for a shipment; voiding it",
        extra={"shipment_id": plan.shipment_id, "carrier": plan.carrier},
    )
    adapter = (
        _lookups.carrier_adapter(
            container, plan.carrier, tenant_id=plan.tenant_id, shipment_id=plan.shipment_id
        )
        if plan.carrier != OWN_FLEET
        else None
    )
    if adapter is not None and adapter.supports(adapters.Capability.VOID) and carrier_shipment_id:
        try:
            result = adapter.void(
                carrier_types.VoidRequest(
                    account=adapter.account_id,
                    carrier_shipment_id=carrier_shipment_id,
                    tracking_numbers=tuple(tracking_numbers),
                )
            )
            evidence["voided"] = bool(result.voided)
        except adapters.CarrierError as exc:
            evidence["void_error"] = _attempts.describe(exc)
    _attempts.finish_attempt(container, attempt_id, "succeeded", evidence=evidence)
    return "duplicate"
