"""The address validation cache: one carrier answer per tenant, normalised address and carrier."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kernel.models import Base
from gateway.kernel.types import JSONType, UTCDateTime, new_id, utcnow


class AddressValidation(Base):
    """A carrier's answer about an address, reused until ``expires_at`` (``ADDRESS_CACHE_TTL_SECONDS``).

    ``address_hash`` is the SHA-256 of the normalised address (upper case, single spaces, no
    names or contact details), so the same place typed twice is asked once. ``result`` holds the
    rendered answer (normalised address, classification, candidates, messages).
    """

    __tablename__ = "address_validations"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "address_hash", "carrier", name="uq_address_validations_key"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("adv"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    address_hash: Mapped[str] = mapped_column(sa.String(64))
    carrier: Mapped[str] = mapped_column(sa.String(64))
    classification: Mapped[str] = mapped_column(sa.String(16))
    result: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
