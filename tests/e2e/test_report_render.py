"""The demo day's HTML report opens in a real browser: headless Chromium renders every chart.

The page's own script records, once laid out, how many ``svg[data-chart]`` elements have a
non-empty size and shapes in them (``<body data-charts-rendered>``); Chromium's ``--dump-dom``
returns the DOM after that script ran. Chromium is Debian's ``chromium`` package, which ``.ci/run``
installs when it is missing; without it the test skips and says so.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from demo import report

pytestmark = pytest.mark.e2e

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")


def chromium() -> str | None:
    for name in CHROMIUM_CANDIDATES:
        found = name if os.path.isabs(name) and os.access(name, os.X_OK) else shutil.which(name)
        if found:
            return found
    return None


def record() -> dict[str, Any]:
    """A small day, shaped like demo.summary.build's output."""

    def block(shipments: int, delivered: int, cost: float, exceptions: dict[str, int]) -> dict[str, Any]:
        return {
            "shipments": shipments,
            "labelled": shipments,
            "voided": 0,
            "tracked": shipments,
            "delivered": delivered,
            "delivered_on_time": delivered - 1,
            "delivered_with_promise": delivered,
            "first_attempt": delivered - 1,
            "failed_attempts": 1,
            "with_exception": sum(exceptions.values()),
            "returned": 0,
            "in_flight": shipments - delivered,
            "cost": cost,
            "recoverable": 0.0,
            "on_time_percent": 100.0 * (delivered - 1) / delivered,
            "first_attempt_percent": 100.0 * (delivered - 1) / delivered,
            "exception_rate_percent": 100.0 * sum(exceptions.values()) / shipments,
            "cost_per_delivery": round(cost / delivered, 2),
            "cost_per_shipment": round(cost / shipments, 2),
            "exceptions_by_reason": exceptions,
        }

    fleet = block(12, 11, 98.5, {"recipient_unavailable": 1})
    ups = block(6, 5, 77.1, {"address_issue": 1})
    return {
        "meta": {
            "seed": 7,
            "orders": 18,
            "day": "2026-11-20",
            "day_label": "Friday 20 November 2026",
            "depot": "Secaucus, NJ depot",
            "depot_lonlat": [-74.0565, 40.7895],
            "total_seconds": 95.2,
            "generated_at": "2026-11-20 18:00 UTC",
        },
        "phases": [
            {"title": "Start the services", "status": "ok", "detail": "", "seconds": 12.0},
            {"title": "Booking with rates", "status": "ok", "detail": "", "seconds": 30.5},
            {
                "title": "Outbound webhooks",
                "status": "skipped",
                "detail": "webhooks API not available",
                "seconds": 0.1,
            },
        ],
        "totals": block(18, 16, 175.6, {"recipient_unavailable": 1, "address_issue": 1}),
        "carriers": {"fleet": fleet, "ups": ups},
        "tenants": {"northwind": fleet, "copperleaf": ups},
        "fleet": {
            "vans_available": 3,
            "vans_used": 2,
            "stops": 12,
            "distance_km": 61.0,
            "planned_cost": 175.6,
            "baseline_cost": 221.0,
            "savings": 45.4,
            "savings_percent": 20.5,
            "utilisation_kg_percent": 12.0,
            "utilisation_shift_percent": 71.0,
        },
        "routes": [
            {
                "tenant": "northwind",
                "vehicle": "Northwind van 1",
                "stops": 3,
                "distance_km": 31.0,
                "duration_minutes": 200,
                "cost": 61.2,
                "load_kg": 20.0,
                "points": [[-73.99, 40.75], [-73.98, 40.73], [-74.0, 40.74]],
            },
            {
                "tenant": "copperleaf",
                "vehicle": "Copperleaf van 1",
                "stops": 2,
                "distance_km": 30.0,
                "duration_minutes": 180,
                "cost": 58.3,
                "load_kg": 9.0,
                "points": [[-73.95, 40.71], [-73.99, 40.66]],
            },
        ],
        "handovers": [[-73.43, 40.87, "ups"], [-75.16, 39.95, "ups"]],
        "reconciliation": {
            "invoices": [
                {
                    "tenant": "northwind",
                    "invoice_number": "0000123",
                    "lines": 20,
                    "billed": 120.0,
                    "expected": 101.5,
                    "recoverable": 18.5,
                    "flagged_lines": 2,
                    "status": "reconciled",
                }
            ],
            "findings": {"unknown_tracking": 1, "duplicate_charge": 1},
            "recoverable_by_class": {"unknown_tracking": 12.0, "duplicate_charge": 6.5},
            "injected": {"unknown_tracking": 1, "duplicate_charge": 1},
            "recoverable": 18.5,
        },
        "webhooks": {
            "received": 16,
            "verified": 16,
            "by_type": {"shipment.delivered": 15, "tracking.exception": 1},
        },
        "labels": {"requested": 18, "succeeded": 18, "voided": []},
        "tracking": {"fleet_events": 50, "carrier_pushes": 40},
    }


def test_the_report_is_self_contained_and_every_chart_renders_in_headless_chromium(tmp_path: Path) -> None:
    browser = chromium()
    if browser is None:
        pytest.skip("Chromium not found (/usr/bin/chromium or on PATH); .ci/run installs Debian's chromium")
    page = report.render(record())
    # Nothing to fetch: no external scripts, styles, fonts or images.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")

    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1280,2000",
            "--virtual-time-budget=5000",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body is not None, dom[:500]
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(1)))
    total, rendered = int(attrs["data-charts-total"]), int(attrs["data-charts-rendered"])
    names = set(attrs["data-charts-names"].split())
    assert total >= 10 and rendered == total
    assert {
        "route-map",
        "cost-by-carrier",
        "plan-vs-baseline",
        "exceptions-by-reason",
        "recoverable-by-class",
        "phase-timeline",
        "on-time-fleet",
        "first-attempt-ups",
    } <= names
    # One polyline per fleet route, the skipped phase in a banner, the figures in the page.
    assert len(re.findall(r"<polyline[^>]*data-route=", dom)) == 2
    assert "webhooks API not available" in dom
    assert "$45.40" in dom and "Secaucus" in dom


def test_the_report_says_what_is_missing_when_no_plan_or_invoice_exists(tmp_path: Path) -> None:
    day = record()
    day.update(fleet=None, routes=[], handovers=[], reconciliation=None, webhooks=None)
    page = report.render(day)
    assert "No fleet routes" in page and "No invoice was reconciled" in page
    assert 'data-chart="route-map"' in page  # the depot is still drawn
