"""Console users, their sessions and invitations, and the console's audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kernel.models import Base
from gateway.kernel.types import JSONType, UTCDateTime, new_id, utcnow


class ConsoleUser(Base):
    """A person who signs in to the console: an email unique within its tenant, an argon2 hash, roles.

    Roles are the API keys' roles (``gateway.kernel.auth.ROLES``), comma-separated; admin implies all.
    """

    __tablename__ = "console_users"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "email", name="uq_console_users_tenant_email"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("usr"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(sa.String(254), index=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    roles: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    disabled_by: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)  # the admin's usr_ id
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(r for r in self.roles.split(",") if r)

    def has(self, role: str) -> bool:
        return role in self.role_set or "admin" in self.role_set


class ConsoleSession(Base):
    """A signed-in browser: only the SHA-256 of its random cookie token is stored.

    ``last_seen_at`` is written at most once a minute (the idle timeout's clock); ``user_agent`` (cut
    to 200 characters) and ``created_at`` let a person recognise the session in their list.
    """

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("css"))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("console_users.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)  # usr_ id
    user_agent: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)


class ConsoleInvitation(Base):
    """An admin's invitation: a one-time token (stored hashed) with which the invitee sets a password."""

    __tablename__ = "console_invitations"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("inv"))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(sa.String(254))
    roles: Mapped[str] = mapped_column(sa.String(100))
    invited_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    user_id: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)


class ConsoleAuditEntry(Base):
    """Who did what in the console where the capability keeps no history of its own.

    Sessions revoked, users disabled and enabled, webhook endpoints created and changed: the acting
    user's id (``usr_…``), the action, what it was done to and a few facts (never a secret).
    """

    __tablename__ = "console_audit_log"
    __table_args__ = (sa.Index("ix_console_audit_log_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(sa.String(32))
    action: Mapped[str] = mapped_column(sa.String(40))
    subject: Mapped[str] = mapped_column(sa.String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
