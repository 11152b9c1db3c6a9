"""API keys, tenants and roles.

A key looks like ``hk_live_<lookup>_<secret>`` or ``hk_test_<lookup>_<secret>`` (keys made before
test mode, ``hk_<lookup>_<secret>``, are live). ``lookup`` is a public, random id used to find the
row; only an HMAC-SHA256 of ``secret`` is stored, and it is compared in constant time. The full key
is returned once, when it is created. Keys carry roles; ``admin`` implies all.

A test key acts as the tenant's test twin (``Tenant.mode == "test"``, made with the first test key),
so everything scoped to a tenant keeps test data apart from live data (docs/TEST_MODE.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import current_app, g, request
from sqlalchemy.orm import Session

from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow

ROLES = frozenset({"platform", "ops", "finance", "admin"})
KEY_PREFIX = "hk_"
MODES = ("live", "test")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key, its tenant and its roles."""

    key_id: str
    tenant_id: str
    roles: frozenset[str]
    mode: str = "live"

    def has(self, role: str) -> bool:
        return role in self.roles or "admin" in self.roles


def hash_secret(secret: str, pepper: str = "") -> str:
    """Return the stored hash of a key secret."""
    return hmac.new(pepper.encode(), secret.encode(), hashlib.sha256).hexdigest()


def parse_roles(roles: Iterable[str]) -> list[str]:
    """Validate role names and return them sorted and de-duplicated."""
    cleaned = sorted({r.strip() for r in roles if r.strip()})
    unknown = [r for r in cleaned if r not in ROLES]
    if unknown or not cleaned:
        raise ValueError(f"roles must be a non-empty subset of {sorted(ROLES)}; got {unknown or 'none'}")
    return cleaned


def test_tenant(session: Session, tenant: models.Tenant) -> models.Tenant:
    """The test twin of a live tenant, made on first use (a test tenant is its own)."""
    if tenant.is_test:
        return tenant
    twin = session.execute(
        sa.select(models.Tenant).where(models.Tenant.live_tenant_id == tenant.id)
    ).scalar_one_or_none()
    if twin is None:
        twin = models.Tenant(
            name=f"{tenant.name} (test)"[:200],
            slug=f"{tenant.slug[:58]}--test",
            mode="test",
            live_tenant_id=tenant.id,
        )
        session.add(twin)
        session.flush()
    return twin


def create_key(
    session: Session,
    tenant_id: str,
    roles: Iterable[str],
    name: str = "",
    pepper: str = "",
    mode: str = "live",
) -> tuple[models.ApiKey, str]:
    """Create a key for a tenant and return the row and the full key (shown only once).

    ``mode="test"`` makes a test key, which acts as the tenant's test twin.
    """
    role_list = parse_roles(roles)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {list(MODES)}; got {mode!r}")
    tenant = session.get(models.Tenant, tenant_id)
    if tenant is None:
        raise ValueError(f"no tenant {tenant_id!r}")
    if mode == "test":
        tenant_id = test_tenant(session, tenant).id
    elif tenant.is_test:
        raise ValueError("a test tenant holds test keys only; make live keys on its live tenant")
    lookup = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    row = models.ApiKey(
        tenant_id=tenant_id,
        name=name,
        lookup=lookup,
        secret_hash=hash_secret(secret, pepper),
        roles=",".join(role_list),
    )
    session.add(row)
    session.flush()
    return row, f"{KEY_PREFIX}{mode}_{lookup}_{secret}"


def revoke_key(session: Session, key_id: str) -> bool:
    """Revoke a key by id; return False if there is no such active key."""
    row = session.get(models.ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


def _presented_key() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.headers.get("X-Api-Key")


def authenticate(session: Session) -> Principal:
    """Return the caller's principal or raise a 401 problem."""
    challenge = {"WWW-Authenticate": 'Bearer realm="handoff"'}
    raw = _presented_key()
    if not raw:
        raise Problem(
            "unauthenticated", "Send an API key as 'Authorization: Bearer hk_…'.", headers=challenge
        )
    mode, lookup, secret = _parse(raw)
    if not lookup or not secret:
        raise Problem("unauthenticated", "The API key is malformed.", headers=challenge)
    row = session.execute(sa.select(models.ApiKey).where(models.ApiKey.lookup == lookup)).scalar_one_or_none()
    pepper = current_app.config["SECRET_PEPPER"]
    # Hash even when the row is missing so timing doesn't reveal which lookups exist.
    presented = hash_secret(secret, pepper)
    expected = row.secret_hash if row is not None else hash_secret(secrets.token_urlsafe(8), pepper)
    if row is None or not hmac.compare_digest(presented, expected) or row.revoked_at is not None:
        raise Problem("unauthenticated", "The API key is invalid or revoked.", headers=challenge)
    if row.tenant.mode != mode:  # a live key's secret under a test prefix, or the other way round
        raise Problem("unauthenticated", "The API key is invalid or revoked.", headers=challenge)
    return Principal(key_id=row.id, tenant_id=row.tenant_id, roles=row.role_set, mode=mode)


def _parse(raw: str) -> tuple[str, str, str]:
    """Split a presented key into (mode, lookup, secret); empty parts when it is not one of ours."""
    for mode in MODES:
        prefix = f"{KEY_PREFIX}{mode}_"
        if raw.startswith(prefix):
            lookup, _, secret = raw[len(prefix) :].partition("_")
            return mode, lookup, secret
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] + "_" != KEY_PREFIX:
        return "live", "", ""
    return "live", parts[1], parts[2]  # a key made before test mode: live


def current() -> Principal:
    """Return the authenticated principal of this request."""
    principal: Principal | None = getattr(g, "principal", None)
    if principal is None:  # a view forgot to authenticate: fail closed
        raise Problem("unauthenticated")
    return principal


def require(*roles: str) -> Callable[[F], F]:
    """Decorate a view so that the caller must hold one of ``roles`` (admin always passes)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current()
            if not any(principal.has(role) for role in roles):
                raise Problem("forbidden", f"This action needs one of the roles: {', '.join(sorted(roles))}.")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]  # wraps() types it _Wrapped; it stands in for the view

    return decorator
