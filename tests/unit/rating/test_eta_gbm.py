"""rating.eta_gbm: the gradient-boosted challenger learns what the segment baseline cannot, and stores as text."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta

import pytest

from rating import eta, eta_gbm

MONDAY = date(2027, 3, 1)
STATES = ("NY", "CA", "TX", "FL")


def _features(rng: random.Random, day: date, rank: int, delay: float = 0.0) -> eta_gbm.Features:
    return eta_gbm.Features(
        carrier="ups",
        service="03",
        lane=eta.DOMESTIC,
        destination_country="US",
        destination_state=rng.choice(STATES),
        sold_at=datetime(day.year, day.month, day.day, rng.randint(8, 16), tzinfo=UTC),
        day_rank=rank,
        residential=rng.random() < 0.5,
        carrier_estimate_days=2,
        recent_delay=delay,
        recent_count=10 if delay else 0,
    )


def _history(seed: int = 1, days: int = 40) -> list[eta_gbm.Row]:
    """UPS Ground on weekdays: 2 days (a tail of 3), 2 more after the 40th label of a day, 3 more when the
    region's recent deliveries were late."""
    rng, rows = random.Random(seed), []
    for offset in range(days):
        day = MONDAY + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for rank in range(1, 61):
            delay = 2.0 if rng.random() < 0.1 else 0.0
            transit = (2 if rng.random() < 0.85 else 3) + (2 if rank > 40 else 0) + (3 if delay else 0)
            rows.append(eta_gbm.Row(_features(rng, day, rank, delay), transit))
    return rows


@pytest.fixture(scope="module")
def model() -> eta_gbm.GbmModel:
    return eta_gbm.fit(_history(), rounds=60)


def test_it_learns_the_congestion_of_a_busy_day_which_the_segment_baseline_cannot(model):
    rng, day = random.Random(2), MONDAY + timedelta(days=43)  # a Wednesday after the history
    baseline = eta.fit(eta.Observation("ups", "03", eta.DOMESTIC, r.transit_days) for r in _history())
    quiet = model.predict(_features(rng, day, rank=5), day)
    busy = model.predict(_features(rng, day, rank=55), day)

    assert quiet.p50 == eta.add_business_days(day, 2)
    assert busy.p50 == eta.add_business_days(day, 4)
    # the baseline knows only the segment: one answer for both labels
    b = eta.predict(baseline, "ups", "03", eta.DOMESTIC, day)
    assert b is not None and b.p50 == eta.add_business_days(day, 2)


def test_it_learns_a_disruption_from_the_regions_recent_delay(model):
    rng, day = random.Random(3), MONDAY + timedelta(days=43)
    calm = model.predict(_features(rng, day, rank=5, delay=0.0), day, promise=eta.add_business_days(day, 2))
    storm = model.predict(_features(rng, day, rank=5, delay=2.0), day, promise=eta.add_business_days(day, 2))
    assert storm.p50 == eta.add_business_days(day, 5)
    assert calm.on_time_probability is not None and calm.on_time_probability > 0.7
    assert storm.risk is not None and storm.risk > 0.9


def test_quantiles_are_sorted_and_the_percentile_dates_in_order(model):
    rng, day = random.Random(4), MONDAY + timedelta(days=50)
    features = [_features(rng, day, rng.randint(1, 80), rng.choice([0.0, 0.5, 2.0, 4.0])) for _ in range(200)]
    raw = model.quantiles(features)
    assert raw.shape == (200, len(eta_gbm.LEVELS))
    assert (raw[:, 1:] >= raw[:, :-1]).all()
    for p in model.predict_many(features, [day] * 200, [None] * 200):
        assert day <= p.p10 <= p.p50 <= p.p80 <= p.p90 <= p.p95
        assert p.on_time_probability is None


def test_it_round_trips_through_plain_text(model):
    text = model.to_text()
    document = json.loads(text)  # JSON around LightGBM's own text format: no pickle
    assert document["format"] == eta_gbm.FORMAT
    assert all(b["model"].startswith("tree") for b in document["boosters"])

    again = eta_gbm.GbmModel.from_text(text)
    rng, day = random.Random(5), MONDAY + timedelta(days=43)
    features = [_features(rng, day, rng.randint(1, 80), rng.choice([0.0, 2.0])) for _ in range(50)]
    assert (again.quantiles(features) == model.quantiles(features)).all()
    assert again.levels == model.levels and again.size == model.size
    with pytest.raises(ValueError, match="not a"):
        eta_gbm.GbmModel.from_text(json.dumps({"format": "other"}))


