"""SQLAlchemy 2.0 models. Money is integer minor units + ISO 4217 code; times are UTC-aware."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from gateway.kernel.types import JSONType, UTCDateTime, new_id, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)

    if TYPE_CHECKING:
        # Every model maps one Table; SQLAlchemy types ``__table__`` as any FromClause.
        __table__: ClassVar[sa.Table]


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("ten"))
    name: Mapped[str] = mapped_column(sa.String(200))
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # "live", or "test": the test twin of the live tenant ``live_tenant_id``, where test keys keep every
    # shipment, account, webhook and invoice apart from live data (docs/TEST_MODE.md).
    mode: Mapped[str] = mapped_column(sa.String(8), default="live", server_default="live")
    live_tenant_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=True, unique=True
    )

    @property
    def is_test(self) -> bool:
        return self.mode == "test"


class ApiKey(Base):
    """An API key. Only a hash of the secret is stored; the key itself is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("key"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    # The public, non-secret part of the key, used to find the row before comparing hashes.
    lookup: Mapped[str] = mapped_column(sa.String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(64))
    roles: Mapped[str] = mapped_column(sa.String(200))  # comma-separated, validated on write
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    tenant: Mapped[Tenant] = relationship()

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(r for r in self.roles.split(",") if r)


class IdempotencyRecord(Base):
    """The outcome of a POST made with an Idempotency-Key, replayed on retries."""

    __tablename__ = "idempotency_records"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "key", name="uq_idempotency_tenant_key"),)

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(255))
    method: Mapped[str] = mapped_column(sa.String(10))
    path: Mapped[str] = mapped_column(sa.String(500))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    state: Mapped[str] = mapped_column(sa.String(16))  # in_progress | completed
    response_status: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    response_body: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    response_headers: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class Address(Base):
    __tablename__ = "addresses"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("adr"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    company: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    street1: Mapped[str] = mapped_column(sa.String(200))
    street2: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    street3: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    city: Mapped[str] = mapped_column(sa.String(100))
    state: Mapped[str | None] = mapped_column(sa.String(100), nullable=True)
    postal_code: Mapped[str] = mapped_column(sa.String(20))
    country_code: Mapped[str] = mapped_column(sa.String(2))
    phone: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    email: Mapped[str | None] = mapped_column(sa.String(254), nullable=True)
    residential: Mapped[bool | None] = mapped_column(sa.Boolean, nullable=True)
    latitude: Mapped[Decimal | None] = mapped_column(sa.Numeric(9, 6), nullable=True)
    longitude: Mapped[Decimal | None] = mapped_column(sa.Numeric(9, 6), nullable=True)


class Shipment(Base):
    __tablename__ = "shipments"
    __table_args__ = (sa.Index("ix_shipments_tenant_created", "tenant_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("shp"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    reference: Mapped[str] = mapped_column(sa.String(100), index=True)
    status: Mapped[str] = mapped_column(sa.String(32), default="draft", index=True)
    service_level: Mapped[str | None] = mapped_column(sa.String(50), nullable=True)
    carrier: Mapped[str | None] = mapped_column(sa.String(50), nullable=True)
    service: Mapped[str | None] = mapped_column(sa.String(50), nullable=True)
    tracking_number: Mapped[str | None] = mapped_column(sa.String(64), nullable=True, index=True)
    promise_date: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    origin_id: Mapped[str] = mapped_column(sa.ForeignKey("addresses.id"))
    destination_id: Mapped[str] = mapped_column(sa.ForeignKey("addresses.id"))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    # Counts the caller's own changes (create 1, each edit and the cancel +1): the ETag, If-Match.
    version: Mapped[int] = mapped_column(sa.Integer, default=1, server_default=sa.text("1"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # A return (``POST /v1/shipments/{id}/return``, gateway.returns): the shipment it brings back.
    # ``is_return`` stays true should the original ever be deleted (the link is then cleared).
    is_return: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    return_of_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("shipments.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # A return whose label comes with a QR code to print it at a counter (USPS Label Broker).
    return_qr: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())

    # The customs declaration (gateway.customs.declaration's stored form: money in minor units), or None.
    customs: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    # The tenant's own carrier account (gateway.accounts) the selected rate was quoted on, or None
    # (the operator's accounts or a rate card): its label is bought and voided on that account.
    carrier_account_id: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)

    origin: Mapped[Address] = relationship(foreign_keys=[origin_id], lazy="joined")
    destination: Mapped[Address] = relationship(foreign_keys=[destination_id], lazy="joined")
    parcels: Mapped[list[Parcel]] = relationship(
        back_populates="shipment", order_by="Parcel.position", lazy="selectin", cascade="all, delete-orphan"
    )


class Parcel(Base):
    """A parcel as the caller described it: values with their units, kept as given."""

    __tablename__ = "parcels"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("pcl"))
    shipment_id: Mapped[str] = mapped_column(sa.ForeignKey("shipments.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    weight: Mapped[Decimal] = mapped_column(sa.Numeric(12, 4))
    weight_unit: Mapped[str] = mapped_column(sa.String(4))
    length: Mapped[Decimal] = mapped_column(sa.Numeric(12, 3))
    width: Mapped[Decimal] = mapped_column(sa.Numeric(12, 3))
    height: Mapped[Decimal] = mapped_column(sa.Numeric(12, 3))
    dimension_unit: Mapped[str] = mapped_column(sa.String(4))
    declared_value_minor: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    declared_value_currency: Mapped[str | None] = mapped_column(sa.String(3), nullable=True)

    shipment: Mapped[Shipment] = relationship(back_populates="parcels")
