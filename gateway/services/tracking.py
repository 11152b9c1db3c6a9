"""Tracking use cases: normalise inbox rows into canonical events, attach, park, re-derive, read.

Every event is translated with ``adapters.codes`` (the carrier's file table with the owning
tenant's ops overrides on top). Unknown codes are stored as ``unmapped`` with their raw code and
message, never defaulted. Events whose tracking number no shipment has yet are parked and attached
by ``attach_parked`` when the label appears. A shipment's status is always re-derived from the set
of its stored events with ``gateway.tracking.timeline``; it is never edited in place.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from adapters import base, codes
from adapters.fleet import driver
from adapters.ups import mapping as ups_mapping
from gateway.db import models
from gateway.db import tracking as tables
from gateway.db.types import new_id, utcnow
from gateway.errors import Problem
from gateway.services import exchanges
from gateway.tracking import pod, timeline
from gateway.webhooks import tracking as tracking_webhooks
from schemas import carrier, events, taxonomy
from schemas import types as canonical

log = logging.getLogger(__name__)


class PayloadError(ValueError):
    """An inbox row whose body cannot be read as that carrier's push."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """One parsed event from an inbox row, translated with the carrier's file table."""

    event: events.CanonicalEvent
    inbox_id: int | None = None
    fleet: driver.DriverEvent | None = None


# -- parsing ------------------------------------------------------------------------------------------


def _location(loc: Any) -> events.Location | None:
    if loc is None:
        return None
    return events.Location(
        city=loc.city,
        state=loc.state,
        postal_code=loc.postal_code,
        country_code=loc.country_code,
        facility=loc.description,
    )


def from_raw(raw: carrier.RawTrackingEvent, source: events.EventSource) -> events.CanonicalEvent:
    """Translate an adapter's raw event with the carrier's file table (unknown codes stay unmapped)."""
    return codes.to_event(
        codes.load_table(raw.carrier),
        tracking_number=raw.tracking_number,
        occurred_at=raw.occurred_at,
        code=raw.code,
        subcode=raw.subcode,
        message=raw.description or None,
        location=_location(raw.location),
        estimated_delivery=raw.estimated_delivery,
        source_event_id=raw.source_event_id,
        source=source,
    )


def _ups(payload: dict[str, Any]) -> list[events.CanonicalEvent]:
    return [from_raw(raw, events.EventSource.WEBHOOK) for raw in ups_mapping.parse_track_alert_push(payload)]


def _dhl(payload: dict[str, Any]) -> list[events.CanonicalEvent]:
    try:
        awb = str(payload["awb"])
        item = payload["event"]
        code = str(item["code"])
        day, clock = str(item["date"]), str(item.get("time") or "00:00:00")
    except (KeyError, TypeError) as exc:
        raise PayloadError("DHL callback without awb/event/code/date") from exc
    try:
        # DHL gives local wall-clock time without an offset; kept as UTC, as the DHL adapter does.
        occurred = datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=UTC)
    except ValueError as exc:
        raise PayloadError(f"DHL callback date/time {day!r} {clock!r} unreadable") from exc
    area = item.get("service_area") or {}
    location = events.Location(facility=area.get("code"), city=area.get("description")) if area else None
    attributes = {"signatory": str(item["signatory"])} if item.get("signatory") else None
    return [
        codes.to_event(
            codes.load_table("dhl_express"),
            tracking_number=awb,
            occurred_at=occurred,
            code=code,
            message=item.get("description"),
            location=location,
            source_event_id=f"{awb}:{day}T{clock}:{code}:{area.get('code') or ''}",
            source=events.EventSource.WEBHOOK,
            attributes=attributes,
        )
    ]


def parse(carrier: str, body: bytes, inbox_id: int | None = None) -> list[Incoming]:
    """Parse one raw push into canonical events (file-table translation)."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise PayloadError("body is not JSON") from exc
    if not isinstance(payload, dict):
        raise PayloadError("body is not a JSON object")
    try:
        if carrier == "ups":
            return [Incoming(e, inbox_id) for e in _ups(payload)]
        if carrier == "dhl_express":
            return [Incoming(e, inbox_id) for e in _dhl(payload)]
        if carrier == "fleet":
            return [Incoming(d.event, inbox_id, d) for d in driver.parse_payload(payload)]
    except PayloadError:
        raise
    except (ValueError, KeyError, TypeError, events.EventError) as exc:
        raise PayloadError(str(exc)) from exc
    raise PayloadError(f"no parser for carrier {carrier!r}")


def dedup_key(event: events.CanonicalEvent) -> str:
    """Return the stored uniqueness key: a hash of the event's primary deduplication key."""
    return hashlib.sha256(json.dumps(event.primary_dedup_key()).encode()).hexdigest()


# -- overrides ----------------------------------------------------------------------------------------


