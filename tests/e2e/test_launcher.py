"""The README's first command: the launcher starts everything on the embedded default, and keeps it up."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
from rq import Worker

from gateway.launcher.stack import Stack
from gateway.launcher.tenants import create_tenant_key

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_launcher_serves_a_real_request_on_sqlite_and_embedded_redis(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(GATEWAY_DATA_DIR=str(tmp_path), GATEWAY_LOG_LEVEL="WARNING")
    result = subprocess.run(
        [sys.executable, "-m", "gateway.serve", "--check", "--port", str(_free_port())],
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "GET /v1/shipments -> 200" in result.stdout
    # make serve's console credentials sign in, as a browser would (form, CSRF token, cookie)
    assert "check: console sign-in as ops@demo-shop.example -> 303" in result.stdout
    # The development setting is stated at start-up.
    assert "GATEWAY_WEBHOOK_ALLOW_LOCAL_HTTP=true" in result.stdout
    assert "production refuses them" in result.stdout
    assert (tmp_path / "handoff.sqlite3").exists()
    assert "hk_" not in result.stderr  # the demo key is printed to the user, never logged


def _wait(check, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.3)


def _worker_running_jobs(stack: Stack, pid: int) -> bool:
    """Whether the RQ worker with this pid is registered and has finished a job (the scheduler's relay)."""
    workers = [w for w in Worker.all(connection=stack.container.redis) if w.pid == pid]
    return bool(workers) and workers[0].successful_job_count > 0


@pytest.fixture(scope="module")
def stack(settings, tmp_path_factory):  # type: ignore[no-untyped-def]
    """``make serve``'s processes (no simulator) on this run's database and Redis."""
    data_dir = tmp_path_factory.mktemp("launcher")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DATABASE_URL", settings["DATABASE_URL"])
        env.setenv("REDIS_URL", settings["REDIS_URL"])
        env.setenv("GATEWAY_LOG_LEVEL", "WARNING")
        env.delenv("GATEWAY_WEBHOOK_ALLOW_LOCAL_HTTP", raising=False)
        running = Stack(
            port=_free_port(),
            data_dir=str(data_dir),
            web_workers=1,
            web_threads=2,
            rq_workers=1,
            simulator=False,
            log_dir=str(data_dir / "logs"),
            restart_backoff=0.5,
        )
        running.start()
        try:
            yield running
        finally:
            running.stop()


def _children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_killed_worker_is_restarted_and_the_stack_keeps_serving(stack, capsys):
    _tenant, key = create_tenant_key(stack.container, "launcher-restart", "Launcher", ["platform"], "test")
    headers = {"Authorization": f"Bearer {key}"}
    first = stack.process("worker-1")
    _wait(lambda: _worker_running_jobs(stack, first.pid), 180, "the worker to run jobs")

    left_behind = _children_of(first.pid)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(30)
    # A killed worker leaves no process of its own running (RQ's forked scheduler once did).
    _wait(lambda: not [p for p in left_behind if _alive(p)], 10, "the worker's children to end")
    # The API keeps answering while the worker is down.
    assert requests.get(f"{stack.url}/v1/shipments", headers=headers, timeout=30).status_code == 200

    second = _wait(
        lambda: (p := stack.process("worker-1")).pid != first.pid and p, 120, "the worker to be restarted"
    )
    _wait(lambda: _worker_running_jobs(stack, second.pid), 180, "the restarted worker to run jobs")
    assert stack.alive()
    assert stack.process("scheduler").poll() is None
    assert requests.get(f"{stack.url}/v1/shipments", headers=headers, timeout=30).status_code == 200

    # Each step is one JSON log line on the launcher's stderr.
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    exited = [e for e in lines if e.get("child") == "worker-1" and e.get("pid") == first.pid]
    assert exited and exited[0]["signal"] == "SIGKILL" and exited[0]["level"] == "warning"
    assert exited[0]["restart_in_seconds"] > 0
    restarted = [e for e in lines if e.get("child") == "worker-1" and e.get("pid") == second.pid]
    assert restarted and restarted[0]["restarts"] == 1


def test_a_killed_scheduler_is_restarted_and_claims_its_periodic_tasks_again(stack, capsys):
    from gateway.jobs import scheduler

    first = stack.process("scheduler")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(30)
    killed_slot = int(time.time() // 15)
    second = _wait(
        lambda: (p := stack.process("scheduler")).pid != first.pid and p, 120, "the scheduler to be restarted"
    )
    # The outbox sweep runs every 15 s, claiming each slot in Redis: a slot after the kill can only
    # have been claimed by the restarted scheduler.
    later = f"{scheduler._LOCK_PREFIX}outbox-sweep:{killed_slot + 1}"
    _wait(lambda: stack.container.redis.exists(later), 120, "the restarted scheduler to claim a task")
    assert stack.alive() and second.poll() is None

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    exited = [e for e in lines if e.get("child") == "scheduler" and e.get("pid") == first.pid]
    assert exited and exited[0]["signal"] == "SIGKILL" and exited[0]["restart_in_seconds"] > 0
    restarted = [e for e in lines if e.get("child") == "scheduler" and e.get("pid") == second.pid]
    assert restarted and restarted[0]["restarts"] == 1


def test_the_launcher_accepts_a_webhook_receiver_on_this_machine_over_http(stack):
    _tenant, key = create_tenant_key(stack.container, "launcher-hooks", "Launcher", ["platform"], "test")
    response = requests.post(
        f"{stack.url}/v1/webhook-endpoints",
        json={"url": f"http://127.0.0.1:{_free_port()}/hooks", "event_types": ["label.purchased"]},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    assert stack.webhook_local_http is True


def test_serve_refuses_a_console_tenant_that_is_not_in_its_database(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(GATEWAY_DATA_DIR=str(tmp_path), GATEWAY_LOG_LEVEL="WARNING")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.serve",
            "--check",
            "--no-simulator",
            "--port",
            str(_free_port()),
            "--console-tenant",
            "nobody-here",
        ],
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "no tenant 'nobody-here' in this database" in result.stderr
