"""Ops overrides of the carrier code tables: per-tenant tables, new mapping versions, re-translation.

Each carrier's table comes from its adapter (``adapters.registry.code_table``); a tenant's override rows
win over the file rows, and a change re-translates and re-derives the tenant's affected shipments.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from adapters import codes
from adapters import registry as adapter_registry
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow
from gateway.tracking import status, tables
from schemas import events


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
                adapter_registry.code_table(carrier).with_overrides(_as_row(r) for r in rows)
                if rows
                else None
            )
        return self._cache[key]

    def translate(self, tenant_id: str, event: events.CanonicalEvent) -> events.CanonicalEvent:
        """Return the event as the tenant's mapping reads it (the gateway's own manual events as they
        are: their codes are not the carrier's, so no carrier mapping applies to them)."""
        if event.source == events.EventSource.MANUAL:
            return event
        table = self.for_tenant(tenant_id, event.carrier)
        return event if table is None else codes.remap_event(table, event)


def put_mapping(
    session: Session, tenant_id: str, key_id: str, carrier: str, data: dict[str, Any]
) -> tuple[tables.MappingOverride, int]:
    """Add or replace an ops mapping row (a new version), then re-derive affected timelines."""
    try:
        file_table = adapter_registry.code_table(carrier)
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
        file_row = file_table.rows()
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
    table = Tables(session).for_tenant(tenant_id, carrier) or adapter_registry.code_table(carrier)
    e = tables.TrackingEvent
    query = sa.select(e).where(e.tenant_id == tenant_id, e.carrier == carrier)
    if code != codes.WILDCARD:
        query = query.where(e.raw_code == code)
    touched = set()
    for row in session.execute(query).scalars():
        old = events.CanonicalEvent.from_dict(row.event)
        if old.source == events.EventSource.MANUAL:
            continue  # gateway-raised (a proof check, a review, a return to sender): not a carrier code
        new = codes.remap_event(table, old)
        if new == old:
            continue
        data = new.to_dict()
        row.event = data
        row.milestone, row.detail, row.reason = data["milestone"], new.detail, data["reason"]
        row.mapping, row.unmapped = new.mapping.value, new.unmapped
        touched.add(row.shipment_id)
    session.flush()
    status.rederive(session, touched)
    return len(touched)


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
