"""Normalisation derives timelines from the events a worker already holds plus the new ones.

The shortcut must never change an answer: the result equals a full re-derivation from the table, and a
copy made stale by another worker (or a rolled-back batch) is never used.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.jobs import registry
from gateway.tracking import ingest, tables
from gateway.tracking import jobs as tracking_jobs
from gateway.tracking import status as derivation
from tests.integration.test_callbacks import (  # noqa: F401 - the autouse fixture configures the secrets
    callback_secrets,
    new_number,
    post_ups,
    shipment_with_number,
    track_alert,
)

pytestmark = pytest.mark.integration

STEPS = [
    ("M", "MP", "060000"),
    ("I", "OR", "080000"),
    ("I", "DP", "093000"),
    ("X", "UR", "101500"),
    ("I", "OT", "111500"),
    ("D", "FS", "150000"),
]
DERIVED = (
    "milestone",
    "detail",
    "reason",
    "action_required",
    "status_at",
    "estimated_delivery",
    "delivered_at",
    "event_count",
    "unmapped_count",
)


def drain(app: Any, limit: int) -> None:
    container = app.extensions["handoff"]
    while True:
        with container.sessions() as session:
            taken = ingest.normalise_pending(session, limit=limit)
            session.commit()
        if taken == 0:
            return


def statuses(app: Any, ids: list[str]) -> dict[str, tuple[Any, ...]]:
    t = tables.ShipmentTracking
    with app.extensions["handoff"].sessions() as session:
        rows = session.execute(sa.select(t).where(t.shipment_id.in_(ids))).scalars()
        return {r.shipment_id: tuple(getattr(r, name) for name in DERIVED) for r in rows}


def test_small_shuffled_batches_end_exactly_where_a_full_rederive_from_the_table_does(app, client, platform):
    rng = random.Random(7)
    numbers = [new_number() for _ in range(4)]
    ids = [shipment_with_number(app, client, platform, "ups", n) for n in numbers]
    pushes = [track_alert(n, t, c, when) for n in numbers for t, c, when in STEPS]
    pushes += [rng.choice(pushes) for _ in range(8)]
    rng.shuffle(pushes)
    for start in range(0, len(pushes), 5):
        for payload in pushes[start : start + 5]:
            assert post_ups(client, payload).status_code == 202
        drain(app, limit=3)
    incremental = statuses(app, ids)

    derivation.EVENT_CACHE.clear()
    with app.extensions["handoff"].sessions() as session:
        derivation.rederive(session, ids)
        session.commit()

    assert statuses(app, ids) == incremental
    assert {row[0] for row in incremental.values()} == {"delivered"}
    assert {row[DERIVED.index("event_count")] for row in incremental.values()} == {len(STEPS)}


def test_a_copy_made_stale_by_another_worker_is_not_used(app, client, platform, monkeypatch):
    number = new_number()
    shipment_id = shipment_with_number(app, client, platform, "ups", number)
    assert post_ups(client, track_alert(number, "I", "OR", "080000")).status_code == 202
    drain(app, limit=10)  # this worker now holds the shipment's events
    mine = derivation.EVENT_CACHE

    with monkeypatch.context() as other_worker:
        other_worker.setattr(derivation, "EVENT_CACHE", derivation.EventCache())
        assert post_ups(client, track_alert(number, "D", "FS", "150000")).status_code == 202
        drain(app, limit=10)
    assert derivation.EVENT_CACHE is mine
    assert statuses(app, [shipment_id])[shipment_id][0] == "delivered"

    # A late scan reaches the first worker, whose copy lacks the delivery: it must read the table.
    assert post_ups(client, track_alert(number, "I", "OT", "110000")).status_code == 202
    drain(app, limit=10)

    status = statuses(app, [shipment_id])[shipment_id]
    assert status[0] == "delivered"
    assert status[DERIVED.index("event_count")] == 3


def test_a_rolled_back_batch_leaves_no_trace_in_the_kept_copy(app, client, platform):
    number = new_number()
    shipment_id = shipment_with_number(app, client, platform, "ups", number)
    assert post_ups(client, track_alert(number, "I", "OR", "080000")).status_code == 202
    drain(app, limit=10)
    assert post_ups(client, track_alert(number, "D", "FS", "150000")).status_code == 202
    container = app.extensions["handoff"]
    with container.sessions() as session:
        assert ingest.normalise_pending(session, limit=10) == 1
        session.rollback()  # the worker died before committing

    assert post_ups(client, track_alert(number, "I", "OT", "110000")).status_code == 202
    drain(app, limit=10)

    status = statuses(app, [shipment_id])[shipment_id]
    assert status[0] == "delivered"  # the delivery push was still pending and is normalised now
    assert status[DERIVED.index("event_count")] == 3


def test_several_drain_jobs_can_be_queued_and_each_row_is_normalised_once(app, client, platform, monkeypatch):
    from rq.registry import FinishedJobRegistry

    from gateway.tracking import callbacks
    from tests.integration.test_callbacks import event_count, inbox_rows, run_worker

    monkeypatch.setitem(app.config, "TRACKING_DRAIN_JOBS", "2")
    container = app.extensions["handoff"]
    container.redis.delete(callbacks.DRAIN_FLAG)
    queue = container.queue("tracking")
    run_worker(app)  # drains queued by earlier tests (which normalised directly) run first
    finished_before = set(FinishedJobRegistry(queue=queue).get_job_ids())
    number = new_number()
    shipment_with_number(app, client, platform, "ups", number)

    assert post_ups(client, track_alert(number)).status_code == 202
    run_worker(app)

    drains = [
        job_id
        for job_id in set(FinishedJobRegistry(queue=queue).get_job_ids()) - finished_before
        if queue.fetch_job(job_id).func_name == registry.name_of(tracking_jobs.drain_inbox)
    ]
    assert len(drains) == 2
    assert [row.state for row in inbox_rows(app, number)] == ["done"]
    assert event_count(app, number) == 1
