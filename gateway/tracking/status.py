"""Derive each shipment's tracking status from the set of its stored events, and store it.

A status is never edited in place: ``rederive`` reads (or, from ``EVENT_CACHE``, remembers) all of a
shipment's events, derives the status with ``gateway.tracking.timeline`` and upserts the status row,
emitting tracking webhooks for what changed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.kernel import models
from gateway.kernel.types import utcnow
from gateway.tracking import _store, tables, timeline
from gateway.webhooks import tracking as tracking_webhooks
from schemas import events


def load_events(session: Session, shipment_id: str) -> list[events.CanonicalEvent]:
    """Return a shipment's stored canonical events."""
    return [
        events.CanonicalEvent.from_dict(data)
        for data in session.execute(
            sa.select(tables.TrackingEvent.event).where(tables.TrackingEvent.shipment_id == shipment_id)
        ).scalars()
    ]


_DERIVED = (
    "carrier",
    "tracking_number",
    "milestone",
    "detail",
    "reason",
    "action_required",
    "action_party",
    "status_at",
    "estimated_delivery",
    "delivered_at",
    "event_count",
    "unmapped_count",
    "reassess_due",
    "updated_at",
)


def _upsert_status(session: Session, rows: list[dict[str, Any]]) -> None:
    table = tables.ShipmentTracking.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        _store.copy_insert(
            session, table, rows, update=_DERIVED, conflict_on=("shipment_id",), order=("shipment_id",)
        )
        return
    stmt: Any = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["shipment_id"], set_={name: stmt.excluded[name] for name in _DERIVED}
    )
    session.execute(stmt, rows)


class EventCache:
    """A process's copy of each shipment's stored events, valid while its status row is the one it wrote.

    ``rederive`` stamps every status row it writes with ``updated_at``; whoever else changes a
    shipment's events re-derives it too, which writes a new stamp, and any ORM update of the row
    moves ``updated_at`` as well. So when the stamp read under the shipment's row lock equals the one
    kept here, the kept events are exactly the table's, and a batch only adds what it stored itself.
    Anything else (a miss, a rollback, another worker's write) reads the events back from the table.
    """

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._data: OrderedDict[str, tuple[Any, list[events.CanonicalEvent]]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, shipment_id: str, stamp: Any) -> list[events.CanonicalEvent] | None:
        with self._lock:
            found = self._data.get(shipment_id)
            if found is None or found[0] != stamp:
                self.misses += 1
                return None
            self.hits += 1
            self._data.move_to_end(shipment_id)
            return list(found[1])

    def put(self, shipment_id: str, stamp: Any, stored: list[events.CanonicalEvent]) -> None:
        with self._lock:
            self._data[shipment_id] = (stamp, stored)
            self._data.move_to_end(shipment_id)
            while len(self._data) > self.capacity:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


EVENT_CACHE = EventCache()


def rederive(
    session: Session,
    shipment_ids: Iterable[str],
    added: dict[str, list[events.CanonicalEvent]] | None = None,
) -> None:
    """Re-derive each shipment's status from all its events and store it.

    ``added`` (from ``store_events``) lists the events this transaction just stored per shipment; a
    shipment whose events this process already holds (``EVENT_CACHE``, checked under the row lock)
    is then derived from those plus the new ones without reading its events back.
    """
    ids = sorted(set(shipment_ids))
    if not ids:
        return
    session.flush()
    s, t = models.Shipment, tables.ShipmentTracking
    # Lock the shipments (PostgreSQL) so that two workers never write a stale status over a fresh one.
    heads = session.execute(
        sa.select(s.id, s.tenant_id, s.carrier, s.tracking_number)
        .where(s.id.in_(ids))
        .order_by(s.id)
        .with_for_update()
    ).all()
    # Read after the locks are held (a new statement, so a new snapshot): never a stale stamp.
    stamps = {
        row.shipment_id: (row.updated_at, row.event_count)
        for row in session.execute(
            sa.select(t.shipment_id, t.updated_at, t.event_count).where(t.shipment_id.in_(ids))
        )
    }
    before = tracking_webhooks.previous(session, heads)  # {} unless the tenant has a tracking webhook
    grouped: dict[str, list[events.CanonicalEvent]] = {}
    unchanged: set[str] = set()  # held, and the batch stored nothing new: the stored status stands
    if added is not None:
        for shipment_id in ids:
            stamp = stamps.get(shipment_id)
            known = EVENT_CACHE.get(shipment_id, stamp) if shipment_id in added else None
            if known is not None and not added[shipment_id]:
                unchanged.add(shipment_id)
            elif known is not None:
                grouped[shipment_id] = known + added[shipment_id]
    missing = [
        shipment_id for shipment_id in ids if shipment_id not in grouped and shipment_id not in unchanged
    ]
    for start in range(0, len(missing), 1000):
        chunk = missing[start : start + 1000]
        for shipment_id, data in session.execute(
            sa.select(tables.TrackingEvent.shipment_id, tables.TrackingEvent.event).where(
                tables.TrackingEvent.shipment_id.in_(chunk)
            )
        ):
            grouped.setdefault(shipment_id, []).append(events.CanonicalEvent.from_dict(data))
    now = utcnow()
    rows = []
    for shipment_id, tenant_id, carrier_name, number in heads:
        if shipment_id in unchanged:
            continue
        stored = grouped.get(shipment_id, [])
        state = timeline.derive(stored)
        rows.append(
            {
                "shipment_id": shipment_id,
                "tenant_id": tenant_id,
                "carrier": carrier_name or (state.events[-1].carrier if state.events else None),
                "tracking_number": number,
                "milestone": state.milestone.value,
                "detail": state.detail,
                "reason": state.reason.value if state.reason else None,
                "action_required": state.action_required,
                "action_party": state.action_party.value if state.action_party else None,
                "status_at": state.status_event.occurred_at if state.status_event else None,
                "estimated_delivery": state.estimated_delivery,
                "delivered_at": state.delivered_at,
                "event_count": len(state.events),
                "unmapped_count": state.unmapped_count,
                "pod_flags": [],
                "reassess_due": True,
                "updated_at": now,
            }
        )
    if rows:
        _upsert_status(session, rows)
        tracking_webhooks.emit_changes(session, before, rows)
        for row in rows:
            EVENT_CACHE.put(
                row["shipment_id"], (now, row["event_count"]), grouped.get(row["shipment_id"], [])
            )
