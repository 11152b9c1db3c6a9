"""route drivers: who drives a van's route of an applied allocation plan (issue 20 item 6)

``allocation_route_drivers``: one row per (tenant, plan, van) with the driver app's driver id and a
name, who assigned it and when. Assigning and unassigning are recorded in ``allocation_audit_log``.

Revision ID: 0029
Revises: 0028
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.kernel.types

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "allocation_route_drivers",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("plan_id", sa.String(length=32), nullable=False),
        sa.Column("vehicle_id", sa.String(length=32), nullable=False),
        sa.Column("driver_id", sa.String(length=64), nullable=False),
        sa.Column("driver_name", sa.String(length=200), nullable=False),
        sa.Column("assigned_by", sa.String(length=32), nullable=True),
        sa.Column("assigned_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_allocation_route_drivers_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["allocation_plans.id"],
            name=op.f("fk_allocation_route_drivers_plan_id_allocation_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_route_drivers")),
        sa.UniqueConstraint("tenant_id", "plan_id", "vehicle_id", name="uq_allocation_route_drivers_route"),
    )


def downgrade() -> None:
    op.drop_table("allocation_route_drivers")
