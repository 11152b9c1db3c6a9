"""Integration modules share one database per test process: each starts without another's queued work."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.jobs.tables import OutboxEntry


@pytest.fixture(scope="module", autouse=True)
def _no_work_left_by_earlier_modules(app: Any) -> Iterator[None]:
    """Mark the outbox rows an earlier module left waiting as dead, before this module runs.

    A module's jobs relay every waiting row of the database, so an earlier module's leftovers (the
    tracking starts of its labels) would run on this module's worker, against this module's carrier
    hosts, and be counted as this module's calls. Modules run one after another in a test process, and
    each process has its own database; the Redis queues are shared between processes and left alone.
    """
    with app.extensions["handoff"].sessions() as session:
        session.execute(
            sa.update(OutboxEntry)
            .where(OutboxEntry.state.in_(("pending", "enqueued")))
            .values(state="dead", last_error="left by an earlier test module")
        )
        session.commit()
    yield
