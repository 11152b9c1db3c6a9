"""Recording a decision: the shipment's allocation row, its carrier and service, the webhook."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway import webhooks
from gateway.allocation import tables
from gateway.kernel import models
from gateway.rates import tables as rating_tables
from schemas import money


def emit_allocated(
    session: Session, tenant_id: str, alloc: tables.ShipmentAllocation, driver_id: str | None = None
) -> None:
    """``shipment.allocated`` for a decision; sent again with ``driver_id`` when its van's driver changes."""
    cost = None
    if alloc.cost_minor is not None and alloc.currency:
        cost = {
            "amount": str(money.Money.from_minor(alloc.cost_minor, alloc.currency).amount),
            "currency": alloc.currency,
        }
    webhooks.emit(
        session,
        tenant_id,
        "shipment.allocated",
        {
            "shipment_id": alloc.shipment_id,
            "carrier": alloc.assignee,
            "service": alloc.service,
            "plan_id": alloc.plan_id,
            "route_id": None,
            "vehicle_id": alloc.vehicle_id,
            "driver_id": driver_id,
            "stop_sequence": alloc.sequence,
            "planned_departure": None,
            "estimated_arrival": alloc.eta.isoformat() if alloc.eta else None,
            "cost": cost,
            "reason": f"{alloc.reason}: {alloc.detail}"[:200],
        },
    )


def store(session: Session, tenant_id: str, values: dict[str, Any]) -> tables.ShipmentAllocation:
    row = session.get(tables.ShipmentAllocation, values["shipment_id"])
    if row is None:
        row = tables.ShipmentAllocation(tenant_id=tenant_id, **values)
        session.add(row)
    else:
        for k, v in values.items():
            setattr(row, k, v)
    session.flush()
    return row


def set_carrier(session: Session, shipment: models.Shipment, carrier: str, service: str | None) -> None:
    """Point a draft shipment at its carrier; a frozen rate for another carrier no longer applies."""
    snapshot = session.execute(
        sa.select(rating_tables.ShipmentQuoteSnapshot).where(
            rating_tables.ShipmentQuoteSnapshot.shipment_id == shipment.id
        )
    ).scalar_one_or_none()
    if snapshot is not None and (snapshot.carrier, snapshot.service_code) != (carrier, service):
        session.delete(snapshot)  # still a draft, so never booked: replaced, as select_rate does
    shipment.carrier = carrier
    shipment.service = service
    session.flush()
