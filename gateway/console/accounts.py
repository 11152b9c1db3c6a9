"""Console users: create them, check a password, invite another person and accept an invitation.

Passwords are hashed with argon2id (``argon2-cffi``'s ``PasswordHasher``, its RFC 9106 low-memory
profile defaults); a hash made with older parameters is upgraded at the next successful sign-in.
Passwords and tokens are never logged, stored or returned in clear: tokens are kept as SHA-256.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2 import exceptions as argon2_errors
from sqlalchemy.orm import Session

from gateway.console.tables import ConsoleInvitation, ConsoleUser
from gateway.kernel import auth, models

MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # hashing cost grows with length: refuse absurd inputs before hashing
_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified when no user matches, so a sign-in takes as long whether or not the email exists."""
    return _HASHER.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A user or invitation cannot be made as asked (the message says why, in plain words)."""


def token_hash(token: str) -> str:
    """The stored form of a session or invitation token."""
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    cleaned = email.strip().lower()
    if "@" not in cleaned or len(cleaned) > 254 or any(c.isspace() for c in cleaned):
        raise AccountError("Give an email address such as ops@example.com.")
    return cleaned


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"A password needs at least {MIN_PASSWORD} characters.")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"A password has at most {MAX_PASSWORD} characters.")


def role_text(roles: list[str]) -> str:
    """Roles as stored (sorted, comma-separated); an AccountError for none or an unknown one."""
    return _roles(roles)


def _roles(roles: list[str]) -> str:
    try:
        return ",".join(auth.parse_roles(roles))
    except ValueError as exc:
        raise AccountError(str(exc)) from None


def create_user(
    session: Session, tenant_id: str, email: str, password: str, roles: list[str], by: str | None
) -> ConsoleUser:
    """Create a console user in a tenant; refuse a taken email, a short password or unknown roles."""
    address = normalise_email(email)
    check_password(password)
    role_text = _roles(roles)
    taken = session.execute(
        sa.select(ConsoleUser.id).where(ConsoleUser.tenant_id == tenant_id, ConsoleUser.email == address)
    ).first()
    if taken:
        raise AccountError(f"{address} already has a console account in this tenant.")
    user = ConsoleUser(
        tenant_id=tenant_id,
        email=address,
        password_hash=_HASHER.hash(password),
        roles=role_text,
        created_by=by,
    )
    session.add(user)
    session.flush()
    return user


def set_password(user: ConsoleUser, password: str) -> None:
    """Give a user a new password (checked like any other); the old one stops working."""
    check_password(password)
    user.password_hash = _HASHER.hash(password)


@dataclass(frozen=True)
class SignIn:
    """What a sign-in attempt found: the user (None when refused) and why it was refused."""

    user: ConsoleUser | None
    refusal: str = ""


def candidates(session: Session, email: str, tenant_slug: str) -> list[ConsoleUser]:
    """The active users a sign-in may mean: in the named tenant, or in any tenant when none is named."""
    query = sa.select(ConsoleUser).where(ConsoleUser.email == email, ConsoleUser.disabled_at.is_(None))
    if tenant_slug:
        query = query.join(models.Tenant, models.Tenant.id == ConsoleUser.tenant_id).where(
            models.Tenant.slug == tenant_slug
        )
    return list(session.execute(query.limit(2)).scalars())


def authenticate(session: Session, email: str, password: str, tenant_slug: str, now: datetime) -> SignIn:
    """Check an email and password (and tenant, when the email is in several); flush the login time.

    A disabled user is no candidate: they are refused with the wrong password's message, after the
    same dummy hash check, so neither the words nor the time say the account exists but is disabled.
    """
    try:
        address = normalise_email(email)
    except AccountError:
        address = ""
    found = candidates(session, address, tenant_slug.strip().lower()) if address else []
    if len(found) > 1:
        _verify(_dummy_hash(), password)
        return SignIn(None, "This email has accounts in several tenants: give the tenant too.")
    user = found[0] if found else None
    if user is None or len(password) > MAX_PASSWORD or not _verify(user.password_hash, password):
        if user is None:
            _verify(_dummy_hash(), password)
        return SignIn(None, "The email or password is wrong.")
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    user.last_login_at = now
    session.flush()
    return SignIn(user)


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (argon2_errors.VerificationError, argon2_errors.InvalidHashError):
        return False


def invite(
    session: Session, inviter: ConsoleUser, email: str, roles: list[str], now: datetime, hours: int
) -> tuple[ConsoleInvitation, str]:
    """Invite a person into the inviter's tenant; return the row and the one-time token (shown once)."""
    address = normalise_email(email)
    role_text = _roles(roles)
    taken = session.execute(
        sa.select(ConsoleUser.id).where(
            ConsoleUser.tenant_id == inviter.tenant_id, ConsoleUser.email == address
        )
    ).first()
    if taken:
        raise AccountError(f"{address} already has a console account in this tenant.")
    token = secrets.token_urlsafe(32)
    row = ConsoleInvitation(
        token_hash=token_hash(token),
        tenant_id=inviter.tenant_id,
        email=address,
        roles=role_text,
        invited_by=inviter.id,
        created_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    session.add(row)
    session.flush()
    return row, token


def open_invitation(session: Session, token: str, now: datetime) -> ConsoleInvitation | None:
    """The invitation a token opens, if it is unused and unexpired."""
    row = session.execute(
        sa.select(ConsoleInvitation).where(ConsoleInvitation.token_hash == token_hash(token))
    ).scalar_one_or_none()
    if row is None or row.accepted_at is not None or row.expires_at <= now:
        return None
    return row


def accept(session: Session, token: str, password: str, now: datetime) -> ConsoleUser:
    """Use an invitation once: create its user with the chosen password."""
    row = open_invitation(session, token, now)
    if row is None:
        raise AccountError("This invitation link was already used, has expired, or is not one we sent.")
    user = create_user(session, row.tenant_id, row.email, password, row.roles.split(","), by=row.invited_by)
    row.accepted_at, row.user_id = now, user.id
    session.flush()
    return user
