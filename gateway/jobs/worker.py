"""The worker entry point: build the app once, then run an RQ worker with the scheduler on."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from flask import Flask
from rq import SimpleWorker, Worker
from rq.job import Job
from rq.queue import Queue
from rq.worker import BaseWorker
from sqlalchemy.orm import configure_mappers

from gateway.jobs.context import set_app
from gateway.kernel.container import Container

log = logging.getLogger(__name__)


class BeatingSimpleWorker(SimpleWorker):
    """An RQ ``SimpleWorker`` (jobs run in the worker process, no fork per job) that keeps heart-beating.

    RQ's forking worker beats the running job from its monitoring loop; ``SimpleWorker`` beats only
    when a job starts, so a job running longer than ``OUTBOX_STALE_SECONDS`` would look abandoned and
    the outbox sweeper would start it a second time. A thread beats the job and the worker every
    ``job_monitoring_interval`` seconds until the job returns.
    """

    def execute_job(self, job: Job, queue: Queue) -> None:
        done = threading.Event()
        ttl = self.get_heartbeat_ttl(job)

        def beat() -> None:
            while not done.wait(self.job_monitoring_interval):
                try:
                    job.heartbeat(datetime.now(UTC), ttl, xx=True)
                    self.heartbeat(ttl)
                except Exception:  # Redis away for a moment: the next beat tries again
                    log.warning("job heartbeat failed", extra={"job_id": job.id}, exc_info=True)

        beater = threading.Thread(target=beat, name=f"heartbeat-{job.id}", daemon=True)
        beater.start()
        try:
            super().execute_job(job, queue)
        finally:
            done.set()
            beater.join(timeout=5)


def run(app: Flask, *, burst: bool = False, worker_class: type[BaseWorker] = Worker) -> bool:
    """Run a worker on all the gateway's queues until stopped (or empty, with ``burst``)."""
    set_app(app)
    container: Container = app.extensions["handoff"]
    queues = [container.queue(name) for name in container.queue_names]
    # How often a busy worker heart-beats its job; the outbox sweeper re-drives jobs whose beat goes stale.
    interval = int(container.settings["WORKER_MONITORING_INTERVAL"])
    worker = worker_class(queues, connection=container.redis, job_monitoring_interval=interval)
    preload(container)
    log.info("worker starting", extra={"queues": container.queue_names})
    # No RQ scheduler: delayed work waits in the outbox (``available_at``), never in RQ's scheduled
    # registry, and RQ runs its scheduler as a forked child that a SIGKILLed worker leaves orphaned.
    return worker.work(with_scheduler=False, burst=burst)


def preload(container: Container) -> None:
    """Configure the mappers and build the carrier adapters once, in the parent: RQ forks a work
    horse per job, and without this every job would pay for them again (about a second). The job
    modules themselves were imported by the app factory (``gateway.wiring.JOB_MODULES``)."""
    configure_mappers()  # otherwise every forked job configures every ORM mapper again
    try:
        container.carriers  # noqa: B018 - builds the adapters (no network: tokens are fetched on first call)
    except Exception:  # a bad CARRIERS setting fails the jobs that need it, with their own error
        log.warning("carrier adapters could not be built at worker start", exc_info=True)


def main() -> None:
    """``python -m gateway.jobs.worker``: run a worker configured from the environment."""
    from gateway.app import create_app

    run(create_app())


if __name__ == "__main__":
    main()
