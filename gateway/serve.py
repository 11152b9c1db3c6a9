"""Run the whole gateway locally: embedded services, migrations, web server, workers, scheduler, simulator.

``python -m gateway.serve`` is what ``make serve`` runs: it leaves everything up for exploration
and prints the docs URL. With no DATABASE_URL and REDIS_URL it uses the embedded default: a
SQLite file and a real embedded Redis under the data directory. From a checkout it also starts
the carrier simulator (``simulator/``, never imported here: it runs as its own process) and points
the UPS and DHL Express adapters and the carrier callbacks at it, unless ``GATEWAY_CARRIERS`` is
set. It creates a demo tenant and prints a fresh API key and a curl command to try. ``--check``
starts everything, makes one real request, and shuts down (used by the tests).

``Stack`` is the reusable part: the demo day runner (``demo/``) starts the same processes with it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests
import sqlalchemy as sa

from gateway import auth, bootstrap, config, migrate
from gateway.db import models

ROOT = Path(__file__).resolve().parent.parent
DEMO_SLUG = "demo-shop"

# What the simulator accepts and sends by default (simulator/config.py); development values only.
SIM_UPS_CLIENT = ("sim-ups-client", "sim-ups-secret")
# Development values the simulator uses by default, never real secrets.
SIM_UPS_WEBHOOK_CREDENTIAL = "sim-webhook-credential"
SIM_DHL_USER = ("sim-dhl-user", "sim-dhl-password")
SIM_DHL_PUSH_SECRET = "sim-dhl-push-secret"  # noqa: S105
SIM_FLEET_PUSH_SECRET = "sim-fleet-secret"  # noqa: S105


def free_port(preferred: int = 0) -> int:
    """Return ``preferred`` if nothing listens there, else a free port the OS picks."""
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError("no free TCP port")


def simulator_available() -> bool:
    """Return whether the carrier simulator is in this checkout (it is not in the wheel)."""
    return (ROOT / "simulator" / "__main__.py").is_file()


def simulator_carriers(sim_url: str) -> list[dict[str, Any]]:
    """Return the ``CARRIERS`` entries that point the UPS and DHL Express adapters at the simulator."""
    return [
        {
            "adapter": "ups",
            "config": {
                "client_id": SIM_UPS_CLIENT[0],
                "client_secret": SIM_UPS_CLIENT[1],
                "account_number": "H4ND0F",
                "shipper_name": "Handoff Demo Depot",
                "base_url": sim_url,
                "webhook_credential": SIM_UPS_WEBHOOK_CREDENTIAL,
                "timeout_seconds": 10,
            },
        },
        {
            "adapter": "dhl_express",
            "config": {
                "username": SIM_DHL_USER[0],
                "password": SIM_DHL_USER[1],
                "account_number": "951234567",
                "base_url": f"{sim_url}/sndpt",
                "timeout_seconds": 10,
            },
        },
    ]


def simulator_callback_secrets() -> dict[str, str]:
    """Return the ``CALLBACK_SECRETS`` that accept the simulator's pushes."""
    return {
        "ups": SIM_UPS_WEBHOOK_CREDENTIAL,
        "dhl_express": SIM_DHL_PUSH_SECRET,
        "fleet": SIM_FLEET_PUSH_SECRET,
    }


def create_tenant_key(
    container: bootstrap.Container, slug: str, name: str, roles: list[str], key_name: str
) -> tuple[str, str]:
    """Create (or reuse) a tenant by slug and return ``(tenant_id, a fresh API key)``."""
    with container.sessions() as session:
        tenant = session.execute(
            sa.select(models.Tenant).where(models.Tenant.slug == slug)
        ).scalar_one_or_none()
        if tenant is None:
            tenant = models.Tenant(name=name, slug=slug)
            session.add(tenant)
            session.flush()
        _, key = auth.create_key(
            session, tenant.id, roles, name=key_name, pepper=container.settings["SECRET_PEPPER"]
        )
        session.commit()
        return tenant.id, key


def _ensure_demo_key(container: bootstrap.Container) -> str:
    return create_tenant_key(container, DEMO_SLUG, "Demo Shop", ["platform", "ops", "finance"], "local demo")[
        1
    ]


