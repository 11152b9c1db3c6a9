"""The transactional outbox: work that must not be lost is recorded in the database, then run by RQ.

RQ alone does not promise delivery: a flushed Redis or a worker killed with SIGKILL loses jobs.
So the database is the record of intent:

* ``add(session, capability_jobs.func, *ids)`` writes an ``outbox`` row in the caller's
  transaction. Nothing is enqueued unless that transaction commits.
* After the commit, the row is relayed to RQ at once (best effort), and the scheduler's periodic
  ``relay`` picks up anything the fast path missed (Redis down, process died after commit).
* ``sweep`` re-drives rows whose RQ job vanished (Redis flushed), failed, or stopped sending
  heartbeats (worker killed mid-job).
* ``execute`` is the RQ job: it runs the target and marks the row done. Failures back off
  exponentially with jitter; after ``OUTBOX_MAX_ATTEMPTS`` the row is ``dead`` for ops to see.

Targets may therefore run more than once and must be idempotent (lock the row they change,
check its state first). Job arguments are ids only.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from gateway.jobs import context, registry
from gateway.jobs.tables import OutboxEntry
from gateway.kernel.types import rowcount, utcnow

if TYPE_CHECKING:
    from gateway.kernel.container import Container

log = logging.getLogger(__name__)

_INFO_KEY = "handoff_outbox_ids"
_REDRIVE_STATUSES = {JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED, JobStatus.FINISHED}


class RetryLater(Exception):
    """Raised by a target that wants to run again after ``delay`` seconds (e.g. a carrier said 503)."""

    def __init__(self, delay: float, reason: str = "") -> None:
        super().__init__(reason or f"retry in {delay:.0f}s")
        self.delay = max(0.0, float(delay))
        self.reason = reason


def add(
    session: Session,
    job: Callable[..., Any] | str,
    *args: str | int,
    queue: str = "default",
    delay: timedelta | None = None,
) -> OutboxEntry:
    """Record ``job(*args)`` to run after the caller's transaction commits; return the row.

    ``job`` is a function registered with ``@registry.job`` (or its registered name); anything
    else is refused with ``registry.UnknownJob`` (a ``ValueError``).
    """
    name = registry.named(job)
    for arg in args:
        if not isinstance(arg, str | int) or isinstance(arg, bool):
            raise TypeError(f"outbox job arguments are ids (str or int), got {type(arg).__name__}")
    entry = OutboxEntry(
        job=name,
        args=list(args),
        queue=queue,
        state="pending",
        attempts=0,
        available_at=utcnow() + (delay or timedelta(0)),
    )
    session.add(entry)
    session.flush()
    if not delay:
        session.info.setdefault(_INFO_KEY, []).append(entry.id)
    return entry


def install(sessions: sessionmaker[Session], container: Container) -> None:
    """Relay a session's new outbox rows right after it commits (the fast path; the scheduler is the net)."""

    @event.listens_for(sessions, "after_commit")
    def _relay_after_commit(session: Session) -> None:
        ids = session.info.pop(_INFO_KEY, None)
        if not ids:
            return
        try:
            relay(container, ids=ids)
        except Exception:  # Redis or the database is down: the periodic relay will pick them up.
            log.warning("outbox fast relay failed; the periodic relay will retry", exc_info=True)

    @event.listens_for(sessions, "after_rollback")
    def _forget_after_rollback(session: Session) -> None:
        session.info.pop(_INFO_KEY, None)


def _job_timeout(container: Container) -> int:
    return int(container.settings["OUTBOX_JOB_TIMEOUT_SECONDS"])


