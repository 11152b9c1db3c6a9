"""carrier exchanges: redacted raw carrier request/response log (issue 4)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import gateway.kernel.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "carrier_exchanges",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("carrier", sa.String(length=50), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=True),
        sa.Column("operation", sa.String(length=64), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.Column("tenant_id", sa.String(length=32), nullable=True),
        sa.Column("shipment_id", sa.String(length=32), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("request", _json(), nullable=True),
        sa.Column("response", _json(), nullable=True),
        sa.Column("occurred_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carrier_exchanges")),
    )
    op.create_index("ix_carrier_exchanges_shipment_id", "carrier_exchanges", ["shipment_id", "id"])
    op.create_index("ix_carrier_exchanges_tenant_occurred", "carrier_exchanges", ["tenant_id", "occurred_at"])
    op.create_index("ix_carrier_exchanges_occurred_at", "carrier_exchanges", ["occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_carrier_exchanges_occurred_at", table_name="carrier_exchanges")
    op.drop_index("ix_carrier_exchanges_tenant_occurred", table_name="carrier_exchanges")
    op.drop_index("ix_carrier_exchanges_shipment_id", table_name="carrier_exchanges")
    op.drop_table("carrier_exchanges")
