"""bulk booking (issue 18 item 6)

``bulk_uploads``: one upload of up to 10,000 shipments, its state and progress; ``bulk_rows``: each
row as uploaded and what booking it gave; ``bulk_keys``: each row key booked once per tenant.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import gateway.kernel.types

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, gateway.kernel.types.UTCDateTime(timezone=True), nullable=nullable)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"), ondelete="CASCADE"
    )


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "bulk_uploads",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        _ts("created_at", False),
        _ts("updated_at", False),
        _ts("started_at", True),
        _ts("completed_at", True),
        _tenant_fk("bulk_uploads"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_uploads")),
    )
    op.create_index(
        "ix_bulk_uploads_tenant_created", "bulk_uploads", ["tenant_id", "created_at"], unique=False
    )
    op.create_table(
        "bulk_rows",
        sa.Column("bulk_id", sa.String(length=32), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("row_key", sa.String(length=255), nullable=False),
        sa.Column("key_given", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("shipment_id", sa.String(length=32), nullable=True),
        sa.Column("replayed", sa.Boolean(), nullable=False),
        sa.Column("errors", _json(), nullable=True),
        sa.ForeignKeyConstraint(
            ["bulk_id"],
            ["bulk_uploads.id"],
            name=op.f("fk_bulk_rows_bulk_id_bulk_uploads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_bulk_rows_shipment_id_shipments"),
            ondelete="SET NULL",
        ),
        _tenant_fk("bulk_rows"),
        sa.PrimaryKeyConstraint("bulk_id", "row_number", name=op.f("pk_bulk_rows")),
    )
    op.create_index(
        "ix_bulk_rows_upload_state", "bulk_rows", ["bulk_id", "state", "row_number"], unique=False
    )
    op.create_table(
        "bulk_keys",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("row_key", sa.String(length=255), nullable=False),
        sa.Column("shipment_id", sa.String(length=32), nullable=False),
        sa.Column("bulk_id", sa.String(length=32), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        _ts("created_at", False),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_bulk_keys_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        _tenant_fk("bulk_keys"),
        sa.PrimaryKeyConstraint("tenant_id", "row_key", name=op.f("pk_bulk_keys")),
    )


def downgrade() -> None:
    op.drop_table("bulk_keys")
    op.drop_index("ix_bulk_rows_upload_state", table_name="bulk_rows")
    op.drop_table("bulk_rows")
    op.drop_index("ix_bulk_uploads_tenant_created", table_name="bulk_uploads")
    op.drop_table("bulk_uploads")
