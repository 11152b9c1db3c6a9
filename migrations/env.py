"""Alembic environment: runs against the URL the gateway would use."""

from __future__ import annotations

from alembic import context

from gateway import bootstrap, config
from gateway import db as db_package
from gateway.db import models

db_package.load_all()
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
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
