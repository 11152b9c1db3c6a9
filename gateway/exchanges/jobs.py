"""RQ jobs for raw carrier exchanges: enforce the retention period."""

from __future__ import annotations

import logging

from gateway.exchanges import service as exchanges
from gateway.jobs import context, registry

log = logging.getLogger(__name__)


@registry.job
def purge_expired(chunk: int = 5000) -> int:
    """Delete exchanges older than ``EXCHANGE_RETENTION_DAYS``, one short transaction per chunk."""
    with context.app_context() as container:
        days = exchanges.retention_days(container.settings)
        total = 0
        while True:
            with container.sessions() as session:
                deleted = exchanges.purge_chunk(session, days, chunk=chunk)
                session.commit()
            total += deleted
            if deleted < chunk:
                break
        log.info("carrier exchanges purged", extra={"rows": total, "retention_days": days})
        return total