def relay(container: Container, *, limit: int = 500, ids: Iterable[int] | None = None) -> int:
    """Hand due pending rows to RQ; return how many were enqueued."""
    now = utcnow()
    with container.sessions() as session:
        query = (
            sa.select(OutboxEntry.id, OutboxEntry.attempts, OutboxEntry.queue)
            .where(OutboxEntry.state == "pending", OutboxEntry.available_at <= now)
            .order_by(OutboxEntry.id)
            .limit(limit)
        )
        if ids is not None:
            query = query.where(OutboxEntry.id.in_(list(ids)))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        claimed: list[tuple[int, str, str]] = []
        for entry_id, attempts, queue in session.execute(query).all():
            rq_job_id = f"outbox-{entry_id}-{attempts + 1}"
            # Conditional update: two relays racing (SQLite has no row locks) claim a row only once.
            result = session.execute(
                sa.update(OutboxEntry)
                .where(OutboxEntry.id == entry_id, OutboxEntry.state == "pending")
                .values(state="enqueued", attempts=attempts + 1, enqueued_at=now, rq_job_id=rq_job_id)
            )
            if rowcount(result) == 1:
                claimed.append((entry_id, queue, rq_job_id))
        # Committed before enqueueing: a crash in between leaves rows "enqueued" with no RQ job,
        # which the sweeper re-drives. The reverse order could run a job whose row says pending.
        session.commit()
    enqueued = 0
    failed: list[tuple[int, str]] = []
    for entry_id, queue, rq_job_id in claimed:
        try:
            container.queue(queue).enqueue(
                execute,
                entry_id,
                job_id=rq_job_id,
                job_timeout=_job_timeout(container),
                result_ttl=3600,
                failure_ttl=7 * 24 * 3600,
            )
            enqueued += 1
        except Exception:
            log.warning("could not enqueue outbox entry", extra={"entry_id": entry_id}, exc_info=True)
            failed.append((entry_id, rq_job_id))
    if failed:
        _back_to_pending(container, failed, reason="enqueue failed")
    return enqueued


def _back_to_pending(container: Container, rows: list[tuple[int, str]], *, reason: str) -> int:
    moved = 0
    with container.sessions() as session:
        for entry_id, rq_job_id in rows:
            result = session.execute(
                sa.update(OutboxEntry)
                .where(
                    OutboxEntry.id == entry_id,
                    OutboxEntry.state == "enqueued",
                    OutboxEntry.rq_job_id == rq_job_id,
                )
                .values(state="pending", available_at=utcnow(), last_error=reason)
            )
            moved += rowcount(result)
        session.commit()
    return moved


def sweep(container: Container, *, stale_seconds: float | None = None, grace_seconds: float = 10) -> int:
    """Re-drive enqueued rows whose RQ job is gone, failed, or has stopped beating; return how many."""
    stale = float(stale_seconds if stale_seconds is not None else container.settings["OUTBOX_STALE_SECONDS"])
    now = utcnow()
    with container.sessions() as session:
        rows = session.execute(
            sa.select(OutboxEntry.id, OutboxEntry.rq_job_id)
            .where(
                OutboxEntry.state == "enqueued",
                OutboxEntry.enqueued_at <= now - timedelta(seconds=grace_seconds),
            )
            .order_by(OutboxEntry.id)
            .limit(5000)
        ).all()
    if not rows:
        return 0
    jobs = Job.fetch_many([r.rq_job_id for r in rows], connection=container.redis)
    lost: list[tuple[int, str]] = []
    waiting: list[tuple[Any, Job]] = []
    for row, job in zip(rows, jobs, strict=True):
        if job is None:
            lost.append((row.id, row.rq_job_id))
            continue
        status = job.get_status(refresh=False)
        if status in _REDRIVE_STATUSES:
            lost.append((row.id, row.rq_job_id))
        elif status == JobStatus.STARTED:
            beat = job.last_heartbeat or job.started_at
            if beat is not None and (now - _aware(beat)).total_seconds() > stale:
                lost.append((row.id, row.rq_job_id))
        elif status == JobStatus.QUEUED:
            waiting.append((row, job))
    lost += _dequeued_by_the_dead(container, waiting)
    if not lost:
        return 0
    moved = _back_to_pending(container, lost, reason="re-driven by the sweeper: RQ job lost, failed or stale")
    if moved:
        log.warning("outbox sweeper re-drove entries", extra={"count": moved})
    return moved


