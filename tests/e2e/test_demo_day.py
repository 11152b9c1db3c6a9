"""The README's first command, scaled down: a 100-order day end to end, the way `make demo` runs it
(in the simulator's metro world, as by default).

It starts the whole stack on the embedded default in a subprocess (whatever DATABASE_URL and
REDIS_URL say), plays every phase through the public HTTP API, and must exit 0 with the summary,
the report and the day's figures, every API it needs present in this installation.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.timeout(900)
def test_a_scaled_down_day_runs_end_to_end_with_summary_and_report(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    report = tmp_path / "day.html"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "demo",
            "--orders",
            "100",
            "--seed",
            "11",
            "--data-dir",
            str(tmp_path / "data"),
            "--report",
            str(report),
            # An iteration budget, not a time budget: the same plans however busy the machine.
            "--plan-seconds",
            "60",
            "--plan-iterations",
            "3000",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=880,
    )
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]
    for line in (
        "Cost by carrier and fleet",
        "Savings against the cheapest-partner baseline",
        "Fleet utilisation",
        "On-time delivery",
        "Exceptions by reason",
        "Recoverable money found",
        "Phases",
        f"Report: {report}",
    ):
        assert line in out, line
    assert report.is_file() and report.stat().st_size > 10_000
    assert (tmp_path / "data" / "handoff.sqlite3").is_file()  # the embedded default, not the env's services

    day = json.loads((tmp_path / "data" / "demo-day.json").read_text())
    statuses = {p["title"]: p["status"] for p in day["phases"]}
    assert set(statuses.values()) == {"ok"}, [p for p in day["phases"] if p["status"] != "ok"]
    totals = day["totals"]
    assert totals["shipments"] == 100
    assert totals["labelled"] + totals["voided"] >= 95  # a plan may leave a parcel nobody can take
    assert totals["delivered"] > 80 and totals["on_time_percent"] is not None
    # Four carriers and the fleet, even on a 100-order day (seed 11: 60 USPS, 9 UPS, 7 DHL, 6 FedEx).
    assert set(day["carriers"]) >= {"fleet", "ups", "dhl_express", "fedex", "usps"}, day["carriers"]
    fleet = day["fleet"]
    assert fleet["vans_used"] >= 1 and fleet["baseline_cost"] >= fleet["planned_cost"] > 0
    assert len(day["routes"]) == fleet["vans_used"]
    hooks = day["webhooks"]
    assert hooks["received"] > 0 and hooks["verified"] == hooks["received"] and hooks["pending"] == 0
    rec = day["reconciliation"]
    assert rec["recoverable"] > 0
    # The injected classes that do not depend on chance are all found.
    for kind in ("unknown_tracking", "fleet_delivered"):
        assert rec["findings"].get(kind, 0) >= rec["injected"].get(kind, 0) > 0, kind
    assert day["meta"]["total_seconds"] > 0 and all(p["seconds"] >= 0 for p in day["phases"])
    # The carriers ran in the metro world (the default): several days of transit with a late tail, so
    # the partners are not all on time, and the day shows the ETA accuracy the KPIs report.
    assert day["world"]["name"] == "metro" and day["world"]["simulated_days"] >= 3
    partners = {c: v["on_time_percent"] for c, v in day["carriers"].items() if c != "fleet"}
    assert any(p is not None and p < 100 for p in partners.values()), partners
    assert "Carriers' world: metro" in out and "ETA accuracy" in out
    assert "ETA accuracy" in report.read_text(encoding="utf-8")

    # The day ends by saying how to open it in the console; that command signs a shop's user in.
    assert "Open this day in the web console" in out and "--console-tenant northwind" in out
    serve_env = {**env, "GATEWAY_DATA_DIR": str(tmp_path / "data"), "GATEWAY_LOG_LEVEL": "WARNING"}
    served = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.serve",
            "--check",
            "--no-simulator",
            "--port",
            str(_free_port()),
            "--console-tenant",
            "northwind",
        ],
        cwd=ROOT,
        env=serve_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "check: console sign-in as ops@northwind.example -> 303" in served.stdout, served.stderr[-3000:]
