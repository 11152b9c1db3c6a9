"""Rate engine benchmark: in-process price() per second, and POST /v1/rates latency under gunicorn.

Usage: python bench/rating.py [--seconds 3] [--card ups_ground]
       python bench/rating.py --http [--rate 100] [--http-seconds 30] [--baseline-seconds 15]

In process, it prints from the same run a baseline loop (a dict lookup and a Decimal multiply
per iteration) so figures from a noisy shared machine can be compared as a ratio.

``--http`` starts gunicorn with the repo's ``gunicorn.conf.py`` on ``wsgi:app`` against
``DATABASE_URL``/``REDIS_URL`` (a scratch database is created on a PostgreSQL server and dropped
afterwards), or on the embedded default (a SQLite file and an embedded Redis in a temporary
directory) when they are unset. A tenant gets every sample card as its contracted, active cards
(no live carriers) and a 10 % markup. The client then sends requests open loop at a fixed rate
(each request leaves at its scheduled time whatever the earlier ones are doing; latency is
measured from that scheduled time, so a slow server cannot hide behind a slow client): first
``GET /healthz`` as the baseline, then ``POST /v1/rates`` over 64 rotating shipments. It prints
p50/p95/p99/max latency, errors and the achieved rate of both.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.client
import json
import math
import os
import platform
import queue
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rating import cards, quote
from schemas import types

ROOT = Path(__file__).resolve().parents[1]

SHIP_AT = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
ORIGIN = types.Address("US", "07102", "Newark")


def _pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity)"


def _specs() -> list[types.ShipmentSpec]:
    """Return one-parcel shipments across zones, sizes and options (the first is the fixed case)."""
    postals = ["10001", "15001", "30301", "60601", "80202", "94105", "05601", "12812"]
    out = []
    for i in range(64):
        w = Decimal(1 + (i * 7) % 60) + Decimal("0.35")
        side = Decimal(10 + (i * 13) % 70)
        parcel = types.Parcel(w, side, Decimal(25), Decimal(20))
        dest = types.Address("US", postals[i % len(postals)], "X", residential=bool(i % 2))
        opts = frozenset({"signature"}) if i % 3 == 0 else frozenset()
        out.append(types.ShipmentSpec(ORIGIN, dest, (parcel,), options=opts))
    return out


def _rate(fn: Callable[[int], None], seconds: float, batch: int) -> list[float]:
    """Return per-round rates (ops per CPU second) over about ``seconds`` of rounds of ``batch`` calls.

    CPU time rather than wall time, because the machines are shared: time spent waiting for
    the core while another process runs is not the engine's cost.
    """
    fn(batch)  # warm caches
    rates = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(rates) < 3:
        t = time.process_time()
        fn(batch)
        rates.append(batch / (time.process_time() - t))
    return rates


def run_in_process(card_name: str, seconds: float) -> dict[str, list[float]]:
    """Measure the baseline, one fixed shipment, and a rotating mix of 64 shipments."""
    card = cards.load_sample(card_name)
    specs = _specs()
    fixed = specs[0]
    table = {str(i): Decimal(i) + Decimal("0.25") for i in range(100)}
    factor = Decimal("1.1525")
    price = quote.price

    def baseline(n: int) -> None:
        for i in range(n):
            _ = table[str(i % 100)] * factor

    def one(n: int) -> None:
        for _ in range(n):
            price(card, fixed, SHIP_AT)

    def mix(n: int) -> None:
        for i in range(n):
            price(card, specs[i & 63], SHIP_AT)

    assert isinstance(price(card, fixed, SHIP_AT), quote.Quote)
    return {
        "baseline (dict lookup + Decimal multiply)": _rate(baseline, seconds, 200_000),
        f"price(): one parcel, {card.carrier} {card.service_code}, fixed shipment": _rate(
            one, seconds, 20_000
        ),
        f"price(): one parcel, {card.carrier} {card.service_code}, 64-shipment mix": _rate(
            mix, seconds, 20_000
        ),
    }


# --- POST /v1/rates under gunicorn ----------------------------------------------------------

# Destinations with coordinates so the own fleet's distance bands price the nearby ones.
_DESTINATIONS = [
    ("10001", "New York", "NY", "40.7506", "-73.9972"),
    ("07030", "Hoboken", "NJ", "40.7440", "-74.0324"),
    ("15001", "Aliquippa", "PA", "40.6212", "-80.2401"),
    ("30301", "Atlanta", "GA", "33.7490", "-84.3880"),
    ("60601", "Chicago", "IL", "41.8858", "-87.6181"),
    ("80202", "Denver", "CO", "39.7525", "-104.9995"),
    ("94105", "San Francisco", "CA", "37.7898", "-122.3942"),
    ("12812", "Blue Mountain Lake", "NY", "43.8717", "-74.4446"),
]


def rate_bodies() -> list[bytes]:
    """Return 64 rate requests (one parcel each) across zones, weights, sizes and options."""
    out = []
    for i in range(64):
        postal, city, state, lat, lon = _DESTINATIONS[i % len(_DESTINATIONS)]
        body = {
            "origin": {
                "street_lines": ["1 Gateway Center"],
                "city": "Newark",
                "state": "NJ",
                "postal_code": "07102",
                "country_code": "US",
                "latitude": "40.7357",
                "longitude": "-74.1724",
            },
            "destination": {
                "street_lines": [f"{100 + i} Main St"],
                "city": city,
                "state": state,
                "postal_code": postal,
                "country_code": "US",
                "residential": bool(i % 2),
                "latitude": lat,
                "longitude": lon,
            },
            "parcels": [
                {
                    "weight": {"value": str(Decimal(1 + (i * 7) % 60) + Decimal("0.35")), "unit": "kg"},
                    "dimensions": {
                        "length": str(10 + (i * 13) % 70),
                        "width": "25",
                        "height": "20",
                        "unit": "cm",
                    },
                }
            ],
        }
        out.append(json.dumps(body, separators=(",", ":")).encode())
    return out


@dataclass
class Phase:
    """What one open-loop phase measured."""

    name: str
    latencies_ms: list[float]
    errors: dict[str, int]
    elapsed_s: float
    late_sends: int
    server_cpu_s: float | None = None  # gunicorn master + workers, during the phase

    @property
    def cpu_ms_per_request(self) -> float:
        if self.server_cpu_s is None or not self.latencies_ms:
            return float("nan")
        return self.server_cpu_s * 1000 / len(self.latencies_ms)

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies_ms)
        return xs[max(0, math.ceil(q * len(xs)) - 1)] if xs else float("nan")


def open_loop(
    port: int,
    method: str,
    path: str,
    bodies: list[bytes] | None,
    headers: dict[str, str],
    rate: float,
    seconds: float,
    name: str,
    expect: int = 200,
    threads: int = 16,
) -> Phase:
    """Send ``rate`` requests per second for ``seconds``, each at its scheduled time, from a thread pool."""
    total = max(1, int(rate * seconds))
    work: queue.Queue[tuple[int, float] | None] = queue.Queue()
    latencies: list[float] = [0.0] * total
    statuses: list[str] = [""] * total

    def send(conn: http.client.HTTPConnection, i: int) -> int:
        body = bodies[i % len(bodies)] if bodies else None
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while (item := work.get()) is not None:
            i, scheduled = item
            try:
                try:
                    status = str(send(conn, i))
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    # A kept-alive connection the server closed: reconnect once, as any client does.
                    conn.close()
                    status = str(send(conn, i))
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                status = type(exc).__name__
            latencies[i] = (time.perf_counter() - scheduled) * 1000
            statuses[i] = status
        conn.close()

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    late = 0
    start = time.perf_counter() + 0.05
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        elif delay < -0.005:
            late += 1
        work.put((i, scheduled))
    for _ in pool:
        work.put(None)
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    errors: dict[str, int] = {}
    for s in statuses:
        if s != str(expect):
            errors[s] = errors.get(s, 0) + 1
    return Phase(name, latencies, errors, elapsed, late)


def server_cpu_s(pid: int) -> float | None:
    """CPU seconds used so far by a process and its children (gunicorn's workers), from /proc."""
    if not os.path.isdir("/proc"):
        return None
    ticks = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:
            ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def measured(pid: int, phase: Callable[[], Phase]) -> Phase:
    """Run a phase and record the server's CPU time spent during it."""
    before = server_cpu_s(pid)
    result = phase()
    after = server_cpu_s(pid)
    if before is not None and after is not None:
        result.server_cpu_s = after - before
    return result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _backing_services(tmp: str) -> Iterator[tuple[str, str, str]]:
    """Yield (database URL, Redis URL, description): a scratch PostgreSQL database or the embedded default."""
    import sqlalchemy as sa

    from gateway import wiring
    from gateway.kernel import config, migrate
    from gateway.kernel import container as bootstrap

    given_db = os.environ.get("DATABASE_URL", "")
    given_redis = os.environ.get("REDIS_URL", "")
    settings = config.load(overrides={"DATA_DIR": tmp, "DATABASE_URL": "", "REDIS_URL": given_redis})
    container = bootstrap.build(settings, wiring.SESSION_HOOKS)
    admin = None
    try:
        redis_url = container.redis_url  # starts the embedded Redis when REDIS_URL is unset
        if given_db.startswith(("postgres://", "postgresql")):
            admin_url = sa.make_url(config.database_url({"DATABASE_URL": given_db}))
            admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
            name = f"handoff_bench_{uuid.uuid4().hex[:10]}"
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            db_url = admin_url.set(database=name).render_as_string(hide_password=False)
            described = f"PostgreSQL (scratch database {name})"
        else:
            db_url = given_db or container.database_url
            described = "SQLite file" if db_url.startswith("sqlite") else db_url.split(":", 1)[0]
        described += ", " + ("Redis at REDIS_URL" if given_redis else "embedded Redis")
        migrate.upgrade(db_url)
        yield db_url, redis_url, described
    finally:
        container.dispose()
        if container._embedded is not None:
            container._embedded.stop()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(
                    sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                    {"n": name},
                )
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            admin.dispose()


def _seed(db_url: str, redis_url: str, tmp: str) -> tuple[str, int]:
    """Create a tenant whose active cards are every sample card, with a 10 % markup; return (key, cards)."""
    from importlib import resources

    from gateway import wiring
    from gateway.kernel import auth, config, models
    from gateway.kernel import container as bootstrap
    from gateway.rates import cards as rate_cards
    from gateway.rates import markups

    settings = config.load(overrides={"DATA_DIR": tmp, "DATABASE_URL": db_url, "REDIS_URL": redis_url})
    container = bootstrap.build(settings, wiring.SESSION_HOOKS)
    try:
        with container.sessions() as session:
            slug = f"bench-{uuid.uuid4().hex[:8]}"
            tenant = models.Tenant(name=slug, slug=slug)
            session.add(tenant)
            session.flush()
            key_row, key = auth.create_key(
                session, tenant.id, ["platform", "ops"], pepper=settings["SECRET_PEPPER"]
            )
            names = cards.sample_names()
            for name in names:
                text = resources.files("rating").joinpath(f"cards/{name}.json").read_text(encoding="utf-8")
                row = rate_cards.upload(session, tenant.id, json.loads(text), key_row.id)
                # Open-ended, so the benchmark keeps its cards after the samples' own end dates.
                rate_cards.activate(
                    session, tenant.id, row.card_id, row.version, key_row.id, effective_to_given=True
                )
            markups.replace(session, tenant.id, [{"percent": Decimal(10)}], key_row.id)
            session.commit()
        return key, len(names)
    finally:
        container.dispose()


def run_http(args: argparse.Namespace) -> int:
    """Start gunicorn on wsgi:app and measure GET /healthz, then POST /v1/rates, open loop."""
    tmp = tempfile.mkdtemp(prefix="handoff-bench-rating-")
    with _backing_services(tmp) as (db_url, redis_url, described):
        key, n_cards = _seed(db_url, redis_url, tmp)
        port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "GATEWAY_DATA_DIR": tmp,
            "GATEWAY_BIND": f"127.0.0.1:{port}",
            "GATEWAY_CARRIERS": "[]",  # contracted cards only
            # Keep the per-key limiter on (one Redis INCR per request) but above the offered rate.
            "GATEWAY_RATE_LIMIT_PER_MINUTE": str(int(args.rate * 60 * 10)),
        }
        if args.web_workers:
            env["GATEWAY_WEB_WORKERS"] = str(args.web_workers)
        if args.web_threads:
            env["GATEWAY_WEB_THREADS"] = str(args.web_threads)
        workers = env.get("GATEWAY_WEB_WORKERS") or str(os.cpu_count() and os.cpu_count() * 2 + 1)
        threads = env.get("GATEWAY_WEB_THREADS") or "4"
        log = open(Path(tmp) / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
        if args.nice is not None:
            # Client and server alike (children inherit it): approximates a machine of our own.
            os.setpriority(os.PRIO_PROCESS, 0, args.nice)
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            _wait_up(port, proc)
            auth_headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            bodies = rate_bodies()
            print(
                f"python {platform.python_version()}, {os.cpu_count()} CPUs, load average "
                f"{os.getloadavg()[0]:.1f}; gunicorn gthread {workers} workers x {threads} threads; "
                f"{described}; {n_cards} contracted cards, 10 % markup, no live carriers"
                + ("" if args.nice is None else f"; client and server at nice {args.nice}")
            )
            print(f"open loop at {args.rate:g} requests/s; latency from each request's scheduled send time")
            open_loop(
                port, "POST", "/v1/rates", bodies, auth_headers, args.rate, args.warmup_seconds, "warm-up"
            )
            healthz = functools.partial(
                open_loop, port, "GET", "/healthz", None, {}, args.rate, args.baseline_seconds
            )
            rating = functools.partial(
                open_loop, port, "POST", "/v1/rates", bodies, auth_headers, args.rate, args.http_seconds
            )
            phases = [
                measured(proc.pid, lambda: healthz("GET /healthz (baseline)")),
                measured(proc.pid, lambda: rating("POST /v1/rates")),
            ]
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            log.close()
    print(
        f"{'case':<26} {'requests':>8} {'errors':>6} {'achieved/s':>10} {'late':>5} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7} {'server CPU ms/req':>17}"
    )
    for ph in phases:
        print(
            f"{ph.name:<26} {len(ph.latencies_ms):>8} {sum(ph.errors.values()):>6} "
            f"{len(ph.latencies_ms) / ph.elapsed_s:>10.1f} {ph.late_sends:>5} {ph.pct(0.5):>7.2f} "
            f"{ph.pct(0.95):>7.2f} {ph.pct(0.99):>7.2f} {max(ph.latencies_ms):>7.2f} "
            f"{ph.cpu_ms_per_request:>17.2f}"
        )
        if ph.errors:
            print(f"  errors by status: {ph.errors}")
    rates = phases[-1]
    verdict = "met" if rates.pct(0.99) < 25 and not rates.errors else "NOT met"
    print(f"target: POST /v1/rates p99 < 25 ms at {args.rate:g} requests/s: {verdict}")
    print(
        f"load average after the run: {os.getloadavg()[0]:.1f} (others' work on a shared machine inflates latency)"
    )
    return 0


def _wait_up(port: int, proc: subprocess.Popen[bytes], deadline_s: float = 180) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode} before answering")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /readyz in time")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per case")
    parser.add_argument("--card", default="ups_ground", help="sample card name (see rating/cards/)")
    parser.add_argument("--http", action="store_true", help="POST /v1/rates latency under gunicorn instead")
    parser.add_argument("--rate", type=float, default=100.0, help="--http: requests per second (open loop)")
    parser.add_argument("--http-seconds", type=float, default=30.0, help="--http: POST /v1/rates duration")
    parser.add_argument("--baseline-seconds", type=float, default=15.0, help="--http: GET /healthz duration")
    parser.add_argument("--warmup-seconds", type=float, default=5.0, help="--http: unmeasured warm-up")
    parser.add_argument(
        "--web-workers", type=int, help="--http: gunicorn workers (default: gunicorn.conf.py)"
    )
    parser.add_argument(
        "--web-threads", type=int, help="--http: threads per worker (default: gunicorn.conf.py)"
    )
    parser.add_argument(
        "--nice",
        type=int,
        help="--http: run client and server at this nice value (negative needs root), to measure "
        "them ahead of other work on a shared machine",
    )
    args = parser.parse_args(argv)
    if args.http:
        return run_http(args)
    print(f"python {platform.python_version()} on {platform.machine()}, {_pin_one_core()}")
    results = run_in_process(args.card, args.seconds)
    base = statistics.median(next(iter(results.values())))
    print(f"{'case (per CPU second)':<62} {'median/s':>10} {'best/s':>10} {'vs baseline':>11}")
    for name, rates in results.items():
        med = statistics.median(rates)
        print(f"{name:<62} {med:>10,.0f} {max(rates):>10,.0f} {med / base:>11.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
