"""Bulk uploads, their rows, and the row keys that make each row idempotent (docs/BULK.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kernel.models import Base
from gateway.kernel.types import JSONType, UTCDateTime, new_id, utcnow

# queued (stored, job not started) → running → done; a row is pending → booked | failed.
UPLOAD_STATES = ("queued", "running", "done")
ROW_STATES = ("pending", "booked", "failed")


class BulkUpload(Base):
    """One upload: its counts are updated with every chunk the job commits."""

    __tablename__ = "bulk_uploads"
    __table_args__ = (sa.Index("ix_bulk_uploads_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("blk"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    format: Mapped[str] = mapped_column(sa.String(8))
    state: Mapped[str] = mapped_column(sa.String(16), default="queued")
    total: Mapped[int] = mapped_column(sa.Integer)
    done: Mapped[int] = mapped_column(sa.Integer, default=0)
    booked: Mapped[int] = mapped_column(sa.Integer, default=0)
    failed: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class BulkRow(Base):
    """A row as uploaded (the booking body, JSON-shaped) and what booking it gave."""

    __tablename__ = "bulk_rows"
    __table_args__ = (sa.Index("ix_bulk_rows_upload_state", "bulk_id", "state", "row_number"),)

    bulk_id: Mapped[str] = mapped_column(
        sa.ForeignKey("bulk_uploads.id", ondelete="CASCADE"), primary_key=True
    )
    row_number: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    row_key: Mapped[str] = mapped_column(sa.String(255))
    key_given: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # JSON text (uploads.encode_body): numbers stay exact, as the booking body would hold them
    body: Mapped[str] = mapped_column(sa.Text)
    state: Mapped[str] = mapped_column(sa.String(16), default="pending")
    shipment_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("shipments.id", ondelete="SET NULL"), nullable=True
    )
    replayed: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    errors: Mapped[Any | None] = mapped_column(JSONType, nullable=True)


class BulkKey(Base):
    """A row key booked once per tenant: inserted in the transaction that books the row."""

    __tablename__ = "bulk_keys"

    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    row_key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    shipment_id: Mapped[str] = mapped_column(sa.ForeignKey("shipments.id", ondelete="CASCADE"))
    bulk_id: Mapped[str] = mapped_column(sa.String(32))
    row_number: Mapped[int] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
