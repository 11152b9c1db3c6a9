"""tracking: callback inbox, canonical events, parked events, mapping overrides, derived status

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-20 22:40:00+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import gateway.kernel.types

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tracking_callback_inbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("carrier", sa.String(length=50), nullable=False),
        sa.Column("received_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "headers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("processed_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_callback_inbox")),
    )
    op.create_index(
        "ix_tracking_callback_inbox_state_id", "tracking_callback_inbox", ["state", "id"], unique=False
    )
    op.create_table(
        "tracking_parked_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("carrier", sa.String(length=50), nullable=False),
        sa.Column("tracking_number", sa.String(length=64), nullable=False),
        sa.Column("dedup_key", sa.String(length=64), nullable=False),
        sa.Column(
            "event",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("inbox_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("parked_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attached_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_parked_events")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_tracking_parked_events_dedup_key")),
    )
    op.create_index(
        op.f("ix_tracking_parked_events_tracking_number"),
        "tracking_parked_events",
        ["tracking_number"],
        unique=False,
    )
    op.create_table(
        "tracking_mapping_overrides",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("carrier", sa.String(length=50), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("subcode", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("milestone", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("informational", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column(
            "previous",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tracking_mapping_overrides_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_mapping_overrides")),
        sa.UniqueConstraint(
            "tenant_id", "carrier", "code", "subcode", "version", name="uq_tracking_mapping_overrides_version"
        ),
    )
    op.create_table(
        "shipment_tracking",
        sa.Column("shipment_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("carrier", sa.String(length=50), nullable=True),
        sa.Column("tracking_number", sa.String(length=64), nullable=True),
        sa.Column("milestone", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("action_required", sa.Boolean(), nullable=False),
        sa.Column("action_party", sa.String(length=32), nullable=True),
        sa.Column("status_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("estimated_delivery", sa.Date(), nullable=True),
        sa.Column("delivered_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("unmapped_count", sa.Integer(), nullable=False),
        sa.Column(
            "pod_flags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("last_polled_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_poll_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_shipment_tracking_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_shipment_tracking_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shipment_id", name=op.f("pk_shipment_tracking")),
    )
    op.create_index(
        "ix_shipment_tracking_tenant_milestone", "shipment_tracking", ["tenant_id", "milestone"], unique=False
    )
    op.create_table(
        "tracking_events",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("shipment_id", sa.String(length=32), nullable=False),
        sa.Column("carrier", sa.String(length=50), nullable=False),
        sa.Column("tracking_number", sa.String(length=64), nullable=False),
        sa.Column("milestone", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("mapping", sa.String(length=16), nullable=False),
        sa.Column("unmapped", sa.Boolean(), nullable=False),
        sa.Column("occurred_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("raw_code", sa.String(length=64), nullable=False),
        sa.Column("raw_subcode", sa.String(length=64), nullable=True),
        sa.Column("raw_message", sa.Text(), nullable=True),
        sa.Column(
            "location",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("estimated_delivery", sa.Date(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("dedup_key", sa.String(length=64), nullable=False),
        sa.Column(
            "event",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("inbox_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_tracking_events_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tracking_events_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_events")),
        sa.UniqueConstraint("shipment_id", "dedup_key", name="uq_tracking_events_shipment_dedup"),
    )
    op.create_index(op.f("ix_tracking_events_shipment_id"), "tracking_events", ["shipment_id"], unique=False)
    op.create_index(
        "ix_tracking_events_tenant_code",
        "tracking_events",
        ["tenant_id", "carrier", "raw_code"],
        unique=False,
    )
    op.create_index(
        "ix_tracking_events_tenant_unmapped",
        "tracking_events",
        ["tenant_id", "unmapped", "carrier"],
        unique=False,
    )
    op.create_index(
        op.f("ix_tracking_events_tracking_number"), "tracking_events", ["tracking_number"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_tracking_events_tracking_number"), table_name="tracking_events")
    op.drop_index("ix_tracking_events_tenant_unmapped", table_name="tracking_events")
    op.drop_index("ix_tracking_events_tenant_code", table_name="tracking_events")
    op.drop_index(op.f("ix_tracking_events_shipment_id"), table_name="tracking_events")
    op.drop_table("tracking_events")
    op.drop_index("ix_shipment_tracking_tenant_milestone", table_name="shipment_tracking")
    op.drop_table("shipment_tracking")
    op.drop_table("tracking_mapping_overrides")
    op.drop_index(op.f("ix_tracking_parked_events_tracking_number"), table_name="tracking_parked_events")
    op.drop_table("tracking_parked_events")
    op.drop_index("ix_tracking_callback_inbox_state_id", table_name="tracking_callback_inbox")
    op.drop_table("tracking_callback_inbox")
