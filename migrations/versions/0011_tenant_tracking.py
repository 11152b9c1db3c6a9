"""tracking numbers bound to the label that produced them (issue 15)

``labels.account``: the carrier account a label was bought on, so (tenant, carrier, account) says
who produced a tracking number. ``shipment_tracking.number_conflict`` (+ ``_at``): the flag ops see
when a carrier issued the same number to two shipments.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import gateway.kernel.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("labels") as batch:
        batch.add_column(sa.Column("account", sa.String(length=64), nullable=True))
    with op.batch_alter_table("shipment_tracking") as batch:
        batch.add_column(
            sa.Column(
                "number_conflict",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch.add_column(
            sa.Column("number_conflict_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("shipment_tracking") as batch:
        batch.drop_column("number_conflict_at")
        batch.drop_column("number_conflict")
    with op.batch_alter_table("labels") as batch:
        batch.drop_column("account")
