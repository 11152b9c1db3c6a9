"""The README's commands, as written: ``.venv/bin/handoff`` creates a tenant and a key that the API accepts.

The console script is what ``pip install`` (``make demo``/``make test``) puts beside the venv's
Python, so it works without activating the venv, and from any working directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

HANDOFF = Path(sys.executable).parent / "handoff"


def _handoff(settings, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        DATABASE_URL=settings["DATABASE_URL"],
        REDIS_URL=settings["REDIS_URL"],
        GATEWAY_DATA_DIR=settings["DATA_DIR"],
        GATEWAY_LOG_LEVEL="WARNING",
    )
    return subprocess.run(
        [str(HANDOFF), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_handoff_command_creates_a_tenant_and_a_key_the_api_accepts(settings, client, tmp_path):
    assert HANDOFF.is_file(), f"{HANDOFF} is missing: the project's console script is not installed"
    name = f"Acme Shop {uuid.uuid4().hex[:6]}"
    created = _handoff(settings, tmp_path, "tenants", "create", name)
    assert created.returncode == 0, created.stderr[-2000:]
    tenant_id = created.stdout.strip()
    assert tenant_id.startswith("ten_")

    slug = name.lower().replace(" ", "-")
    key = _handoff(settings, tmp_path, "keys", "create", "--tenant", slug, "--roles", "platform")
    assert key.returncode == 0, key.stderr[-2000:]
    api_key = key.stdout.strip()
    assert api_key.startswith("hk_")

    response = client.get("/v1/shipments", headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 200
