"""The worker entry point: build the app once, then run an RQ worker with the scheduler on."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from flask import Flask
from rq import Worker

from gateway.bootstrap import Container

log = logging.getLogger(__name__)

_app: Flask | None = None


def set_app(app: Flask) -> None:
    """Make ``app`` the one that job functions run in (called once per worker process)."""
    global _app
    _app = app


@contextlib.contextmanager
def app_context() -> Iterator[Container]:
    """Yield the container inside the worker's app context, building the app if needed."""
    global _app
    if _app is None:
        from gateway.app import create_app

        _app = create_app()
    with _app.app_context():
        yield _app.extensions["handoff"]


def run(app: Flask, *, burst: bool = False, worker_class: Any = Worker) -> bool:
    """Run a worker on all the gateway's queues until stopped (or empty, with ``burst``)."""
    set_app(app)
    container: Container = app.extensions["handoff"]
    queues = [container.queue(name) for name in container.queue_names]
    # How often a busy worker heart-beats its job; the outbox sweeper re-drives jobs whose beat goes stale.
    interval = int(container.settings.get("WORKER_MONITORING_INTERVAL", 30))
    worker = worker_class(queues, connection=container.redis, job_monitoring_interval=interval)
    preload(container)
    log.info("worker starting", extra={"queues": container.queue_names})
    return worker.work(with_scheduler=True, burst=burst)


def preload(container: Container) -> None:
    """Import the job modules and build the carrier adapters once, in the parent: RQ forks a work
    horse per job, and without this every job would pay for those imports again (about a second)."""
    import importlib
    import pkgutil

    from sqlalchemy.orm import configure_mappers

    import gateway
    from gateway import db

    for info in pkgutil.iter_modules(gateway.__path__):
        if info.name == "jobs" or info.name.startswith("jobs_"):
            importlib.import_module(f"gateway.{info.name}")
    db.load_all()
    configure_mappers()  # otherwise every forked job configures every ORM mapper again
    try:
        container.carriers  # noqa: B018 - builds the adapters (no network: tokens are fetched on first call)
    except Exception:  # a bad CARRIERS setting fails the jobs that need it, with their own error
        log.warning("carrier adapters could not be built at worker start", exc_info=True)


def main() -> None:
    """``python -m gateway.worker``: run a worker configured from the environment."""
    from gateway.app import create_app

    run(create_app())


if __name__ == "__main__":
    main()
