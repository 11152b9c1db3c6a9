"""Console sessions: a random token in an HttpOnly cookie, only its SHA-256 in the database.

A session ends at its absolute expiry (``CONSOLE_SESSION_HOURS``), when it has been unused longer than
the idle timeout (``CONSOLE_IDLE_MINUTES``: ``last_seen_at``, written at most once a minute, or half
the idle timeout if that is shorter, so a page view costs no write and activity always counts), when it is revoked (sign-out, or from the list of one's sessions), or when its
user is disabled.

The CSRF token of a form is an HMAC, under the gateway's key (``_web.csrf_key``), of the browser's cookie
token (the session's, or before sign-in a random pre-session cookie): a page of another origin can
neither read the cookie nor compute the token, and no extra table is needed (docs/CONSOLE.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import has_request_context, request
from sqlalchemy.orm import Session

from gateway.console.accounts import token_hash
from gateway.console.tables import ConsoleSession, ConsoleUser
from gateway.kernel.types import rowcount

_CSRF_CONTEXT = b"handoff-console-csrf-v2"
_TOUCH_AFTER = timedelta(minutes=1)  # last_seen is written at most this often
AGENT_LENGTH = 200


def _agent(given: str | None) -> str | None:
    if given is None and has_request_context():
        given = request.headers.get("User-Agent", "")
    text = " ".join((given or "").split())  # no control characters or line breaks
    return text[:AGENT_LENGTH] or None


def start(
    session: Session, user: ConsoleUser, now: datetime, hours: int, user_agent: str | None = None
) -> tuple[ConsoleSession, str]:
    """Open a session for a user; return the row and the cookie token (never stored).

    ``user_agent`` defaults to the current request's ``User-Agent`` header, cut to 200 characters.
    """
    token = secrets.token_urlsafe(32)
    row = ConsoleSession(
        token_hash=token_hash(token),
        user_id=user.id,
        tenant_id=user.tenant_id,
        created_at=now,
        expires_at=now + timedelta(hours=hours),
        last_seen_at=now,
        user_agent=_agent(user_agent),
    )
    session.add(row)
    session.flush()
    return row, token


def live(row: ConsoleSession, now: datetime, idle: timedelta | None) -> bool:
    """Whether a session still opens the console: not revoked, not expired, not idle too long."""
    if row.revoked_at is not None or row.expires_at <= now:
        return False
    return idle is None or now - row.last_seen_at < idle


def find(
    session: Session, token: str, now: datetime, idle: timedelta | None = None
) -> tuple[ConsoleSession, ConsoleUser] | None:
    """The live session and its active user for a cookie token, or None (unknown, expired, idle, revoked).

    Touches ``last_seen_at`` when more than a minute has passed since it was last written.
    """
    if not token or len(token) > 128:
        return None
    found = session.execute(
        sa.select(ConsoleSession, ConsoleUser)
        .join(ConsoleUser, ConsoleUser.id == ConsoleSession.user_id)
        .where(ConsoleSession.token_hash == token_hash(token))
    ).first()
    if found is None:
        return None
    row, user = found
    if not live(row, now, idle) or user.disabled_at is not None:
        return None
    if now - row.last_seen_at >= (_TOUCH_AFTER if idle is None else min(_TOUCH_AFTER, idle / 2)):
        row.last_seen_at = now
    return row, user


def revoke(row: ConsoleSession, now: datetime, by: str | None = None) -> bool:
    """End a session (sign-out, or revoked from a list): its cookie opens nothing any more.

    Returns whether it was open until now. ``by`` is who ended it (``usr_…``), when not its own user.
    """
    if row.revoked_at is not None:
        return False
    row.revoked_at, row.revoked_by = now, by
    return True


def of_user(session: Session, user_id: str, now: datetime, idle: timedelta | None) -> list[ConsoleSession]:
    """A user's sessions that still open the console, most recently seen first."""
    query = (
        sa.select(ConsoleSession)
        .where(
            ConsoleSession.user_id == user_id,
            ConsoleSession.revoked_at.is_(None),
            ConsoleSession.expires_at > now,
        )
        .order_by(ConsoleSession.last_seen_at.desc(), ConsoleSession.id)
    )
    if idle is not None:
        query = query.where(ConsoleSession.last_seen_at > now - idle)
    return list(session.execute(query).scalars())


def revoke_all(session: Session, user_id: str, now: datetime, by: str, keep: str | None = None) -> int:
    """Revoke every open session of a user (but ``keep``, an id) at once; return how many were open."""
    query = sa.update(ConsoleSession).where(
        ConsoleSession.user_id == user_id, ConsoleSession.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(ConsoleSession.id != keep)
    result = session.execute(
        query.values(revoked_at=now, revoked_by=by).execution_options(synchronize_session="fetch")
    )
    return rowcount(result)


def csrf_token(cookie_token: str, key: bytes) -> str:
    """The CSRF token of the forms a browser holding ``cookie_token`` is shown: an HMAC under the
    gateway's own key, so that knowing (or planting) a cookie is not enough to make one."""
    return hmac.new(key, _CSRF_CONTEXT + b"\0" + cookie_token.encode(), hashlib.sha256).hexdigest()


def csrf_ok(cookie_token: str, presented: str, key: bytes) -> bool:
    return bool(cookie_token) and hmac.compare_digest(csrf_token(cookie_token, key), presented or "")