def _wait_ready(
    url: str, deadline_s: float = 60, path: str = "/readyz", procs: list[Any] | None = None
) -> None:
    end = time.monotonic() + deadline_s
    last = "no answer"
    while time.monotonic() < end:
        try:
            r = requests.get(f"{url}{path}", timeout=5)
            if r.status_code == 200:
                return
            last = f"{r.status_code} {r.text[:300]}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        for p in procs or ():
            if p.poll() is not None:
                raise RuntimeError(
                    f"{' '.join(p.args[1:4])} exited with {p.returncode} before {url} was ready"
                )
        time.sleep(0.2)
    raise RuntimeError(f"{url}{path} was not ready within {deadline_s:.0f} s (last: {last})")


@dataclass
class Stack:
    """The local processes: embedded Redis, migrations, gunicorn, RQ workers, scheduler, simulator.

    ``start()`` returns once the gateway's ``/readyz`` and the simulator's health answer; ``stop()``
    terminates the children (SIGTERM, then SIGKILL after a grace period) and the embedded Redis.
    With ``log_dir`` set, the children's output goes to one file each instead of the terminal.
    """

    port: int = 8000
    data_dir: str | None = None
    web_workers: int = 2
    web_threads: int = 4
    rq_workers: int = 1
    # RQ's default worker forks a work horse per job; forking this ~300 MB process costs 0.1-2 s per
    # job on a small machine, more than most jobs take. Locally the workers run jobs in-process
    # (RQ's SimpleWorker); the outbox re-drives a job whose worker died, and the launcher is not
    # a production process manager.
    fork_workers: bool = False
    simulator: bool = True
    simulator_port: int = 8099
    simulator_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    log_dir: str | None = None
    ready_timeout: float = 180
    settings: dict[str, Any] = field(init=False, default_factory=dict)
    container: bootstrap.Container | None = field(init=False, default=None)
    children: list[subprocess.Popen[bytes]] = field(init=False, default_factory=list)
    _logs: list[IO[bytes]] = field(init=False, default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def simulator_url(self) -> str | None:
        return f"http://127.0.0.1:{self.simulator_port}" if self.simulator else None

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        out: IO[bytes] | None = None
        if self.log_dir:
            Path(self.log_dir).mkdir(parents=True, exist_ok=True)
            out = open(Path(self.log_dir) / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
            self._logs.append(out)
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, our own interpreter
            [sys.executable, *argv],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            stdin=subprocess.DEVNULL,
        )
        self.children.append(proc)
        return proc

    def start(self) -> Stack:
        """Start everything and wait until the gateway (and the simulator) answer."""
        overrides = {"DATA_DIR": self.data_dir} if self.data_dir else None
        self.settings = config.load(overrides=overrides)
        if self.simulator and not simulator_available():
            self.simulator = False
        if self.simulator:
            self.simulator_port = free_port(self.simulator_port)
        container = self.container = bootstrap.build(self.settings)
        redis_url = container.redis_url  # starts the embedded Redis when REDIS_URL is unset
        migrate.upgrade(container.database_url)
        env = {
            **os.environ,
            **self.env,
            "REDIS_URL": redis_url,
            "DATABASE_URL": container.database_url,
            "GATEWAY_DATA_DIR": str(Path(self.settings["DATA_DIR"]).resolve()),
        }
        if self.simulator:
            sim_url = f"http://127.0.0.1:{self.simulator_port}"
            if "GATEWAY_CARRIERS" not in os.environ and "GATEWAY_CARRIERS" not in self.env:
                env["GATEWAY_CARRIERS"] = json.dumps(simulator_carriers(sim_url))
            if "GATEWAY_CALLBACK_SECRETS" not in os.environ and "GATEWAY_CALLBACK_SECRETS" not in self.env:
                env["GATEWAY_CALLBACK_SECRETS"] = json.dumps(simulator_callback_secrets())
            self._spawn(
                "simulator",
                [
                    "-m",
                    "simulator",
                    "--port",
                    str(self.simulator_port),
                    "--callback-url",
                    f"{self.url}/v1/callbacks/{{carrier}}",
                    "--dhl-push-secret",
                    SIM_DHL_PUSH_SECRET,
                    "--fleet-push-secret",
                    SIM_FLEET_PUSH_SECRET,
                    "--ups-webhook-credential",
                    SIM_UPS_WEBHOOK_CREDENTIAL,
                    # Nothing subscribes per label yet: push every UPS label, as an account-wide
                    # Track Alert subscription would.
                    "--ups-push-unsubscribed",
                    *self.simulator_args,
                ],
                env,
            )
        self._spawn(
            "web",
            [
                "-m",
                "gunicorn",
                "-c",
                str(ROOT / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.web_workers),
                "--threads",
                str(self.web_threads),
                # Import the app once and fork the web workers from it: half the start-up CPU.
                "--preload",
                "--graceful-timeout",
                "10",
                "wsgi:app",
            ],
            env,
        )
        try:
            # Workers and the scheduler start once the API answers, so that on a small machine
            # they do not compete with it for the CPU while everything imports.
            _wait_ready(self.url, deadline_s=self.ready_timeout, procs=self.children)
            for i in range(self.rq_workers):
                argv = (
                    ["-m", "gateway.worker"] if self.fork_workers else ["-m", "gateway.serve", "--rq-worker"]
                )
                self._spawn(f"worker-{i + 1}", argv, env)
            self._spawn("scheduler", ["-m", "gateway.scheduler"], env)
            if self.simulator:
                _wait_ready(
                    f"http://127.0.0.1:{self.simulator_port}",
                    deadline_s=self.ready_timeout,
                    path="/_sim/health",
                    procs=self.children,
                )
        except BaseException:
            self.stop()
            raise
        return self

    def alive(self) -> bool:
        """Return whether every child process is still running."""
        return all(p.poll() is None for p in self.children)

    def stop(self, grace: float = 15) -> None:
        """Stop the children (SIGTERM, then SIGKILL after ``grace`` seconds) and the embedded services."""
        for p in reversed(self.children):
            if p.poll() is None:
                p.terminate()
        end = time.monotonic() + grace
        while any(p.poll() is None for p in self.children) and time.monotonic() < end:
            time.sleep(0.05)
        for p in self.children:
            if p.poll() is None:
                p.kill()
                p.wait(5)
        self.children.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()
        if self.container is not None:
            self.container.dispose()
            if self.container._embedded is not None:
                self.container._embedded.stop()
            self.container = None

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_worker() -> None:
    """An RQ worker on every gateway queue that runs jobs in its own process (no fork per job)."""
    from gateway import worker
    from gateway.app import create_app

    worker.run(create_app(), worker_class=worker.BeatingSimpleWorker)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT", "8000")))
    parser.add_argument("--simulator-port", type=int, default=int(os.environ.get("SIMULATOR_PORT", "8099")))
    parser.add_argument("--no-simulator", action="store_true", help="do not start the carrier simulator")
    parser.add_argument("--workers", type=int, default=1, help="RQ worker processes")
    parser.add_argument("--logs", help="write the processes' logs to this directory instead of the terminal")
    parser.add_argument("--check", action="store_true", help="start, make one request, stop")
    parser.add_argument("--rq-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rq_worker:  # what Stack runs for each worker process
        run_worker()
        return 0

    stack = Stack(
        port=args.port,
        rq_workers=args.workers,
        simulator=not args.no_simulator,
        simulator_port=args.simulator_port,
        # Ten real minutes per simulated day: tracking moves while you watch.
        simulator_args=["--day-seconds", "600"],
        log_dir=args.logs,
    )
    # SIGTERM (a supervisor, `kill`) stops as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        try:
            stack.start()
        except RuntimeError as exc:
            print(f"could not start: {exc}", file=sys.stderr)
            return 1
        assert stack.container is not None
        key = _ensure_demo_key(stack.container)
        url = stack.url
        if args.check:
            r = requests.get(f"{url}/v1/shipments", headers={"Authorization": f"Bearer {key}"}, timeout=5)
            print(f"check: GET /v1/shipments -> {r.status_code}")
            return 0 if r.status_code == 200 else 1
        sim = (
            f"Carrier simulator (UPS REST, DHL Express SOAP, driver app): {stack.simulator_url}/_sim/health\n"
            if stack.simulator
            else ""
        )
        print(
            f"\nHandoff is running at {url}\n"
            f"  API docs:  {url}/docs\n"
            f"  OpenAPI:   {url}/openapi.json\n"
            f"{sim}"
            f"Database: {stack.container.engine.url.render_as_string(hide_password=True)}\n"
            f"A demo API key (shown once):\n  {key}\n\nTry:\n"
            f"  curl -s {url}/v1/shipments -H 'Authorization: Bearer {key}'\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        while stack.alive():
            time.sleep(0.5)
        print("a process exited; stopping everything", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        with contextlib.suppress(KeyboardInterrupt):
            stack.stop()


if __name__ == "__main__":
    sys.exit(main())
