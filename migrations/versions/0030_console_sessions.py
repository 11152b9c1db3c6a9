"""console sessions a person can recognise and revoke, disabled users, the console audit log (issue 20)

``console_sessions`` gains ``user_agent`` (cut to 200 characters, to recognise a session in the list)
and ``revoked_by`` (who ended it). ``last_seen_at`` and ``created_at`` exist since 0028; the idle
timeout reads ``last_seen_at``. ``console_users`` gains ``disabled_by`` (``disabled_at`` exists since
0028). ``console_audit_log``: who revoked sessions, disabled or re-enabled users and created or changed
webhook endpoints from the console. Only nullable columns are added, so SQLite needs no table rebuild.

Revision ID: 0030
Revises: 0029
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import gateway.kernel.types

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

_TS = gateway.kernel.types.UTCDateTime
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.add_column("console_sessions", sa.Column("user_agent", sa.String(length=200), nullable=True))
    op.add_column("console_sessions", sa.Column("revoked_by", sa.String(length=32), nullable=True))
    op.add_column("console_users", sa.Column("disabled_by", sa.String(length=32), nullable=True))
    op.create_table(
        "console_audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("detail", _JSON, nullable=False),
        sa.Column("created_at", _TS(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_console_audit_log_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_audit_log")),
    )
    op.create_index("ix_console_audit_log_tenant_created", "console_audit_log", ["tenant_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_console_audit_log_tenant_created", "console_audit_log")
    op.drop_table("console_audit_log")
    with op.batch_alter_table("console_users") as batch:
        batch.drop_column("disabled_by")
    with op.batch_alter_table("console_sessions") as batch:
        batch.drop_column("revoked_by")
        batch.drop_column("user_agent")
