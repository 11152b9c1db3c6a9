"""People, not keys: one's own sessions, the tenant's users, disabling and re-enabling them, the audit log.

Every function takes the request's session and the acting user, reads the acting user's tenant only,
``flush()``es and never commits (the page commits). Each change is written to the console audit log
(``console_audit_log``) with the acting user's id. A disabled user's sessions are all revoked at once,
and ``accounts.authenticate`` refuses them with the message of a wrong password.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.console import accounts, sessions
from gateway.console.tables import ConsoleAuditEntry, ConsoleInvitation, ConsoleSession, ConsoleUser
from gateway.kernel.types import rowcount

AUDIT_PAGE = 30


class PeopleError(ValueError):
    """An action on a user that is refused (the message says why, in plain words)."""


def record(
    session: Session, actor: ConsoleUser, action: str, subject: str, now: datetime, **detail: Any
) -> ConsoleAuditEntry:
    """Write one entry of the console audit log: the actor's id, the action, its subject, a few facts."""
    entry = ConsoleAuditEntry(
        tenant_id=actor.tenant_id,
        actor=actor.id,
        action=action,
        subject=subject[:64],
        detail=detail,
        created_at=now,
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass
class AuditRow:
    at: datetime
    actor: str  # the actor's email when still known, else their id
    action: str
    subject: str
    detail: dict[str, str]


def recent(session: Session, tenant_id: str, limit: int = AUDIT_PAGE) -> list[AuditRow]:
    """The tenant's newest console audit entries, newest first, the actor named by email."""
    rows = session.execute(
        sa.select(ConsoleAuditEntry, ConsoleUser.email)
        .outerjoin(ConsoleUser, ConsoleUser.id == ConsoleAuditEntry.actor)
        .where(ConsoleAuditEntry.tenant_id == tenant_id)
        .order_by(ConsoleAuditEntry.created_at.desc(), ConsoleAuditEntry.id.desc())
        .limit(limit)
    ).all()
    return [
        AuditRow(e.created_at, email or e.actor, e.action, e.subject, _said(e.detail or {}))
        for e, email in rows
    ]


def _said(detail: dict[str, Any]) -> dict[str, str]:
    """An entry's facts in words: lists joined, yes and no for flags (the page escapes the text)."""

    def word(value: Any) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list):
            return ", ".join(str(v) for v in value) or "none"
        return str(value)

    return {str(k): word(v) for k, v in detail.items()}


# -- one's own sessions ---------------------------------------------------------------------------------


def own_sessions(session: Session, user: ConsoleUser, now: datetime, idle: timedelta) -> list[ConsoleSession]:
    """The user's sessions that still open the console, most recently seen first."""
    return sessions.of_user(session, user.id, now, idle)


def revoke_own(session: Session, user: ConsoleUser, session_id: str, now: datetime) -> ConsoleSession | None:
    """Revoke one of the user's own sessions; None when it is not theirs or already ended."""
    row = session.get(ConsoleSession, session_id)
    if row is None or row.user_id != user.id or row.revoked_at is not None:
        return None
    sessions.revoke(row, now, by=user.id)
    record(session, user, "session.revoke", row.id, now, user_agent=row.user_agent or "")
    session.flush()
    return row


def revoke_others(session: Session, user: ConsoleUser, keep: str, now: datetime) -> int:
    """Revoke every other open session of the user (``keep`` is this browser's); return how many."""
    count = sessions.revoke_all(session, user.id, now, by=user.id, keep=keep)
    record(session, user, "session.revoke_others", user.id, now, count=count)
    return count


# -- the tenant's users (admins) ------------------------------------------------------------------------


@dataclass
class UserRow:
    id: str
    email: str
    roles: str
    created_at: datetime
    disabled_at: datetime | None
    disabled_by: str | None  # email (or id) of the admin who disabled them
    last_login_at: datetime | None
    open_sessions: int


def users(session: Session, tenant_id: str, now: datetime, idle: timedelta) -> list[UserRow]:
    """The tenant's console users by email, with how many sessions each has open."""
    live = (
        sa.select(ConsoleSession.user_id, sa.func.count().label("n"))
        .where(
            ConsoleSession.tenant_id == tenant_id,
            ConsoleSession.revoked_at.is_(None),
            ConsoleSession.expires_at > now,
            ConsoleSession.last_seen_at > now - idle,
        )
        .group_by(ConsoleSession.user_id)
        .subquery()
    )
    rows = session.execute(
        sa.select(ConsoleUser, live.c.n)
        .outerjoin(live, live.c.user_id == ConsoleUser.id)
        .where(ConsoleUser.tenant_id == tenant_id)
        .order_by(ConsoleUser.email)
    ).all()
    emails = {u.id: u.email for u, _n in rows}
    return [
        UserRow(
            u.id,
            u.email,
            u.roles,
            u.created_at,
            u.disabled_at,
            emails.get(u.disabled_by, u.disabled_by) if u.disabled_by else None,
            u.last_login_at,
            int(n or 0),
        )
        for u, n in rows
    ]


