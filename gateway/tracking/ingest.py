"""The callback inbox: parse stored pushes into canonical events, attach them, park the unclaimed.

A push is read by its carrier's adapter (``adapters.registry.receiver(carrier).parse_callback``), which
translates with its own code table; unknown codes are stored as ``unmapped`` with their raw code and
message, never defaulted. Events whose tracking number no shipment has yet are parked and attached by
``attach_parked`` when the label appears. Every touched shipment is re-derived
(``gateway.tracking.status``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from adapters import base
from adapters import registry as adapter_registry
from gateway.kernel import models
from gateway.kernel.types import utcnow
from gateway.tracking import _store, mappings, matching, status, tables
from schemas import carrier, events


class PayloadError(ValueError):
    """An inbox row whose body cannot be read as that carrier's push."""


def from_raw(raw: carrier.RawTrackingEvent, source: events.EventSource) -> events.CanonicalEvent:
    """Translate an adapter's raw event with the carrier's code table (unknown codes stay unmapped)."""
    return base.canonical_event(adapter_registry.code_table(raw.carrier), raw, source)


def parse(carrier: str, body: bytes, inbox_id: int | None = None) -> list[_store.Incoming]:
    """Parse one raw push into canonical events with the parser of the carrier's adapter (its code table)."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise PayloadError("body is not JSON") from exc
    if not isinstance(payload, dict):
        raise PayloadError("body is not a JSON object")
    receiver = adapter_registry.receiver(carrier)
    if receiver is None:
        raise PayloadError(f"no parser for carrier {carrier!r}")
    try:
        pushed = receiver.parse_callback(payload)
    except (base.AdapterError, ValueError, KeyError, TypeError, events.EventError) as exc:
        raise PayloadError(str(exc)) from exc
    return [_store.Incoming(p.event, inbox_id, p.courier) for p in pushed]


def normalise_pending(session: Session, limit: int = 500) -> int:
    """Normalise up to ``limit`` pending inbox rows in one transaction; return how many were taken."""
    inbox = tables.CallbackInbox
    rows = session.execute(
        sa.select(inbox.id, inbox.carrier, inbox.body)
        .where(inbox.state == "pending")
        .order_by(inbox.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return 0
    incoming: list[_store.Incoming] = []
    now = utcnow()
    done: list[int] = []
    for row in rows:
        try:
            incoming.extend(parse(row.carrier, row.body, row.id))
        except PayloadError as exc:
            session.execute(
                sa.update(inbox)
                .where(inbox.id == row.id)
                .values(state="failed", error=str(exc)[:2000], processed_at=now, attempts=inbox.attempts + 1)
            )
            continue
        done.append(row.id)
    result = matching.store_events(session, incoming)
    status.rederive(session, result.touched, result.added)
    if done:
        session.execute(
            sa.update(inbox)
            .where(inbox.id.in_(done))
            .values(state="done", error=None, processed_at=now, attempts=inbox.attempts + 1)
        )
    return len(rows)


def stale_pending(session: Session, age: timedelta) -> int:
    """Return how many inbox rows have been pending for longer than ``age``."""
    inbox = tables.CallbackInbox
    return session.execute(
        sa.select(sa.func.count()).where(inbox.state == "pending", inbox.received_at < utcnow() - age)
    ).scalar_one()


def attach_parked(session: Session, shipment: models.Shipment) -> int:
    """Attach the events parked for this shipment's tracking number and re-derive it; return how many."""
    if not shipment.tracking_number:
        return 0
    group = matching.holders(session, shipment.carrier, shipment.tracking_number)
    if len(group) > 1:
        matching.flag_reissued(session, shipment.carrier or group[0].carrier or "", group)
        if group[0].id != shipment.id:
            return 0  # the number's events belong to the shipment that took it first
    query = sa.select(tables.ParkedEvent).where(
        tables.ParkedEvent.tracking_number == shipment.tracking_number,
        tables.ParkedEvent.attached_at.is_(None),
    )
    if shipment.carrier:
        query = query.where(tables.ParkedEvent.carrier == shipment.carrier)
    parked = list(session.execute(query.with_for_update()).scalars())
    if not parked:
        return 0
    translator = mappings.Tables(session)
    rows = {}
    for p in parked:
        event = translator.translate(shipment.tenant_id, events.CanonicalEvent.from_dict(p.event))
        values = _store.event_values(shipment, event, p.inbox_id)
        rows[values["dedup_key"]] = values
        p.attached_at = utcnow()
    _store.insert_ignoring_duplicates(session, tables.TrackingEvent.__table__, list(rows.values()))
    status.rederive(session, [shipment.id])
    return len(parked)


def ingest(session: Session, evts: Sequence[events.CanonicalEvent]) -> set[str]:
    """Store already-canonical events (e.g. from polling) and re-derive the shipments they touch."""
    result = matching.store_events(session, [_store.Incoming(e) for e in evts])
    status.rederive(session, result.touched, result.added)
    return result.touched
