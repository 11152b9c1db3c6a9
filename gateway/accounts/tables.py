"""Carrier accounts of a tenant (credentials encrypted at rest) and the tenant's operator-account policy."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kernel.models import Base
from gateway.kernel.types import JSONType, UTCDateTime, new_id, utcnow


class CarrierAccount(Base):
    """One carrier connection of a tenant: non-secret options in clear, secrets as an encrypted envelope."""

    __tablename__ = "carrier_accounts"
    __table_args__ = (sa.Index("ix_carrier_accounts_tenant_carrier", "tenant_id", "carrier"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("cac"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    carrier: Mapped[str] = mapped_column(sa.String(32))  # the adapter's name (ups, fedex, ...)
    label: Mapped[str] = mapped_column(sa.String(100), default="")
    account_number: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    # The adapter configuration without its secret fields (those named in the schema's "secret" list).
    options: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # The secret fields as JSON, encrypted with a per-row data key (Fernet); the data key is wrapped
    # with the configured key-encryption keys (CREDENTIALS_KEYS) and key_id names the one that wrapped it.
    secrets_ciphertext: Mapped[str] = mapped_column(sa.Text)
    wrapped_key: Mapped[str] = mapped_column(sa.Text)
    key_id: Mapped[str] = mapped_column(sa.String(16))
    secret_fields: Mapped[list[str]] = mapped_column(JSONType, default=list)  # names only, for display
    is_default: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class CarrierAccountPolicy(Base):
    """Whether a tenant may use the operator's accounts (CARRIERS); no row: allowed."""

    __tablename__ = "carrier_account_policies"

    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    operator_accounts: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
