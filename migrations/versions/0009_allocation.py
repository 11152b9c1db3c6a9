"""allocation: rules versions, fleet config, plans, simulations (issue 6)

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import gateway.kernel.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "allocation_audit_log",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=32), nullable=True),
        sa.Column(
            "changes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_allocation_audit_log_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_audit_log")),
    )
    with op.batch_alter_table("allocation_audit_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_allocation_audit_log_entity", ["tenant_id", "entity_type", "entity_id"], unique=False
        )
        batch_op.create_index(
            "ix_allocation_audit_log_tenant_created", ["tenant_id", "created_at", "id"], unique=False
        )

    op.create_table(
        "allocation_depots",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("latitude", sa.Numeric(precision=9, scale=6), nullable=False),
        sa.Column("longitude", sa.Numeric(precision=9, scale=6), nullable=False),
        sa.Column("opens", sa.Integer(), nullable=False),
        sa.Column("closes", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("road_factor", sa.Numeric(precision=6, scale=3), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_allocation_depots_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_depots")),
    )
    with op.batch_alter_table("allocation_depots", schema=None) as batch_op:
        batch_op.create_index("ix_allocation_depots_tenant_active", ["tenant_id", "active"], unique=False)

    op.create_table(
        "allocation_rule_sets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deactivated_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_allocation_rule_sets_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_rule_sets")),
    )
    with op.batch_alter_table("allocation_rule_sets", schema=None) as batch_op:
        batch_op.create_index("ix_allocation_rule_sets_tenant_active", ["tenant_id", "active"], unique=False)

    op.create_table(
        "allocation_plans",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("depot_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column(
            "request",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "problem",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "result",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("solve_started_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("applied_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("applied_by", sa.String(length=32), nullable=True),
        sa.CheckConstraint("kind IN ('plan', 'simulation')", name=op.f("ck_allocation_plans_kind")),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'done', 'failed', 'applied')",
            name=op.f("ck_allocation_plans_state"),
        ),
        sa.ForeignKeyConstraint(
            ["depot_id"],
            ["allocation_depots.id"],
            name=op.f("fk_allocation_plans_depot_id_allocation_depots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_allocation_plans_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_plans")),
    )
    with op.batch_alter_table("allocation_plans", schema=None) as batch_op:
        batch_op.create_index(
            "ix_allocation_plans_tenant_created", ["tenant_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_allocation_plans_tenant_kind_day", ["tenant_id", "kind", "day"], unique=False
        )

    op.create_table(
        "allocation_rule_set_versions",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("rule_set_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "document",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_set_id"],
            ["allocation_rule_sets.id"],
            name=op.f("fk_allocation_rule_set_versions_rule_set_id_allocation_rule_sets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_allocation_rule_set_versions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_rule_set_versions")),
        sa.UniqueConstraint("rule_set_id", "version", name="uq_allocation_rule_set_versions_version"),
    )
    with op.batch_alter_table("allocation_rule_set_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_allocation_rule_set_versions_rule_set_id"), ["rule_set_id"], unique=False
        )

    op.create_table(
        "allocation_vehicles",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("depot_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("capacity_kg", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("capacity_m3", sa.Numeric(precision=12, scale=4), nullable=False),
        sa.Column("shift_start", sa.Integer(), nullable=False),
        sa.Column("shift_end", sa.Integer(), nullable=False),
        sa.Column("max_stops", sa.Integer(), nullable=True),
        sa.Column("speed_kmh", sa.Numeric(precision=6, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("cost_per_km_minor", sa.BigInteger(), nullable=False),
        sa.Column("cost_per_hour_minor", sa.BigInteger(), nullable=False),
        sa.Column("cost_per_day_minor", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["depot_id"],
            ["allocation_depots.id"],
            name=op.f("fk_allocation_vehicles_depot_id_allocation_depots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_allocation_vehicles_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_vehicles")),
    )
    with op.batch_alter_table("allocation_vehicles", schema=None) as batch_op:
        batch_op.create_index("ix_allocation_vehicles_depot_active", ["depot_id", "active"], unique=False)
        batch_op.create_index(batch_op.f("ix_allocation_vehicles_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "shipment_allocations",
        sa.Column("shipment_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("depot_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("plan_id", sa.String(length=32), nullable=True),
        sa.Column("assignee", sa.String(length=50), nullable=False),
        sa.Column("service", sa.String(length=50), nullable=True),
        sa.Column("vehicle_id", sa.String(length=32), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("eta", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cost_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column(
            "rule_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "package",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("decided_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["depot_id"],
            ["allocation_depots.id"],
            name=op.f("fk_shipment_allocations_depot_id_allocation_depots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_shipment_allocations_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_shipment_allocations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shipment_id", name=op.f("pk_shipment_allocations")),
    )
    with op.batch_alter_table("shipment_allocations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_shipment_allocations_depot_day", ["tenant_id", "depot_id", "day"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("shipment_allocations", schema=None) as batch_op:
        batch_op.drop_index("ix_shipment_allocations_depot_day")

    op.drop_table("shipment_allocations")
    with op.batch_alter_table("allocation_vehicles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_allocation_vehicles_tenant_id"))
        batch_op.drop_index("ix_allocation_vehicles_depot_active")

    op.drop_table("allocation_vehicles")
    with op.batch_alter_table("allocation_rule_set_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_allocation_rule_set_versions_rule_set_id"))

    op.drop_table("allocation_rule_set_versions")
    with op.batch_alter_table("allocation_plans", schema=None) as batch_op:
        batch_op.drop_index("ix_allocation_plans_tenant_kind_day")
        batch_op.drop_index("ix_allocation_plans_tenant_created")

    op.drop_table("allocation_plans")
    with op.batch_alter_table("allocation_rule_sets", schema=None) as batch_op:
        batch_op.drop_index("ix_allocation_rule_sets_tenant_active")

    op.drop_table("allocation_rule_sets")
    with op.batch_alter_table("allocation_depots", schema=None) as batch_op:
        batch_op.drop_index("ix_allocation_depots_tenant_active")

    op.drop_table("allocation_depots")
    with op.batch_alter_table("allocation_audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_allocation_audit_log_tenant_created")
        batch_op.drop_index("ix_allocation_audit_log_entity")

    op.drop_table("allocation_audit_log")
