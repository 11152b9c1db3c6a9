"""Tenants and API keys for local runs (the launcher's demo key, the demo day, the benchmarks)."""

from __future__ import annotations

import sqlalchemy as sa

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
