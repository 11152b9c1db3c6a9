"""Manifest tables: one row per closed day (or per van dispatched), and the shipments it lists.

``manifests`` is written ``pending`` with its shipments *before* the carrier is called, so a failed
or lost call loses nothing; ``closed`` once the carrier answered (or at once where the carrier has no
close call: the gateway's own manifest stands for it), ``failed`` when the carrier refused or was not
reached (a new POST for the same carrier, account and day retries it).

``manifest_shipments`` is the membership, one row per shipment, unique per shipment: a shipment is on
one manifest only, so a second close of the same day finds only what is new. Each row keeps what the
document printed (tracking number, reference, destination, weight, service, cost), so the document
can be rendered again exactly as it was.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kernel.models import Base
from gateway.kernel.types import JSONType, UTCDateTime, new_id, utcnow

STATES = ("pending", "closed", "failed")
# carrier: the carrier's own close (FedEx Ground close, USPS SCAN form) with the gateway's document;
# gateway: the carrier has no close call (UPS, DHL Express), the gateway's document is the manifest;
# dispatch: the own fleet, one per van of an applied allocation plan.
KINDS = ("carrier", "gateway", "dispatch")


class Manifest(Base):
    """A closed day for one carrier account, or one van's dispatch list."""

    __tablename__ = "manifests"
    __table_args__ = (
        sa.Index("ix_manifests_tenant_id_created_at_id", "tenant_id", "created_at", "id"),
        sa.Index("ix_manifests_tenant_scope", "tenant_id", "carrier", "account", "manifest_date"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("mfs"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    carrier: Mapped[str] = mapped_column(sa.String(32))  # the adapter's name, or "fleet"
    account: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)  # the enabled adapter's id
    kind: Mapped[str] = mapped_column(sa.String(16))
    state: Mapped[str] = mapped_column(sa.String(16), default="pending")
    manifest_date: Mapped[date] = mapped_column(sa.Date)
    time_zone: Mapped[str] = mapped_column(sa.String(64))
    # The own fleet: the applied plan and the van.
    plan_id: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    vehicle_id: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    vehicle_name: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    shipment_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    # {"weight": [{"value", "unit"}], "cost": [{"amount_minor", "currency"}]}: one entry per unit/currency.
    totals: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # The carrier's answer: its manifest number (USPS EFN), its alerts, its own document.
    carrier_reference: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    carrier_alerts: Mapped[list[str]] = mapped_column(JSONType, default=list)
    carrier_code: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    carrier_message: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    carrier_document_type: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    carrier_document_key: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)
    carrier_document_checksum: Mapped[str | None] = mapped_column(sa.String(71), nullable=True)
    # The gateway's own document (PDF), rendered once the day is closed.
    document_key: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)
    document_checksum: Mapped[str | None] = mapped_column(sa.String(71), nullable=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ManifestShipment(Base):
    """One shipment on a manifest, as its document lists it."""

    __tablename__ = "manifest_shipments"
    __table_args__ = (sa.Index("ix_manifest_shipments_manifest_id_position", "manifest_id", "position"),)

    shipment_id: Mapped[str] = mapped_column(
        sa.ForeignKey("shipments.id", ondelete="CASCADE"), primary_key=True
    )
    manifest_id: Mapped[str] = mapped_column(sa.ForeignKey("manifests.id", ondelete="CASCADE"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(sa.Integer)  # document order; the stop number for a van
    tracking_number: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    reference: Mapped[str] = mapped_column(sa.String(100))
    service: Mapped[str | None] = mapped_column(sa.String(50), nullable=True)
    city: Mapped[str] = mapped_column(sa.String(100))
    postal_code: Mapped[str] = mapped_column(sa.String(20))
    country_code: Mapped[str] = mapped_column(sa.String(2))
    weight: Mapped[Decimal | None] = mapped_column(sa.Numeric(12, 4), nullable=True)
    weight_unit: Mapped[str | None] = mapped_column(sa.String(8), nullable=True)
    cost_minor: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    currency: Mapped[str | None] = mapped_column(sa.String(3), nullable=True)
    # The own fleet's stop: street lines, time window, ETA (local "HH:MM" strings).
    stop: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