def _dequeued_by_the_dead(container: Container, waiting: list[tuple[Any, Job]]) -> list[tuple[int, str]]:
    """Jobs still marked queued that no queue holds any more: taken by a worker that died before starting.

    An RQ worker moves a job off its queue (into the queue's intermediate list) and only then marks it
    started; a worker SIGKILLed in between leaves a job that says "queued" but that no worker will
    ever see. RQ itself recovers it only at its next maintenance pass, many minutes later. A job found
    in no queue is read again afterwards, so one that a live worker has just started is left alone.
    """
    if not waiting:
        return []
    pipe = container.redis.pipeline(transaction=False)
    for _, job in waiting:
        pipe.lpos(Queue.redis_queue_namespace_prefix + job.origin, job.id)
    positions = pipe.execute()
    absent = [(row, job) for (row, job), pos in zip(waiting, positions, strict=True) if pos is None]
    if not absent:
        return []
    again = Job.fetch_many([job.id for _, job in absent], connection=container.redis)
    return [
        (row.id, row.rq_job_id)
        for (row, _), job in zip(absent, again, strict=True)
        if job is None or job.get_status(refresh=False) == JobStatus.QUEUED
    ]


def _aware(value: Any) -> Any:
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def backoff_seconds(attempts: int, *, base: float = 2.0, cap: float = 3600.0) -> float:
    """Exponential backoff with full jitter between half and the whole step."""
    doubling: int = 2 ** max(0, attempts - 1)  # a non-negative power, so an int
    step = min(cap, base * doubling)
    return step * random.uniform(0.5, 1.0)


@registry.job
def execute(entry_id: int) -> str:
    """The RQ job: run the row's target once more, then record the outcome."""
    with context.app_context() as container:
        with container.sessions() as session:
            entry = session.get(OutboxEntry, entry_id)
            if entry is None or entry.state in ("done", "dead"):
                return "skipped"
            target, args, attempts = entry.job, list(entry.args), entry.attempts
        try:
            registry.resolve(target)(*args)
        except RetryLater as exc:
            _finish(container, entry_id, "pending", delay=exc.delay, error=str(exc))
            return "retry"
        except Exception as exc:
            log.exception("outbox job failed", extra={"entry_id": entry_id, "job": target})
            max_attempts = int(container.settings["OUTBOX_MAX_ATTEMPTS"])
            error = f"{type(exc).__name__}: {exc}"[:2000]
            if attempts >= max_attempts:
                _finish(container, entry_id, "dead", error=error)
                return "dead"
            _finish(container, entry_id, "pending", delay=backoff_seconds(attempts), error=error)
            return "failed"
        _finish(container, entry_id, "done")
        return "done"


def _finish(
    container: Container, entry_id: int, state: str, *, delay: float = 0, error: str | None = None
) -> None:
    values: dict[str, Any] = {"state": state}
    if state == "done":
        values["done_at"] = utcnow()
    else:
        values["available_at"] = utcnow() + timedelta(seconds=delay)
        values["last_error"] = error
    with container.sessions() as session:
        session.execute(
            sa.update(OutboxEntry)
            .where(OutboxEntry.id == entry_id, OutboxEntry.state.in_(("enqueued", "pending")))
            .values(**values)
        )
        session.commit()


def purge_done(container: Container, *, older_than: timedelta = timedelta(days=7)) -> int:
    """Delete rows that finished long ago."""
    with container.sessions() as session:
        result = session.execute(
            sa.delete(OutboxEntry).where(
                OutboxEntry.state == "done", OutboxEntry.done_at < utcnow() - older_than
            )
        )
        session.commit()
        return rowcount(result)


def requeue(session: Session, entry_id: int) -> bool:
    """Put a dead (or stuck) row back to pending now, for ops; return whether it changed."""
    result = session.execute(
        sa.update(OutboxEntry)
        .where(OutboxEntry.id == entry_id, OutboxEntry.state.in_(("dead", "pending", "enqueued")))
        .values(state="pending", available_at=utcnow(), attempts=0)
    )
    return rowcount(result) == 1