def test_in_flight_conditions_on_the_days_already_waited(model):
    rng, day = random.Random(6), MONDAY + timedelta(days=43)
    busy = _features(rng, day, rank=55)  # usually 4 days
    promise = eta.add_business_days(day, 4)

    on_van = model.predict_in_flight(busy, day, day + timedelta(days=1), "out_for_delivery", promise=promise)
    assert on_van.p50 == day + timedelta(days=1) and on_van.on_time_probability == 1.0

    later = eta.add_business_days(day, 4)  # not delivered by the usual day: later than that
    waiting = model.predict_in_flight(busy, day, later, "in_transit", promise=promise)
    assert waiting.p10 >= later and waiting.p50 >= later
    failed = model.predict_in_flight(busy, day, later, "exception", promise=promise)
    assert failed.p10 > later and failed.risk == 1.0


def test_the_delay_signal_reads_only_deliveries_completed_before_the_day():
    signal = eta_gbm.DelaySignal(window=3, prior=0.0)
    wednesday = MONDAY + timedelta(days=2)
    signal.add(eta_gbm.Completed("US-NY", MONDAY, 2.0))
    signal.add(eta_gbm.Completed("US-NY", MONDAY + timedelta(days=1), 4.0))
    signal.add(eta_gbm.Completed("US-NY", wednesday, 10.0))  # that day's own deliveries: not yet known
    signal.add(eta_gbm.Completed("US-CA", MONDAY, 9.0))
    assert signal.value("US-NY", wednesday) == (3.0, 2)
    assert signal.value("US-NY", wednesday + timedelta(days=4)) == (0.0, 0)  # out of the window
    assert signal.value("US-TX", wednesday) == (0.0, 0)
    assert eta_gbm.DelaySignal(prior=2.0, _by_day={}).value("US-NY", wednesday) == (0.0, 0)
    shrunk = eta_gbm.DelaySignal(window=3, prior=2.0)
    shrunk.add(eta_gbm.Completed("US-NY", MONDAY, 6.0))
    assert shrunk.value("US-NY", wednesday) == (2.0, 1)  # 6 / (1 + 2)


def test_a_distribution_read_off_whole_day_quantiles():
    # every level at 3 days (spread over [2.5, 3.5)): certainly 3 days
    dist = eta_gbm.Distribution(tuple(eta_gbm._cdf(eta_gbm.LEVELS, [3.0] * len(eta_gbm.LEVELS))))
    assert dist.quantile(0.1) == dist.quantile(0.5) == dist.quantile(0.95) == 3
    assert dist.by(2) < 0.05 and dist.by(3) > 0.95
    assert dist.quantile(0.5, least=5) == 5  # later than anything it expected: the day it is


def test_fit_refuses_a_history_too_small_to_split():
    with pytest.raises(ValueError, match="at least"):
        eta_gbm.fit(_history()[:10])


def test_signals_are_kept_per_census_division_abroad_per_country():
    assert eta_gbm.region("us", "ny") == eta_gbm.region("US", "PA") == "US-middle_atlantic"
    assert eta_gbm.region("US", "MA") != eta_gbm.region("US", "NY")
    assert eta_gbm.region("DE", "") == eta_gbm.region("DE", "BY") == "DE"
    assert eta_gbm.region("US", "") == "US"


def test_the_overdue_signal_counts_parcels_due_before_the_day_and_not_delivered_by_it():
    signal = eta_gbm.OverdueSignal(window=2, prior=0.0)
    wednesday = MONDAY + timedelta(days=2)
    signal.add("US-x", MONDAY + timedelta(days=1), MONDAY + timedelta(days=1))  # on time
    signal.add("US-x", MONDAY + timedelta(days=1), wednesday)  # delivered on the day: not known that morning
    signal.add("US-x", MONDAY + timedelta(days=1), None)  # still out
    signal.add("US-x", wednesday, None)  # due today: not yet overdue
    assert signal.value("US-x", wednesday) == pytest.approx(2 / 3, abs=1e-4)
    assert signal.value("US-y", wednesday) == 0.0
