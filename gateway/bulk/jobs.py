"""Bulk booking jobs (run through the outbox: ``outbox.add(session, bulk_jobs.run, bulk_id)``)."""

from __future__ import annotations

from gateway.jobs import context, outbox, registry

# How long one run books before it hands the rest to a fresh job (well within the RQ job timeout).
RUN_BUDGET_SECONDS = 60.0


@registry.job
def run(bulk_id: str) -> str:
    """Book an upload's pending rows chunk by chunk; may run twice (rows already booked are skipped)."""
    from gateway.bulk import uploads  # uploads queues this job: imported here, not at module level

    with context.app_context() as container:
        if uploads.run(container, bulk_id, budget_seconds=RUN_BUDGET_SECONDS):
            return "done"
        with container.sessions() as session:
            outbox.add(session, run, bulk_id, queue=uploads.QUEUE)
            session.commit()
        return "continued"
