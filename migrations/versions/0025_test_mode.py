"""test mode (issue 18, item 2): a live tenant's test twin

``tenants.mode``: "live" or "test". ``tenants.live_tenant_id``: for a test tenant, the live tenant it
belongs to (one twin each). Test keys act as the twin, so every tenant-scoped row keeps test data
apart from live data.

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("mode", sa.String(length=8), server_default="live", nullable=False))
        batch.add_column(sa.Column("live_tenant_id", sa.String(length=32), nullable=True))
        batch.create_foreign_key(
            op.f("fk_tenants_live_tenant_id_tenants"), "tenants", ["live_tenant_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_unique_constraint(op.f("uq_tenants_live_tenant_id"), ["live_tenant_id"])


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_constraint(op.f("uq_tenants_live_tenant_id"), type_="unique")
        batch.drop_constraint(op.f("fk_tenants_live_tenant_id_tenants"), type_="foreignkey")
        batch.drop_column("live_tenant_id")
        batch.drop_column("mode")
