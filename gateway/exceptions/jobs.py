"""RQ job: the exceptions watch (every minute, by the scheduler)."""

from __future__ import annotations

import logging

from gateway.exceptions import watch
from gateway.jobs import context, registry

log = logging.getLogger(__name__)


@registry.job
def watch_shipments(limit: int = 500, rounds: int = 20) -> int:
    """Predict again, open, close and escalate exceptions, ``limit`` shipments per transaction."""
    total = 0
    with context.app_context() as container:
        for _ in range(rounds):
            with container.sessions() as session:
                counts = watch.run(session, container.settings, limit=limit)
                session.commit()
            total += counts.predicted
            if counts.seen < limit:
                break
    log.info("exceptions watch ran", extra={"predicted": total})
    return total
