"""Shipment use cases: create, read and list, always scoped to one tenant."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.db import models
from gateway.errors import Problem
from schemas import money


def _address(tenant_id: str, data: dict[str, Any]) -> models.Address:
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


def _parcel(position: int, data: dict[str, Any]) -> models.Parcel:
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
    origin = _address(tenant_id, data["origin"])
    destination = _address(tenant_id, data["destination"])
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
        parcels=[_parcel(i, p) for i, p in enumerate(data["parcels"])],
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


def encode_cursor(created_at: datetime, row_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        when = datetime.fromisoformat(created)
        if when.tzinfo is None or not isinstance(row_id, str):
            raise ValueError("bad cursor")
        return when, row_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise Problem("bad-request", "The cursor is not valid.", errors={"cursor": ["invalid"]}) from exc


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
    if cursor:
        when, row_id = decode_cursor(cursor)
        query = query.where(
            sa.or_(
                models.Shipment.created_at < when,
                sa.and_(models.Shipment.created_at == when, models.Shipment.id < row_id),
            )
        )
    query = query.order_by(models.Shipment.created_at.desc(), models.Shipment.id.desc()).limit(limit + 1)
    rows = list(session.execute(query).unique().scalars())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id)
    return rows, next_cursor