def _override_rows(session: Session, tenant_id: str, carrier: str) -> list[tables.MappingOverride]:
    return list(
        session.execute(
            sa.select(tables.MappingOverride)
            .where(
                tables.MappingOverride.tenant_id == tenant_id,
                tables.MappingOverride.carrier == carrier,
                tables.MappingOverride.superseded_at.is_(None),
            )
            .order_by(tables.MappingOverride.id)
        ).scalars()
    )


def _as_row(o: tables.MappingOverride) -> dict[str, str | None]:
    return {
        "code": o.code,
        "subcode": o.subcode,
        "milestone": o.milestone,
        "detail": o.detail,
        "reason": o.reason,
        "informational": "yes" if o.informational else "no",
        "note": o.note,
    }


class Tables:
    """Per-(tenant, carrier) code tables with ops overrides, cached for one unit of work."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._cache: dict[tuple[str, str], codes.CodeTable | None] = {}

    def for_tenant(self, tenant_id: str, carrier: str) -> codes.CodeTable | None:
        """Return the tenant's table for a carrier, or None when it has no overrides."""
        key = (tenant_id, carrier)
        if key not in self._cache:
            rows = _override_rows(self.session, tenant_id, carrier)
            self._cache[key] = (
                codes.load_table(carrier).with_overrides(_as_row(r) for r in rows) if rows else None
            )
        return self._cache[key]

    def translate(self, tenant_id: str, event: events.CanonicalEvent) -> events.CanonicalEvent:
        """Return the event as the tenant's mapping reads it."""
        table = self.for_tenant(tenant_id, event.carrier)
        return event if table is None else codes.remap_event(table, event)


# -- storage ------------------------------------------------------------------------------------------


def _event_values(
    shipment: models.Shipment, event: events.CanonicalEvent, inbox_id: int | None
) -> dict[str, Any]:
    data = event.to_dict()
    return {
        "id": new_id("tev"),
        "tenant_id": shipment.tenant_id,
        "shipment_id": shipment.id,
        "carrier": event.carrier,
        "tracking_number": event.tracking_number,
        "milestone": data["milestone"],
        "detail": event.detail,
        "reason": data["reason"],
        "mapping": event.mapping.value,
        "unmapped": event.unmapped,
        "occurred_at": event.occurred_at,
        "raw_code": event.raw_code,
        "raw_subcode": event.raw_subcode,
        "raw_message": event.raw_message,
        "location": data["location"],
        "estimated_delivery": event.estimated_delivery,
        "source": event.source.value,
        "dedup_key": dedup_key(event),
        "event": data,
        "inbox_id": inbox_id,
        "created_at": utcnow(),
    }


