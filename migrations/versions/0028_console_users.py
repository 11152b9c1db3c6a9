"""console users, sessions and invitations (issue 20, the console's first slice)

``console_users``: people per tenant (email unique per tenant, an argon2 password hash, API roles).
``console_sessions``: signed-in browsers, the cookie token stored as its SHA-256. ``console_invitations``:
an admin's one-time, expiring invitation links, also stored hashed.

Revision ID: 0028
Revises: 0027
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.kernel.types

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

_TS = gateway.kernel.types.UTCDateTime


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("roles", sa.String(length=100), nullable=False),
        sa.Column("created_at", _TS(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("disabled_at", _TS(timezone=True), nullable=True),
        sa.Column("last_login_at", _TS(timezone=True), nullable=True),
        _tenant_fk("console_users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_users")),
        sa.UniqueConstraint("tenant_id", "email", name="uq_console_users_tenant_email"),
    )
    op.create_index(op.f("ix_console_users_email"), "console_users", ["email"])

    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", _TS(timezone=True), nullable=False),
        sa.Column("expires_at", _TS(timezone=True), nullable=False),
        sa.Column("last_seen_at", _TS(timezone=True), nullable=False),
        sa.Column("revoked_at", _TS(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["console_users.id"],
            name=op.f("fk_console_sessions_user_id_console_users"),
            ondelete="CASCADE",
        ),
        _tenant_fk("console_sessions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_console_sessions_token_hash")),
    )
    op.create_index(op.f("ix_console_sessions_user_id"), "console_sessions", ["user_id"])

    op.create_table(
        "console_invitations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("roles", sa.String(length=100), nullable=False),
        sa.Column("invited_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TS(timezone=True), nullable=False),
        sa.Column("expires_at", _TS(timezone=True), nullable=False),
        sa.Column("accepted_at", _TS(timezone=True), nullable=True),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        _tenant_fk("console_invitations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_console_invitations_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("console_invitations")
    op.drop_index(op.f("ix_console_sessions_user_id"), "console_sessions")
    op.drop_table("console_sessions")
    op.drop_index(op.f("ix_console_users_email"), "console_users")
    op.drop_table("console_users")
