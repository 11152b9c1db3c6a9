"""address validation cache (issue 19, item 5)

``address_validations``: a carrier's answer about an address (normalised form, residential or
commercial, candidates, messages), one per tenant, carrier account and normalised-address hash,
reused until ``expires_at`` (``ADDRESS_CACHE_TTL_SECONDS``).

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import gateway.kernel.types

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "address_validations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("carrier", sa.String(length=64), nullable=False),
        sa.Column("classification", sa.String(length=16), nullable=False),
        sa.Column(
            "result",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_address_validations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_address_validations")),
        sa.UniqueConstraint("tenant_id", "address_hash", "carrier", name="uq_address_validations_key"),
    )
    op.create_index(
        op.f("ix_address_validations_tenant_id"), "address_validations", ["tenant_id"], unique=False
    )
    op.create_index(
        op.f("ix_address_validations_expires_at"), "address_validations", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_address_validations_expires_at"), table_name="address_validations")
    op.drop_index(op.f("ix_address_validations_tenant_id"), table_name="address_validations")
    op.drop_table("address_validations")
