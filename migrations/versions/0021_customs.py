"""customs declarations and commercial invoices (issue 19, item 1)

``shipments.customs``: the declaration (content type, incoterm, items with values in minor units,
the parties' tax ids) as JSON. ``customs_documents``: the commercial invoices kept with the label
documents, the gateway's own and the carrier's paperless-trade copy, one of each per shipment.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import gateway.kernel.types

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("shipments") as batch:
        batch.add_column(sa.Column("customs", _JSON, nullable=True))
    op.create_table(
        "customs_documents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("shipment_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("storage_key", sa.String(length=255), nullable=False),
        sa.Column("checksum", sa.String(length=80), nullable=False),
        sa.Column("created_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("source IN ('gateway', 'carrier')", name=op.f("ck_customs_documents_source")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_customs_documents_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_customs_documents_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customs_documents")),
        sa.UniqueConstraint("shipment_id", "kind", "source", name=op.f("uq_customs_documents_shipment_id")),
    )
    op.create_index("ix_customs_documents_tenant_shipment", "customs_documents", ["tenant_id", "shipment_id"])


def downgrade() -> None:
    op.drop_index("ix_customs_documents_tenant_shipment", table_name="customs_documents")
    op.drop_table("customs_documents")
    with op.batch_alter_table("shipments") as batch:
        batch.drop_column("customs")
