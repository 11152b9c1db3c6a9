"""RQ job: retrain every tenant's delivery-time model and the pooled one (daily, by the scheduler)."""

from __future__ import annotations

from gateway.jobs import context, registry
from gateway.predictions import training


@registry.job
def retrain_eta() -> list[str]:
    """Train a new model version per tenant with deliveries in the window, and the pooled model."""
    with context.app_context() as container, container.sessions() as session:
        made = training.retrain_all(session, container.settings)
        session.commit()
        return made