def _insert_ignoring_duplicates(session: Session, table: Any, rows: list[dict[str, Any]]) -> int:
    """Insert rows, skipping any whose unique key already exists; return how many were new."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - the gateway supports PostgreSQL and SQLite only
        raise RuntimeError(f"unsupported database {dialect}")
    result = session.execute(stmt, rows)
    return max(result.rowcount or 0, 0)


def _insert_new(
    session: Session, table: Any, rows: list[dict[str, Any]], *keys: str
) -> list[tuple[Any, ...]]:
    """Insert rows skipping existing unique keys; return ``keys`` of the rows actually inserted.

    On PostgreSQL the batch is COPYed into a session-local staging table and moved with one
    ``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING``: a set-based insert in two round
    trips instead of a statement per row. Elsewhere the rows go as one executemany and the new ones
    are found by their freshly made primary keys (executemany rowcounts are not trusted).
    """
    if not rows:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return _copy_insert(session, table, rows, keys, order=keys)
    _insert_ignoring_duplicates(session, table, rows)
    ids = [r["id"] for r in rows]
    found: list[tuple[Any, ...]] = []
    for start in range(0, len(ids), 1000):
        found.extend(
            tuple(r)
            for r in session.execute(
                sa.select(*(table.c[k] for k in keys)).where(table.c.id.in_(ids[start : start + 1000]))
            )
        )
    return found


def _copy_insert(
    session: Session,
    table: sa.Table,
    rows: list[dict[str, Any]],
    keys: tuple[str, ...] = (),
    update: tuple[str, ...] = (),
    conflict_on: tuple[str, ...] = (),
    order: tuple[str, ...] = (),
) -> list[tuple[Any, ...]]:
    """COPY rows into a staging table, then move them with one INSERT ... ON CONFLICT (PostgreSQL only).

    Without ``update`` existing keys are skipped; with it, ``update`` columns of the row with the same
    ``conflict_on`` key are overwritten. Returns ``keys`` of the inserted (or updated) rows.
    """
    from psycopg import sql
    from psycopg.types.json import Jsonb

    present = set(rows[0])
    columns = [c.name for c in table.columns if c.name in present]
    json_columns = {c.name for c in table.columns if isinstance(c.type, sa.JSON | postgresql.JSONB)}
    stage = f"{table.name}_stage"
    with session.connection().connection.driver_connection.cursor() as cursor:
        # Session-local and emptied at commit, so a rolled-back batch leaves nothing behind. Asked for
        # every time (cheap) rather than remembered, so a recycled server session cannot surprise us.
        cursor.execute(
            sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {}) ON COMMIT DELETE ROWS").format(
                sql.Identifier(stage), sql.Identifier(table.name)
            )
        )
        names = sql.SQL(", ").join(map(sql.Identifier, columns))
        with cursor.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(stage), names)) as copy:
            for row in rows:
                copy.write_row(
                    [Jsonb(row[c]) if c in json_columns and row[c] is not None else row[c] for c in columns]
                )
        if update:
            on_conflict = sql.SQL("ON CONFLICT ({}) DO UPDATE SET {}").format(
                sql.SQL(", ").join(map(sql.Identifier, conflict_on)),
                sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in update),
            )
        else:
            on_conflict = sql.SQL("ON CONFLICT DO NOTHING")
        returning = (
            sql.SQL("RETURNING {}").format(sql.SQL(", ").join(map(sql.Identifier, keys)))
            if keys
            else sql.SQL("")
        )
        cursor.execute(
            sql.SQL(
                "WITH moved AS (DELETE FROM {stage} RETURNING {names}) "
                "INSERT INTO {target} ({names}) SELECT {names} FROM moved {order} {on_conflict} {returning}"
            ).format(
                stage=sql.Identifier(stage),
                target=sql.Identifier(table.name),
                names=names,
                # Parallel drains insert overlapping keys in the same order, so they wait, never deadlock.
                order=sql.SQL("ORDER BY {}").format(sql.SQL(", ").join(map(sql.Identifier, order)))
                if order
                else sql.SQL(""),
                on_conflict=on_conflict,
                returning=returning,
            )
        )
        return [tuple(r) for r in cursor.fetchall()] if keys else []


def _shipments_by_number(session: Session, numbers: Iterable[str]) -> dict[str, list[Any]]:
    """Return tracking number -> shipment heads (id, tenant_id, carrier, tracking_number)."""
    found: dict[str, list[Any]] = defaultdict(list)
    wanted = sorted(set(numbers))
    s = models.Shipment
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for head in session.execute(
            sa.select(s.id, s.tenant_id, s.carrier, s.tracking_number).where(s.tracking_number.in_(chunk))
        ):
            found[head.tracking_number or ""].append(head)
    return found


def _matches(shipment: Any, carrier: str) -> bool:
    return shipment.carrier is None or shipment.carrier == carrier


@dataclass
class Stored:
    """What ``store_events`` did: shipments touched, rows stored and parked, and the new events."""

    touched: set[str]
    stored: int
    parked: int
    # shipment id -> the events newly stored for it (absent: re-derive that shipment from the table).
    added: dict[str, list[events.CanonicalEvent]]


def store_events(session: Session, incoming: Sequence[Incoming]) -> Stored:
    """Attach events to their shipments (or park them), deduplicated by the table's unique key."""
    by_number = _shipments_by_number(session, (i.event.tracking_number for i in incoming))
    translator = Tables(session)
    attached: dict[tuple[str, str], dict[str, Any]] = {}
    translated: dict[tuple[str, str], events.CanonicalEvent] = {}
    parked: dict[str, dict[str, Any]] = {}
    deliveries: list[tuple[models.Shipment, Incoming, events.CanonicalEvent]] = []
    for item in incoming:
        owners = [s for s in by_number.get(item.event.tracking_number, []) if _matches(s, item.event.carrier)]
        if not owners:
            key = dedup_key(item.event)
            parked.setdefault(
                key,
                {
                    "carrier": item.event.carrier,
                    "tracking_number": item.event.tracking_number,
                    "dedup_key": key,
                    "event": item.event.to_dict(),
                    "inbox_id": item.inbox_id,
                    "parked_at": utcnow(),
                },
            )
            continue
        for shipment in owners:
            event = translator.translate(shipment.tenant_id, item.event)
            values = _event_values(shipment, event, item.inbox_id)
            if (shipment.id, values["dedup_key"]) not in attached:
                attached[(shipment.id, values["dedup_key"])] = values
                translated[(shipment.id, values["dedup_key"])] = event
            if item.fleet is not None and event.milestone is taxonomy.Milestone.DELIVERED:
                deliveries.append((session.get(models.Shipment, shipment.id), item, event))
    new_keys = _insert_new(
        session, tables.TrackingEvent.__table__, list(attached.values()), "shipment_id", "dedup_key"
    )
    n_parked = _insert_ignoring_duplicates(session, tables.ParkedEvent.__table__, list(parked.values()))
    touched = {shipment_id for shipment_id, _ in attached}
    added: dict[str, list[events.CanonicalEvent]] = {shipment_id: [] for shipment_id in touched}
    for shipment_id, key in new_keys:
        added[shipment_id].append(translated[(shipment_id, key)])
    if deliveries:
        check_proofs(session, deliveries)
        for shipment, _item, _event in deliveries:
            added.pop(shipment.id, None)  # flagged copies were stored too: read this one back
    return Stored(touched, len(new_keys), n_parked, added)


