"""RQ jobs for outbound webhooks (run through the outbox: ids in, idempotent)."""

from __future__ import annotations

from gateway import worker
from gateway.webhooks import delivery


def deliver(delivery_id: str) -> str:
    """Attempt one webhook delivery; ``outbox.RetryLater`` schedules the next attempt."""
    with worker.app_context() as container:
        return delivery.deliver(container, delivery_id)
