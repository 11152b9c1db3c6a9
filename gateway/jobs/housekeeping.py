"""RQ job functions. Ids in, call a service, nothing else: a job's dotted path is public API."""

from __future__ import annotations

from gateway.jobs import context, registry
from gateway.kernel import idempotency


@registry.job
def purge_expired_idempotency_records() -> int:
    """Delete idempotency records past their retention."""
    with context.app_context() as container, container.sessions() as session:
        return idempotency.purge_expired(session)


@registry.job
def noop(*_ids: str | int) -> None:
    """Do nothing: the baseline job for benchmarks, and a harmless target for checking the pipeline."""