def _tenant_user(session: Session, admin: ConsoleUser, user_id: str) -> ConsoleUser | None:
    found = session.get(ConsoleUser, user_id)
    return found if found is not None and found.tenant_id == admin.tenant_id else None


def disable(
    session: Session, admin: ConsoleUser, user_id: str, now: datetime
) -> tuple[ConsoleUser, int] | None:
    """Disable a user of the admin's tenant, revoke all their sessions at once and withdraw the
    invitations they sent that are still open.

    Returns the user and how many sessions were revoked; None when no such user is in the tenant.
    An admin cannot disable themselves (so a tenant keeps the admin who acts).
    """
    user = _tenant_user(session, admin, user_id)
    if user is None:
        return None
    if user.id == admin.id:
        raise PeopleError("You cannot disable yourself: ask another admin.")
    if user.disabled_at is not None:
        raise PeopleError(f"{user.email} is already disabled.")
    user.disabled_at, user.disabled_by = now, admin.id
    count = sessions.revoke_all(session, user.id, now, by=admin.id)
    # The links they sent stop working too: a disabled admin must not let themselves back in.
    withdrawn = session.execute(
        sa.update(ConsoleInvitation)
        .where(
            ConsoleInvitation.tenant_id == admin.tenant_id,
            ConsoleInvitation.invited_by == user.id,
            ConsoleInvitation.accepted_at.is_(None),
            ConsoleInvitation.expires_at > now,
        )
        .values(expires_at=now)
        .execution_options(synchronize_session="fetch")
    )
    record(
        session,
        admin,
        "user.disable",
        user.id,
        now,
        email=user.email,
        sessions_revoked=count,
        invitations_withdrawn=rowcount(withdrawn),
    )
    return user, count


def enable(session: Session, admin: ConsoleUser, user_id: str, now: datetime) -> ConsoleUser | None:
    """Let a disabled user sign in again (their old sessions stay revoked); None when no such user."""
    user = _tenant_user(session, admin, user_id)
    if user is None:
        return None
    if user.disabled_at is None:
        raise PeopleError(f"{user.email} is not disabled.")
    user.disabled_at = user.disabled_by = None
    record(session, admin, "user.enable", user.id, now, email=user.email)
    return user


def set_roles(
    session: Session, admin: ConsoleUser, user_id: str, roles: list[str], now: datetime
) -> ConsoleUser | None:
    """Give a user of the admin's tenant these roles (they apply from the user's next page).

    None when no such user; refused for no role or an unknown one, and for an admin taking admin
    away from themselves (so a tenant keeps the admin who acts).
    """
    user = _tenant_user(session, admin, user_id)
    if user is None:
        return None
    try:
        text = accounts.role_text(roles)
    except accounts.AccountError as exc:
        raise PeopleError(str(exc)) from None
    if user.id == admin.id and "admin" not in text.split(","):
        raise PeopleError("You cannot take admin away from yourself: ask another admin.")
    if text == user.roles:
        return user
    before, user.roles = user.roles, text
    record(session, admin, "user.roles", user.id, now, email=user.email, before=before, after=text)
    return user


def open_invitations(session: Session, tenant_id: str, now: datetime) -> list[ConsoleInvitation]:
    """The tenant's invitations not yet used and not expired, the newest first."""
    return list(
        session.execute(
            sa.select(ConsoleInvitation)
            .where(
                ConsoleInvitation.tenant_id == tenant_id,
                ConsoleInvitation.accepted_at.is_(None),
                ConsoleInvitation.expires_at > now,
            )
            .order_by(ConsoleInvitation.created_at.desc())
        ).scalars()
    )


def withdraw(
    session: Session, admin: ConsoleUser, invitation_id: str, now: datetime
) -> ConsoleInvitation | None:
    """Make an open invitation of the admin's tenant stop working now; None when there is no such one."""
    row = session.get(ConsoleInvitation, invitation_id)
    if (
        row is None
        or row.tenant_id != admin.tenant_id
        or row.accepted_at is not None
        or row.expires_at <= now
    ):
        return None
    row.expires_at = now
    record(session, admin, "invitation.withdraw", row.id, now, email=row.email)
    return row
