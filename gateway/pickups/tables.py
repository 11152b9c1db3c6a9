"""The pickups table: one row per collection asked of a carrier, written before the carrier is called."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kernel.models import Base
from gateway.kernel.types import JSONType, UTCDateTime, new_id, utcnow

# pending: stored, the carrier call is under way or its answer was lost (it may have been booked);
# scheduled: the carrier confirmed it; failed: the carrier refused or was not reached (nothing booked);
# cancelled: cancelled at the carrier, or a failed booking withdrawn.
STATES = ("pending", "scheduled", "failed", "cancelled")


class Pickup(Base):
    """A carrier pickup of a tenant: what was asked, and the carrier's answer."""

    __tablename__ = "pickups"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "request_key"),
        sa.Index("ix_pickups_tenant_id_created_at_id", "tenant_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("pck"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    # SHA-256 of the Idempotency-Key and the request it came with: a retry finds its own row.
    request_key: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    carrier: Mapped[str] = mapped_column(sa.String(32))  # the adapter's name (fedex, usps, ...)
    account: Mapped[str] = mapped_column(sa.String(64))  # the enabled adapter's id (CARRIERS)
    state: Mapped[str] = mapped_column(sa.String(16), default="pending")
    address: Mapped[dict[str, Any]] = mapped_column(JSONType)
    pickup_date: Mapped[date] = mapped_column(sa.Date)
    time_zone: Mapped[str] = mapped_column(sa.String(64))
    ready_at: Mapped[datetime] = mapped_column(UTCDateTime())
    close_at: Mapped[datetime] = mapped_column(UTCDateTime())
    parcel_count: Mapped[int] = mapped_column(sa.Integer)
    total_weight: Mapped[Decimal | None] = mapped_column(sa.Numeric(12, 4), nullable=True)
    weight_unit: Mapped[str | None] = mapped_column(sa.String(8), nullable=True)
    instructions: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    tracking_numbers: Mapped[list[str]] = mapped_column(JSONType, default=list)
    confirmation: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    carrier_code: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    carrier_message: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    # What the carrier needs, beside the confirmation, to cancel (FedEx: the Express location); from booking.
    carrier_details: Mapped[dict[str, str] | None] = mapped_column(JSONType, nullable=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
