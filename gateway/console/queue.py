"""The open exception queue and what a person does from it.

Resolve with a note (``gateway.exceptions.store.resolve``); notify the recipient, ask for a reattempt or a
hold, return to sender, hand a fleet parcel to a partner or add a note (``gateway.exceptions.actions.take``, what
``POST /v1/exceptions/{id}/actions`` calls); accept or reject a suspicious proof of delivery
(``gateway.tracking.proof_review.review_proof``, what ``POST /v1/shipments/{id}/proof-review`` calls).
``by`` is the console user's id, so the exception's history names them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.console import tower
from gateway.exceptions import actions, store
from gateway.exceptions.tables import ShipmentException
from gateway.kernel import models
from gateway.tracking import proof_review

PAGE_SIZE = 50
MAX_NOTE = 2000
# The actions of ``actions.take`` a person picks from the queue (besides notifying and resolving).
ACTIONS = {
    "request_reattempt": "Ask for a reattempt",
    "hold_at_location": "Ask for a hold at a location",
    "move_to_partner": "Hand to a partner (fleet parcels)",
    "return_to_sender": "Return to sender",
    "note": "Add a note",
}
POD_SUSPICIOUS = "pod_suspicious"
MERCHANT_KEY = "merchant"  # shipments have no merchant field: the platform puts it in their metadata


@dataclass(frozen=True)
class Row:
    """One line of the queue."""

    exception: ShipmentException
    reference: str
    age_hours: float
    overdue: bool
    merchant: str
    fleet: bool


def parse_day(value: str) -> date | None:
    """A ``YYYY-MM-DD`` filter value, or None when empty or not a date."""
    try:
        return date.fromisoformat(value.strip()) if value.strip() else None
    except ValueError:
        return None


def open_queue(
    session: Session,
    tenant_id: str,
    now: datetime,
    *,
    owner: str = "",
    reason: str = "",
    age: str = "",
    opened_from: str = "",
    opened_to: str = "",
    merchant: str = "",
) -> list[Row]:
    """The tenant's open exceptions, the most urgent (earliest due) first.

    ``opened_from`` and ``opened_to`` are UTC days (``YYYY-MM-DD``, both included) of the exception's
    opening; ``merchant`` matches the shipment's ``metadata["merchant"]`` exactly.
    """
    merchant_of = models.Shipment.metadata_[MERCHANT_KEY].as_string()
    query = (
        sa.select(ShipmentException, models.Shipment.reference, merchant_of, models.Shipment.carrier)
        .join(models.Shipment, models.Shipment.id == ShipmentException.shipment_id)
        .where(ShipmentException.tenant_id == tenant_id, ShipmentException.status == "open")
    )
    start, end = parse_day(opened_from), parse_day(opened_to)
    if start is not None:
        query = query.where(ShipmentException.created_at >= datetime.combine(start, time(), UTC))
    if end is not None:
        query = query.where(
            ShipmentException.created_at < datetime.combine(end + timedelta(days=1), time(), UTC)
        )
    if merchant.strip():
        query = query.where(merchant_of == merchant.strip())
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
            merchant_name or "",
            carrier == actions.FLEET,
        )
        for exc, ref, merchant_name, carrier in session.execute(query).all()
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


def take(
    session: Session, tenant_id: str, exception_id: str, action: str, by: str, note: str, now: datetime
) -> str | None:
    """Take one action (``actions.take``) on one of the tenant's open exceptions; its outcome, None if
    there is no such open exception."""
    found = [e for e in _mine(session, tenant_id, [exception_id]) if e.status == "open"]
    if not found:
        return None
    outcome = actions.take(session, found[0], action, by, now, note[:MAX_NOTE])
    session.flush()
    return outcome


def notify(
    session: Session, tenant_id: str, exception_id: str, by: str, note: str, now: datetime
) -> str | None:
    """Notify the recipient about one of the tenant's open exceptions; its outcome, None if not found."""
    return take(session, tenant_id, exception_id, "notify_recipient", by, note, now)


def take_many(
    session: Session, tenant_id: str, ids: list[str], action: str, by: str, note: str, now: datetime
) -> Counter[str]:
    """Take one action on each of the tenant's open exceptions among ``ids``; how many ended each way."""
    outcomes: Counter[str] = Counter()
    for exc in _mine(session, tenant_id, ids):
        if exc.status == "open":
            outcomes[actions.take(session, exc, action, by, now, note[:MAX_NOTE])] += 1
    session.flush()
    return outcomes


def notify_many(
    session: Session, tenant_id: str, ids: list[str], by: str, note: str, now: datetime
) -> Counter[str]:
    """Notify the recipients of the tenant's open exceptions among ``ids``; how many ended each way."""
    return take_many(session, tenant_id, ids, "notify_recipient", by, note, now)


def review_proof(
    session: Session,
    tenant_id: str,
    exception_id: str,
    decision: proof_review.Decision,
    by: str,
    note: str,
    now: datetime,
) -> bool:
    """Accept or reject the suspicious proof of delivery an open ``pod_suspicious`` exception is about.

    The decision is ``proof_review.review_proof`` (the API's ``proof-review``: one manual event on the
    timeline naming the user; rejected, the parcel is missing and the watcher opens a ``lost``
    exception). The exception records the decision and is resolved by it, since the review is what it
    waited for. False when there is no such open exception; a Problem (409) when no proof waits.
    """
    found = [
        e
        for e in _mine(session, tenant_id, [exception_id])
        if e.status == "open" and e.reason == POD_SUSPICIOUS
    ]
    if not found:
        return False
    exc = found[0]
    shipment = session.get(models.Shipment, exc.shipment_id)
    assert shipment is not None  # the exception's foreign key
    text = note[:MAX_NOTE] or None
    proof_review.review_proof(session, shipment, decision=decision, actor=by, note=text)
    store.record(exc, now, f"proof_{decision}", by, "done", text or "")
    store.resolve(exc, by, f"proof of delivery {decision}" + (f": {text}" if text else ""), now)
    session.flush()
    return True
