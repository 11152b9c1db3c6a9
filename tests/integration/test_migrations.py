"""The models and the migrations agree, and history stays linear."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from gateway import wiring
from gateway.kernel import container as bootstrap
from gateway.kernel import migrate, models


def test_there_is_exactly_one_migration_head():
    assert len(migrate.heads()) == 1, f"several heads, merge them: {migrate.heads()}"


def test_models_and_migrations_have_no_autogenerate_diff(database_url):
    wiring.load_all()
    engine = bootstrap.make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "render_as_batch": conn.dialect.name == "sqlite"}
            )
            diff = compare_metadata(context, models.Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations disagree; write a migration for: {diff}"


def test_the_test_database_is_at_head(database_url):
    engine = bootstrap.make_engine(database_url)
    try:
        with engine.connect() as conn:
            assert migrate.is_at_head(conn)
    finally:
        engine.dispose()


def test_upgrade_works_on_an_empty_sqlite_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    migrate.upgrade(url)
    engine = bootstrap.make_engine(url)
    try:
        names = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"tenants", "api_keys", "shipments", "parcels", "addresses", "idempotency_records"} <= names
