"""Reconciliation tables: carrier invoices, their canonical lines, discrepancies, saved column mappings.

``invoice_lines`` has an integer id so reconciliation can walk an invoice in id ranges; it
carries ``tenant_id`` and ``carrier`` so duplicate and credit checks across invoices use one
index. ``reconciliation_card_terms`` / ``reconciliation_card_codes`` hold, per invoice run, the
few facts of the rate card versions involved (fuel percentage, guaranteed commit deadline, which
quote code prices which charge class) so the checks stay joins in SQL.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kernel.models import Base
from gateway.kernel.types import JSONType, UTCDateTime, new_id, utcnow

_BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")

INVOICE_STATUSES = ("queued", "reconciling", "reconciled", "failed")
RESOLUTIONS = ("accepted", "disputed", "credited")


class Invoice(Base):
    """One uploaded carrier invoice; a re-upload of the same content or number is refused."""

    __tablename__ = "invoices"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "content_hash", name="uq_invoices_tenant_content_hash"),
        sa.UniqueConstraint(
            "tenant_id", "carrier", "invoice_number", name="uq_invoices_tenant_carrier_number"
        ),
        sa.Index("ix_invoices_tenant_created", "tenant_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("inv"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    carrier: Mapped[str] = mapped_column(sa.String(50))
    format: Mapped[str] = mapped_column(sa.String(16))  # a parsers.FORMATS name
    invoice_number: Mapped[str] = mapped_column(sa.String(64))
    invoice_date: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    account_number: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    currency: Mapped[str] = mapped_column(sa.String(3))
    content_hash: Mapped[str] = mapped_column(sa.String(64))  # sha256 of the uploaded bytes
    filename: Mapped[str] = mapped_column(sa.String(255), default="")
    row_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    line_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    billed_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    status: Mapped[str] = mapped_column(sa.String(16), default="queued")
    # Progress and resume point of the reconciliation run: step, cursor, lines done, started_at.
    progress: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    run_owner: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    run_heartbeat: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    outbox_id: Mapped[int | None] = mapped_column(_BIGINT, nullable=True)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    uploaded_by: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reconciled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class InvoiceLine(Base):
    """One charge of an invoice in canonical form, with what reconciliation found and finance decided."""

    __tablename__ = "invoice_lines"
    __table_args__ = (
        sa.Index("ix_invoice_lines_invoice_tracking", "invoice_id", "tracking_number"),
        sa.Index("ix_invoice_lines_tenant_tracking", "tenant_id", "tracking_number"),
        sa.Index("ix_invoice_lines_resolution", "resolution", "tenant_id", "carrier"),
    )

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    invoice_id: Mapped[str] = mapped_column(sa.ForeignKey("invoices.id", ondelete="CASCADE"))
    tenant_id: Mapped[str] = mapped_column(sa.String(32))
    carrier: Mapped[str] = mapped_column(sa.String(50))
    row_number: Mapped[int] = mapped_column(sa.Integer)
    tracking_number: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    charge_code: Mapped[str] = mapped_column(sa.String(32))
    charge_class: Mapped[str] = mapped_column(sa.String(32))
    description: Mapped[str] = mapped_column(sa.String(200), default="")
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    billed_weight: Mapped[Decimal | None] = mapped_column(sa.Numeric(12, 3), nullable=True)
    weight_unit: Mapped[str | None] = mapped_column(sa.String(3), nullable=True)
    weight_type: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    length: Mapped[Decimal | None] = mapped_column(sa.Numeric(10, 2), nullable=True)
    width: Mapped[Decimal | None] = mapped_column(sa.Numeric(10, 2), nullable=True)
    height: Mapped[Decimal | None] = mapped_column(sa.Numeric(10, 2), nullable=True)
    dimension_unit: Mapped[str | None] = mapped_column(sa.String(3), nullable=True)
    zone: Mapped[str | None] = mapped_column(sa.String(8), nullable=True)
    service: Mapped[str | None] = mapped_column(sa.String(100), nullable=True)
    ship_date: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    # Filled by reconciliation.
    # Found as the line is stored (by tracking number); lines still unknown are matched again per run.
    shipment_id: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    # The largest finding's recoverable amount, set for flagged lines only (others stay 0).
    recoverable_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # Decided by finance.
    resolution: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    resolution_note: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    credited_by_line_id: Mapped[int | None] = mapped_column(_BIGINT, nullable=True)


class Discrepancy(Base):
    """One finding on one invoice line: its class, the money at stake and the evidence."""

    __tablename__ = "invoice_discrepancies"
    __table_args__ = (
        sa.Index("ix_invoice_discrepancies_invoice_kind", "invoice_id", "kind"),
        sa.Index("ix_invoice_discrepancies_line", "line_id"),
    )

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    invoice_id: Mapped[str] = mapped_column(sa.ForeignKey("invoices.id", ondelete="CASCADE"))
    line_id: Mapped[int] = mapped_column(_BIGINT)
    tenant_id: Mapped[str] = mapped_column(sa.String(32))
    carrier: Mapped[str] = mapped_column(sa.String(50))
    kind: Mapped[str] = mapped_column(sa.String(32))
    shipment_id: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    billed_minor: Mapped[int] = mapped_column(sa.BigInteger)
    expected_minor: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    recoverable_minor: Mapped[int] = mapped_column(sa.BigInteger)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType)


class InvoiceColumnMapping(Base):
    """How to read a tenant's generic CSV invoices of one carrier (see gateway.reconciliation.parsers.generic)."""

    __tablename__ = "invoice_column_mappings"

    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    carrier: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_by: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class CardTerm(Base):
    """Facts of one rate card version for one estimated delivery day, as one invoice run used them."""

    __tablename__ = "reconciliation_card_terms"
    __table_args__ = (
        sa.Index("ix_reconciliation_card_terms_lookup", "invoice_id", "card_id", "card_version"),
    )

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    invoice_id: Mapped[str] = mapped_column(sa.ForeignKey("invoices.id", ondelete="CASCADE"))
    card_id: Mapped[str] = mapped_column(sa.String(100))
    card_version: Mapped[int] = mapped_column(sa.Integer)
    estimated_delivery: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    guaranteed: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # End of the estimated delivery day in the card's time zone: the guaranteed commit time.
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    fuel_percent: Mapped[Decimal | None] = mapped_column(sa.Numeric(8, 4), nullable=True)


class CardCode(Base):
    """Which quote line code of a card version prices a charge class, and whether fuel applies to it."""

    __tablename__ = "reconciliation_card_codes"
    __table_args__ = (
        sa.Index(
            "ix_reconciliation_card_codes_lookup", "invoice_id", "card_id", "card_version", "charge_class"
        ),
    )

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    invoice_id: Mapped[str] = mapped_column(sa.ForeignKey("invoices.id", ondelete="CASCADE"))
    card_id: Mapped[str] = mapped_column(sa.String(100))
    card_version: Mapped[int] = mapped_column(sa.Integer)
    charge_class: Mapped[str] = mapped_column(sa.String(32))
    code: Mapped[str] = mapped_column(sa.String(32))
    fuel_base: Mapped[bool] = mapped_column(sa.Boolean, default=False)
