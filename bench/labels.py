"""Label purchase throughput end to end, with two RQ worker processes against the carrier simulator.

Usage: python bench/labels.py [--labels 200] [--noop 400] [--workers 2] [--format pdf|png|zpl] [--carrier ups|fleet]

It creates a scratch PostgreSQL database next to ``DATABASE_URL`` (default
postgresql://postgres@127.0.0.1:5432/test), uses ``REDIS_URL`` (default redis://127.0.0.1:6379/6; the
database is flushed first, so give it one of your own), starts the simulator and ``--workers``
``python -m gateway.jobs.worker`` processes, and measures in the same run:

1. baseline, plain RQ: ``--noop`` empty jobs (``gateway.jobs.housekeeping.noop``) enqueued straight on the labels
   queue, from first enqueue until the last one finished;
2. baseline, outbox: the same empty jobs written as outbox rows and relayed (the path label jobs take);
3. labels: ``--labels`` rated shipments requested in one ``POST /v1/batches``, from the request until
   every shipment is ``purchased`` (claim, attempt row, UPS OAuth + Shipping call over HTTP to the
   simulator, document stored with its checksum, label row, tracking attach, webhook emit).

The scratch database is dropped at the end. Nothing is printed that was not measured in this run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests
import sqlalchemy as sa
from rq import Worker

from bench.scratch import drop_database, scratch_database
from gateway import create_app
from gateway.jobs import outbox
from gateway.jobs.tables import OutboxEntry
from gateway.kernel import (
    auth,
    migrate,
    models,
)
from tests.helpers import shipment_body

SIMPLE = (
    "from gateway.jobs import worker; from gateway.app import create_app; "
    "worker.run(create_app(), worker_class=worker.BeatingSimpleWorker)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_simulator(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", str(port), "--seed", "3", "--push-interval", "3600"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/_sim/health", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("simulator did not start")


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--labels", type=int, default=200)
    parser.add_argument("--noop", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--format", default="pdf", choices=("pdf", "png", "zpl"))
    parser.add_argument("--carrier", default="ups", choices=("ups", "fleet"))
    parser.add_argument(
        "--worker-class",
        default="fork",
        choices=("fork", "simple"),
        help="fork: python -m gateway.jobs.worker (RQ forks a horse per job); simple: RQ SimpleWorker, no fork",
    )
    args = parser.parse_args()

    admin_url = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/6"
    engine, db_url = scratch_database(admin_url)
    data_dir = tempfile.mkdtemp(prefix="bench-labels-")
    sim_port = free_port()
    sim = start_simulator(sim_port)
    procs: list[subprocess.Popen[bytes]] = []
    stop = threading.Event()
    try:
        migrate.upgrade(db_url)
        carriers = [
            {
                "adapter": "ups",
                "config": {
                    "client_id": "sim-ups-client",
                    "client_secret": "sim-ups-secret",
                    "account_number": "B3NCH1",
                    "base_url": f"http://127.0.0.1:{sim_port}",
                    "timeout_seconds": 10,
                },
            }
        ]
        settings = {
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "DATA_DIR": data_dir,
            "ENV": "test",
            "LOG_LEVEL": "WARNING",
            "RATE_LIMIT_PER_MINUTE": 0,
            # The API refuses a label no enabled adapter sells: it must know the workers' carriers.
            "CARRIERS": json.dumps(carriers),
        }
        app = create_app(settings)
        container = app.extensions["handoff"]
        container.redis.flushdb()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        env.update(
            DATABASE_URL=db_url,
            REDIS_URL=redis_url,
            GATEWAY_DATA_DIR=data_dir,
            GATEWAY_LOG_LEVEL=os.environ.get("BENCH_WORKER_LOG_LEVEL", "WARNING"),
            GATEWAY_LOG_JSON="false",
            GATEWAY_ENV="test",
            GATEWAY_CARRIERS=json.dumps(carriers),
        )
        worker_log = open(Path(data_dir) / "workers.log", "ab")  # noqa: SIM115 - closed with the workers
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "gateway.jobs.worker"]
                if args.worker_class == "fork"
                else [sys.executable, "-c", SIMPLE],
                cwd=ROOT,
                env=env,
                stdout=worker_log,
                stderr=worker_log,
            )
            for _ in range(args.workers)
        ]
        wait_for(lambda: len(Worker.all(connection=container.redis)) >= args.workers, 180, "workers")

        def relay_loop() -> None:  # what the scheduler does every second; faster here so it never idles
            while not stop.is_set():
                with contextlib.suppress(Exception):  # keep relaying whatever happens
                    outbox.relay(container)
                stop.wait(0.05)

        threading.Thread(target=relay_loop, daemon=True).start()

        # Prepare shipments (not timed): a tenant, N shipments with a frozen rate.
        with container.sessions() as session:
            tenant = models.Tenant(name="bench", slug=f"bench-{uuid.uuid4().hex[:8]}")
            session.add(tenant)
            session.flush()
            _, key = auth.create_key(session, tenant.id, ("platform", "ops"))
            session.commit()
        headers = {"Authorization": f"Bearer {key}"}
        client = app.test_client()
        ids = []
        for i in range(args.labels):
            body = shipment_body(reference=f"BENCH-{i}")
            if args.carrier == "fleet":
                body["origin"].update(latitude="40.7895", longitude="-74.0565")
                body["destination"].update(latitude="40.7606", longitude="-73.9790")
            shipment = client.post("/v1/shipments", json=body, headers=headers).get_json()
            rate = next(r for r in shipment["rates"]["rates"] if r["carrier"] == args.carrier)
            client.post(f"/v1/shipments/{shipment['id']}/rate", json={"rate_id": rate["id"]}, headers=headers)
            ids.append(shipment["id"])

        # 1. Baseline: plain RQ empty jobs.
        queue = container.queue("labels")
        started = time.perf_counter()
        jobs = [queue.enqueue("gateway.jobs.housekeeping.noop", i, result_ttl=600) for i in range(args.noop)]
        wait_for(lambda: all(j.get_status(refresh=True) == "finished" for j in jobs[-20:]), 600, "noop jobs")
        wait_for(lambda: all(j.get_status(refresh=True) == "finished" for j in jobs), 600, "noop jobs")
        rq_seconds = time.perf_counter() - started

        # 2. Baseline: the same empty jobs through the outbox.
        started = time.perf_counter()
        with container.sessions() as session:
            entry_ids = [
                outbox.add(session, "gateway.jobs.housekeeping.noop", i, queue="labels").id
                for i in range(args.noop)
            ]
            session.commit()

        def outbox_done() -> bool:
            with container.sessions() as session:
                return (
                    session.execute(
                        sa.select(sa.func.count())
                        .select_from(OutboxEntry)
                        .where(OutboxEntry.id.in_(entry_ids), OutboxEntry.state != "done")
                    ).scalar_one()
                    == 0
                )

        wait_for(outbox_done, 600, "outbox noop jobs")
        outbox_seconds = time.perf_counter() - started

        # 3. Labels end to end.
        started = time.perf_counter()
        resp = client.post(
            "/v1/batches", json={"shipment_ids": ids, "label_format": args.format}, headers=headers
        )
        assert resp.status_code == 202, resp.get_json()
        accepted = time.perf_counter() - started

        def purchased() -> bool:
            with container.sessions() as session:
                return (
                    session.execute(
                        sa.select(sa.func.count())
                        .select_from(models.Shipment)
                        .where(models.Shipment.id.in_(ids), models.Shipment.status != "purchased")
                    ).scalar_one()
                    == 0
                )

        wait_for(purchased, 1200, "labels")
        label_seconds = time.perf_counter() - started
        ledger = requests.get(f"http://127.0.0.1:{sim_port}/_sim/ledger", timeout=10).json()
        sold = sum(1 for label in ledger["labels"] if label["reference"] in set(ids))
        load = os.getloadavg()

        print(
            f"workers: {args.workers} x "
            + (
                "python -m gateway.jobs.worker (RQ forks a horse per job)"
                if args.worker_class == "fork"
                else "RQ SimpleWorker"
            )
            + f"; carrier: {args.carrier}"
        )
        print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (2 cores)")
        print(
            f"baseline, empty RQ job:        {args.noop} in {rq_seconds:.2f} s = {args.noop / rq_seconds:.1f} jobs/s"
        )
        print(
            f"baseline, empty outbox job:    {args.noop} in {outbox_seconds:.2f} s = "
            f"{args.noop / outbox_seconds:.1f} jobs/s"
        )
        print(
            f"labels end to end ({args.format}):   {args.labels} in {label_seconds:.2f} s = "
            f"{args.labels / label_seconds:.1f} labels/s (batch accepted in {accepted * 1000:.0f} ms); "
            f"sold by the simulator: {sold}, duplicates: {len(ledger['duplicate_references'])}"
        )
        print(
            f"labels/s as a share of the empty-RQ-job rate: {(args.labels / label_seconds) / (args.noop / rq_seconds):.0%}"
        )
    finally:
        stop.set()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        sim.terminate()
        sim.wait(timeout=20)
        drop_database(engine, db_url)


if __name__ == "__main__":
    main()
