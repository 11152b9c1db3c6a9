"""Playbook versions and the exception records: read the playbook in force, open, resolve, escalate."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway import webhooks
from gateway.exceptions import playbooks
from gateway.exceptions.tables import Playbook, ShipmentException
from gateway.kernel.errors import Problem
from gateway.tracking.tables import ShipmentTracking


def latest(session: Session, tenant_id: str) -> Playbook | None:
    """The tenant's playbook version in force, or None (the built-in default applies)."""
    return session.execute(
        sa.select(Playbook).where(Playbook.tenant_id == tenant_id).order_by(Playbook.version.desc()).limit(1)
    ).scalar_one_or_none()


def current(session: Session, tenant_id: str) -> playbooks.Playbook:
    """The parsed playbook in force for the tenant (the built-in default when it has none)."""
    row = latest(session, tenant_id)
    return playbooks.DEFAULT if row is None else playbooks.parse(row.document, row.version)


def save(
    session: Session, tenant_id: str, document: dict[str, Any], note: str, actor: str | None
) -> Playbook:
    """Store a new version (validated first); 422 with every problem when the document is not valid."""
    errors = playbooks.validate(document)
    if errors:
        raise Problem("validation-error", "The playbook is not valid.", errors={"document": errors})
    document = json.loads(json.dumps(document, default=_number))  # request numbers arrive as Decimal
    # The row lock on the latest version (PostgreSQL) plus the unique (tenant, version) keep versions dense.
    before = latest(session, tenant_id)
    row = Playbook(
        tenant_id=tenant_id,
        version=(before.version + 1) if before else 1,
        document=document,
        note=note,
        created_by=actor,
    )
    session.add(row)
    session.flush()
    return row


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def open_for(session: Session, shipment_id: str) -> list[ShipmentException]:
    """The shipment's open exceptions."""
    return open_for_all(session, [shipment_id])


def open_for_all(session: Session, shipment_ids: list[str]) -> list[ShipmentException]:
    """The open exceptions of these shipments, oldest first."""
    return list(
        session.execute(
            sa.select(ShipmentException)
            .where(ShipmentException.shipment_id.in_(shipment_ids), ShipmentException.status == "open")
            .order_by(ShipmentException.created_at, ShipmentException.id)
        ).scalars()
    )


def open_exception(
    session: Session,
    tracking: ShipmentTracking,
    reason: str,
    book: playbooks.Playbook,
    now: datetime,
    detail: dict[str, Any],
) -> ShipmentException:
    """Open an exception with the owner and timer of the playbook entry for its reason."""
    entry = book.entry_for(reason, tracking.milestone)
    exc = ShipmentException(
        tenant_id=tracking.tenant_id,
        shipment_id=tracking.shipment_id,
        reason=reason,
        milestone=tracking.milestone,
        status="open",
        owner=entry.owner,
        created_at=now,
        due_at=playbooks.deadline(now, entry.timer, book.hours),
        escalation_level=0,
        playbook_version=book.version,
        actions=[
            {"at": now.isoformat(), "action": "opened", "by": "system", "outcome": "done", "detail": ""}
        ],
        detail={**detail, "entry": entry.to_dict()},
    )
    session.add(exc)
    session.flush()
    return exc


def record(
    exc: ShipmentException, now: datetime, action: str, by: str, outcome: str, detail: str = ""
) -> None:
    """Append one action to an exception's history (a new list, so the JSON column is written)."""
    exc.actions = [
        *exc.actions,
        {"at": now.isoformat(), "action": action, "by": by, "outcome": outcome, "detail": detail},
    ]


def resolve(exc: ShipmentException, by: str, note: str, now: datetime) -> int:
    """Resolve an open exception with a note; 1 if it was open, 0 otherwise."""
    if exc.status != "open":
        return 0
    exc.status, exc.resolved_at, exc.resolved_by, exc.resolution = "resolved", now, by, note
    record(exc, now, "resolved", by, "done", note)
    return 1


def escalate(session: Session, exc: ShipmentException, book: playbooks.Playbook, now: datetime) -> None:
    """The timer ran out: hand the exception to the entry's escalation owner with its escalation timer."""
    entry = book.entry_for(exc.reason, exc.milestone)
    previous = exc.owner
    exc.owner = entry.escalate_to
    exc.escalation_level += 1
    exc.escalated_at = now
    exc.due_at = playbooks.deadline(now, entry.escalation_timer, book.hours)
    record(exc, now, "escalated", "system", "done", f"timer ran out for {previous}; now {exc.owner}")
    webhooks.emit(
        session,
        exc.tenant_id,
        "exception.escalated",
        {
            "exception_id": exc.id,
            "shipment_id": exc.shipment_id,
            "reason": exc.reason,
            "previous_owner": previous,
            "owner": exc.owner,
            "escalation_level": exc.escalation_level,
            "due_at": exc.due_at.isoformat() if exc.due_at else None,
            "opened_at": exc.created_at.isoformat(),
        },
        occurred_at=now,
    )
