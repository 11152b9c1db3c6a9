"""A write that meets another connection's write lock waits for it, and answers 503 if it outlasts the wait.

On the embedded default (SQLite) the lock is another connection's ``BEGIN IMMEDIATE``, and the wait is
``SQLITE_BUSY_TIMEOUT_MS``; on PostgreSQL it is a table lock held by another transaction, and the wait
is ``POSTGRES_LOCK_TIMEOUT_MS`` (PostgreSQL's ``lock_timeout``). The locks are real: another client of
the same database holds them.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from gateway import create_app
from tests.helpers import shipment_body

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def another_client_writing(database_url: str) -> Iterator[None]:
    """Another connection to the same database, in the middle of a write that blocks shipment inserts."""
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(url.database, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")  # SQLite's one write lock, for the whole database
            yield
            conn.execute("ROLLBACK")
        finally:
            conn.close()
        return
    engine = sa.create_engine(url.set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("LOCK TABLE shipments IN SHARE ROW EXCLUSIVE MODE"))  # blocks INSERT
            yield
            conn.rollback()
    finally:
        engine.dispose()


@contextlib.contextmanager
def gateway_waiting(settings: dict[str, Any], wait_ms: int) -> Iterator[Any]:
    app = create_app({**settings, "SQLITE_BUSY_TIMEOUT_MS": wait_ms, "POSTGRES_LOCK_TIMEOUT_MS": wait_ms})
    try:
        yield app.test_client()
    finally:
        app.extensions["handoff"].dispose()


def test_a_write_still_locked_after_the_wait_answers_503_database_busy_and_a_retry_then_succeeds(
    settings, platform
):
    headers = {**platform.headers, "Idempotency-Key": "busy-order-1"}
    with gateway_waiting(settings, wait_ms=200) as client:
        with another_client_writing(settings["DATABASE_URL"]):
            busy = client.post("/v1/shipments", json=shipment_body("BUSY-1"), headers=headers)
        assert busy.status_code == 503
        assert busy.mimetype == "application/problem+json"
        problem = busy.get_json()
        assert problem["type"].endswith("/database-busy")
        assert problem["status"] == 503
        assert int(busy.headers["Retry-After"]) >= 1
        assert "locked" not in problem["detail"].lower()  # no driver message shown to the client

        # Nothing was half-written and the Idempotency-Key was not spent: the retry creates it.
        retried = client.post("/v1/shipments", json=shipment_body("BUSY-1"), headers=headers)
        assert retried.status_code == 201, retried.get_json()
        assert "Idempotent-Replayed" not in retried.headers
        listed = client.get("/v1/shipments", headers=platform.headers).get_json()
        assert [s["reference"] for s in listed["data"]].count("BUSY-1") == 1


def test_a_write_waits_for_another_writer_that_finishes_within_the_wait(settings, platform):
    answers: list[Any] = []
    with gateway_waiting(settings, wait_ms=60_000) as client:
        request = threading.Thread(
            target=lambda: answers.append(
                client.post("/v1/shipments", json=shipment_body("WAITED-1"), headers=platform.headers)
            )
        )
        with another_client_writing(settings["DATABASE_URL"]):
            request.start()
            time.sleep(0.5)  # the other writer finishes half a second in, well within the minute we wait
        request.join(timeout=120)
    assert len(answers) == 1
    assert answers[0].status_code == 201, answers[0].get_json()
