"""rating ops: tenant markups, rate card audit (issue 5)

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import gateway.kernel.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_markups",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("carrier", sa.String(length=50), nullable=False),
        sa.Column("service_code", sa.String(length=50), nullable=False),
        sa.Column("percent", sa.Numeric(precision=9, scale=4), nullable=False),
        sa.Column("fixed_minor", sa.BigInteger(), nullable=True),
        sa.Column("fixed_currency", sa.String(length=3), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(fixed_minor IS NULL) = (fixed_currency IS NULL)",
            name=op.f("ck_tenant_markups_fixed_has_currency"),
        ),
        sa.CheckConstraint(
            "fixed_minor IS NULL OR fixed_minor >= 0", name=op.f("ck_tenant_markups_fixed_not_negative")
        ),
        sa.CheckConstraint("percent >= 0", name=op.f("ck_tenant_markups_percent_not_negative")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_markups_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_markups")),
        sa.UniqueConstraint("tenant_id", "carrier", "service_code", name="uq_tenant_markups_scope"),
    )

    op.create_table(
        "rating_audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("card_version_id", sa.String(length=32), nullable=True),
        sa.Column("actor_key_id", sa.String(length=32), nullable=True),
        sa.Column("at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_rating_audit_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rating_audit")),
    )
    with op.batch_alter_table("rating_audit", schema=None) as batch_op:
        batch_op.create_index("ix_rating_audit_card_version", ["card_version_id"], unique=False)
        batch_op.create_index("ix_rating_audit_tenant_at", ["tenant_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rating_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_rating_audit_tenant_at")
        batch_op.drop_index("ix_rating_audit_card_version")

    op.drop_table("rating_audit")
    op.drop_table("tenant_markups")
