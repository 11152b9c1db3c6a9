"""The gateway: the only package that knows Flask, SQLAlchemy, Redis and RQ.

``create_app`` is resolved lazily so that importing a pure submodule (``gateway.tracking``)
does not pull in Flask and the whole app.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from gateway.app import create_app

        return create_app
    raise AttributeError(f"module 'gateway' has no attribute {name!r}")
