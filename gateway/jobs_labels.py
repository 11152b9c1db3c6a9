"""Label jobs (run through the outbox: ``outbox.add(session, "gateway.jobs_labels.purchase", shipment_id)``)."""

from __future__ import annotations

from gateway import worker
from gateway.services import exchanges, labels


def purchase(shipment_id: str) -> str:
    """Buy the label of an in-flight shipment at most once; may raise ``outbox.RetryLater``."""
    # Tag the carrier exchanges of this purchase with the shipment, for disputes.
    with worker.app_context() as container, exchanges.scope(shipment_id=shipment_id):
        return labels.run_purchase(container, shipment_id)


def merge_batch(batch_id: str) -> str:
    """Build a finished batch's merged PDF ahead of its download."""
    with worker.app_context() as container:
        return labels.merge_batch(container, batch_id)
