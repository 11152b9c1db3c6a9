"""The customs documents table: commercial invoices kept with the label documents.

One row per (shipment, kind, source): ``source`` is ``gateway`` for the invoice the gateway renders from
the declaration, ``carrier`` for the paperless-trade copy a carrier returned with the label (DHL Express
``Documents``, FedEx ``shipmentDocuments``). The bytes live in the label storage under ``storage_key``,
verified against ``checksum`` on every read. The declaration itself is ``shipments.customs``.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kernel.models import Base
from gateway.kernel.types import UTCDateTime, new_id, utcnow

SOURCES = ("gateway", "carrier")


class CustomsDocument(Base):
    """A stored customs document of a shipment (its commercial invoice)."""

    __tablename__ = "customs_documents"
    __table_args__ = (
        sa.CheckConstraint("source IN ('gateway', 'carrier')", name="source"),
        sa.UniqueConstraint("shipment_id", "kind", "source"),
        sa.Index("ix_customs_documents_tenant_shipment", "tenant_id", "shipment_id"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("cdoc"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    shipment_id: Mapped[str] = mapped_column(sa.ForeignKey("shipments.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(32))  # commercial_invoice
    source: Mapped[str] = mapped_column(sa.String(16))
    format: Mapped[str] = mapped_column(sa.String(8))  # PDF
    storage_key: Mapped[str] = mapped_column(sa.String(255))
    checksum: Mapped[str] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
