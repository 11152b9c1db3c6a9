"""Private plumbing of the tracking tables: inbox items, event rows, set-based inserts, status rows."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from adapters import base
from gateway.kernel import models
from gateway.kernel.types import new_id, utcnow
from gateway.tracking import tables
from schemas import events, taxonomy


@dataclass(frozen=True, slots=True)
class Incoming:
    """One parsed event from an inbox row, translated with the carrier's file table."""

    event: events.CanonicalEvent
    inbox_id: int | None = None
    courier: base.Courier | None = None  # set when the carrier's own driver reported it (POD checks)


def dedup_key(event: events.CanonicalEvent) -> str:
    """Return the stored uniqueness key: a hash of the event's primary deduplication key."""
    return hashlib.sha256(json.dumps(event.primary_dedup_key()).encode()).hexdigest()


def event_values(
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


def insert_ignoring_duplicates(session: Session, table: Any, rows: list[dict[str, Any]]) -> int:
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
    result = cast("sa.CursorResult[Any]", session.execute(stmt, rows))
    return max(result.rowcount or 0, 0)


def insert_new(session: Session, table: Any, rows: list[dict[str, Any]], *keys: str) -> list[tuple[Any, ...]]:
    """Insert rows skipping existing unique keys; return ``keys`` of the rows actually inserted.

    On PostgreSQL the batch is COPYed into a session-local staging table and moved with one
    ``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING``: a set-based insert in two round
    trips instead of a statement per row. Elsewhere the rows go as one executemany and the new ones
    are found by their freshly made primary keys (executemany rowcounts are not trusted).
    """
    if not rows:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return copy_insert(session, table, rows, keys, order=keys)
    insert_ignoring_duplicates(session, table, rows)
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


def copy_insert(
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
    driver = session.connection().connection.driver_connection
    assert driver is not None  # a checked-out connection always holds its DBAPI connection
    with driver.cursor() as cursor:
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
        on_conflict: sql.Composable
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


def status_row(session: Session, shipment: models.Shipment) -> tables.ShipmentTracking:
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
