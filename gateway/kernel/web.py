"""Request-scoped access to the container and the database session."""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session

from gateway.kernel.container import Container


def container() -> Container:
    """Return the app's dependency container."""
    found: Container = current_app.extensions["handoff"]
    return found


def db() -> Session:
    """Return this request's session, opened on first use and closed at teardown."""
    session = getattr(g, "db", None)
    if session is None:
        session = container().sessions()
        g.db = session
    return session


def close_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()
