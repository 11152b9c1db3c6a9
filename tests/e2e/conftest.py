"""End-to-end fixtures: the carrier simulator and a live gateway, talking to each other over real HTTP.

``simulator`` (and ``simulator_url``) runs ``python -m simulator`` in a subprocess. Its pushes go to the
live gateway's ``/v1/callbacks/{carrier}``; UPS pushes use Track Alert v2, so the simulator first gets
a bearer token from the gateway's ``/v1/callbacks/ups/token``. Time in the simulator runs at real speed
until a test moves it (``simulator.advance(hours=...)``), and pushes go out when a test calls
``simulator.tick()``, so every run is deterministic.

``live_gateway`` is the gateway as deployed, on the test database and Redis: the WSGI app served by a
real HTTP server in a thread, one ``python -m gateway.jobs.worker`` subprocess, and the scheduler's outbox
relay, outbox sweep and inbox sweep on short periods in a thread. ``CARRIERS`` points the UPS and DHL
Express adapters at the simulator. ``live_gateway.tenant(roles)`` makes a tenant and API key;
``live_gateway.url(path)`` builds a URL; ``live_gateway.wait_for(...)`` polls until something is true.

Both are module-scoped: a module's worker must not pick up another module's jobs with this module's
carrier configuration.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from rq import Worker
from werkzeug import serving

from gateway import create_app
from gateway.jobs import outbox, scheduler
from gateway.jobs.tables import OutboxEntry
from gateway.kernel import auth, models
from gateway.tracking import jobs as tracking_jobs

REPO_ROOT = Path(__file__).resolve().parents[2]

# What the simulator accepts and the gateway is configured with. Test values, not secrets; the tests
# check that none of them ever appears in a stored exchange or a log line.
UPS_CLIENT_ID, UPS_CLIENT_SECRET = "sim-ups-client", "sim-ups-secret"
TRACK_ALERT_CLIENT_ID, TRACK_ALERT_CLIENT_SECRET = "e2e-track-alert", "e2e-track-alert-secret-0123"
DHL_USERNAME, DHL_PASSWORD = "sim-dhl-user", "sim-dhl-password"
FLEET_SECRET = "sim-fleet-secret"
SECRETS = (UPS_CLIENT_SECRET, TRACK_ALERT_CLIENT_SECRET, DHL_PASSWORD, FLEET_SECRET)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.3) -> Any:
    """Return check()'s first truthy value; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def _up(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def e2e_ports() -> dict[str, int]:
    """Ports chosen up front: the simulator must know the gateway's callback URL before either starts."""
    return {"gateway": free_port(), "simulator": free_port()}


