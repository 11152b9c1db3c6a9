"""Tracking webhooks: turn a change of a shipment's derived status into events.

``gateway.tracking.status.rederive`` calls ``previous(session, heads)`` before it writes the new
statuses and ``emit_changes(session, before, rows)`` after. Both cost nothing for tenants with
no endpoint listening for tracking events (the endpoint list is read once per transaction).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway import webhooks
from gateway.tracking.tables import ShipmentTracking

TYPES = frozenset({"tracking.updated", "tracking.exception", "shipment.delivered"})
_EXCEPTION_MILESTONES = frozenset({"exception", "attempt_failed"})
_NOT_YET = ("pending", None)


def _listening(session: Session, tenant_id: str) -> bool:
    return any(types & TYPES for _, types in webhooks._listeners(session, tenant_id))


def previous(session: Session, heads: Iterable[Any]) -> dict[str, tuple[str, str | None]]:
    """Return (milestone, reason) before the change for shipments whose tenant listens; {} otherwise."""
    ids = [head[0] for head in heads if _listening(session, head[1])]
    if not ids:
        return {}
    t = ShipmentTracking
    found = {
        row.shipment_id: (row.milestone, row.reason)
        for row in session.execute(
            sa.select(t.shipment_id, t.milestone, t.reason).where(t.shipment_id.in_(ids))
        )
    }
    return {shipment_id: found.get(shipment_id, _NOT_YET) for shipment_id in ids}


def emit_changes(
    session: Session, before: dict[str, tuple[str, str | None]], rows: Sequence[dict[str, Any]]
) -> int:
    """Emit tracking.updated (and tracking.exception / shipment.delivered) where the milestone or reason changed."""
    if not before:
        return 0
    emitted = 0
    for row in rows:
        old = before.get(row["shipment_id"])
        if old is None or (row["milestone"], row["reason"]) == old:
            continue
        data = {
            "shipment_id": row["shipment_id"],
            "carrier": row["carrier"],
            "tracking_number": row["tracking_number"],
            "milestone": row["milestone"],
            "previous_milestone": old[0],
            "detail": row["detail"],
            "reason": row["reason"],
            "action_required": bool(row["action_required"]),
            "action_party": row["action_party"],
            "status_at": row["status_at"],
            "estimated_delivery": row["estimated_delivery"],
        }
        when = row["status_at"]
        tenant_id = row["tenant_id"]
        webhooks.emit(session, tenant_id, "tracking.updated", data, occurred_at=when)
        emitted += 1
        if row["milestone"] in _EXCEPTION_MILESTONES:
            webhooks.emit(session, tenant_id, "tracking.exception", data, occurred_at=when)
            emitted += 1
        elif row["milestone"] == "delivered" and old[0] != "delivered":
            delivered = {
                **data,
                "delivered_at": row["delivered_at"],
                "pod_flags": list(row.get("pod_flags") or []),
            }
            webhooks.emit(
                session, tenant_id, "shipment.delivered", delivered, occurred_at=row["delivered_at"] or when
            )
            emitted += 1
    return emitted
