"""Carrier exchanges: every raw request/response with a carrier, secrets redacted, kept for disputes.

Rows are written by ``gateway.exchanges.service`` from the adapters' recorder hook and deleted by the
retention job after ``EXCHANGE_RETENTION_DAYS``. Tenant and shipment are plain indexed columns, not
foreign keys: an exchange may be written before the shipment that caused it is committed, and a
record kept for a dispute must not vanish or block because of what happens to other rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kernel.models import Base
from gateway.kernel.types import JSONType, UTCDateTime, utcnow

_BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")


class CarrierExchange(Base):
    """One HTTP exchange (one attempt) with a carrier, as the adapter saw it, redacted."""

    __tablename__ = "carrier_exchanges"
    __table_args__ = (
        sa.Index("ix_carrier_exchanges_shipment_id", "shipment_id", "id"),
        sa.Index("ix_carrier_exchanges_tenant_occurred", "tenant_id", "occurred_at"),
        sa.Index("ix_carrier_exchanges_occurred_at", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    carrier: Mapped[str] = mapped_column(sa.String(50))
    account: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    operation: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    attempt: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    tenant_id: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    shipment_id: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    method: Mapped[str | None] = mapped_column(sa.String(10), nullable=True)
    url: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    http_status: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    # Redacted request/response: method, url, headers, body (JSON or text), status.
    request: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
