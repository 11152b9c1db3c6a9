"""Process helpers for the launcher: free ports, readiness waits, restart back-off, its JSON log lines."""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from gateway.kernel import logs

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port(preferred: int = 0) -> int:
    """Return ``preferred`` if nothing listens there, else a free port the OS picks."""
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket() as s:
            # As servers bind (gunicorn does): a port only in TIME_WAIT after a recent run is free.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError("no free TCP port")


def restart_delay(quick_exits: int, base: float = 1.0, cap: float = 30.0) -> float:
    """Seconds to wait before restarting a child that exited ``quick_exits`` times in a row soon after starting."""
    return min(cap, base * 2 ** max(0, quick_exits - 1))


def event(level: int, message: str, **fields: Any) -> None:
    """Write one JSON log line (the gateway's format, redacted) on the launcher's stderr."""
    record = logging.LogRecord("gateway.serve", level, __file__, 0, message, None, None)
    record.__dict__.update(fields)
    print(logs.JsonFormatter().format(record), file=sys.stderr, flush=True)


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


@dataclass
class Child:
    """A process the launcher started; ``restart`` says whether it is restarted when it exits."""

    name: str
    argv: list[str]
    env: dict[str, str]
    restart: bool
    proc: subprocess.Popen[bytes]
    started: float
    restarts: int = 0
    quick_exits: int = 0
    restart_at: float | None = None


def wait_ready(
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
