"""Playbook versions and shipment exceptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kernel.models import Base
from gateway.kernel.types import JSONType, UTCDateTime, new_id, utcnow


class Playbook(Base):
    """One version of a tenant's exception playbook; the highest version is the one in force.

    ``document`` follows ``schemas/json/playbook.json``. Versions are never edited: each change is a
    new row saying who made it and why, so the history is the audit trail.
    """

    __tablename__ = "playbooks"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "version", name="uq_playbooks_tenant_version"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("pbk"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(sa.Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_by: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ShipmentException(Base):
    """An exception someone owns: why, who, by when, what was done, and how it ended.

    Opened by the watch from a shipment's tracking reason (or ``at_risk`` from its prediction), with the
    owner, timer and actions of the playbook entry that matched; escalated when its timer runs out;
    resolved by a person (with a note) or when the shipment is delivered or the reason clears.
    """

    __tablename__ = "shipment_exceptions"
    __table_args__ = (
        sa.CheckConstraint("status IN ('open', 'resolved')", name="status"),
        sa.Index("ix_shipment_exceptions_tenant_status", "tenant_id", "status", "created_at"),
        sa.Index("ix_shipment_exceptions_shipment", "shipment_id", "status"),
        sa.Index("ix_shipment_exceptions_due", "status", "due_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("exc"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    shipment_id: Mapped[str] = mapped_column(sa.ForeignKey("shipments.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(sa.String(64))  # a taxonomy reason, or "at_risk"
    milestone: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    owner: Mapped[str] = mapped_column(sa.String(16))  # carrier | shipper | recipient | ops
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    escalation_level: Mapped[int] = mapped_column(sa.Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    playbook_version: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)  # None: the default
    # What was done, oldest first: {"at", "action", "by", "outcome", "detail"}.
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # e.g. the risk that opened it
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    resolution: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
