"""``Stack``: the local processes (embedded Redis, migrations, gunicorn, RQ workers, scheduler, simulator).

It supervises what it starts: a worker or the scheduler that exits is restarted after a pause that
doubles with each quick exit (``restart_delay``), with a JSON line on stderr each time. The web
server and the simulator are what you talk to: ``alive()`` turns false when one of them exits.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from gateway import wiring
from gateway.kernel import config, migrate
from gateway.kernel import container as bootstrap
from gateway.launcher.processes import ROOT, Child, event, free_port, restart_delay, signal_name, wait_ready
from gateway.launcher.simulator import (
    SIM_DHL_PUSH_SECRET,
    SIM_FEDEX_SECURITY_TOKEN,
    SIM_FLEET_PUSH_SECRET,
    SIM_UPS_WEBHOOK_CREDENTIAL,
    SIM_USPS_WEBHOOK_SECRET,
    simulator_available,
    simulator_callback_secrets,
    simulator_carriers,
)

# The development setting the launcher gives the processes it starts (gateway/webhooks/urls.py).
LOCAL_HTTP_WEBHOOKS = "GATEWAY_WEBHOOK_ALLOW_LOCAL_HTTP"


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
    # A worker or the scheduler that exits is restarted after restart_delay(): restart_backoff
    # seconds, doubled for each further exit within restart_stable_after seconds of its start,
    # at most restart_backoff_cap.
    restart_backoff: float = 1.0
    restart_backoff_cap: float = 30.0
    restart_stable_after: float = 60.0
    settings: dict[str, Any] = field(init=False, default_factory=dict)
    container: bootstrap.Container | None = field(init=False, default=None)
    # Whether the started processes accept webhook receivers on this machine over http.
    webhook_local_http: bool = field(init=False, default=False)
    _children: list[Child] = field(init=False, default_factory=list)
    _logs: dict[str, IO[bytes]] = field(init=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _stopping: threading.Event = field(init=False, default_factory=threading.Event)
    _supervisor: threading.Thread | None = field(init=False, default=None)

    @property
    def children(self) -> list[subprocess.Popen[bytes]]:
        """The running (or last) process of each child."""
        with self._lock:
            return [c.proc for c in self._children]

    def process(self, name: str) -> subprocess.Popen[bytes]:
        """The current process of a child by name (``web``, ``worker-1``, ``scheduler``, ``simulator``)."""
        with self._lock:
            return next(c.proc for c in self._children if c.name == name)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def simulator_url(self) -> str | None:
        return f"http://127.0.0.1:{self.simulator_port}" if self.simulator else None

    def _popen(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        out: IO[bytes] | None = None
        if self.log_dir:
            out = self._logs.get(name)
            if out is None:
                Path(self.log_dir).mkdir(parents=True, exist_ok=True)
                out = open(Path(self.log_dir) / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
                self._logs[name] = out
        return subprocess.Popen(  # noqa: S603 - fixed argv, our own interpreter
            [sys.executable, *argv],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            stdin=subprocess.DEVNULL,
        )

    def _spawn(
        self, name: str, argv: list[str], env: dict[str, str], restart: bool = False
    ) -> subprocess.Popen[bytes]:
        proc = self._popen(name, argv, env)
        with self._lock:
            self._children.append(Child(name, argv, env, restart, proc, time.monotonic()))
        return proc

    def supervise_once(self) -> None:
        """Restart, after their back-off, the workers and the scheduler that have exited."""
        with self._lock:
            if self._stopping.is_set():
                return
            for child in self._children:
                if not child.restart or child.proc.poll() is None:
                    continue
                now = time.monotonic()
                if child.restart_at is None:
                    ran = now - child.started
                    child.quick_exits = 0 if ran >= self.restart_stable_after else child.quick_exits + 1
                    delay = restart_delay(child.quick_exits, self.restart_backoff, self.restart_backoff_cap)
                    child.restart_at = now + delay
                    code = child.proc.returncode
                    event(
                        logging.WARNING,
                        f"{child.name} exited; restarting it in {delay:g} s",
                        child=child.name,
                        pid=child.proc.pid,
                        returncode=code,
                        signal=signal_name(-code) if code < 0 else None,
                        ran_seconds=round(ran, 1),
                        restart_in_seconds=delay,
                        restarts=child.restarts,
                    )
                elif now >= child.restart_at:
                    child.proc = self._popen(child.name, child.argv, child.env)
                    child.started, child.restart_at = now, None
                    child.restarts += 1
                    event(
                        logging.INFO,
                        f"{child.name} restarted",
                        child=child.name,
                        pid=child.proc.pid,
                        restarts=child.restarts,
                    )

    def _supervise(self) -> None:
        while not self._stopping.wait(0.5):
            try:
                self.supervise_once()
            except Exception as exc:  # noqa: BLE001 - the supervisor must outlive a failed restart
                event(logging.ERROR, "could not restart a process", error=repr(exc))

    def start(self) -> Stack:
        """Start everything and wait until the gateway (and the simulator) answer."""
        if free_port(self.port) != self.port:
            raise RuntimeError(
                f"port {self.port} is in use on 127.0.0.1: choose another with --port, GATEWAY_PORT "
                "or make serve PORT=…"
            )
        self._stopping.clear()
        overrides = {"DATA_DIR": self.data_dir} if self.data_dir else None
        self.settings = config.load(overrides=overrides)
        if self.simulator and not simulator_available():
            self.simulator = False
        if self.simulator:
            self.simulator_port = free_port(self.simulator_port)
        container = self.container = bootstrap.build(self.settings, wiring.SESSION_HOOKS)
        redis_url = container.redis_url  # starts the embedded Redis when REDIS_URL is unset
        migrate.upgrade(container.database_url)
        env = {
            **os.environ,
            **self.env,
            "REDIS_URL": redis_url,
            "DATABASE_URL": container.database_url,
            "GATEWAY_DATA_DIR": str(Path(self.settings["DATA_DIR"]).resolve()),
        }
        # Development setting: a webhook receiver on this machine over http (a local test server)
        # is accepted. Production processes (not started by this launcher) refuse it.
        env.setdefault(LOCAL_HTTP_WEBHOOKS, "true")
        if not any(env.get(k) for k in ("GATEWAY_LABEL_URL_SECRET", "GATEWAY_SECRET_PEPPER")):
            env["GATEWAY_LABEL_URL_SECRET"] = _local_secret(Path(env["GATEWAY_DATA_DIR"]), "label-url.key")
        if not env.get("GATEWAY_CREDENTIALS_KEYS"):  # tenants' carrier account secrets (gateway/accounts)
            env["GATEWAY_CREDENTIALS_KEYS"] = _local_secret(Path(env["GATEWAY_DATA_DIR"]), "credentials.key")
        self.webhook_local_http = config.load(environ=env).get("WEBHOOK_ALLOW_LOCAL_HTTP") is True
        if self.simulator:
            sim_url = f"http://127.0.0.1:{self.simulator_port}"
            if "GATEWAY_CARRIERS" not in os.environ and "GATEWAY_CARRIERS" not in self.env:
                env["GATEWAY_CARRIERS"] = json.dumps(simulator_carriers(sim_url))
            if "GATEWAY_TEST_CARRIERS" not in os.environ and "GATEWAY_TEST_CARRIERS" not in self.env:
                # Test keys (hk_test_…) buy from the simulator too: on a laptop both modes are simulated.
                env["GATEWAY_TEST_CARRIERS"] = json.dumps(
                    [{**entry, "id": f"test-{entry['adapter']}"} for entry in simulator_carriers(sim_url)]
                )
            if "GATEWAY_CALLBACK_SECRETS" not in os.environ and "GATEWAY_CALLBACK_SECRETS" not in self.env:
                env["GATEWAY_CALLBACK_SECRETS"] = json.dumps(simulator_callback_secrets())
            if not env.get("GATEWAY_PUBLIC_BASE_URL"):
                # Where carriers that subscribe by account (USPS) post: this gateway, on this machine.
                env["GATEWAY_PUBLIC_BASE_URL"] = self.url
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
                    "--fedex-security-token",
                    SIM_FEDEX_SECURITY_TOKEN,
                    "--usps-webhook-secret",
                    SIM_USPS_WEBHOOK_SECRET,
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
                "python:gateway.gunicorn_conf",  # in the package: the launcher runs from a wheel too
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
                "gateway.app:create_app()",
            ],
            env,
        )
        try:
            # Workers and the scheduler start once the API answers, so that on a small machine
            # they do not compete with it for the CPU while everything imports.
            wait_ready(self.url, deadline_s=self.ready_timeout, procs=self.children)
            for i in range(self.rq_workers):
                argv = (
                    ["-m", "gateway.jobs.worker"]
                    if self.fork_workers
                    else ["-m", "gateway.serve", "--rq-worker"]
                )
                self._spawn(f"worker-{i + 1}", argv, env, restart=True)
            self._spawn("scheduler", ["-m", "gateway.jobs.scheduler"], env, restart=True)
            if self.simulator:
                wait_ready(
                    f"http://127.0.0.1:{self.simulator_port}",
                    deadline_s=self.ready_timeout,
                    path="/_sim/health",
                    procs=self.children,
                )
        except BaseException:
            self.stop()
            raise
        self._supervisor = threading.Thread(target=self._supervise, name="launcher-supervisor", daemon=True)
        self._supervisor.start()
        return self

    def exited(self) -> list[str]:
        """Return the children that exited and are not restarted (the web server, the simulator)."""
        with self._lock:
            return [c.name for c in self._children if not c.restart and c.proc.poll() is not None]

    def alive(self) -> bool:
        """Return whether the web server (and the simulator) still run; workers and the scheduler are restarted."""
        return not self.exited()

    def stop(self, grace: float = 15) -> None:
        """Stop the children (SIGTERM, then SIGKILL after ``grace`` seconds) and the embedded services."""
        self._stopping.set()
        if self._supervisor is not None and self._supervisor is not threading.current_thread():
            self._supervisor.join(timeout=10)
        self._supervisor = None
        procs = self.children
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        end = time.monotonic() + grace
        while any(p.poll() is None for p in procs) and time.monotonic() < end:
            time.sleep(0.05)
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(5)
        with self._lock:
            self._children.clear()
        for log in self._logs.values():
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


def _local_secret(data_dir: Path, name: str) -> str:
    """Return a random secret kept in the data directory (made on first use, readable by its owner only).

    The launcher runs as production, where signed label links need a key; a laptop has none
    configured, so one is made per data directory and survives restarts (links stay valid).
    """
    path = data_dir / name
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))
    return path.read_text().strip()
