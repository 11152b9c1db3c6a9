"""RQ jobs for tracking: drain the callback inbox, sweep forgotten rows, poll carriers without push,
keep the carriers' standing push subscriptions.

``poll_carriers``, ``sweep_inbox`` and ``keep_push_subscriptions`` are periodic: ``gateway.jobs.scheduler``
enqueues them.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from gateway.accounts import connections as accounts
from gateway.jobs import context, registry
from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.tracking import callbacks, ingest, polling, push_subscriptions

log = logging.getLogger(__name__)


@registry.job
def drain_inbox(batch_size: int = 1000, max_batches: int = 1000) -> int:
    """Normalise every pending inbox row, ``batch_size`` rows per transaction; return how many."""
    with context.app_context() as container:
        # Cleared first: a callback stored while we drain queues another job rather than being missed.
        container.redis.delete(callbacks.DRAIN_FLAG)
        total = 0
        for _ in range(max_batches):
            with container.sessions() as session:
                taken = ingest.normalise_pending(session, limit=batch_size)
                session.commit()
            total += taken
            if taken < batch_size:
                break
        log.info("tracking inbox drained", extra={"rows": total})
        return total


@registry.job
def poll_carriers(limit: int = 200) -> int:
    """Poll carriers without push (and renew per-number push subscriptions) for due shipments, each on
    the account its label was bought on (run every five minutes by ``gateway.jobs.scheduler``)."""
    with context.app_context() as container, container.sessions() as session:

        def account_adapter(shipment: models.Shipment) -> Any:
            # The tenant's own account the label was bought on, else its fallback: the operator's
            # accounts of the tenant's mode (TEST_CARRIERS for test keys' shipments).
            try:
                return accounts.adapter_for(
                    session,
                    container,
                    shipment.tenant_id,
                    shipment.carrier or "",
                    shipment.carrier_account_id,
                )
            except Problem as exc:  # an account whose secrets no longer open: this shipment waits, not all
                log.warning(
                    "tracking account unusable", extra={"shipment_id": shipment.id, "problem": exc.slug}
                )
                return None

        polled = polling.poll_due(session, container.carriers, limit=limit, account_adapter=account_adapter)
        session.commit()
        return polled


@registry.job
def keep_push_subscriptions() -> dict[str, int] | None:
    """Make, check and replace the standing push subscription of every account whose carrier pushes by
    account (USPS by MID); run every 30 minutes by ``gateway.jobs.scheduler`` and at its start."""
    with context.app_context() as container, container.sessions() as session:
        counts = push_subscriptions.run(session, container)
        session.commit()
        if counts:
            log.info("carrier push subscriptions kept", extra=counts)
        return counts


@registry.job
def start_tracking(shipment_id: str) -> bool:
    """Subscribe a freshly labelled shipment to its carrier's pushes (or poll it) and fetch its history.

    Queued through the outbox by the label purchase; idempotent, so a re-driven job asks nothing twice.
    """
    with context.app_context() as container, container.sessions() as session:
        shipment = session.get(models.Shipment, shipment_id)
        # The tenant's own account the label was bought on, or the operator's accounts.
        carriers = (
            container.carriers
            if shipment is None
            else accounts.registry_for_shipment(session, container, shipment)
        )
        started = polling.start(session, carriers, shipment_id)
        session.commit()
        return started


@registry.job
def sweep_inbox(older_than_seconds: int = 60) -> int:
    """Queue a drain when pending inbox rows have waited too long (a lost job); return how many wait."""
    with context.app_context() as container:
        with container.sessions() as session:
            waiting = ingest.stale_pending(session, timedelta(seconds=older_than_seconds))
        if waiting:
            container.redis.delete(callbacks.DRAIN_FLAG)
            callbacks.schedule_drain(container)
        return waiting
