"""what the carrier warned about a shipment's number when last asked (issue 17)

UPS answers a track request for a number it does not know yet with a warning ("Tracking
Information Not Found") and no events. The poll used to drop it, so the timeline looked as if the
carrier had simply said nothing. The warnings of the last answer are kept, and shown.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import gateway.kernel.types

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shipment_tracking") as batch:
        batch.add_column(
            sa.Column(
                "carrier_warnings",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch.add_column(
            sa.Column("carrier_warnings_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("shipment_tracking") as batch:
        batch.drop_column("carrier_warnings_at")
        batch.drop_column("carrier_warnings")
