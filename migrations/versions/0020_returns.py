"""returns (issue 19, item 2)

A return is a shipment of its own (``POST /v1/shipments/{id}/return``), linked to the shipment it
brings back: ``return_of_id`` (cleared should the original ever be deleted), ``is_return`` (kept even
then, for the KPIs and reconciliation) and ``return_qr`` (its label is asked with a QR code). The QR
code a carrier gives with the label is kept in the label storage, listed in ``return_documents``.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.kernel.types

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shipments") as batch:
        batch.add_column(sa.Column("is_return", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("return_of_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("return_qr", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.create_foreign_key(
            "fk_shipments_return_of_id_shipments", "shipments", ["return_of_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index("ix_shipments_return_of_id", ["return_of_id"], unique=False)
    op.create_table(
        "return_documents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("shipment_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("storage_key", sa.String(length=300), nullable=False),
        sa.Column("checksum", sa.String(length=71), nullable=False),
        sa.Column("created_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_return_documents_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_return_documents_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_documents")),
        sa.UniqueConstraint("shipment_id", "kind", name="uq_return_documents_shipment_kind"),
    )
    op.create_index(op.f("ix_return_documents_tenant_id"), "return_documents", ["tenant_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_return_documents_tenant_id"), table_name="return_documents")
    op.drop_table("return_documents")
    with op.batch_alter_table("shipments") as batch:
        batch.drop_index("ix_shipments_return_of_id")
        batch.drop_constraint("fk_shipments_return_of_id_shipments", type_="foreignkey")
        batch.drop_column("return_qr")
        batch.drop_column("return_of_id")
        batch.drop_column("is_return")
