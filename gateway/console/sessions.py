"""Console sessions: a random token in an HttpOnly cookie, only its SHA-256 in the database.

The CSRF token of a form is an HMAC of the browser's cookie token (the session's, or before sign-in a
random pre-session cookie): a page of another origin can neither read the cookie nor compute the token,
and no server-side secret or extra table is needed (docs/CONSOLE.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.console.accounts import token_hash
from gateway.console.tables import ConsoleSession, ConsoleUser

_CSRF_CONTEXT = b"handoff-console-csrf-v1"
_TOUCH_AFTER = timedelta(minutes=1)  # last_seen is written at most this often


def start(session: Session, user: ConsoleUser, now: datetime, hours: int) -> tuple[ConsoleSession, str]:
    """Open a session for a user; return the row and the cookie token (never stored)."""
    token = secrets.token_urlsafe(32)
    row = ConsoleSession(
        token_hash=token_hash(token),
        user_id=user.id,
        tenant_id=user.tenant_id,
        created_at=now,
        expires_at=now + timedelta(hours=hours),
        last_seen_at=now,
    )
    session.add(row)
    session.flush()
    return row, token


def find(session: Session, token: str, now: datetime) -> tuple[ConsoleSession, ConsoleUser] | None:
    """The live session and its active user for a cookie token, or None (unknown, expired, revoked)."""
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
    if row.revoked_at is not None or row.expires_at <= now or user.disabled_at is not None:
        return None
    if now - row.last_seen_at >= _TOUCH_AFTER:
        row.last_seen_at = now
    return row, user


def revoke(row: ConsoleSession, now: datetime) -> None:
    """End a session (sign-out): its cookie opens nothing any more."""
    if row.revoked_at is None:
        row.revoked_at = now


def csrf_token(cookie_token: str) -> str:
    """The CSRF token of the forms a browser holding ``cookie_token`` is shown."""
    return hmac.new(cookie_token.encode(), _CSRF_CONTEXT, hashlib.sha256).hexdigest()


def csrf_ok(cookie_token: str, presented: str) -> bool:
    return bool(cookie_token) and hmac.compare_digest(csrf_token(cookie_token), presented or "")
