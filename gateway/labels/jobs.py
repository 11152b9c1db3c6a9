"""Label jobs (run through the outbox: ``outbox.add(session, label_jobs.purchase, shipment_id)``)."""

from __future__ import annotations

from gateway.exchanges import service as exchanges
from gateway.jobs import context, registry
from gateway.labels import batches, purchasing


@registry.job
def purchase(shipment_id: str) -> str:
    """Buy the label of an in-flight shipment at most once; may raise ``outbox.RetryLater``."""
    # Tag the carrier exchanges of this purchase with the shipment, for disputes.
    with context.app_context() as container, exchanges.scope(shipment_id=shipment_id):
        return purchasing.run_purchase(container, shipment_id)


@registry.job
def merge_batch(batch_id: str) -> str:
    """Build a finished batch's merged PDF ahead of its download."""
    with context.app_context() as container:
        return batches.merge_batch(container, batch_id)
