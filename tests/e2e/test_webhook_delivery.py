"""Every webhook event reaches a real receiver at least once, across an outage, a killed worker and a flushed Redis.

A real RQ worker runs in a subprocess (its own process group, so SIGKILL takes its work horse too);
the outbox relay and sweeper run in this process on short periods. The receiver verifies every
signature with the ``standardwebhooks`` reference package.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from gateway import create_app, webhooks
from gateway.jobs import outbox, scheduler
from gateway.webhooks.tables import WebhookAttempt, WebhookDelivery
from tests.unit.webhooks.receiver import Receiver, Reply

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAST = {
    "WEBHOOK_RETRY_BASE_SECONDS": "0.5",
    "WEBHOOK_RETRY_CAP_SECONDS": "2",
    "OUTBOX_STALE_SECONDS": "3",
}


class Stack:
    """A worker subprocess plus an in-process relay/sweeper on the test database and Redis."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.app = create_app({**settings, **FAST, "QUEUES": "webhooks"})
        self.container = self.app.extensions["handoff"]
        self.worker: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        tasks = [
            scheduler.Task("outbox-relay", 0.3, outbox.relay),
            scheduler.Task("outbox-sweep", 1, outbox.sweep),
        ]
        self._loop = threading.Thread(
            target=self._run, args=(tasks,), daemon=True, name="webhook-e2e-scheduler"
        )
        self._loop.start()

    def _run(self, tasks: list[scheduler.Task]) -> None:
        with self.app.app_context():
            scheduler.run(self.container, tasks=tasks, stop=self._stop, tick=0.1)

    def start_worker(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        env.update(
            DATABASE_URL=self.settings["DATABASE_URL"],
            REDIS_URL=self.settings["REDIS_URL"],
            GATEWAY_DATA_DIR=self.settings["DATA_DIR"],
            GATEWAY_ENV="test",
            GATEWAY_QUEUES="webhooks",
            GATEWAY_LOG_LEVEL="WARNING",
            **{f"GATEWAY_{k}": v for k, v in FAST.items()},
        )
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "gateway.jobs.worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: the work horse dies with it
        )

    def kill_worker(self) -> None:
        """SIGKILL the worker and its work horse: no clean-up, no goodbye."""
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait(timeout=10)
        self.worker = None

    def close(self) -> None:
        self.kill_worker()
        self._stop.set()
        self._loop.join(timeout=10)
        self.container.dispose()

    def emit(self, tenant_id: str, n: int) -> list[str]:
        ids = []
        with self.container.sessions() as session:
            for i in range(n):
                data = {
                    "shipment_id": f"shp_E2E{i}",
                    "label_id": f"lbl_E2E{i}",
                    "carrier": "ups",
                    "tracking_number": f"1ZE2E{i}",
                }
                ids.append(webhooks.emit(session, tenant_id, "label.purchased", data))
            session.commit()
        return ids

    def states(self, event_ids: list[str]) -> dict[str, str]:
        with self.container.sessions() as session:
            rows = session.execute(
                sa.select(WebhookDelivery.event_id, WebhookDelivery.state).where(
                    WebhookDelivery.event_id.in_(event_ids)
                )
            ).all()
        return {event_id: state for event_id, state in rows}


@pytest.fixture
def stack(settings: dict[str, Any]) -> Iterator[Stack]:
    s = Stack(settings)
    yield s
    s.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def subscribe(client: Any, tenant: Any, receiver: Receiver) -> None:
    response = client.post(
        "/v1/webhook-endpoints",
        json={"url": receiver.url, "event_types": ["label.purchased"]},
        headers=tenant.headers,
    )
    assert response.status_code == 201
    receiver.secrets.append(response.get_json()["secret"])


def wait_until(predicate: Any, timeout: float) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return bool(predicate())


def all_verified_and_seen(receiver: Receiver, ids: list[str]) -> None:
    assert set(ids) <= receiver.ids(), f"never received: {set(ids) - receiver.ids()}"
    assert all(d.verified for d in receiver.deliveries), "a delivery failed signature verification"


def test_a_receiver_down_for_a_while_gets_every_event_once_it_is_up(stack, receiver, client, make_tenant):
    tenant = make_tenant()
    subscribe(client, tenant, receiver)
    receiver.stop()
    stack.start_worker()
    ids = stack.emit(tenant.tenant_id, 12)

    def events_that_failed() -> int:
        with stack.container.sessions() as session:
            return session.scalar(
                sa.select(sa.func.count(sa.distinct(WebhookAttempt.event_id))).where(
                    WebhookAttempt.event_id.in_(ids), WebhookAttempt.outcome == "retry"
                )
            )

    assert wait_until(lambda: events_that_failed() == len(ids), 120), (
        f"only {events_that_failed()} of {len(ids)} events were tried while the receiver was down"
    )
    receiver.start()  # back on the same port
    assert wait_until(lambda: set(ids) <= receiver.ids(), 120)
    all_verified_and_seen(receiver, ids)
    assert wait_until(lambda: set(stack.states(ids).values()) == {"succeeded"}, 60)


def test_a_worker_killed_mid_delivery_does_not_lose_the_event(stack, receiver, client, make_tenant):
    tenant = make_tenant()
    subscribe(client, tenant, receiver)
    in_flight = threading.Event()
    receiver.script.append(Reply(200, delay=8.0))  # the first request hangs: the worker is mid-delivery
    receiver.on_request = lambda _delivery: in_flight.set()
    stack.start_worker()
    ids = stack.emit(tenant.tenant_id, 3)

    assert in_flight.wait(120), "the worker never started delivering"
    stack.kill_worker()  # SIGKILL while the request is in flight
    stack.start_worker()
    assert wait_until(lambda: set(stack.states(ids).values()) == {"succeeded"}, 150), stack.states(ids)
    all_verified_and_seen(receiver, ids)


def test_a_flushed_redis_does_not_lose_events(stack, receiver, client, make_tenant):
    tenant = make_tenant()
    subscribe(client, tenant, receiver)
    ids = stack.emit(tenant.tenant_id, 10)  # relayed into RQ, but no worker is running yet
    assert wait_until(lambda: stack.container.queue("webhooks").count >= 10, 10)
    stack.container.redis.flushdb()  # every queued job is gone
    assert stack.container.queue("webhooks").count == 0
    stack.start_worker()
    assert wait_until(lambda: set(ids) <= receiver.ids(), 150)
    all_verified_and_seen(receiver, ids)
    assert wait_until(lambda: set(stack.states(ids).values()) == {"succeeded"}, 60)
