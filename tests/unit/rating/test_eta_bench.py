"""bench/eta.py on a tiny run: what it sells, when it re-predicts, and that its figures are well formed."""

from __future__ import annotations

import importlib.util
import sys
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_eta", ROOT / "bench" / "eta.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_eta"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def storm(bench):
    return bench.run_world("storm", days=21, next_days=5, seed=3, rounds=20, oracle_draws=3)


def test_labels_are_ranked_per_carrier_and_day_in_the_order_sold(bench):
    sold = bench.sell(bench.TEST_START, 3, seed=1)
    by: dict[tuple[str, object], list] = defaultdict(list)
    for facts in sold:
        by[(facts.carrier, facts.sold_at.date())].append(facts)
    assert {carrier for carrier, _day in by} == set(bench.SERVICES)
    for labels in by.values():
        assert 1 <= len(labels) <= 60
        assert [f.day_rank for f in labels] == list(range(1, len(labels) + 1))
        assert [f.sold_at for f in labels] == sorted(f.sold_at for f in labels)
    assert sold == bench.sell(bench.TEST_START, 3, seed=1)  # the seed decides everything


def test_the_storm_is_in_the_test_window_and_once_before_it(bench):
    world = bench.world_for("storm", bench.TEST_START, 60, past_disruption=True)
    starts = sorted({d.start for d in world.disruptions if d.name == "northeast-winter-storm"})
    assert starts == [bench.TEST_START - timedelta(weeks=4, days=-1), bench.TEST_START + timedelta(days=1)]
    assert len(bench.world_for("storm", bench.TEST_START, 60, past_disruption=False).disruptions) == 2


def test_in_flight_mornings_follow_the_parcel(bench, storm):
    world = bench.world_for("storm", bench.TEST_START, 21, past_disruption=True)
    for facts in bench.sell(bench.TEST_START, 2, seed=3):
        outcome = world.sample(facts, 3)
        if outcome.failed_attempt:
            break
    else:
        pytest.fail("no failed attempt in two days of labels")
    label = bench.Label(facts, outcome, "domestic")
    checks = bench.in_flight_days(label)
    assert [at for at, _stage in checks] == sorted(at for at, _stage in checks)
    assert all(facts.sold_at.date() < at.date() <= label.delivered_on for at, _stage in checks)
    assert checks[-1] == (
        bench.datetime.combine(label.delivered_on, bench.MORNING, tzinfo=bench.UTC),
        "out_for_delivery",
    )
    assert (outcome.first_attempt_at + timedelta(minutes=1), "exception") in checks


def test_a_tiny_run_reports_well_formed_figures(bench, storm):
    assert storm.trained_on < storm.history_labels  # parcels still moving at the cut are not learnt from
    rows = storm.rows
    groups = {r["group"] for r in rows["mae"]}
    assert {"all", *bench.SERVICES} <= groups
    for r in rows["mae"]:
        for model in ("carrier", "baseline", "gbm", "oracle"):
            assert r[model] >= 0
    for r in rows["calibration"]:
        for key in ("p80", "p95", "p10_p90"):
            assert r[key] is None or 0 <= r[key] <= 1
    stages = {r["group"]: r for r in rows["in_flight"]["stage"]}
    assert stages["out_for_delivery"]["gbm"] <= stages["booking"]["gbm"]
    assert {r["model"] for r in rows["alerts"]} == {"baseline", "gbm", "oracle (at booking)"}
    for r in rows["alerts"]:
        assert r["alerts_24h"] <= r["alerts"]
        assert r["median_lead_h"] is None or r["median_lead_h"] >= bench.LEAD_HOURS
    assert set(rows["targets"]) == {"baseline", "gbm"}
    text = bench.report(storm)
    assert text.startswith("## storm") and "| gbm |" in text
