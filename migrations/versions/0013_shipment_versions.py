"""shipment versions and cancellation (issue 18, item 4)

A draft shipment can be edited (``PATCH /v1/shipments/{id}``, conditional on its version, the
ETag) and cancelled (``DELETE``): ``version`` counts the caller's changes (every existing
shipment starts at 1), ``cancelled_at`` says when a draft was cancelled (status ``cancelled``).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.kernel.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shipments") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False))
        batch.add_column(
            sa.Column("cancelled_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("shipments") as batch:
        batch.drop_column("cancelled_at")
        batch.drop_column("version")
