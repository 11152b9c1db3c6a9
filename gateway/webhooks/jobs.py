"""RQ jobs for outbound webhooks (ids in; run through the outbox or the scheduler; idempotent)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from gateway.jobs import context, registry
from gateway.kernel.types import utcnow
from gateway.webhooks import delivery
from gateway.webhooks.tables import WebhookAttempt, WebhookDelivery, WebhookEvent


@registry.job
def deliver(delivery_id: str) -> str:
    """Attempt one webhook delivery; ``outbox.RetryLater`` schedules the next attempt."""
    with context.app_context() as container:
        return delivery.deliver(container, delivery_id)


@registry.job
def purge_old(batch: int = 1000) -> int:
    """Delete events past ``WEBHOOK_RETENTION_DAYS`` with their deliveries and attempts, unless still pending."""
    with context.app_context() as container:
        days = float(container.settings["WEBHOOK_RETENTION_DAYS"])
        cutoff = utcnow() - timedelta(days=days)
        purged = 0
        while True:
            with container.sessions() as session:
                pending = sa.select(WebhookDelivery.event_id).where(WebhookDelivery.state == "pending")
                ids = list(
                    session.scalars(
                        sa.select(WebhookEvent.id)
                        .where(WebhookEvent.created_at < cutoff, WebhookEvent.id.not_in(pending))
                        .limit(batch)
                    )
                )
                if not ids:
                    return purged
                # Children first: SQLite only cascades with foreign keys on, and explicit is cheaper to reason about.
                session.execute(sa.delete(WebhookAttempt).where(WebhookAttempt.event_id.in_(ids)))
                session.execute(sa.delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(ids)))
                session.execute(sa.delete(WebhookEvent).where(WebhookEvent.id.in_(ids)))
                session.commit()
                purged += len(ids)
