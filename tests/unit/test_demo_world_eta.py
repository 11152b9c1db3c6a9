"""The demo day's world and ETA accuracy figures, without running the day (tests/e2e/test_demo_day.py does)."""

from __future__ import annotations

import io
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest

from demo import report, runner, summary


def _eta(**overrides: Any) -> dict[str, Any]:
    block = {
        "deliveries": 10,
        "from_history": 0,
        "mae_days": "0.50",
        "carrier_estimate_mae_days": "0.70",
        "window_coverage_percent": "80.0",
        "at_risk_alerts": 4,
        "at_risk_precision": "0.50",
        "at_risk_recall": "0.40",
    }
    return {**block, **overrides}


def test_eta_blocks_of_tenants_merge_by_their_weights() -> None:
    merged = summary.merge_eta(
        [
            _eta(),
            _eta(deliveries=30, mae_days="1.00", window_coverage_percent="60.0", at_risk_alerts=0),
            None,
        ]
    )
    assert merged is not None
    assert merged["deliveries"] == 40 and merged["from_history"] == 0
    assert merged["mae_days"] == pytest.approx(0.88)  # (10 * 0.5 + 30 * 1.0) / 40, to 2 places
    assert merged["window_coverage_percent"] == pytest.approx(65.0)
    assert merged["at_risk_alerts"] == 4 and merged["at_risk_precision"] == pytest.approx(0.5)
    assert merged["at_risk_recall"] == pytest.approx(0.4)
    # A tenant with no right alert (recall 0) still had late deliveries: the KPI block counts them.
    blocks = [
        _eta(at_risk_alerts=6, at_risk_precision="1.00", at_risk_recall="0.04"),
        _eta(at_risk_recall="0.00"),
    ]
    assert summary.merge_eta(blocks, [150, 170])["at_risk_recall"] == pytest.approx((6 + 2) / 320, abs=1e-3)


def test_eta_nulls_and_an_absent_object_never_fail() -> None:
    assert summary.merge_eta([None, None]) is None
    nulls = dict.fromkeys(summary.ETA_KEYS)
    merged = summary.merge_eta([nulls, {"deliveries": 0}])
    assert merged is not None and merged["mae_days"] is None and merged["at_risk_recall"] is None
    record = {"eta": {"totals": merged, "carriers": {"ups": merged}, "basis": {}}, "world": {}}
    assert summary.eta_lines(record)[0] == "ETA accuracy: no delivered shipment had a booking prediction"
    record["eta"]["totals"] = summary.merge_eta([nulls])
    lines = summary.eta_lines(record)
    assert lines[0].startswith("ETA accuracy: p50 off by - business days") and "recall -" in lines[1]
    assert "ETA accuracy" in report._eta_section(record)
    absent = {"eta": None}
    assert "not available" in summary.eta_lines(absent)[0]
    assert "Not available" in report._eta_section(absent)


def test_the_report_says_predictions_are_the_carriers_estimate_without_history() -> None:
    order = SimpleNamespace(
        tracking_number="1Z1",
        carrier="ups",
        rate_id="r1",
        rates=[{"id": "r1", "prediction": {"basis": "carrier_estimate"}}],
    )
    fleet = SimpleNamespace(tracking_number="F1", carrier="fleet", rate_id="r2", rates=[])
    basis = summary.prediction_basis([order, fleet])
    assert basis == {"carrier_estimate": 1}
    record = {
        "eta": {"totals": _eta(), "carriers": {"ups": _eta()}, "basis": basis},
        "world": {"name": "metro", "simulated_days": 9.5, "last_delivery": "2026-12-15T14:00:00+00:00"},
        "carrier_legend": {"ups": {"name": "UPS", "colour": "#5a3"}},
    }
    page = report._eta_section(record)
    assert "no delivery history" in page and "<b>metro</b>" in page and "0.50" in page and "50%" in page
    out = io.StringIO()
    for line in summary.eta_lines(record):
        out.write(line + "\n")
    assert "carrier estimate 1" in out.getvalue() and "no delivery history" in out.getvalue()


def test_the_world_reaches_the_simulator_with_a_clock_on_the_days_morning() -> None:
    args = runner.simulator_args(7, "metro", date(2026, 12, 4))
    assert args[args.index("--world") + 1] == "metro"
    assert args[args.index("--start") + 1] == "2026-12-04T07:00:00-05:00"
    assert "--world" not in runner.simulator_args(7, None, date(2026, 12, 4))
    assert runner.resolve_world("none") is None and runner.resolve_world("metro") == "metro"
    with pytest.raises(ValueError, match="no world"):
        runner.resolve_world("atlantis")
    assert runner.parse_args([]).world == "metro"


def test_the_simulators_clock_starts_where_the_demo_says_and_its_world_counts_from_that_day() -> None:
    from simulator import app as sim_app

    start = "2026-12-04T07:00:00-05:00"
    app = sim_app.create_app({"world": "storm", "start": start, "seed": 7})
    client = app.test_client()
    assert client.get("/_sim/health").get_json()["now"].startswith("2026-12-04T12:00")
    storm = app.extensions["handoff_simulator"].world
    first = min(d.start for d in storm.disruptions)
    assert first == date(2026, 12, 5)  # "+1": the day after the demo's day
    with pytest.raises(ValueError, match="UTC offset"):
        sim_app.sim_config.SimConfig(start="2026-12-04T07:00:00").clock_start()
