"""RQ jobs for tracking: drain the callback inbox, sweep forgotten rows, poll carriers without push.

``poll_carriers`` and ``sweep_inbox`` are periodic: ``gateway.scheduler`` enqueues them.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from gateway import worker
from gateway.services import callbacks
from gateway.services import tracking as service

log = logging.getLogger(__name__)


def drain_inbox(batch_size: int = 1000, max_batches: int = 1000) -> int:
    """Normalise every pending inbox row, ``batch_size`` rows per transaction; return how many."""
    with worker.app_context() as container:
        # Cleared first: a callback stored while we drain queues another job rather than being missed.
        container.redis.delete(callbacks.DRAIN_FLAG)
        total = 0
        for _ in range(max_batches):
            with container.sessions() as session:
                taken = service.normalise_pending(session, limit=batch_size)
                session.commit()
            total += taken
            if taken < batch_size:
                break
        log.info("tracking inbox drained", extra={"rows": total})
        return total


def poll_carriers(limit: int = 200) -> int:
    """Poll carriers without push for due shipments (run every few minutes by ``gateway.scheduler``)."""
    with worker.app_context() as container, container.sessions() as session:
        polled = service.poll_due(session, container.carriers, limit=limit)
        session.commit()
        return polled


def start_tracking(shipment_id: str) -> bool:
    """Subscribe a freshly labelled shipment to its carrier's pushes (or poll it) and fetch its history.

    Queued through the outbox by the label purchase; idempotent, so a re-driven job asks nothing twice.
    """
    with worker.app_context() as container, container.sessions() as session:
        started = service.start(session, container.carriers, shipment_id)
        session.commit()
        return started


def sweep_inbox(older_than_seconds: int = 60) -> int:
    """Queue a drain when pending inbox rows have waited too long (a lost job); return how many wait."""
    with worker.app_context() as container:
        with container.sessions() as session:
            waiting = service.stale_pending(session, timedelta(seconds=older_than_seconds))
        if waiting:
            container.redis.delete(callbacks.DRAIN_FLAG)
            callbacks.schedule_drain(container)
        return waiting