# -- proof of delivery ---------------------------------------------------------------------------------


def _address(a: models.Address) -> canonical.Address | None:
    try:
        return canonical.Address(
            street_lines=tuple(x for x in (a.street1, a.street2, a.street3) if x),
            city=a.city,
            postal_code=a.postal_code,
            country_code=a.country_code,
            state=a.state,
            latitude=a.latitude,
            longitude=a.longitude,
        )
    except (TypeError, ValueError):
        return None


def _shifts(
    session: Session, deliveries: Sequence[tuple[models.Shipment, Incoming, events.CanonicalEvent]]
) -> list[pod.Shift]:
    """The delivering drivers' shifts, from the van each event names (``vehicle_id``: the allocation
    fleet's vehicle id or name) and its depot's time zone; overnight shifts end the next day."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from gateway.db import allocation as fleet

    wanted = {
        (shipment.tenant_id, item.fleet.vehicle_id): (item.fleet.driver_id, event.occurred_at)
        for shipment, item, event in deliveries
        if item.fleet is not None and item.fleet.vehicle_id
    }
    shifts: list[pod.Shift] = []
    for (tenant_id, vehicle_ref), (driver_id, proof_at) in wanted.items():
        found = session.execute(
            sa.select(fleet.Vehicle.shift_start, fleet.Vehicle.shift_end, fleet.Depot.timezone)
            .join(fleet.Depot, fleet.Depot.id == fleet.Vehicle.depot_id)
            .where(
                fleet.Vehicle.tenant_id == tenant_id,
                sa.or_(fleet.Vehicle.id == vehicle_ref, fleet.Vehicle.name == vehicle_ref),
            )
            .order_by(fleet.Vehicle.active.desc())
            .limit(1)
        ).first()
        if found is None:
            continue  # a van the fleet config does not know: no shift to check against
        try:
            zone = ZoneInfo(found.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            continue
        local_day = proof_at.astimezone(zone).date()
        for day in (local_day - timedelta(days=1), local_day):  # yesterday's overnight shift too
            midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
            end = found.shift_end if found.shift_end > found.shift_start else found.shift_end + 24 * 60
            shifts.append(
                pod.Shift(
                    driver_id=driver_id,
                    starts_at=(midnight + timedelta(minutes=found.shift_start)).astimezone(UTC),
                    ends_at=(midnight + timedelta(minutes=end)).astimezone(UTC),
                )
            )
    return shifts


def check_proofs(
    session: Session,
    deliveries: Sequence[tuple[models.Shipment, Incoming, events.CanonicalEvent]],
    policy: pod.PodPolicy | None = None,
) -> list[pod.PodFlag]:
    """Run the proof-of-delivery checks on fleet deliveries; flag, never block ingestion."""
    try:
        built = []
        for shipment, item, event in deliveries:
            history = tuple(
                events.CanonicalEvent.from_dict(e)
                for e in session.execute(
                    sa.select(tables.TrackingEvent.event).where(
                        tables.TrackingEvent.shipment_id == shipment.id
                    )
                ).scalars()
            )
            fleet = item.fleet
            built.append(
                pod.Delivery(
                    event=event,
                    address=_address(shipment.destination),
                    issued_code=(shipment.metadata_ or {}).get("one_time_code"),
                    driver_id=fleet.driver_id if fleet else None,
                    route_id=fleet.route_id if fleet else None,
                    stop_sequence=fleet.stop_sequence if fleet else None,
                    history=history,
                )
            )
        flags = pod.check_deliveries(built, shifts=_shifts(session, deliveries), policy=policy)
        by_number: dict[str, list[pod.PodFlag]] = defaultdict(list)
        for flag in flags:
            by_number[flag.tracking_number].append(flag)
        rows = []
        now = utcnow()
        for (shipment, _item, event), delivery in zip(deliveries, built, strict=True):
            mine = by_number.get(delivery.tracking_number, [])
            if not mine:
                continue
            flagged = pod.flag_event(event, mine, now)
            rows.append(_event_values(shipment, flagged, None))
            status = _status_row(session, shipment)
            known = {(f.get("code"), f.get("event_id")) for f in status.pod_flags or []}
            # A re-delivered proof is checked again but must not list its flags twice.
            fresh = [
                {
                    "code": f.code.value,
                    "message": f.message,
                    "event_id": event.source_event_id,
                    "flagged_at": now.isoformat(),
                }
                for f in mine
                if (f.code.value, event.source_event_id) not in known
            ]
            if fresh:
                status.pod_flags = [*(status.pod_flags or []), *fresh]
        _insert_ignoring_duplicates(session, tables.TrackingEvent.__table__, rows)
        return flags
    except Exception:  # a broken check must never lose the delivery itself
        log.exception("proof-of-delivery checks failed")
        return []


# -- derivation ---------------------------------------------------------------------------------------


def _status_row(session: Session, shipment: models.Shipment) -> tables.ShipmentTracking:
    # populate_existing: rederive writes with a Core upsert, so a row already in the session may be stale.
    row = session.get(tables.ShipmentTracking, shipment.id, populate_existing=True)
    if row is None:
        row = tables.ShipmentTracking(
            shipment_id=shipment.id,
            tenant_id=shipment.tenant_id,
            carrier=shipment.carrier,
            tracking_number=shipment.tracking_number,
            milestone=taxonomy.Milestone.PENDING.value,
            action_required=False,
            event_count=0,
            unmapped_count=0,
            pod_flags=[],
        )
        session.add(row)
    return row


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
    "updated_at",
)


def _upsert_status(session: Session, rows: list[dict[str, Any]]) -> None:
    table = tables.ShipmentTracking.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        _copy_insert(
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


# -- the inbox ----------------------------------------------------------------------------------------


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
    incoming: list[Incoming] = []
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
    result = store_events(session, incoming)
    rederive(session, result.touched, result.added)
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
    query = sa.select(tables.ParkedEvent).where(
        tables.ParkedEvent.tracking_number == shipment.tracking_number,
        tables.ParkedEvent.attached_at.is_(None),
    )
    if shipment.carrier:
        query = query.where(tables.ParkedEvent.carrier == shipment.carrier)
    parked = list(session.execute(query.with_for_update()).scalars())
    if not parked:
        return 0
    translator = Tables(session)
    rows = {}
    for p in parked:
        event = translator.translate(shipment.tenant_id, events.CanonicalEvent.from_dict(p.event))
        values = _event_values(shipment, event, p.inbox_id)
        rows[values["dedup_key"]] = values
        p.attached_at = utcnow()
    _insert_ignoring_duplicates(session, tables.TrackingEvent.__table__, list(rows.values()))
    rederive(session, [shipment.id])
    return len(parked)


def ingest(session: Session, evts: Sequence[events.CanonicalEvent]) -> set[str]:
    """Store already-canonical events (e.g. from polling) and re-derive the shipments they touch."""
    result = store_events(session, [Incoming(e) for e in evts])
    rederive(session, result.touched, result.added)
    return result.touched


# -- reading ------------------------------------------------------------------------------------------


def _mask_codes(node: Any) -> Any:
    """Replace captured one-time codes with whether one was given: they prove delivery, so
    they must not be readable back through the API (driver apps and logs are the only holders)."""
    if isinstance(node, dict):
        return {k: (v is not None if k == "one_time_code" else _mask_codes(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_mask_codes(v) for v in node]
    return node


def _present_event(e: events.CanonicalEvent) -> dict[str, Any]:
    data = e.to_dict()
    data["canonical"] = {
        "milestone": data["milestone"],
        "detail": data["detail"],
        "reason": data["reason"],
    }
    return data


def timeline_for(session: Session, shipment: models.Shipment) -> dict[str, Any]:
    """Return the shipment's derived timeline with raw codes beside canonical meanings."""
    state = timeline.derive(load_events(session, shipment.id))
    status = session.get(tables.ShipmentTracking, shipment.id)
    body = state.to_dict()
    body["events"] = [_present_event(e) for e in state.events]
    body["shipment_id"] = shipment.id
    body["tracking_number"] = shipment.tracking_number
    body["carrier"] = shipment.carrier
    body["pod_flags"] = list(status.pod_flags or []) if status else []
    return _mask_codes(body)


