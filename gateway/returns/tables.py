"""The return documents table: what a carrier gives with a return label besides the label (its QR code).

The document itself is in the label storage (``gateway.labels.storage``, with its checksum); a row says
which shipment it belongs to and what it is. One row per shipment and kind.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kernel.models import Base
from gateway.kernel.types import UTCDateTime, new_id, utcnow

QR_CODE = "qr_code"


class ReturnDocument(Base):
    """A return label's extra document (``qr_code``: the carrier's QR code, a PNG)."""

    __tablename__ = "return_documents"
    __table_args__ = (sa.UniqueConstraint("shipment_id", "kind", name="uq_return_documents_shipment_kind"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("rdc"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    shipment_id: Mapped[str] = mapped_column(sa.ForeignKey("shipments.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(32))
    format: Mapped[str] = mapped_column(sa.String(8))
    storage_key: Mapped[str] = mapped_column(sa.String(300))
    checksum: Mapped[str] = mapped_column(sa.String(71))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
