"""The application a job function runs in: set once per worker process by its entry point."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from flask import Flask

from gateway.kernel.container import Container

_app: Flask | None = None


def set_app(app: Flask) -> None:
    """Make ``app`` the one that job functions run in (called once per worker process)."""
    global _app
    _app = app


@contextlib.contextmanager
def app_context() -> Iterator[Container]:
    """Yield the container inside the worker's app context."""
    if _app is None:
        raise RuntimeError(
            "no application for this job: run workers with `python -m gateway.jobs.worker` "
            "(or call gateway.jobs.context.set_app first)"
        )
    with _app.app_context():
        yield _app.extensions["handoff"]