def summaries(session: Session, shipments: Sequence[models.Shipment]) -> dict[str, dict[str, Any] | None]:
    """Return each shipment's current canonical milestone and reason (one query), None before any label."""
    ids = [s.id for s in shipments]
    t = tables.ShipmentTracking
    rows = (
        {r.shipment_id: r for r in session.execute(sa.select(t).where(t.shipment_id.in_(ids))).scalars()}
        if ids
        else {}
    )
    result: dict[str, dict[str, Any] | None] = {}
    for shipment in shipments:
        row = rows.get(shipment.id)
        if row is None:
            pending = {"milestone": taxonomy.Milestone.PENDING.value, "action_required": False}
            result[shipment.id] = pending if shipment.tracking_number else None
            continue
        result[shipment.id] = {
            "milestone": row.milestone,
            "detail": row.detail,
            "reason": row.reason,
            "action_required": row.action_required,
            "action_party": row.action_party,
            "status_at": row.status_at,
            "estimated_delivery": row.estimated_delivery,
            "delivered_at": row.delivered_at,
        }
    return result


def shipment_for_tracking_number(session: Session, tenant_id: str, tracking_number: str) -> models.Shipment:
    """Return the tenant's shipment with this tracking number, or a 404."""
    shipment = (
        session.execute(
            sa.select(models.Shipment)
            .where(models.Shipment.tenant_id == tenant_id, models.Shipment.tracking_number == tracking_number)
            .order_by(models.Shipment.created_at.desc())
        )
        .scalars()
        .first()
    )
    if shipment is None:
        raise Problem("not-found", f"No shipment with tracking number {tracking_number!r}.")
    return shipment


