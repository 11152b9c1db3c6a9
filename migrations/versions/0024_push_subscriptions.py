"""standing carrier push subscriptions per account (issue 17: USPS Subscriptions - Tracking by MID)

``tracking_push_subscriptions``: one row per (carrier, account) the gateway subscribed, with the
carrier's subscription id, the listener URL it posts to and the status at the last check.

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.kernel.types

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tracking_push_subscriptions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("carrier", sa.String(length=50), nullable=False),
        sa.Column("account_key", sa.String(length=100), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=True),
        sa.Column("subscription_id", sa.String(length=100), nullable=True),
        sa.Column("listener_url", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("checked_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tracking_push_subscriptions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_push_subscriptions")),
        sa.UniqueConstraint("carrier", "account_key", name="uq_tracking_push_subscriptions_account"),
    )
    op.create_index(
        "ix_tracking_push_subscriptions_carrier_sub",
        "tracking_push_subscriptions",
        ["carrier", "subscription_id"],
    )
    op.create_index(
        op.f("ix_tracking_push_subscriptions_tenant_id"), "tracking_push_subscriptions", ["tenant_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_tracking_push_subscriptions_tenant_id"), "tracking_push_subscriptions")
    op.drop_index("ix_tracking_push_subscriptions_carrier_sub", "tracking_push_subscriptions")
    op.drop_table("tracking_push_subscriptions")
