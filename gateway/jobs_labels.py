"""Label jobs (run through the outbox: ``outbox.add(session, "gateway.jobs_labels.purchase", shipment_id)``)."""

from __future__ import annotations

from gateway import worker
from gateway.services import labels


def purchase(shipment_id: str) -> str:
    """Buy the label of an in-flight shipment at most once; may raise ``outbox.RetryLater``."""
    with worker.app_context() as container:
        return labels.run_purchase(container, shipment_id)
