"""Run the demo day: start the stack, play the phases, print the summary, write the report, shut down.

``python -m demo [--orders 2000] [--seed 7] [--data-dir var/demo] [--report PATH] [--world metro]``. Everything
runs on the embedded default (SQLite and an embedded Redis under the data directory, which is
emptied first so every run starts fresh), whatever DATABASE_URL/REDIS_URL say, unless
``--use-env-services`` is given. Exit code 0 when every phase ran or was skipped because its API
is not in this installation; 1 when a phase failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, date, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any, TextIO

from demo import api, day, phases, report, summary
from demo.progress import fmt_seconds
from demo.receiver import Receiver

BUDGET_SECONDS = 300
DEFAULT_WORLD = "metro"
NO_WORLD = "carriers without a world: every partner parcel arrives about a day later"
SIM_START_HOUR = 7  # under a world, the simulator's clock starts at 07:00 on the day at the depot
ROOT = Path(__file__).resolve().parent.parent


def calibrate() -> float:
    """CPU seconds this machine needs for a fixed pure-Python loop, right now.

    On a busy shared machine the CPU time of everything grows with contention, this loop's too, so
    runs are compared by their CPU seconds beside this figure (docs/benchmarks/demo.md).
    """
    started = time.process_time()
    total = 0
    for i in range(5_000_000):
        total += i * i
    return round(time.process_time() - started, 2)


def _cpu_seconds(pid: int) -> float:
    """CPU seconds used by a running process and its live descendants (Linux /proc; 0 elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = entry.read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        # state ppid ... utime(14) stime(15) cutime(16) cstime(17), counted from field 3.
        stats[int(entry.parent.name)] = (int(fields[1]), sum(int(x) for x in fields[11:15]) / tick)
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats.get(current, (0, 0.0))[1]
        todo.extend(child for child, (parent, _) in stats.items() if parent == current)
    return total


def _cpu_by_process(stack: Any) -> dict[str, float]:
    """CPU seconds per kind of process of the stack, measured just before it stops."""
    out: dict[str, float] = {}
    for p in stack.children:
        argv = " ".join(p.args[1:4])
        name = (
            "web" if "gunicorn" in argv else "workers" if "worker" in argv else "simulator" if "simulator" in argv
            else "scheduler"
        )  # fmt: skip
        out[name] = round(out.get(name, 0.0) + _cpu_seconds(p.pid), 1)
    t = os.times()
    out["demo client"] = round(t.user + t.system, 1)
    return out


class Runner:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.phases: list[dict[str, Any]] = []
        self.failed = False

    def phase(self, title: str, fn: Callable[[], str | None]) -> Any:
        self.out.write(f"\n▶ {title}\n")
        self.out.flush()
        started = time.monotonic()
        status, detail = "ok", ""
        try:
            detail = fn() or ""
        except phases.Skipped as exc:
            status, detail = "skipped", str(exc)
        except Exception as exc:  # noqa: BLE001 - a failed phase is reported and the day goes on where it can
            status, detail = "failed", f"{type(exc).__name__}: {exc}"
            self.failed = True
            traceback.print_exc(file=sys.stderr)
        seconds = time.monotonic() - started
        self.phases.append({"title": title, "status": status, "detail": detail, "seconds": round(seconds, 2)})
        mark = {"ok": "✓", "skipped": "⚠ skipped:", "failed": "✗ FAILED:"}[status]
        self.out.write(f"  {mark} {detail}  [{fmt_seconds(seconds)}]\n")
        self.out.flush()
        return status


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--orders", type=int, default=2000, help="orders across the three shops (default 2000)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--data-dir", default=str(ROOT / "var" / "demo"), help="emptied first (default var/demo)")
    p.add_argument(
        "--report", help="where to write the HTML report (default <data-dir>/handoff-demo-day.html)"
    )
    p.add_argument("--workers", type=int, default=2, help="RQ worker processes (default 2)")
    p.add_argument(
        "--port",
        type=int,
        default=os.environ.get("GATEWAY_PORT") or None,
        help="the gateway's port (default: $GATEWAY_PORT, else 8000 or a free one)",
    )
    p.add_argument(
        "--simulator-port",
        type=int,
        default=os.environ.get("SIMULATOR_PORT") or "8099",
        help="the simulator's port (default: $SIMULATOR_PORT, else 8099; another if taken)",
    )
    p.add_argument("--clients", type=int, default=8, help="concurrent API clients while booking (default 8)")
    p.add_argument(
        "--plan-seconds", type=float, default=0, help="solver time per depot plan (default: by size)"
    )
    p.add_argument(
        "--plan-iterations",
        type=int,
        default=None,
        help="stop each plan's routing search after this many iterations: the same plan on any machine",
    )
    p.add_argument(
        "--world",
        default=DEFAULT_WORLD,
        help=f"the simulator's world (docs/WORLDS.md): a shipped name, a world file's path, or none for "
        f"the old next-day deliveries (default {DEFAULT_WORLD})",
    )
    p.add_argument(
        "--use-env-services", action="store_true", help="use DATABASE_URL/REDIS_URL instead of embedded"
    )
    p.add_argument("--keep-data", action="store_true", help="do not empty the data directory first")
    args = p.parse_args(argv)
    if args.orders < 3:
        p.error("--orders must be at least 3")
    try:
        args.world = resolve_world(args.world)
    except ValueError as exc:
        p.error(f"--world: {exc}")
    return args


def resolve_world(name_or_path: str | None) -> str | None:
    """Return the world to hand the simulator (a shipped name or an absolute path), None for "none".

    The world is checked here, so a typo stops the demo before anything starts; ValueError says why.
    """
    if not name_or_path or name_or_path.strip().lower() == "none":
        return None
    try:
        from simulator import world as sim_world
    except ImportError:  # no simulator in this installation: the day runs without one anyway
        return name_or_path
    path = Path(name_or_path)
    if path.suffix or path.exists():
        name_or_path = str(path.resolve())  # the simulator runs from the checkout, not from here
    sim_world.load_world(name_or_path)  # WorldError is a ValueError
    return name_or_path


def world_label(world: str | None) -> str:
    """How the summary names a world: its name, a file's stem, or "none" (next-day deliveries)."""
    if not world:
        return "none"
    return Path(world).stem if Path(world).suffix else world


def simulator_args(seed: int, world: str | None, the_day: date) -> list[str]:
    """The simulator's flags for the day: seeded, simulated time at real speed, pushes only when ticked.

    Under a world its clock starts at 07:00 on the day at the depot, so the world's "+N" dates count
    from the day and the partners' labels, bought before the carriers' cut-off, ship that day.
    """
    args = [
        "--seed",
        str(seed),
        "--day-seconds",
        "86400",
        "--exception-share",
        "0.08",
        "--push-interval",
        "3600",
    ]
    if world:
        start = datetime.combine(the_day, dtime(SIM_START_HOUR), tzinfo=day.DEPOT_TZ)
        args += ["--world", world, "--start", start.isoformat()]
    return args


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    from gateway.launcher.processes import free_port
    from gateway.launcher.stack import Stack
    from gateway.launcher.tenants import create_tenant_key

    args = parse_args(argv)
    out = out or sys.stdout
    data_dir = Path(args.data_dir).resolve()
    if data_dir.exists() and not args.keep_data:
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    report_path = Path(args.report).resolve() if args.report else data_dir / "handoff-demo-day.html"
    if not args.use_env_services:
        for name in ("DATABASE_URL", "REDIS_URL"):
            os.environ.pop(name, None)
    reference = calibrate()
    started = time.monotonic()
    cpu: dict[str, float] = {}
    the_day = day.generate(args.orders, seed=args.seed)
    out.write(
        f"Handoff demo day: {args.orders:,} orders from {len(day.SHOPS)} shops around the Secaucus depot, "
        f"{the_day.date:%A %d %B %Y} (seed {args.seed}); "
        + (f"carriers in the {world_label(args.world)} world\n" if args.world else f"{NO_WORLD}\n")
        + f"Everything below goes through the public HTTP API. Logs: {data_dir / 'logs'}\n"
    )
    run = Runner(out)
    stack = Stack(
        port=args.port or free_port(8000),
        data_dir=str(data_dir),
        rq_workers=max(1, args.workers),
        simulator_port=args.simulator_port,
        # Simulated time runs at real speed and jumps when the day says so; pushes go out when the
        # day ticks the simulator, so every one is counted.
        simulator_args=simulator_args(args.seed, args.world, the_day.date),
        env={
            "GATEWAY_LOG_LEVEL": "WARNING",
            "GATEWAY_WEBHOOK_ALLOWLIST": "127.0.0.1",
            "GATEWAY_RATE_LIMIT_PER_MINUTE": "60000",
        },
        log_dir=str(data_dir / "logs"),
    )
    receiver = Receiver()
    ctx: phases.Context | None = None
    interrupted = False

    def on_term(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        if run.phase("Start the services", lambda: _start(stack, receiver)) != "ok":
            return 1
        assert stack.container is not None
        tenants: dict[str, phases.Tenant] = {}
        client = api.Client(stack.url)
        for shop in day.SHOPS:
            tenant_id, key = create_tenant_key(
                stack.container, shop.slug, shop.name, ["platform", "ops", "finance"], "demo day"
            )
            tenants[shop.slug] = phases.Tenant(shop, tenant_id, key, client.with_key(key))
        for slug, orders in the_day.by_shop().items():
            tenants[slug].orders = orders
        n = args.orders
        ctx = phases.Context(
            base_url=stack.url,
            sim_url=stack.simulator_url,
            the_day=the_day,
            tenants=tenants,
            receiver=receiver,
            apis=client.openapi_paths(),
            out=out,
            workers=args.clients,
            seed=args.seed,
            plan_seconds=args.plan_seconds or max(2.0, min(8.0, n / 3 / 120)),
            plan_iterations=args.plan_iterations,
            world=args.world if stack.simulator else None,
        )
        run.phase("Contract rate cards", lambda: phases.contracts(ctx))
        run.phase("Webhook subscriptions", lambda: _subscribe(ctx))
        run.phase("Booking with rates", lambda: phases.book(ctx))
        run.phase("Allocation: fleet or partner", lambda: phases.allocate(ctx))
        run.phase("Labels through the jobs", lambda: phases.labels(ctx))
        run.phase("Tracking from carriers and drivers", lambda: phases.tracking(ctx))
        run.phase("Outbound webhooks", lambda: phases.webhooks(ctx))
        run.phase("Invoices and reconciliation", lambda: phases.reconcile(ctx))
        run.phase("KPIs for ops", lambda: phases.kpis(ctx))
    except KeyboardInterrupt:
        interrupted = True
        out.write("\ninterrupted: shutting down\n")
    finally:
        t0 = time.monotonic()
        receiver.stop()
        if stack.children:
            cpu = _cpu_by_process(stack)
        stack.stop()
        run.phases.append(
            {"title": "Shut down", "status": "ok", "detail": "", "seconds": round(time.monotonic() - t0, 2)}
        )
    if interrupted or ctx is None:
        return 130 if interrupted else 1
    total = time.monotonic() - started
    record = summary.build(
        meta={
            "seed": args.seed,
            "orders": args.orders,
            "day": the_day.date.isoformat(),
            "day_label": f"{the_day.date:%A %d %B %Y}",
            "depot": "Secaucus, NJ depot",
            "world": world_label(args.world),
            "depot_lonlat": [float(day.DEPOT["longitude"]), float(day.DEPOT["latitude"])],
            "total_seconds": round(total, 1),
            "cpu_by_process": cpu,
            "calibration_cpu_seconds": reference,
            "load_average": round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else None,
            "cpus": os.cpu_count() or 1,
            "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        },
        phases=run.phases,
        data=ctx.data,
        orders=ctx.orders,
    )
    summary.render(record, out)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(report.render(record), encoding="utf-8")
    (data_dir / "demo-day.json").write_text(json.dumps(record, indent=1, default=str), encoding="utf-8")
    out.write(f"\n Report: {report_path}\n")
    out.write(
        " Open this day in the web console (prints the URL and a user's password; other shops: "
        f"{', '.join(s.slug for s in day.SHOPS[1:])}):\n"
        f"   GATEWAY_DATA_DIR={data_dir} make serve SERVE_ARGS='--console-tenant {day.SHOPS[0].slug}'\n"
    )
    if total > BUDGET_SECONDS:
        out.write(
            f" Note: the day took {fmt_seconds(total)}, over the {BUDGET_SECONDS // 60}-minute budget.\n"
        )
    out.flush()
    return 1 if run.failed else 0


def _start(stack: Any, receiver: Receiver) -> str:
    stack.start()
    receiver.start()
    sim = f", simulator {stack.simulator_url}" if stack.simulator else " (no simulator in this checkout)"
    return f"gateway {stack.url} (docs {stack.url}/docs), {stack.rq_workers} workers, scheduler{sim}"


def _subscribe(ctx: phases.Context) -> str:
    if not ctx.has("/v1/webhook-endpoints"):
        raise phases.Skipped("webhooks API not available")
    phases.subscribe_webhooks(ctx)
    events = ", ".join(phases.WEBHOOK_EVENTS)
    return (
        f"{len(ctx.tenants)} endpoints on the local receiver: {events}, and shipment.delivered for "
        f"{phases.DELIVERED_TOO}"
    )


if __name__ == "__main__":
    sys.exit(main())
