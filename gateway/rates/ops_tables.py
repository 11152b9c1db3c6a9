"""Rating operations tables: each tenant's markup rules, and the audit trail of rate card changes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kernel.models import Base
from gateway.kernel.types import JSONType, UTCDateTime, utcnow

ANY = "*"  # rating.markup.ANY: the rule matches every carrier / every service

AUDIT_ACTIONS = ("card.uploaded", "card.activated", "card.retired", "card.ends", "markup.set")


class TenantMarkup(Base):
    """One markup rule: a percentage on every line and/or a fixed amount per shipment.

    ``carrier``/``service_code`` are ``*`` for "any" (never NULL, so the unique constraint
    holds on every backend): ``(*, *)`` is the tenant's default.
    """

    __tablename__ = "tenant_markups"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "carrier", "service_code", name="uq_tenant_markups_scope"),
        sa.CheckConstraint("percent >= 0", name="percent_not_negative"),
        sa.CheckConstraint("fixed_minor IS NULL OR fixed_minor >= 0", name="fixed_not_negative"),
        sa.CheckConstraint("(fixed_minor IS NULL) = (fixed_currency IS NULL)", name="fixed_has_currency"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    carrier: Mapped[str] = mapped_column(sa.String(50), default=ANY)
    service_code: Mapped[str] = mapped_column(sa.String(50), default=ANY)
    percent: Mapped[Decimal] = mapped_column(sa.Numeric(9, 4), default=Decimal(0))
    fixed_minor: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    fixed_currency: Mapped[str | None] = mapped_column(sa.String(3), nullable=True)
    created_by: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)  # api key id
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RatingAuditEntry(Base):
    """Who changed pricing, when, and what: card uploads, activations, retirements, markups."""

    __tablename__ = "rating_audit"
    __table_args__ = (
        sa.Index("ix_rating_audit_tenant_at", "tenant_id", "at"),
        sa.Index("ix_rating_audit_card_version", "card_version_id"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(sa.String(32))  # one of AUDIT_ACTIONS
    card_version_id: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)  # rcv_…
    actor_key_id: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
