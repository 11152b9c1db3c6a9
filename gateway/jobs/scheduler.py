"""Periodic tasks: the outbox relay and sweeper, carrier polling, retention and clean-ups.

``python -m gateway.jobs.scheduler`` (or ``flask scheduler``) runs the loop; ``gateway.serve`` starts
one. Several schedulers may run at once (one per host in production): each slot of each task is
claimed with a Redis ``SET NX`` so it runs once. In-process tasks (the relay and the sweeper, which
feed RQ and so cannot depend on it) run in the loop; the others are enqueued as RQ jobs.

The tasks are listed in ``gateway.wiring.TASKS``: a name, a period in seconds, the target function
(a registered job for RQ tasks) and, for RQ tasks, the queue.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.kernel.container import Container

log = logging.getLogger(__name__)

_LOCK_PREFIX = "handoff:scheduler:"


@dataclass(frozen=True)
class Task:
    name: str
    seconds: float
    target: Callable[..., Any]  # in-process targets take the container; RQ targets are registered jobs
    queue: str | None = None  # None: run in the scheduler process; else enqueue on this RQ queue


def _claim(container: Container, task: Task, now: float) -> bool:
    """Claim this task's current slot across every scheduler sharing the Redis."""
    if task.seconds < 5:
        return True  # the relay: cheap, idempotent, and racing relays claim rows conditionally
    slot = int(now // task.seconds)
    key = f"{_LOCK_PREFIX}{task.name}:{slot}"
    return bool(container.redis.set(key, "1", nx=True, ex=max(1, int(task.seconds * 2))))


def run_once(container: Container, task: Task) -> Any:
    """Run (or enqueue) one task now."""
    if task.queue is None:
        return task.target(container)
    return container.queue(task.queue).enqueue(task.target, job_timeout=max(60, int(task.seconds)))


def run(
    container: Container,
    *,
    tasks: Iterable[Task],
    stop: threading.Event | None = None,
    tick: float = 0.5,
) -> None:
    """Run the tasks on their periods until ``stop`` is set. A failing task is logged, never fatal."""
    chosen = list(tasks)
    stop = stop or threading.Event()
    due = dict.fromkeys((t.name for t in chosen), 0.0)
    log.info("scheduler starting", extra={"tasks": [t.name for t in chosen]})
    while not stop.is_set():
        now = time.time()
        for task in chosen:
            if now < due[task.name]:
                continue
            due[task.name] = now + task.seconds
            try:
                if _claim(container, task, now):
                    run_once(container, task)
            except Exception:
                log.warning("scheduled task failed", extra={"task": task.name}, exc_info=True)
        stop.wait(tick)


def main() -> None:
    """``python -m gateway.jobs.scheduler``: run the periodic tasks configured from the environment."""
    from gateway import wiring
    from gateway.app import create_app

    app = create_app()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with app.app_context():
        run(app.extensions["handoff"], tasks=wiring.TASKS, stop=stop)


if __name__ == "__main__":
    main()
