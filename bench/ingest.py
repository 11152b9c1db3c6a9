"""Tracking ingestion benchmark on PostgreSQL: normalisation throughput vs a plain batched insert, and callbacks/s.

Usage: python bench/ingest.py [--shipments 2000] [--dup-share 0.2] [--batch 1000] [--drainers 1]
                              [--http-requests 2000]

It creates a scratch database next to ``DATABASE_URL`` (default postgresql://postgres@127.0.0.1:5432/test),
migrates it, books shipments, and builds a stream of UPS Track Alert pushes (six per shipment) in which
``--dup-share`` of the items are re-deliveries, shuffled. In the same run it measures:

1. baseline: a plain batched INSERT of the same rows (one canonical row per stream item) into an
   unconstrained temporary copy of ``tracking_events``;
2. normalisation: the stream loaded into the inbox, then ``normalise_pending`` in batches until drained
   (parse, translate, deduplicate, attach, re-derive every touched shipment's status), in one process
   as one ``drain_inbox`` job runs it;
3. the callback endpoint under gunicorn (2 workers x 4 threads), signed DHL-style pushes from 8 client
   threads: requests per second answered 202.

The scratch database is dropped at the end. Nothing is printed that was not measured in this run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests
import sqlalchemy as sa

from bench.scratch import drop_database, scratch_database
from gateway import create_app
from gateway.kernel import (
    migrate,
    models,
)
from gateway.tracking import (
    _store,
    callbacks,
    ingest,
    status,
    tables,
)

STEPS = (("M", "MP"), ("I", "OR"), ("I", "DP"), ("I", "AR"), ("I", "OT"), ("D", "FS"))
T0 = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)
SECRETS = {"ups": "bench-credential", "dhl_express": "bench-dhl-key", "fleet": "bench-fleet-key"}


def push(number: str, step: int, when: datetime) -> dict[str, Any]:
    """A Track Alert TrackingEventRequest for one activity."""
    type_, code = STEPS[step]
    return {
        "trackingNumber": number,
        "localActivityDate": when.strftime("%Y%m%d"),
        "localActivityTime": when.strftime("%H%M%S"),
        "activityLocation": {"city": "SECAUCUS", "stateProvince": "NJ", "country": "US"},
        "activityStatus": {"type": type_, "code": code, "description": f"{type_}/{code}"},
        "gmtActivityDate": when.strftime("%Y%m%d"),
        "gmtActivityTime": when.strftime("%H%M%S"),
        "gmtOffset": "+00.00",
        "scheduledDeliveryDate": (T0 + timedelta(days=3)).strftime("%Y%m%d"),
    }


def seed(session: Any, count: int) -> tuple[str, list[models.Shipment]]:
    tenant = models.Tenant(name="bench", slug=f"bench-{uuid.uuid4().hex[:8]}")
    session.add(tenant)
    session.flush()
    shipments = []
    for i in range(count):
        origin = models.Address(
            tenant_id=tenant.id, street1="1 Dock", city="Secaucus", postal_code="07094", country_code="US"
        )
        dest = models.Address(
            tenant_id=tenant.id, street1=f"{i} Main", city="New York", postal_code="10019", country_code="US"
        )
        session.add_all([origin, dest])
        session.flush()
        shipment = models.Shipment(
            tenant_id=tenant.id,
            reference=f"B-{i}",
            status="purchased",
            carrier="ups",
            tracking_number=f"1ZBENCH{i:010d}",
            origin_id=origin.id,
            destination_id=dest.id,
            metadata_={},
        )
        session.add(shipment)
        shipments.append(shipment)
    session.flush()
    return tenant.id, shipments


def stream(shipments: list[models.Shipment], dup_share: float, rng: random.Random) -> tuple[list[bytes], int]:
    distinct = []
    for s in shipments:
        for step in range(len(STEPS)):
            when = T0 + timedelta(hours=5 * step, minutes=rng.randrange(60))
            distinct.append(json.dumps(push(s.tracking_number or "", step, when)).encode())
    extra = round(len(distinct) * dup_share / (1 - dup_share))
    items = distinct + [rng.choice(distinct) for _ in range(extra)]
    rng.shuffle(items)
    return items, len(distinct)


_TICK = os.sysconf("SC_CLK_TCK")


class Cpu:
    """CPU seconds spent by this process and by the PostgreSQL backends serving it.

    The machine is shared, so wall-clock rates move with the neighbours' load. CPU seconds move much less:
    ``events / (client + server CPU)`` is the rate this work sustains when it has the CPU to itself
    (client and server take turns on one batch at a time).
    """

    def __init__(self) -> None:
        self.client = 0.0
        self.server = 0.0

    @staticmethod
    def backend(session: Any) -> tuple[int, float]:
        pid = int(session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
        return pid, Cpu._seconds(pid)

    @staticmethod
    def _seconds(pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0  # the server is not on this machine: count the client only
        return (int(fields[11]) + int(fields[12])) / _TICK

    def measure(self, session: Any, work: Any) -> Any:
        pid, server0 = self.backend(session)
        client0 = time.process_time()
        result = work()
        self.client += time.process_time() - client0
        self.server += self._seconds(pid) - server0
        return result

    @property
    def total(self) -> float:
        return self.client + self.server


def baseline(
    session: Any, shipments: list[models.Shipment], bodies: list[bytes], batch: int, cpu: Cpu | None = None
) -> float:
    """Plain batched INSERT of one canonical row per stream item; return seconds."""
    by_number = {s.tracking_number: s for s in shipments}
    rows = []
    for body in bodies:
        for item in ingest.parse("ups", body):
            values = _store.event_values(by_number[item.event.tracking_number], item.event, None)
            rows.append(values)
    session.execute(sa.text("CREATE TEMP TABLE bench_plain (LIKE tracking_events)"))
    plain = sa.Table(
        "bench_plain",
        sa.MetaData(),
        *(sa.Column(c.name, c.type) for c in tables.TrackingEvent.__table__.columns),
    )
    session.commit()
    cpu = cpu or Cpu()
    started = time.perf_counter()
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]

        def insert(chunk: list[dict[str, Any]] = chunk) -> None:
            session.execute(plain.insert(), chunk)
            session.commit()

        cpu.measure(session, insert)
    return time.perf_counter() - started


def _drain(container: Any, batch: int, cpu: Cpu) -> None:
    """Normalise batches until no pending row is left unlocked (what one drain_inbox job does)."""
    while True:
        with container.sessions() as session:

            def drain(session: Any = session) -> int:
                taken = ingest.normalise_pending(session, limit=batch)
                session.commit()
                return taken

            taken = cpu.measure(session, drain)
        if taken == 0:
            return


def _drain_process(container: Any, batch: int, out: Any) -> None:
    container.engine.dispose(close=False)  # a forked child opens its own connections
    cpu = Cpu()
    _drain(container, batch, cpu)
    out.put((cpu.client, cpu.server))


def normalise(
    container: Any, bodies: list[bytes], batch: int, cpu: Cpu | None = None, drainers: int = 1
) -> tuple[float, float]:
    """Load the stream into the inbox, then drain it; return (load seconds, normalise seconds)."""
    started = time.perf_counter()
    with container.sessions() as session:
        for start in range(0, len(bodies), batch):
            session.execute(
                sa.insert(tables.CallbackInbox),
                [
                    {
                        "carrier": "ups",
                        "headers": {},
                        "body": b,
                        "state": "pending",
                        "attempts": 0,
                        "received_at": datetime.now(UTC),
                    }
                    for b in bodies[start : start + batch]
                ],
            )
        session.commit()
    loaded = time.perf_counter() - started
    cpu = cpu or Cpu()
    started = time.perf_counter()
    if drainers == 1:
        _drain(container, batch, cpu)
        return loaded, time.perf_counter() - started
    # Several drain jobs at once, as several RQ workers would run them: FOR UPDATE SKIP LOCKED
    # gives each its own inbox rows.
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    procs = [context.Process(target=_drain_process, args=(container, batch, out)) for _ in range(drainers)]
    for proc in procs:
        proc.start()
    for _ in procs:
        client, server = out.get()
        cpu.client += client
        cpu.server += server
    for proc in procs:
        proc.join()
    return loaded, time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_bench(url: str, redis_url: str, requests_total: int, concurrency: int) -> tuple[float, int, int]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "GATEWAY_CALLBACK_SECRETS": json.dumps(SECRETS),
        "GATEWAY_LOG_LEVEL": "WARNING",
        "GATEWAY_BIND": f"127.0.0.1:{port}",
        "GATEWAY_WEB_WORKERS": "2",
        "GATEWAY_WEB_THREADS": "4",
        "GATEWAY_DATA_DIR": tempfile.mkdtemp(prefix="handoff-bench-"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # a loaded machine can take a while to start two workers
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("gunicorn did not come up")
            time.sleep(0.2)
        secret = SECRETS["dhl_express"]

        def one(i: int, session: requests.Session) -> int:
            payload = {
                "carrier": "dhl_express",
                "awb": f"BENCH{i:08d}",
                "event": {"date": "2026-11-20", "time": "08:30:00", "code": "WC", "description": "x"},
            }
            body = json.dumps(payload, separators=(",", ":")).encode()
            stamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-Handoff-Timestamp": stamp,
                "X-Handoff-Signature": callbacks.sign(secret, stamp, body),
            }
            return session.post(
                f"{base}/v1/callbacks/dhl_express", data=body, headers=headers, timeout=30
            ).status_code

        def worker(chunk: range) -> list[int]:
            with requests.Session() as session:
                return [one(i, session) for i in chunk]

        per = requests_total // concurrency
        chunks = [range(k * per, (k + 1) * per) for k in range(concurrency)]
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            codes = [c for result in pool.map(worker, chunks) for c in result]
        elapsed = time.perf_counter() - started
        return elapsed, sum(1 for c in codes if c == 202), len(codes)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test",
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/8")
    parser.add_argument("--shipments", type=int, default=2000)
    parser.add_argument("--dup-share", type=float, default=0.2)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--drainers", type=int, default=1, help="drain jobs running at once (processes)")
    parser.add_argument("--http-requests", type=int, default=2000)
    parser.add_argument("--http-concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    admin, url = scratch_database(args.database_url)
    try:
        migrate.upgrade(url, "heads")
        app = create_app(
            {
                "DATABASE_URL": url,
                "REDIS_URL": args.redis_url,
                "DATA_DIR": tempfile.mkdtemp(prefix="handoff-bench-"),
                "LOG_LEVEL": "WARNING",
                "RATE_LIMIT_PER_MINUTE": 0,
            }
        )
        container = app.extensions["handoff"]
        rng = random.Random(args.seed)
        with container.sessions() as session:
            _tenant, shipments = seed(session, args.shipments)
            session.commit()
            bodies, distinct = stream(shipments, args.dup_share, rng)
            plain_cpu = Cpu()
            plain_s = baseline(session, shipments, bodies, args.batch, plain_cpu)
        norm_cpu = Cpu()
        load_s, norm_s = normalise(container, bodies, args.batch, norm_cpu, args.drainers)
        with container.sessions() as session:
            stored = session.execute(
                sa.select(sa.func.count()).select_from(tables.TrackingEvent)
            ).scalar_one()
            delivered = session.execute(
                sa.select(sa.func.count()).where(tables.ShipmentTracking.milestone == "delivered")
            ).scalar_one()
        print(
            f"stream: {len(bodies)} pushes, {distinct} distinct events, {len(bodies) - distinct} duplicates, shuffled"
        )
        print(
            f"baseline plain batched insert: {len(bodies)} rows in {plain_s:.2f}s = {len(bodies) / plain_s:,.0f} rows/s"
        )
        print(f"inbox load: {len(bodies)} rows in {load_s:.2f}s")
        print(
            f"normalisation ({args.drainers} drainer{'s' if args.drainers > 1 else ''}): "
            f"{len(bodies)} pushes -> {stored} canonical events in {norm_s:.2f}s = "
            f"{stored / norm_s:,.0f} canonical events/s ({len(bodies) / norm_s:,.0f} pushes/s); "
            f"{delivered}/{len(shipments)} shipments derived delivered"
        )
        print(
            f"CPU, baseline: {plain_cpu.client:.2f}s client + {plain_cpu.server:.2f}s PostgreSQL = "
            f"{len(bodies) / plain_cpu.total:,.0f} rows per CPU-second"
        )
        print(
            f"CPU, normalisation: {norm_cpu.client:.2f}s client + {norm_cpu.server:.2f}s PostgreSQL = "
            f"{stored / norm_cpu.total:,.0f} canonical events per CPU-second"
        )
        cache = getattr(status, "EVENT_CACHE", None)  # absent before incremental derivation
        if cache is not None and cache.hits + cache.misses:  # counted in this process (one drainer)
            print(
                f"re-derivations from events already held: {cache.hits} of {cache.hits + cache.misses}; "
                "the rest read their events back (first sight of a shipment, or a stale copy)"
            )
        assert stored == distinct, f"expected {distinct} distinct events, stored {stored}"
        if args.http_requests:
            elapsed, ok, total = http_bench(url, args.redis_url, args.http_requests, args.http_concurrency)
            print(
                f"callbacks under gunicorn (2 workers x 4 threads, {args.http_concurrency} client threads): "
                f"{ok}/{total} answered 202 in {elapsed:.2f}s = {total / elapsed:,.0f} requests/s"
            )
            container.queue("tracking").empty()
            container.redis.delete(callbacks.DRAIN_FLAG)
        container.dispose()
    finally:
        drop_database(admin, url)


if __name__ == "__main__":
    main()
