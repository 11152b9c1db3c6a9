"""The README's first command: the launcher starts everything on the embedded default."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

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
    assert (tmp_path / "handoff.sqlite3").exists()
    assert "hk_" not in result.stderr  # the demo key is printed to the user, never logged
