"""rating: rate card versions, rate quotes, shipment quote snapshots

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-20 22:35:06.013091+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import gateway.kernel.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_card_versions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("card_id", sa.String(length=100), nullable=False),
        sa.Column("carrier", sa.String(length=50), nullable=False),
        sa.Column("service_code", sa.String(length=50), nullable=False),
        sa.Column("service_name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "document",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("uploaded_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("activated_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("retired_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'active', 'retired')", name=op.f("ck_rate_card_versions_status")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_rate_card_versions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_card_versions")),
        sa.UniqueConstraint(
            "tenant_id", "carrier", "service_code", "version", name="uq_rate_card_versions_service_version"
        ),
    )
    with op.batch_alter_table("rate_card_versions", schema=None) as batch_op:
        batch_op.create_index("ix_rate_card_versions_tenant_status", ["tenant_id", "status"], unique=False)

    op.create_table(
        "rate_quotes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("shipment_id", sa.String(length=32), nullable=True),
        sa.Column("spec_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("carrier", sa.String(length=50), nullable=False),
        sa.Column("service_code", sa.String(length=50), nullable=False),
        sa.Column("service_name", sa.String(length=200), nullable=False),
        sa.Column("card_id", sa.String(length=100), nullable=True),
        sa.Column("card_version", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_cost_minor", sa.BigInteger(), nullable=False),
        sa.Column("total_sell_minor", sa.BigInteger(), nullable=False),
        sa.Column("estimated_delivery", sa.Date(), nullable=True),
        sa.Column(
            "snapshot",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_rate_quotes_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_rate_quotes_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_quotes")),
    )
    with op.batch_alter_table("rate_quotes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rate_quotes_shipment_id"), ["shipment_id"], unique=False)
        batch_op.create_index("ix_rate_quotes_tenant_created", ["tenant_id", "created_at"], unique=False)

    op.create_table(
        "shipment_quote_snapshots",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("shipment_id", sa.String(length=32), nullable=False),
        sa.Column("rate_id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("carrier", sa.String(length=50), nullable=False),
        sa.Column("service_code", sa.String(length=50), nullable=False),
        sa.Column("service_name", sa.String(length=200), nullable=False),
        sa.Column("card_id", sa.String(length=100), nullable=True),
        sa.Column("card_version", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "lines",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("total_cost_minor", sa.BigInteger(), nullable=False),
        sa.Column("total_sell_minor", sa.BigInteger(), nullable=False),
        sa.Column("estimated_delivery", sa.Date(), nullable=True),
        sa.Column("created_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_shipment_quote_snapshots_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_shipment_quote_snapshots_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment_quote_snapshots")),
        sa.UniqueConstraint("shipment_id", name=op.f("uq_shipment_quote_snapshots_shipment_id")),
    )
    with op.batch_alter_table("shipment_quote_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shipment_quote_snapshots_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "shipment_rate_results",
        sa.Column("shipment_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column(
            "result",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_shipment_rate_results_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_shipment_rate_results_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shipment_id", name=op.f("pk_shipment_rate_results")),
    )
    with op.batch_alter_table("shipment_rate_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shipment_rate_results_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("shipment_rate_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shipment_rate_results_tenant_id"))

    op.drop_table("shipment_rate_results")
    with op.batch_alter_table("shipment_quote_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shipment_quote_snapshots_tenant_id"))

    op.drop_table("shipment_quote_snapshots")
    with op.batch_alter_table("rate_quotes", schema=None) as batch_op:
        batch_op.drop_index("ix_rate_quotes_tenant_created")
        batch_op.drop_index(batch_op.f("ix_rate_quotes_shipment_id"))

    op.drop_table("rate_quotes")
    with op.batch_alter_table("rate_card_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_rate_card_versions_tenant_status")

    op.drop_table("rate_card_versions")
