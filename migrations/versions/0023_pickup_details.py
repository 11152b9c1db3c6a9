"""pickup carrier details for cancelling (issue 19, item 3)

``pickups.carrier_details``: what the carrier answered at booking that cancelling needs beside the
confirmation number (FedEx: the Express ``location`` and the carrier code), as JSON; NULL for pickups
booked before it was kept, or whose carrier needs nothing more.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("pickups") as batch:
        batch.add_column(sa.Column("carrier_details", _JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pickups") as batch:
        batch.drop_column("carrier_details")
