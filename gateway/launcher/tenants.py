"""Tenants and API keys for local runs (the launcher's demo key, the demo day, the benchmarks)."""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from gateway.console import accounts as console_accounts
from gateway.console.tables import ConsoleUser
from gateway.kernel import auth, models
from gateway.kernel import container as bootstrap


def create_tenant_key(
    container: bootstrap.Container, slug: str, name: str, roles: list[str], key_name: str, mode: str = "live"
) -> tuple[str, str]:
    """Create (or reuse) a tenant by slug and return ``(tenant_id, a fresh API key)`` of ``mode``."""
    with container.sessions() as session:
        tenant = session.execute(
            sa.select(models.Tenant).where(models.Tenant.slug == slug)
        ).scalar_one_or_none()
        if tenant is None:
            tenant = models.Tenant(name=name, slug=slug)
            session.add(tenant)
            session.flush()
        _, key = auth.create_key(
            session, tenant.id, roles, name=key_name, pepper=container.settings["SECRET_PEPPER"], mode=mode
        )
        session.commit()
        return tenant.id, key


def ensure_console_user(container: bootstrap.Container, slug: str, email: str, roles: list[str]) -> str:
    """Make sure the tenant ``slug`` has a console user ``email``; give it a fresh password and return it.

    A new password on every start: it is printed once (like the demo API key) and never stored in clear.
    """
    password = secrets.token_urlsafe(12)
    with container.sessions() as session:
        tenant_id = session.execute(
            sa.select(models.Tenant.id).where(models.Tenant.slug == slug)
        ).scalar_one_or_none()
        if tenant_id is None:
            raise LookupError(f"no tenant {slug!r}")
        address = console_accounts.normalise_email(email)
        user = session.execute(
            sa.select(ConsoleUser).where(ConsoleUser.tenant_id == tenant_id, ConsoleUser.email == address)
        ).scalar_one_or_none()
        if user is None:
            console_accounts.create_user(session, tenant_id, address, password, roles, by="launcher")
        else:
            console_accounts.set_password(user, password)
        session.commit()
    return password
