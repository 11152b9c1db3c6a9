"""Find shipments (by reference or tracking number, carrier, milestone) and gather one for its page.

The timeline is ``gateway.tracking.reads.timeline_for`` (what ``GET /v1/shipments/{id}/tracking``
serves: canonical meaning beside the carrier's raw code); predictions, label and exceptions are read
from their capabilities' tables. Every query is scoped to the tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.exceptions import store
from gateway.exceptions.tables import ShipmentException
from gateway.kernel import models
from gateway.labels.tables import Label
from gateway.predictions.tables import ShipmentPrediction
from gateway.tracking import reads
from gateway.tracking.tables import ShipmentTracking

PAGE_SIZE = 25


@dataclass(frozen=True)
class Found:
    """One page of a search: rows of (shipment, milestone), the page number and whether more follow."""

    rows: list[tuple[models.Shipment, str | None]]
    page: int
    more: bool


def search(
    session: Session, tenant_id: str, *, q: str = "", carrier: str = "", milestone: str = "", page: int = 1
) -> Found:
    """Shipments matching the filters, newest first, ``PAGE_SIZE`` a page."""
    page = max(1, page)
    query = (
        sa.select(models.Shipment, ShipmentTracking.milestone)
        .outerjoin(ShipmentTracking, ShipmentTracking.shipment_id == models.Shipment.id)
        .where(models.Shipment.tenant_id == tenant_id)
    )
    text = q.strip()
    if text:
        query = query.where(
            sa.or_(models.Shipment.reference == text, models.Shipment.tracking_number == text)
        )
    if carrier:
        query = query.where(models.Shipment.carrier == carrier)
    if milestone:
        query = query.where(ShipmentTracking.milestone == milestone)
    query = query.order_by(models.Shipment.created_at.desc(), models.Shipment.id.desc())
    found = session.execute(query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).all()
    rows = [(shipment, ms) for shipment, ms in found[:PAGE_SIZE]]
    return Found(rows, page, len(found) > PAGE_SIZE)


def carriers(session: Session, tenant_id: str) -> list[str]:
    """The carriers the tenant's shipments use, for the filter."""
    return [
        c
        for c in session.execute(
            sa.select(models.Shipment.carrier)
            .where(models.Shipment.tenant_id == tenant_id, models.Shipment.carrier.is_not(None))
            .distinct()
            .order_by(models.Shipment.carrier)
        ).scalars()
        if c
    ]


@dataclass(frozen=True)
class Detail:
    """Everything a shipment's page shows."""

    shipment: models.Shipment
    timeline: dict[str, Any]
    predictions: list[ShipmentPrediction]
    label: Label | None
    exceptions: list[ShipmentException]


def detail(session: Session, tenant_id: str, shipment_id: str) -> Detail | None:
    """A tenant's shipment with its timeline, latest predictions, label and open exceptions; None if not theirs."""
    shipment = session.execute(
        sa.select(models.Shipment).where(
            models.Shipment.id == shipment_id, models.Shipment.tenant_id == tenant_id
        )
    ).scalar_one_or_none()
    if shipment is None:
        return None
    predictions = list(
        session.execute(
            sa.select(ShipmentPrediction)
            .where(ShipmentPrediction.shipment_id == shipment.id, ShipmentPrediction.tenant_id == tenant_id)
            .order_by(ShipmentPrediction.made_at.desc())
            .limit(5)
        ).scalars()
    )
    label = session.execute(
        sa.select(Label).where(Label.shipment_id == shipment.id, Label.tenant_id == tenant_id)
    ).scalar_one_or_none()
    timeline = reads.timeline_for(session, shipment)
    timeline["events"] = list(reversed(timeline["events"]))  # newest first, as people read a history
    return Detail(shipment, timeline, predictions, label, store.open_for(session, shipment.id))
