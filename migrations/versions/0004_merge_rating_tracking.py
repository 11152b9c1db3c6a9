"""merge the rating (0002) and tracking (0003) branches

Both were written in parallel from 0001; they touch disjoint tables.

Revision ID: 0004
Revises: 0002, 0003
"""

from __future__ import annotations

revision = "0004"
down_revision = ("0002", "0003")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