def unmapped_codes(session: Session, tenant_id: str, carrier: str | None = None) -> list[dict[str, Any]]:
    """Return the tenant's unmapped carrier codes with counts and example payloads."""
    e = tables.TrackingEvent
    query = (
        sa.select(e.carrier, e.raw_code, e.raw_subcode, sa.func.count(), sa.func.max(e.id))
        .where(e.tenant_id == tenant_id, e.unmapped.is_(True))
        .group_by(e.carrier, e.raw_code, e.raw_subcode)
        .order_by(sa.func.count().desc(), e.carrier, e.raw_code)
    )
    if carrier:
        query = query.where(e.carrier == carrier)
    result = []
    for c, code, subcode, count, example_id in session.execute(query):
        example = session.get(e, example_id)
        raw_payload = None
        if example is not None and example.inbox_id is not None:
            inbox = session.get(tables.CallbackInbox, example.inbox_id)
            if inbox is not None:
                try:
                    raw_payload = json.loads(inbox.body)
                except ValueError:
                    raw_payload = inbox.body.decode("utf-8", "replace")
        result.append(
            {
                "carrier": c,
                "code": code,
                "subcode": subcode,
                "count": count,
                "example": {
                    "event_id": example_id,
                    "tracking_number": example.tracking_number if example else None,
                    "message": example.raw_message if example else None,
                    "occurred_at": example.occurred_at if example else None,
                    "payload": raw_payload,
                },
            }
        )
    return result


def put_mapping(
    session: Session, tenant_id: str, key_id: str, carrier: str, data: dict[str, Any]
) -> tuple[tables.MappingOverride, int]:
    """Add or replace an ops mapping row (a new version), then re-derive affected timelines."""
    try:
        base = codes.load_table(carrier)
    except codes.MappingError:
        raise Problem("not-found", f"No tracking code table for carrier {carrier!r}.") from None
    subcode = (data.get("subcode") or "").strip()
    row = {
        "code": data["code"].strip(),
        "subcode": subcode,
        "milestone": data.get("milestone"),
        "detail": data.get("detail"),
        "reason": data.get("reason"),
        "informational": "yes" if data.get("informational") else "no",
        "note": data.get("note") or "",
    }
    try:
        parsed = codes.parse_row(carrier, row, origin="override")
    except codes.MappingError as exc:
        raise Problem("validation-error", str(exc), errors={"_schema": [str(exc)]}) from None
    current = [
        o
        for o in _override_rows(session, tenant_id, carrier)
        if o.code == parsed.code and o.subcode == subcode
    ]
    previous: dict[str, Any] | None = None
    now = utcnow()
    if current:
        previous = {**_as_row(current[-1]), "origin": "override", "version": current[-1].version}
        for o in current:
            o.superseded_at = now
    else:
        file_row = base.rows()
        match = next((r for r in file_row if r.key == parsed.key), None)
        if match is not None:
            previous = {
                "code": match.code,
                "subcode": match.subcode or "",
                "milestone": match.milestone.value if match.milestone else None,
                "detail": match.detail,
                "reason": match.reason.value if match.reason else None,
                "informational": "yes" if match.informational else "no",
                "note": match.note,
                "origin": "file",
            }
    version = (
        session.execute(
            sa.select(sa.func.max(tables.MappingOverride.version)).where(
                tables.MappingOverride.tenant_id == tenant_id,
                tables.MappingOverride.carrier == carrier,
                tables.MappingOverride.code == parsed.code,
                tables.MappingOverride.subcode == subcode,
            )
        ).scalar()
        or 0
    ) + 1
    session.flush()
    override = tables.MappingOverride(
        tenant_id=tenant_id,
        carrier=carrier,
        code=parsed.code,
        subcode=subcode,
        version=version,
        milestone=parsed.milestone.value if parsed.milestone else None,
        detail=parsed.detail,
        reason=parsed.reason.value if parsed.reason else None,
        informational=parsed.informational,
        note=parsed.note,
        previous=previous,
        created_by=key_id,
        created_at=now,
    )
    session.add(override)
    session.flush()
    return override, remap_tenant(session, tenant_id, carrier, parsed.code)


