"""Rating tables: rate card versions, the quotes a rating call returned, and booked quote snapshots."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kernel.models import Base
from gateway.kernel.types import JSONType, UTCDateTime, new_id, utcnow

CARD_STATUSES = ("draft", "active", "retired")


class RateCardVersion(Base):
    """One uploaded version of a carrier service's rate card for a tenant; the document never changes."""

    __tablename__ = "rate_card_versions"
    __table_args__ = (
        sa.UniqueConstraint(
            "tenant_id", "carrier", "service_code", "version", name="uq_rate_card_versions_service_version"
        ),
        sa.CheckConstraint("status IN ('draft', 'active', 'retired')", name="status"),
        sa.Index("ix_rate_card_versions_tenant_status", "tenant_id", "status"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("rcv"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    card_id: Mapped[str] = mapped_column(sa.String(100))  # the document's own "id"
    carrier: Mapped[str] = mapped_column(sa.String(50))
    service_code: Mapped[str] = mapped_column(sa.String(50))
    service_name: Mapped[str] = mapped_column(sa.String(200))
    version: Mapped[int] = mapped_column(sa.Integer)
    currency: Mapped[str] = mapped_column(sa.String(3))
    effective_from: Mapped[date] = mapped_column(sa.Date)
    effective_to: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="draft")
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)
    uploaded_by: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)  # api key id
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class RateQuote(Base):
    """One rate returned by a rating call, kept so a caller can select it by id until it expires."""

    __tablename__ = "rate_quotes"
    __table_args__ = (sa.Index("ix_rate_quotes_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("rte"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    shipment_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("shipments.id", ondelete="CASCADE"), nullable=True, index=True
    )
    # Hash of what was rated (addresses and parcels), so a rate cannot be applied to another shipment.
    spec_hash: Mapped[str] = mapped_column(sa.String(64))
    source: Mapped[str] = mapped_column(sa.String(16))  # contract | sample | live
    carrier: Mapped[str] = mapped_column(sa.String(50))
    service_code: Mapped[str] = mapped_column(sa.String(50))
    service_name: Mapped[str] = mapped_column(sa.String(200))
    card_id: Mapped[str | None] = mapped_column(sa.String(100), nullable=True)
    card_version: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    currency: Mapped[str] = mapped_column(sa.String(3))
    total_cost_minor: Mapped[int] = mapped_column(sa.BigInteger)
    total_sell_minor: Mapped[int] = mapped_column(sa.BigInteger)
    estimated_delivery: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType)  # charge lines in minor units
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ShipmentQuoteSnapshot(Base):
    """The rate chosen for a shipment, frozen: reconciliation compares invoices against it."""

    __tablename__ = "shipment_quote_snapshots"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("qsn"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    shipment_id: Mapped[str] = mapped_column(sa.ForeignKey("shipments.id", ondelete="CASCADE"), unique=True)
    rate_id: Mapped[str] = mapped_column(sa.String(32))
    source: Mapped[str] = mapped_column(sa.String(16))
    carrier: Mapped[str] = mapped_column(sa.String(50))
    service_code: Mapped[str] = mapped_column(sa.String(50))
    service_name: Mapped[str] = mapped_column(sa.String(200))
    card_id: Mapped[str | None] = mapped_column(sa.String(100), nullable=True)
    card_version: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    currency: Mapped[str] = mapped_column(sa.String(3))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)  # code, description, cost_minor, sell_minor
    total_cost_minor: Mapped[int] = mapped_column(sa.BigInteger)
    total_sell_minor: Mapped[int] = mapped_column(sa.BigInteger)
    estimated_delivery: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ShipmentRateResult(Base):
    """The rate shop answer given when a shipment was created, so reading the shipment shows it again."""

    __tablename__ = "shipment_rate_results"

    shipment_id: Mapped[str] = mapped_column(
        sa.ForeignKey("shipments.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    result: Mapped[dict[str, Any]] = mapped_column(JSONType)  # as dumped by RateShopSchema
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
