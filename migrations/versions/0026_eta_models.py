"""delivery-time model versions (issue 21, item 2)

``eta_models``: each trained model (a tenant's own, or pooled when ``tenant_id`` is NULL) with its
training window, its holdout accuracy and its samples per segment.

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import gateway.kernel.types

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "eta_models",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("trained_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("window_from", sa.Date(), nullable=False),
        sa.Column("window_to", sa.Date(), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("holdout", sa.Integer(), nullable=False),
        sa.Column("holdout_mae_days", sa.Numeric(8, 3), nullable=True),
        sa.Column("holdout_p80_coverage", sa.Numeric(6, 4), nullable=True),
        sa.Column("document", _JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_eta_models_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eta_models")),
    )
    op.create_index("ix_eta_models_tenant_trained", "eta_models", ["tenant_id", "trained_at"])


def downgrade() -> None:
    op.drop_index("ix_eta_models_tenant_trained", "eta_models")
    op.drop_table("eta_models")