@dataclass
class SimulatorServer:
    """The carrier simulator process and its ``/_sim`` control endpoints."""

    url: str
    process: subprocess.Popen[bytes]

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.url}{path}", timeout=30, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def ledger(self, carrier: str | None = None) -> dict[str, Any]:
        """Every label sold, and the references that bought more than one."""
        return self._call("GET", "/_sim/ledger", params={"carrier": carrier} if carrier else None)

    def advance(self, hours: float) -> Any:
        """Move simulated time forward: tracking progressions advance, nothing is pushed yet."""
        return self._call("POST", "/_sim/clock", json={"advance_hours": hours})

    def tick(self) -> Any:
        """Deliver every push that is due now (UPS Track Alert, DHL callbacks, driver app)."""
        return self._call("POST", "/_sim/push/tick")

    def pushes(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Every push attempt: URL, HTTP status or error, payload."""
        body = self._call("GET", "/_sim/pushes", params={"kind": kind} if kind else None)
        return body["pushes"] if isinstance(body, dict) else body

    def faults(self, carriers: dict[str, Any], seed: int = 1) -> Any:
        return self._call("POST", "/_sim/faults", json={"seed": seed, "carriers": carriers})

    def clear_faults(self) -> None:
        self._call("DELETE", "/_sim/faults")


def numbers_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The data directory every simulator of this run shares, so that no tracking number is issued twice.

    The gateway's database outlives a module and its simulator; a number a later simulator issued
    again would rightly be flagged as reissued there (as it would be in production).
    """
    return str(tmp_path_factory.getbasetemp() / "simulator-numbers")


@pytest.fixture(scope="module")
def simulator(
    e2e_ports: dict[str, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimulatorServer]:
    gateway = f"http://127.0.0.1:{e2e_ports['gateway']}"
    log = open(tmp_path_factory.mktemp("simulator") / "simulator.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator",
            "--port",
            str(e2e_ports["simulator"]),
            "--seed",
            "11",
            "--callback-url",
            gateway + "/v1/callbacks/{carrier}",
            "--ups-push-auth",
            "oauth",
            "--ups-webhook-token-url",
            gateway + "/v1/callbacks/ups/token",
            "--ups-webhook-client-id",
            TRACK_ALERT_CLIENT_ID,
            "--ups-webhook-client-secret",
            TRACK_ALERT_CLIENT_SECRET,
            "--fleet-push-secret",
            FLEET_SECRET,
            "--day-seconds",
            "86400",  # real speed: tests move time explicitly
            "--exception-share",
            "0",
            "--push-interval",
            "3600",  # tests push explicitly with tick()
            "--timeout-sleep",
            "3",
            "--data-dir",
            numbers_dir(tmp_path_factory),
        ],
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{e2e_ports['simulator']}"
    try:
        wait_until(lambda: _up(f"{url}/_sim/health") or process.poll() is not None, 30, "the simulator")
        if process.poll() is not None:
            raise RuntimeError(f"the simulator exited with {process.returncode}")
        yield SimulatorServer(url, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def simulator_url(simulator: SimulatorServer) -> str:
    return simulator.url


def carriers_for(simulator_url: str) -> list[dict[str, Any]]:
    """The ``CARRIERS`` setting that points the UPS and DHL Express adapters at the simulator."""
    return [
        {
            "adapter": "ups",
            "config": {
                "client_id": UPS_CLIENT_ID,
                "client_secret": UPS_CLIENT_SECRET,
                "account_number": f"{random.randrange(16**6):06X}",
                "base_url": simulator_url,
                "webhook_client_id": TRACK_ALERT_CLIENT_ID,
                "webhook_client_secret": TRACK_ALERT_CLIENT_SECRET,
                "timeout_seconds": 5,
            },
        },
        {
            "adapter": "dhl_express",
            "config": {
                "username": DHL_USERNAME,
                "password": DHL_PASSWORD,
                "account_number": str(random.randrange(10**8, 10**9)),
                "base_url": f"{simulator_url}/sndpt",
                "timeout_seconds": 5,
            },
        },
    ]


@dataclass
class Tenant:
    tenant_id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class LiveGateway:
    """A running gateway: HTTP server, worker process and scheduler loop on the test database and Redis."""

    base_url: str
    app: Any
    env: dict[str, str]
    worker_log: Path
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def container(self) -> Any:
        return self.app.extensions["handoff"]

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def tenant(self, roles: tuple[str, ...] = ("platform", "ops")) -> Tenant:
        """Create a tenant with an API key holding ``roles``."""
        slug = f"e2e-{uuid.uuid4().hex[:10]}"
        with self.container.sessions() as session:
            tenant = models.Tenant(name=slug, slug=slug)
            session.add(tenant)
            session.flush()
            _row, key = auth.create_key(session, tenant.id, roles, pepper=self.app.config["SECRET_PEPPER"])
            session.commit()
            return Tenant(tenant.id, key)

    def wait_for(self, check: Callable[[], Any], timeout: float = 60, what: str = "the gateway") -> Any:
        try:
            return wait_until(check, timeout, what)
        except AssertionError as exc:
            tail = self.worker_log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"{exc}\n--- worker log (tail) ---\n{tail}") from None

    def enqueue(self, job: str, *args: Any, queue: str = "default") -> Any:
        """Queue an RQ job for the worker, as ``gateway.jobs.scheduler`` does for periodic tasks."""
        return self.container.queue(queue).enqueue(job, *args)


def _scheduler(gateway: LiveGateway) -> None:
    tasks = [
        scheduler.Task("outbox-relay", 0.2, outbox.relay),
        scheduler.Task("outbox-sweep", 2, outbox.sweep),
        scheduler.Task("tracking-inbox-sweep", 15, tracking_jobs.sweep_inbox, queue="tracking"),
    ]
    with gateway.app.app_context():
        scheduler.run(gateway.container, tasks=tasks, stop=gateway._stop, tick=0.1)


def _retire_earlier_modules_work(container: Any) -> int:
    """Mark outbox rows an earlier module left pending or enqueued as dead; return how many.

    Emptying the queues is not enough: the sweeper re-drives an enqueued row whose RQ job is gone, so
    an earlier module's backlog (hundreds of tracking starts for labels another simulator sold) would
    run first on this module's worker, against this module's simulator, and delay its own jobs by
    minutes. Nothing of an earlier module is this module's to finish.
    """
    with container.sessions() as session:
        retired = session.execute(
            sa.update(OutboxEntry)
            .where(OutboxEntry.state.in_(("pending", "enqueued")))
            .values(state="dead", last_error="left by an earlier end-to-end module")
        ).rowcount
        session.commit()
    return int(retired or 0)


@pytest.fixture(scope="module")
def live_gateway(
    settings: dict[str, Any],
    simulator: SimulatorServer,
    e2e_ports: dict[str, int],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveGateway]:
    data_dir = tmp_path_factory.mktemp("gateway")
    overrides = {
        "DATA_DIR": str(data_dir),
        "ENV": "test",
        "LOG_LEVEL": "WARNING",
        "CARRIERS": json.dumps(carriers_for(simulator.url)),
        "CALLBACK_SECRETS": json.dumps({"fleet": FLEET_SECRET}),
    }
    app = create_app({**settings, **overrides})
    for name in app.extensions["handoff"].queue_names:  # jobs left by an earlier run would run first
        app.extensions["handoff"].queue(name).empty()
    _retire_earlier_modules_work(app.extensions["handoff"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        DATABASE_URL=settings["DATABASE_URL"],
        REDIS_URL=settings["REDIS_URL"],
        GATEWAY_DATA_DIR=str(data_dir),
        GATEWAY_ENV="test",
        GATEWAY_LOG_LEVEL="WARNING",
        GATEWAY_CARRIERS=overrides["CARRIERS"],
        GATEWAY_CALLBACK_SECRETS=overrides["CALLBACK_SECRETS"],
        GATEWAY_LABEL_RETRY_BASE_SECONDS="0.5",
        GATEWAY_LABEL_RETRY_CAP_SECONDS="2",
    )
    worker_log = data_dir / "worker.log"
    log = open(worker_log, "ab")  # noqa: SIM115
    worker = subprocess.Popen(
        [sys.executable, "-m", "gateway.jobs.worker"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: its work horse goes down with it
    )
    server = serving.make_server("127.0.0.1", e2e_ports["gateway"], app, threaded=True)
    serving_thread = threading.Thread(target=server.serve_forever, daemon=True, name="e2e-gateway")
    serving_thread.start()
    gateway = LiveGateway(f"http://127.0.0.1:{e2e_ports['gateway']}", app, env, worker_log)
    loop = threading.Thread(target=_scheduler, args=(gateway,), daemon=True, name="e2e-scheduler")
    loop.start()
    try:
        wait_until(lambda: _up(gateway.url("/healthz")), 30, "the gateway's HTTP server")
        redis = gateway.container.redis
        wait_until(
            lambda: worker.pid in {w.pid for w in Worker.all(connection=redis)} or worker.poll() is not None,
            120,
            "the worker to register with RQ",
        )
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited: {worker_log.read_text()[-2000:]}")
        yield gateway
    finally:
        gateway._stop.set()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        log.close()
        server.shutdown()
        loop.join(timeout=10)
        gateway.container.exchange_recorder.close()
        gateway.container.dispose()
