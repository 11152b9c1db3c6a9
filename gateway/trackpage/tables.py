"""Tables of the public tracking page: one link per shipment, one branding row per tenant."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.kernel.models import Base, Shipment
from gateway.kernel.types import UTCDateTime, utcnow


class TrackingLink(Base):
    """A shipment's public tracking link.

    ``token`` is kept (the link is sent again in every shipment webhook and API read); a request is
    matched on ``token_sha256`` and the token is then compared in constant time, so the lookup never
    compares attacker input with a stored secret byte by byte.
    """

    __tablename__ = "tracking_links"

    shipment_id: Mapped[str] = mapped_column(
        sa.ForeignKey("shipments.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(sa.String(64))
    token_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The host the link was first issued under (the booking request's), used when no
    # PUBLIC_BASE_URL is set and no request is at hand (webhooks sent by the worker).
    base_url: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    # Many-to-one, so a link added in the shipment's own flush is inserted after it.
    shipment: Mapped[Shipment] = relationship()


class Branding(Base):
    """How a tenant's tracking pages look: the name shown, the brand colour and an optional logo."""

    __tablename__ = "tenant_branding"

    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    display_name: Mapped[str] = mapped_column(sa.String(100))
    colour: Mapped[str] = mapped_column(sa.String(7))  # #RRGGBB
    logo_url: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
