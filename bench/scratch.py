"""A throwaway PostgreSQL database for one benchmark run, created beside the one the caller names."""

from __future__ import annotations

import uuid

import sqlalchemy as sa


def scratch_database(admin_url: str) -> tuple[sa.Engine, str]:
    """Create ``handoff_bench_<random>`` on ``admin_url``'s server; return an admin engine and its URL."""
    admin = sa.make_url(admin_url).set(drivername="postgresql+psycopg")
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    name = f"handoff_bench_{uuid.uuid4().hex[:10]}"
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return engine, admin.set(database=name).render_as_string(hide_password=False)


def drop_database(engine: sa.Engine, url: str) -> None:
    """Drop the scratch database, ending any session still connected to it."""
    name = sa.make_url(url).database
    with engine.connect() as conn:
        conn.execute(
            sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name}
        )
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    engine.dispose()
