"""The outbox: work recorded with the change it follows, run by RQ, re-driven when RQ loses it."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from rq import SimpleWorker
from rq.job import Job

from gateway import wiring
from gateway.jobs import outbox, scheduler, worker
from gateway.jobs.tables import OutboxEntry
from gateway.kernel.types import utcnow


@pytest.fixture
def container(app):
    return app.extensions["handoff"]


def _entry(container, entry_id: int) -> OutboxEntry:
    with container.sessions() as session:
        return session.get(OutboxEntry, entry_id)


def _drain(app) -> None:
    worker.run(app, burst=True, worker_class=SimpleWorker)


def test_work_added_in_a_rolled_back_transaction_never_runs(container):
    with container.sessions() as session:
        entry_id = outbox.add(session, "gateway.jobs.housekeeping.noop", "shp_1").id
        session.rollback()
    assert _entry(container, entry_id) is None
    assert outbox.relay(container, ids=[entry_id]) == 0


def test_committed_work_is_enqueued_after_commit_and_marked_done_once_run(app, container):
    with container.sessions() as session:
        entry_id = outbox.add(session, "gateway.jobs.housekeeping.noop", "shp_1", queue="labels").id
        session.commit()
    row = _entry(container, entry_id)
    assert row.state == "enqueued" and row.attempts == 1
    assert Job.fetch(row.rq_job_id, connection=container.redis).origin == "labels"
    _drain(app)
    row = _entry(container, entry_id)
    assert row.state == "done" and row.done_at is not None


def test_a_job_lost_from_redis_is_re_driven_by_the_sweeper_and_runs(app, container):
    with container.sessions() as session:
        entry_id = outbox.add(session, "gateway.jobs.housekeeping.noop", "shp_2").id
        session.commit()
    lost = _entry(container, entry_id)
    # What a FLUSHALL or a lost Redis does to this job: the job and its queue slot are gone.
    Job.fetch(lost.rq_job_id, connection=container.redis).delete(remove_from_queue=True)

    assert outbox.sweep(container, grace_seconds=0) >= 1
    row = _entry(container, entry_id)
    assert row.state == "pending" and "sweeper" in row.last_error
    outbox.relay(container)
    _drain(app)
    row = _entry(container, entry_id)
    assert row.state == "done" and row.attempts == 2


def test_a_running_job_that_stopped_beating_is_re_driven(container):
    with container.sessions() as session:
        entry_id = outbox.add(session, "gateway.jobs.housekeeping.noop", "shp_3").id
        session.commit()
    row = _entry(container, entry_id)
    job = Job.fetch(row.rq_job_id, connection=container.redis)
    # A worker killed with SIGKILL leaves its job "started" with a heartbeat that never moves again.
    job.set_status("started")
    job.heartbeat(utcnow() - timedelta(minutes=10), ttl=600)
    assert outbox.sweep(container, stale_seconds=60, grace_seconds=0) >= 1
    assert _entry(container, entry_id).state == "pending"


def test_work_deferred_by_a_delay_is_not_relayed_before_it_is_due(container):
    with container.sessions() as session:
        entry_id = outbox.add(session, "gateway.jobs.housekeeping.noop", "shp_4", delay=timedelta(hours=1)).id
        session.commit()
    assert outbox.relay(container) >= 0
    assert _entry(container, entry_id).state == "pending"


def _stored_row(container, job: str, *args: str) -> int:
    """A row as an earlier release (or another process) wrote it, naming its job by string."""
    with container.sessions() as session:
        entry = OutboxEntry(
            job=job, args=list(args), queue="default", state="pending", attempts=0, available_at=utcnow()
        )
        session.add(entry)
        session.commit()
        return entry.id


def test_a_failing_job_backs_off_then_goes_dead_for_ops_to_see(app, container):
    container.settings["OUTBOX_MAX_ATTEMPTS"] = 2
    try:
        # A row naming a job that no release registers any more: it fails every time it runs.
        entry_id = _stored_row(container, "gateway.jobs.housekeeping.no_such_job", "shp_5")
        outbox.relay(container, ids=[entry_id])
        _drain(app)
        row = _entry(container, entry_id)
        assert row.state == "pending" and "UnknownJob" in row.last_error
        assert row.available_at > utcnow()  # backed off, not retried in a tight loop

        with container.sessions() as session:
            session.execute(
                sa.update(OutboxEntry).where(OutboxEntry.id == entry_id).values(available_at=utcnow())
            )
            session.commit()
        outbox.relay(container)
        _drain(app)
        assert _entry(container, entry_id).state == "dead"

        with container.sessions() as session:
            assert outbox.requeue(session, entry_id)
            session.commit()
        assert _entry(container, entry_id).state == "pending"
    finally:
        container.settings["OUTBOX_MAX_ATTEMPTS"] = 20


def test_rows_stored_under_a_job_name_of_an_earlier_release_still_run(app, container):
    entry_id = _stored_row(container, "gateway.jobs.noop", "shp_old")
    outbox.relay(container, ids=[entry_id])
    _drain(app)
    assert _entry(container, entry_id).state == "done"


def test_add_refuses_targets_outside_the_gateway_and_non_id_arguments(container):
    with container.sessions() as session:
        with pytest.raises(ValueError, match="registered job"):
            outbox.add(session, "os.system", "rm -rf /")
        with pytest.raises(ValueError, match="registered job"):
            outbox.add(session, print, "shp_1")
        with pytest.raises(TypeError, match="ids"):
            outbox.add(session, "gateway.jobs.housekeeping.noop", {"not": "an id"})


def test_the_scheduler_relays_work_the_fast_path_missed(container):
    with container.sessions() as session:
        entry_id = outbox.add(session, "gateway.jobs.housekeeping.noop", "shp_6").id
        session.info.clear()  # as if the process died between commit and the fast relay
        session.commit()
    assert _entry(container, entry_id).state == "pending"
    relay_task = next(t for t in wiring.TASKS if t.name == "outbox-relay")
    scheduler.run_once(container, relay_task)
    assert _entry(container, entry_id).state == "enqueued"


@pytest.mark.parametrize(
    ("worker_class", "re_driven"),
    [(SimpleWorker, True), (worker.BeatingSimpleWorker, False)],
    ids=["rq-simple-worker", "beating-simple-worker"],
)
def test_a_long_job_in_a_simple_worker_is_not_re_driven_while_it_runs(
    app, container, monkeypatch, worker_class, re_driven
):
    """RQ's SimpleWorker beats once at the start; ours keeps beating, so the sweeper leaves it alone."""
    import threading
    import time

    from gateway.jobs import registry

    monkeypatch.setitem(container.settings, "WORKER_MONITORING_INTERVAL", 1)
    # The outbox runs what the registry holds under the row's name: make that job a long one.
    monkeypatch.setitem(registry._JOBS, "gateway.jobs.housekeeping.noop", lambda *_ids: time.sleep(5))
    with container.sessions() as session:
        entry_id = outbox.add(session, "gateway.jobs.housekeeping.noop", "shp_long").id
        session.commit()
    swept: list[int] = []

    def sweep_mid_job() -> None:
        deadline = time.monotonic() + 10
        job_id = _entry(container, entry_id).rq_job_id
        while Job.fetch(job_id, connection=container.redis).get_status() != "started":
            if time.monotonic() > deadline:
                return
            time.sleep(0.1)
        time.sleep(3.5)  # past the 3 s threshold below, well inside the 5 s job
        swept.append(outbox.sweep(container, stale_seconds=3, grace_seconds=0))

    sweeper = threading.Thread(target=sweep_mid_job)
    sweeper.start()
    worker.run(app, burst=True, worker_class=worker_class)  # RQ wants the main thread for its signals
    sweeper.join()
    assert swept == [1 if re_driven else 0]


def test_a_job_taken_off_its_queue_by_a_worker_that_died_before_starting_it_is_re_driven(container):
    """RQ moves a job to the queue's intermediate list, then marks it started; a SIGKILL in between
    leaves a job that says "queued" and that no worker will ever see."""
    from rq import Queue

    with container.sessions() as session:
        waiting_id = outbox.add(session, "gateway.jobs.housekeeping.noop", "shp_waiting").id
        taken_id = outbox.add(session, "gateway.jobs.housekeeping.noop", "shp_taken").id
        session.commit()
    taken = Job.fetch(_entry(container, taken_id).rq_job_id, connection=container.redis)
    queue = Queue(taken.origin, connection=container.redis)
    assert container.redis.lrem(queue.key, 0, taken.id) == 1  # what the dying worker's LMOVE did
    container.redis.rpush(queue.intermediate_queue_key, taken.id)
    assert taken.get_status() == "queued"

    assert outbox.sweep(container, stale_seconds=60, grace_seconds=0) == 1
    assert _entry(container, taken_id).state == "pending"
    assert _entry(container, waiting_id).state == "enqueued"  # still in its queue: left alone
