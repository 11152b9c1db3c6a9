"""rating.eta: empirical-quantile delivery predictions, with the carrier's estimate as the stated fallback."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rating import eta

MONDAY = date(2026, 11, 30)


def _history(days: list[int], carrier: str = "ups", service: str = "03", lane: str = eta.DOMESTIC):
    return [eta.Observation(carrier, service, lane, d) for d in days]


def test_business_days_skip_the_weekend_both_ways():
    friday = MONDAY + timedelta(days=4)
    assert eta.add_business_days(friday, 1) == MONDAY + timedelta(days=7)
    assert eta.business_days_between(friday, MONDAY + timedelta(days=7)) == 1
    saturday = friday + timedelta(days=1)
    assert eta.add_business_days(saturday, 0) == MONDAY + timedelta(days=7)  # ships on the Monday
    assert eta.business_days_between(saturday, MONDAY + timedelta(days=7)) == 0


@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)), st.integers(0, 30))
def test_business_days_between_undoes_add_business_days(day, days):
    assert eta.business_days_between(day, eta.add_business_days(day, days)) == days


def test_percentiles_and_the_on_time_probability_come_from_the_segments_samples():
    # 60 % in 1 day, 25 % in 2, 10 % in 3, 5 % in 5.
    model = eta.fit(_history([1] * 60 + [2] * 25 + [3] * 10 + [5] * 5))

    p = eta.predict(model, "ups", "03", eta.DOMESTIC, MONDAY, promise=MONDAY + timedelta(days=2))

    assert p is not None and p.basis == "history" and p.samples == 100
    assert (p.p50, p.p80, p.p95) == (
        MONDAY + timedelta(days=1),
        MONDAY + timedelta(days=2),
        MONDAY + timedelta(days=3),
    )
    assert p.on_time_probability == 0.85  # 1 or 2 business days arrive by Wednesday


def test_a_promise_before_the_ship_day_is_never_met_and_no_promise_gives_no_probability():
    model = eta.fit(_history([1] * 30))
    late = eta.predict(model, "ups", "03", eta.DOMESTIC, MONDAY, promise=MONDAY - timedelta(days=1))
    none = eta.predict(model, "ups", "03", eta.DOMESTIC, MONDAY)
    assert late is not None and late.on_time_probability == 0.0
    assert none is not None and none.on_time_probability is None


def test_thin_history_falls_back_to_the_service_over_all_lanes_then_to_the_carriers_estimate():
    model = eta.fit(_history([2] * 25, lane=eta.DOMESTIC) + _history([6] * 5, lane=eta.INTERNATIONAL))
    estimate = MONDAY + timedelta(days=4)

    abroad = eta.predict(model, "ups", "03", eta.INTERNATIONAL, MONDAY, carrier_estimate=estimate)
    unknown = eta.predict(model, "fedex", "FEDEX_GROUND", eta.DOMESTIC, MONDAY, carrier_estimate=estimate)
    nothing = eta.predict(model, "fedex", "FEDEX_GROUND", eta.DOMESTIC, MONDAY)

    assert abroad is not None and (abroad.basis, abroad.samples) == ("history_any_lane", 30)
    assert unknown == eta.Prediction(estimate, estimate, estimate, None, "carrier_estimate", 0)
    assert nothing is None


def test_a_model_survives_its_document():
    model = eta.fit(_history([1, 2, 2, 3] * 10) + _history([4] * 20, carrier="dhl_express", service="P"))
    again = eta.Model.from_document(model.to_document())
    assert again == model and again.size == 60


@pytest.mark.parametrize("p", [0.5, 0.8, 0.95])
def test_the_predicted_quantile_covers_its_share_of_fresh_deliveries_from_the_same_distribution(p):
    rng = random.Random(7)
    draw = lambda: rng.choices([1, 2, 3, 4, 6], weights=[50, 25, 12, 8, 5])[0]  # noqa: E731
    model = eta.fit(_history([draw() for _ in range(4000)]))
    predicted = eta.predict(model, "ups", "03", eta.DOMESTIC, MONDAY)
    assert predicted is not None
    bound = {0.5: predicted.p50, 0.8: predicted.p80, 0.95: predicted.p95}[p]
    fresh = [eta.add_business_days(MONDAY, draw()) for _ in range(4000)]
    covered = sum(1 for d in fresh if d <= bound) / len(fresh)
    # A discrete distribution: the quantile covers at least its share, and not wildly more.
    assert p - 0.03 <= covered <= p + 0.25
