"""Tracking tables: callback inbox, canonical events, parked events, mapping overrides, derived status."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kernel.models import Base
from gateway.kernel.types import JSONType, UTCDateTime, new_id, utcnow

_BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")


class CallbackInbox(Base):
    """A carrier push exactly as received, stored before we answer 2xx so nothing is lost."""

    __tablename__ = "tracking_callback_inbox"
    __table_args__ = (sa.Index("ix_tracking_callback_inbox_state_id", "state", "id"),)

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    carrier: Mapped[str] = mapped_column(sa.String(50))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Only non-secret headers (content type, user agent, timestamp); credentials are never kept.
    headers: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    body: Mapped[bytes] = mapped_column(sa.LargeBinary)
    state: Mapped[str] = mapped_column(sa.String(16), default="pending")  # pending | done | failed
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TrackingEvent(Base):
    """One canonical event attached to a shipment; raw carrier code kept beside its meaning."""

    __tablename__ = "tracking_events"
    __table_args__ = (
        sa.UniqueConstraint("shipment_id", "dedup_key", name="uq_tracking_events_shipment_dedup"),
        sa.Index("ix_tracking_events_tenant_unmapped", "tenant_id", "unmapped", "carrier"),
        sa.Index("ix_tracking_events_tenant_code", "tenant_id", "carrier", "raw_code"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("tev"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    shipment_id: Mapped[str] = mapped_column(sa.ForeignKey("shipments.id", ondelete="CASCADE"), index=True)
    carrier: Mapped[str] = mapped_column(sa.String(50))
    tracking_number: Mapped[str] = mapped_column(sa.String(64), index=True)
    milestone: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    detail: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    mapping: Mapped[str] = mapped_column(sa.String(16))  # mapped | informational | unmapped
    unmapped: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    raw_code: Mapped[str] = mapped_column(sa.String(64))
    raw_subcode: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    raw_message: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    location: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    estimated_delivery: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    source: Mapped[str] = mapped_column(sa.String(16))
    dedup_key: Mapped[str] = mapped_column(sa.String(64))
    # The full canonical event (schemas.events.CanonicalEvent.to_dict), the source of truth on re-derive.
    event: Mapped[dict[str, Any]] = mapped_column(JSONType)
    inbox_id: Mapped[int | None] = mapped_column(_BIGINT, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ParkedEvent(Base):
    """An event for a tracking number no shipment has yet; attached when the label appears."""

    __tablename__ = "tracking_parked_events"

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    carrier: Mapped[str] = mapped_column(sa.String(50))
    tracking_number: Mapped[str] = mapped_column(sa.String(64), index=True)
    dedup_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    event: Mapped[dict[str, Any]] = mapped_column(JSONType)
    inbox_id: Mapped[int | None] = mapped_column(_BIGINT, nullable=True)
    parked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    attached_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class MappingOverride(Base):
    """One version of an ops mapping row; older versions stay, superseded, as the audit trail."""

    __tablename__ = "tracking_mapping_overrides"
    __table_args__ = (
        sa.UniqueConstraint(
            "tenant_id", "carrier", "code", "subcode", "version", name="uq_tracking_mapping_overrides_version"
        ),
    )

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    carrier: Mapped[str] = mapped_column(sa.String(50))
    code: Mapped[str] = mapped_column(sa.String(64))
    subcode: Mapped[str] = mapped_column(sa.String(64), default="")  # "" = the code reported alone
    version: Mapped[int] = mapped_column(sa.Integer)
    milestone: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    detail: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    informational: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    previous: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)  # what it replaced
    created_by: Mapped[str] = mapped_column(sa.String(32))  # the API key id
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ShipmentTracking(Base):
    """A shipment's derived tracking status, re-computed from its events, never edited by hand."""

    __tablename__ = "shipment_tracking"
    __table_args__ = (
        sa.Index("ix_shipment_tracking_tenant_milestone", "tenant_id", "milestone"),
        sa.Index("ix_shipment_tracking_reassess", "reassess_due", "predicted_at"),
    )

    shipment_id: Mapped[str] = mapped_column(
        sa.ForeignKey("shipments.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    carrier: Mapped[str | None] = mapped_column(sa.String(50), nullable=True)
    tracking_number: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    milestone: Mapped[str] = mapped_column(sa.String(32), default="pending")
    detail: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    action_required: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    action_party: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    estimated_delivery: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    event_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    unmapped_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    pod_flags: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    # Set when another shipment holds the same carrier tracking number (a reissued number): who gets
    # its events and what ops should do. ``number_conflict_at`` is the queryable half (JSON null is not
    # SQL NULL on every backend).
    number_conflict: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    number_conflict_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # What the carrier warned about this number when last asked (e.g. UPS "Tracking Information Not
    # Found"), as "code: text"; None when its last answer had no warning.
    carrier_warnings: Mapped[list[str] | None] = mapped_column(JSONType, nullable=True)
    carrier_warnings_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Set whenever the status is derived again (a new event): the exceptions watch then predicts the
    # delivery again and opens or closes exceptions (gateway.exceptions.watch). The latest prediction
    # is copied here so that lists and the at-risk queue need no join.
    reassess_due: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())
    predicted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    predicted_p10: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    predicted_p50: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    predicted_p90: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    delivery_risk: Mapped[Decimal | None] = mapped_column(sa.Numeric(5, 4), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class PushSubscription(Base):
    """A carrier's standing push subscription for one account (USPS by MID), kept so it is made once.

    ``account_key`` is the operator's registry id (``CARRIERS``) or a tenant's carrier account id
    (``tenant_id`` set); ``subscription_id`` is the carrier's. ``status`` is the carrier's word at the
    last check ("enabled", "suspended", "disabled") or "failed" when we could not ask.
    """

    __tablename__ = "tracking_push_subscriptions"
    __table_args__ = (
        sa.UniqueConstraint("carrier", "account_key", name="uq_tracking_push_subscriptions_account"),
        sa.Index("ix_tracking_push_subscriptions_carrier_sub", "carrier", "subscription_id"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("tps"))
    carrier: Mapped[str] = mapped_column(sa.String(50))
    account_key: Mapped[str] = mapped_column(sa.String(100))
    tenant_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=True, index=True
    )
    subscription_id: Mapped[str | None] = mapped_column(sa.String(100), nullable=True)
    listener_url: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(16))
    status_reason: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    last_error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
