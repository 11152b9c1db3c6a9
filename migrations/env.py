"""Alembic environment: runs against the URL the gateway would use."""

from __future__ import annotations

from alembic import context

from gateway import wiring
from gateway.kernel import config, models
from gateway.kernel import container as bootstrap

wiring.load_all()
target_metadata = models.Base.metadata


def _url() -> str:
    url = context.config.get_main_option("sqlalchemy.url")
    if url and url != "sqlite://":
        return url
    return config.database_url(config.load())


def run_migrations_offline() -> None:
    url = _url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = _url()
    engine = bootstrap.make_engine(url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a table on SQLite (copy, drop, rename). With foreign keys on, dropping
            # the old table deletes every row that references it through ON DELETE CASCADE, so a
            # column added to shipments would empty their labels and links. The pragma only takes
            # effect outside a transaction; integrity is checked once the migrations are done.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
            if broken:
                raise RuntimeError(f"the migrations left rows whose foreign keys point nowhere: {broken[:5]}")
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
