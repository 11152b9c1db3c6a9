"""`make serve` and `make demo` take their ports from a make variable or the environment (README)."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest

from demo import runner

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _dry_run(target: str, *variables: str, env: dict[str, str] | None = None) -> str:
    """The command `make` would run for the target (make -n prints without running anything)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    clean = {k: v for k, v in os.environ.items() if k not in {"GATEWAY_PORT", "SIMULATOR_PORT", "PORT"}}
    done = subprocess.run(
        ["make", "-n", target, *variables],
        cwd=ROOT,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    module = "-m gateway.serve" if target == "serve" else "-m demo"
    lines = [line for line in done.stdout.splitlines() if module in line]
    assert len(lines) == 1, done.stdout
    return lines[0]


@pytest.mark.parametrize("target", ["serve", "demo"])
def test_make_passes_the_ports_given_as_make_variables(target):
    line = _dry_run(target, "PORT=8010", "SIMULATOR_PORT=8110")
    assert "--port 8010" in line and "--simulator-port 8110" in line


@pytest.mark.parametrize("target", ["serve", "demo"])
def test_make_passes_the_ports_given_in_the_environment(target):
    line = _dry_run(target, env={"GATEWAY_PORT": "8011", "SIMULATOR_PORT": "8111"})
    assert "--port 8011" in line and "--simulator-port 8111" in line


@pytest.mark.parametrize("target", ["serve", "demo"])
def test_without_ports_make_leaves_the_defaults_to_the_program(target):
    assert "--port" not in _dry_run(target)


def test_the_demo_reads_its_ports_from_options_then_the_environment(monkeypatch):
    monkeypatch.delenv("GATEWAY_PORT", raising=False)
    monkeypatch.delenv("SIMULATOR_PORT", raising=False)
    defaults = runner.parse_args([])
    assert (defaults.port, defaults.simulator_port) == (None, 8099)
    monkeypatch.setenv("GATEWAY_PORT", "8012")
    monkeypatch.setenv("SIMULATOR_PORT", "8112")
    from_env = runner.parse_args([])
    assert (from_env.port, from_env.simulator_port) == (8012, 8112)
    given = runner.parse_args(["--port", "8013", "--simulator-port", "8113"])
    assert (given.port, given.simulator_port) == (8013, 8113)
