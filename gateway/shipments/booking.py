"""Shipment use cases: create, read and list, always scoped to one tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.customs import declaration
from gateway.kernel import models, paging
from gateway.kernel.errors import Problem
from schemas import money


def address_row(tenant_id: str, data: dict[str, Any]) -> models.Address:
    """An address row from a validated booking address (not added to the session)."""
    lines = [*data["street_lines"], None, None]
    return models.Address(
        tenant_id=tenant_id,
        name=data.get("name"),
        company=data.get("company"),
        street1=lines[0],
        street2=lines[1],
        street3=lines[2],
        city=data["city"],
        state=data.get("state"),
        postal_code=(data.get("postal_code") or "").strip(),
        country_code=data["country_code"],
        phone=data.get("phone"),
        email=data.get("email"),
        residential=data.get("residential"),
        latitude=data.get("latitude"),
        longitude=data.get("longitude"),
    )


def parcel_row(position: int, data: dict[str, Any]) -> models.Parcel:
    """A parcel row from a validated booking parcel (not added to the session)."""
    declared = data.get("declared_value")
    minor = currency = None
    if declared:
        value = money.Money(declared["amount"], declared["currency"])
        minor, currency = value.to_minor(), value.currency
    dims = data["dimensions"]
    return models.Parcel(
        position=position,
        weight=data["weight"]["value"],
        weight_unit=data["weight"]["unit"],
        length=dims["length"],
        width=dims["width"],
        height=dims["height"],
        dimension_unit=dims["unit"],
        declared_value_minor=minor,
        declared_value_currency=currency,
    )


def create_shipment(session: Session, tenant_id: str, data: dict[str, Any]) -> models.Shipment:
    """Create a draft shipment with its addresses and parcels."""
    origin = address_row(tenant_id, data["origin"])
    destination = address_row(tenant_id, data["destination"])
    session.add_all([origin, destination])
    session.flush()
    shipment = models.Shipment(
        tenant_id=tenant_id,
        reference=data["reference"],
        status="draft",
        service_level=data.get("service_level"),
        promise_date=data.get("promise_date"),
        origin_id=origin.id,
        destination_id=destination.id,
        metadata_=data.get("metadata") or {},
        parcels=[parcel_row(i, p) for i, p in enumerate(data["parcels"])],
        customs=declaration.stored(data.get("customs")),
    )
    session.add(shipment)
    session.flush()
    return shipment


def get_shipment(session: Session, tenant_id: str, shipment_id: str) -> models.Shipment:
    """Return a tenant's shipment; another tenant's id is simply not found."""
    shipment = session.execute(
        sa.select(models.Shipment).where(
            models.Shipment.id == shipment_id, models.Shipment.tenant_id == tenant_id
        )
    ).scalar_one_or_none()
    if shipment is None:
        raise Problem("not-found", f"No shipment {shipment_id!r}.")
    return shipment


def list_shipments(
    session: Session,
    tenant_id: str,
    *,
    limit: int,
    cursor: str | None = None,
    status: str | None = None,
    reference: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> tuple[list[models.Shipment], str | None]:
    """Return one page of a tenant's shipments, newest first, and the next cursor."""
    query = sa.select(models.Shipment).where(models.Shipment.tenant_id == tenant_id)
    if status:
        query = query.where(models.Shipment.status == status)
    if reference:
        query = query.where(models.Shipment.reference == reference)
    if created_after:
        query = query.where(models.Shipment.created_at >= created_after)
    if created_before:
        query = query.where(models.Shipment.created_at < created_before)
    rows, next_cursor = paging.newest_first(
        session, query, models.Shipment, limit=limit, cursor=cursor, unique=True
    )
    return list(rows), next_cursor
