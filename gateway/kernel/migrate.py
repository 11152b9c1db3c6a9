"""Alembic helpers: upgrade to head, and check that a database is at head."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

import migrations

# The Alembic scripts ship as the ``migrations`` package, so an installed wheel migrates too.
SCRIPTS = Path(migrations.__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    """Return an Alembic config bound to a database URL (no ini file needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def heads() -> list[str]:
    return list(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision``."""
    command.upgrade(alembic_config(database_url), revision)


def is_at_head(connection: sa.Connection) -> bool:
    """Return True when the connected database has every migration applied."""
    current = set(MigrationContext.configure(connection).get_current_heads())
    return current == set(heads())
