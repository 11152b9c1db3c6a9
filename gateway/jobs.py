"""RQ job functions. Ids in, call a service, nothing else: a job's dotted path is public API."""

from __future__ import annotations

from gateway import idempotency, worker


def purge_expired_idempotency_records() -> int:
    """Delete idempotency records past their retention."""
    with worker.app_context() as container, container.sessions() as session:
        return idempotency.purge_expired(session)


def noop(*_ids: str | int) -> None:
    """Do nothing: the baseline job for benchmarks, and a harmless target for checking the pipeline."""
