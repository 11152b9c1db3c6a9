"""Read tracking: a shipment's timeline, status summaries, lookups by number, open exceptions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow
from gateway.tracking import matching, status, tables, timeline
from schemas import events, taxonomy


def _mask_codes(node: Any) -> Any:
    """Replace captured one-time codes with whether one was given: they prove delivery, so
    they must not be readable back through the API (driver apps and logs are the only matching.holders)."""
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
    state = timeline.derive(status.load_events(session, shipment.id))
    row = session.get(tables.ShipmentTracking, shipment.id)
    body = state.to_dict()
    body["events"] = [_present_event(e) for e in state.events]
    body["shipment_id"] = shipment.id
    body["tracking_number"] = shipment.tracking_number
    body["carrier"] = shipment.carrier
    body["pod_flags"] = list(row.pod_flags or []) if row else []
    body["number_conflict"] = row.number_conflict if row and row.number_conflict_at else None
    body["carrier_warnings"] = (
        {"warnings": list(row.carrier_warnings), "since": row.carrier_warnings_at.isoformat()}
        if row and row.carrier_warnings and row.carrier_warnings_at
        else None
    )
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
    """Return the tenant's shipment with this tracking number, or a 404.

    Only the tenant's own shipments are looked at. When the number was issued to several of them, the
    one that receives its events (the first label to take it) is returned; its ``number_conflict``
    names the others.
    """
    mine = [h for h in matching.holders(session, None, tracking_number) if h.tenant_id == tenant_id]
    shipment = session.get(models.Shipment, mine[0].id) if mine else None
    if shipment is None:
        raise Problem("not-found", f"No shipment with tracking number {tracking_number!r}.")
    return shipment


def open_exceptions(
    session: Session,
    tenant_id: str,
    *,
    reason: str | None = None,
    carrier: str | None = None,
    older_than_hours: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Return shipments that wait for someone to act, oldest first: a derived exception, or a tracking
    number the carrier issued to another shipment too (``number_conflict``, since it was detected)."""
    t = tables.ShipmentTracking
    exception = sa.and_(
        t.action_required.is_(True),
        t.milestone.in_([taxonomy.Milestone.EXCEPTION.value, taxonomy.Milestone.ATTEMPT_FAILED.value]),
    )
    since = sa.case((exception, t.status_at), else_=t.number_conflict_at)
    query = (
        sa.select(t, exception.label("is_exception"))
        .where(t.tenant_id == tenant_id, sa.or_(exception, t.number_conflict_at.is_not(None)))
        .order_by(since.asc(), t.shipment_id)
        .limit(limit)
    )
    if reason:
        query = query.where(t.reason == reason)
    if carrier:
        query = query.where(t.carrier == carrier)
    now = utcnow()
    if older_than_hours:
        query = query.where(since <= now - timedelta(hours=older_than_hours))
    result = []
    for row, is_exception in session.execute(query):
        at = row.status_at if is_exception else row.number_conflict_at
        result.append(
            {
                "shipment_id": row.shipment_id,
                "tracking_number": row.tracking_number,
                "carrier": row.carrier,
                "milestone": row.milestone,
                "detail": row.detail,
                "reason": row.reason,
                "action_party": row.action_party,
                "since": at,
                "age_hours": int((now - at).total_seconds() // 3600) if at else None,
                "pod_flags": list(row.pod_flags or []),
                "number_conflict": row.number_conflict if row.number_conflict_at else None,
            }
        )
    return result
