"""Persistence: SQLAlchemy 2.0 models, column types and the session helpers.

Core models live in ``models.py``; each feature area keeps its tables in its own
``gateway/db/<area>.py`` module (subclassing ``models.Base``). ``load_all()`` imports every
module here so that ``models.Base.metadata`` is complete before mappers configure, migrations
autogenerate, or the drift test compares.
"""

from __future__ import annotations

import importlib
import pkgutil

_SKIP = {"types"}


def load_all() -> None:
    """Import every model module of this package (idempotent)."""
    for info in pkgutil.iter_modules(__path__):
        if info.name not in _SKIP:
            importlib.import_module(f"{__name__}.{info.name}")
