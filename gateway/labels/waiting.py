"""Waiting for a label purchase: poll the committed job row until it finishes or the time is up.

The request and its job are committed before anyone waits (crash safety is the request's, unchanged);
the worker runs it in another process. Each poll is a short read in a session of its own, so no
connection or snapshot is held across the sleeps and the worker's commit is seen at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import sqlalchemy as sa

from gateway.labels.tables import LabelJob

if TYPE_CHECKING:
    from gateway.kernel.container import Container

FINISHED = frozenset({"succeeded", "failed", "needs_review"})
_FIRST_POLL = 0.05
_LONGEST_POLL = 0.5


def wait_for_job(
    container: Container,
    tenant_id: str,
    job_id: str,
    seconds: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Whether the tenant's job finished (succeeded, failed, needs_review) within ``seconds``."""
    deadline = clock() + seconds
    pause = _FIRST_POLL
    while True:
        with container.sessions() as session:
            state = session.execute(
                sa.select(LabelJob.state).where(LabelJob.id == job_id, LabelJob.tenant_id == tenant_id)
            ).scalar_one_or_none()
        if state is None or state in FINISHED:
            return state is not None
        left = deadline - clock()
        if left <= 0:
            return False
        sleep(min(pause, left))
        pause = min(pause * 2, _LONGEST_POLL)
