"""carrier pickups (issue 19 item 3)

``pickups``: one row per collection asked of a carrier, written before the carrier is called, with
the carrier's confirmation number or its message.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import gateway.kernel.types

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _ts(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, gateway.kernel.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "pickups",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=True),
        sa.Column("carrier", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("address", _JSON, nullable=False),
        sa.Column("pickup_date", sa.Date(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        _ts("ready_at", False),
        _ts("close_at", False),
        sa.Column("parcel_count", sa.Integer(), nullable=False),
        sa.Column("total_weight", sa.Numeric(precision=12, scale=4), nullable=True),
        sa.Column("weight_unit", sa.String(length=8), nullable=True),
        sa.Column("instructions", sa.String(length=500), nullable=True),
        sa.Column("tracking_numbers", _JSON, nullable=False),
        sa.Column("confirmation", sa.String(length=64), nullable=True),
        sa.Column("carrier_code", sa.String(length=64), nullable=True),
        sa.Column("carrier_message", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("called_at", True),
        _ts("cancelled_at", True),
        _ts("created_at", False),
        _ts("updated_at", False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_pickups_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pickups")),
        sa.UniqueConstraint("tenant_id", "request_key", name=op.f("uq_pickups_tenant_id")),
    )
    op.create_index(
        "ix_pickups_tenant_id_created_at_id", "pickups", ["tenant_id", "created_at", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_pickups_tenant_id_created_at_id", table_name="pickups")
    op.drop_table("pickups")
