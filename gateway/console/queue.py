"""The open exception queue and what a person does from it: resolve with a note, notify the recipient.

The actions are ``gateway.exceptions.store.resolve`` and ``gateway.exceptions.actions.take`` (what the
API's exception endpoints call); ``by`` is the console user's id, so the exception's history names them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.console import tower
from gateway.exceptions import actions, store
from gateway.exceptions.tables import ShipmentException
from gateway.kernel import models

PAGE_SIZE = 50
MAX_NOTE = 2000


@dataclass(frozen=True)
class Row:
    """One line of the queue."""

    exception: ShipmentException
    reference: str
    age_hours: float
    overdue: bool


def open_queue(
    session: Session, tenant_id: str, now: datetime, *, owner: str = "", reason: str = "", age: str = ""
) -> list[Row]:
    """The tenant's open exceptions, the most urgent (earliest due) first."""
    query = (
        sa.select(ShipmentException, models.Shipment.reference)
        .join(models.Shipment, models.Shipment.id == ShipmentException.shipment_id)
        .where(ShipmentException.tenant_id == tenant_id, ShipmentException.status == "open")
    )
    if owner:
        query = query.where(ShipmentException.owner == owner)
    if reason:
        query = query.where(ShipmentException.reason == reason)
    oldest, newest = tower.age_bounds(age, now)
    if newest is not None:
        query = query.where(ShipmentException.created_at <= newest)
    if oldest is not None:
        query = query.where(ShipmentException.created_at > oldest)
    query = query.order_by(ShipmentException.due_at.asc().nulls_last(), ShipmentException.created_at).limit(
        PAGE_SIZE
    )
    return [
        Row(
            exc,
            ref,
            round((now - exc.created_at).total_seconds() / 3600, 1),
            bool(exc.due_at and exc.due_at < now),
        )
        for exc, ref in session.execute(query).all()
    ]


def _mine(session: Session, tenant_id: str, ids: list[str]) -> list[ShipmentException]:
    if not ids:
        return []
    return list(
        session.execute(
            sa.select(ShipmentException)
            .where(ShipmentException.tenant_id == tenant_id, ShipmentException.id.in_(ids[:PAGE_SIZE]))
            .with_for_update()
        ).scalars()
    )


def resolve(session: Session, tenant_id: str, ids: list[str], by: str, note: str, now: datetime) -> int:
    """Resolve the tenant's open exceptions among ``ids`` with a note; return how many were open."""
    done = sum(store.resolve(exc, by, note[:MAX_NOTE], now) for exc in _mine(session, tenant_id, ids))
    session.flush()
    return done


def notify(
    session: Session, tenant_id: str, exception_id: str, by: str, note: str, now: datetime
) -> str | None:
    """Notify the recipient about one of the tenant's open exceptions; its outcome, None if not found."""
    found = [e for e in _mine(session, tenant_id, [exception_id]) if e.status == "open"]
    if not found:
        return None
    outcome = actions.take(session, found[0], "notify_recipient", by, now, note[:MAX_NOTE])
    session.flush()
    return outcome