def remap_tenant(session: Session, tenant_id: str, carrier: str, code: str) -> int:
    """Re-translate the tenant's stored events with this code and re-derive their shipments."""
    table = Tables(session).for_tenant(tenant_id, carrier) or codes.load_table(carrier)
    e = tables.TrackingEvent
    query = sa.select(e).where(e.tenant_id == tenant_id, e.carrier == carrier)
    if code != codes.WILDCARD:
        query = query.where(e.raw_code == code)
    touched = set()
    for row in session.execute(query).scalars():
        old = events.CanonicalEvent.from_dict(row.event)
        if old.raw_code == "pod_check":
            continue  # gateway-raised, not a carrier code
        new = codes.remap_event(table, old)
        if new == old:
            continue
        data = new.to_dict()
        row.event = data
        row.milestone, row.detail, row.reason = data["milestone"], new.detail, data["reason"]
        row.mapping, row.unmapped = new.mapping.value, new.unmapped
        touched.add(row.shipment_id)
    session.flush()
    rederive(session, touched)
    return len(touched)


def open_exceptions(
    session: Session,
    tenant_id: str,
    *,
    reason: str | None = None,
    carrier: str | None = None,
    older_than_hours: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Return shipments whose derived status is an exception that waits for someone to act."""
    t = tables.ShipmentTracking
    query = (
        sa.select(t)
        .where(
            t.tenant_id == tenant_id,
            t.action_required.is_(True),
            t.milestone.in_([taxonomy.Milestone.EXCEPTION.value, taxonomy.Milestone.ATTEMPT_FAILED.value]),
        )
        .order_by(t.status_at.asc(), t.shipment_id)
        .limit(limit)
    )
    if reason:
        query = query.where(t.reason == reason)
    if carrier:
        query = query.where(t.carrier == carrier)
    now = utcnow()
    if older_than_hours:
        query = query.where(t.status_at <= now - timedelta(hours=older_than_hours))
    result = []
    for row in session.execute(query).scalars():
        result.append(
            {
                "shipment_id": row.shipment_id,
                "tracking_number": row.tracking_number,
                "carrier": row.carrier,
                "milestone": row.milestone,
                "detail": row.detail,
                "reason": row.reason,
                "action_party": row.action_party,
                "since": row.status_at,
                "age_hours": int((now - row.status_at).total_seconds() // 3600) if row.status_at else None,
                "pod_flags": list(row.pod_flags or []),
            }
        )
    return result


# -- polling ------------------------------------------------------------------------------------------

# How often to ask a carrier without push, by the shipment's derived milestone (None: stop polling).
POLL_INTERVALS: dict[taxonomy.Milestone, timedelta | None] = {
    taxonomy.Milestone.PENDING: timedelta(hours=6),
    taxonomy.Milestone.INFO_RECEIVED: timedelta(hours=4),
    taxonomy.Milestone.IN_TRANSIT: timedelta(hours=2),
    taxonomy.Milestone.OUT_FOR_DELIVERY: timedelta(minutes=30),
    taxonomy.Milestone.AVAILABLE_FOR_PICKUP: timedelta(hours=6),
    taxonomy.Milestone.ATTEMPT_FAILED: timedelta(hours=1),
    taxonomy.Milestone.EXCEPTION: timedelta(hours=1),
    taxonomy.Milestone.RETURNING: timedelta(hours=4),
}


def poll_interval(milestone: taxonomy.Milestone) -> timedelta | None:
    """Return how long to wait before polling a shipment in this state again (None: never)."""
    if milestone.terminal:
        return None
    return POLL_INTERVALS.get(milestone, timedelta(hours=4))


# A Track Alert subscription lives 14 days: renew it a day early while the shipment is not terminal.
SUBSCRIPTION_RENEWAL = timedelta(days=13)
RETRY_AFTER_FAILURE = timedelta(minutes=15)
RETRY_AFTER_REFUSAL = timedelta(hours=6)


def _trackers(registry: Any) -> dict[str, Any]:
    """Return carrier name -> adapter for enabled adapters that push (subscribed) or can be polled."""
    found: dict[str, Any] = {}
    for key in registry:
        adapter = registry.get(key)
        if adapter.supports(base.Capability.TRACK_PUSH) or adapter.supports(base.Capability.TRACK_POLL):
            found.setdefault(adapter.name, adapter)
    return found


def _milestone(session: Session, shipment: models.Shipment) -> taxonomy.Milestone:
    row = session.get(tables.ShipmentTracking, shipment.id, populate_existing=True)
    return taxonomy.Milestone(row.milestone) if row is not None else taxonomy.Milestone.PENDING


def track_now(
    session: Session, adapter: Any, shipment: models.Shipment, *, history: bool
) -> timedelta | None:
    """Ask the carrier about one shipment now; return when to ask again (None: never again).

    A carrier that pushes is subscribed (renewed before the subscription lapses) and, the first time
    (``history``), polled once as well when it can be: Track Alert sends nothing from before the
    subscription. A carrier without push is polled at a rate that depends on the shipment's state.
    Carrier failures raise ``adapters.base.AdapterError``.
    """
    number = shipment.tracking_number or ""
    pushes = adapter.supports(base.Capability.TRACK_PUSH)
    with exchanges.scope(tenant_id=shipment.tenant_id, shipment_id=shipment.id):
        if pushes:
            accepted, _refused = adapter.subscribe_tracking([number])
            if number not in accepted:
                log.warning("carrier refused a tracking subscription", extra={"shipment_id": shipment.id})
                return RETRY_AFTER_REFUSAL
        if (history or not pushes) and adapter.supports(base.Capability.TRACK_POLL):
            result = adapter.track(carrier.TrackRequest(tracking_number=number))
            ingest(session, [from_raw(raw, events.EventSource.POLL) for raw in result.events])
    milestone = _milestone(session, shipment)
    if milestone.terminal:
        return None
    return SUBSCRIPTION_RENEWAL if pushes else poll_interval(milestone)


def _schedule(session: Session, shipment: models.Shipment, now: datetime, interval: timedelta | None) -> None:
    row = _status_row(session, shipment)
    if row.milestone is None:
        row.milestone = taxonomy.Milestone.PENDING.value
    row.last_polled_at = now
    row.next_poll_at = now + interval if interval is not None else None


def poll_due(session: Session, registry: Any, now: datetime | None = None, limit: int = 200) -> int:
    """Subscribe or poll the shipments whose next tracking check is due; return how many were checked."""
    now = now or utcnow()
    trackers = _trackers(registry)
    if not trackers:
        return 0
    s, t = models.Shipment, tables.ShipmentTracking
    terminal = [m.value for m in taxonomy.TERMINAL_MILESTONES]
    due = session.execute(
        sa.select(s, t)
        .outerjoin(t, t.shipment_id == s.id)
        .where(
            s.tracking_number.is_not(None),
            s.carrier.in_(sorted(trackers)),
            sa.or_(
                t.shipment_id.is_(None),
                sa.and_(
                    t.milestone.not_in(terminal), sa.or_(t.next_poll_at.is_(None), t.next_poll_at <= now)
                ),
            ),
        )
        .order_by(t.next_poll_at.asc().nulls_first(), s.id)
        .limit(limit)
    ).all()
    for shipment, status in due:
        first = status is None or status.last_polled_at is None
        try:
            interval = track_now(session, trackers[shipment.carrier], shipment, history=first)
        except base.AdapterError as exc:  # a carrier outage delays this shipment, never the others
            log.warning("tracking check failed", extra={"shipment_id": shipment.id, "error": str(exc)})
            interval = RETRY_AFTER_FAILURE
        _schedule(session, shipment, now, interval)
    session.flush()
    return len(due)


def start(session: Session, registry: Any, shipment_id: str) -> bool:
    """Start tracking a shipment whose label was just bought (subscribe, fetch history); return whether asked."""
    shipment = session.get(models.Shipment, shipment_id)
    if shipment is None or not shipment.tracking_number:
        return False
    adapter = _trackers(registry).get(shipment.carrier or "")
    if adapter is None:
        return False
    status = session.get(tables.ShipmentTracking, shipment.id)
    if status is not None and status.last_polled_at is not None:
        return False  # already started (a re-driven job): the scheduled rounds take it from here
    now = utcnow()
    try:
        interval = track_now(session, adapter, shipment, history=True)
    except base.AdapterError as exc:
        log.warning("tracking start failed", extra={"shipment_id": shipment.id, "error": str(exc)})
        interval = RETRY_AFTER_FAILURE
    _schedule(session, shipment, now, interval)
    session.flush()
    return True


def refresh(session: Session, registry: Any, shipment: models.Shipment) -> None:
    """Ask the carrier about this shipment now (an ops tool); carrier failures are 503 or 422 problems."""
    if not shipment.tracking_number:
        raise Problem("conflict", "The shipment has no tracking number yet: buy its label first.")
    adapter = _trackers(registry).get(shipment.carrier or "")
    if adapter is None:
        raise Problem("conflict", f"No enabled adapter tracks carrier {shipment.carrier!r}.")
    now = utcnow()
    try:
        interval = track_now(session, adapter, shipment, history=True)
    except base.CarrierRejected as exc:
        raise Problem(
            "carrier-rejected", exc.message, error_source="carrier", extra={"code": exc.code}
        ) from None
    except base.AdapterError as exc:
        raise Problem("carrier-unavailable", str(exc), error_source="carrier") from None
    _schedule(session, shipment, now, interval)
    session.flush()
