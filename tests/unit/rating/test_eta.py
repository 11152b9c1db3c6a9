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


# -- in flight -------------------------------------------------------------------------------------------
def test_in_flight_the_window_narrows_as_days_pass_without_a_delivery():
    model = eta.fit(_history([1] * 60 + [2] * 25 + [3] * 10 + [5] * 5))
    promise = MONDAY + timedelta(days=2)  # Wednesday: 2 business days
    at_booking = eta.predict_in_flight(
        model, "ups", "03", eta.DOMESTIC, MONDAY, MONDAY, "in_transit", promise=promise
    )
    assert (at_booking.p10, at_booking.p50, at_booking.p90) == (
        MONDAY + timedelta(days=1),
        MONDAY + timedelta(days=1),
        MONDAY + timedelta(days=3),
    )
    assert at_booking.on_time_probability == 0.85
    # Still in transit on Wednesday: only the 40 deliveries that took two days or more remain.
    wednesday = MONDAY + timedelta(days=2)
    later = eta.predict_in_flight(
        model, "ups", "03", eta.DOMESTIC, MONDAY, wednesday, "in_transit", promise=promise
    )
    assert later.samples == 40
    assert later.p50 == wednesday  # 25 of 40 took exactly two days
    assert later.on_time_probability == round(25 / 40, 4)
    assert later.risk == round(1 - 25 / 40, 4)
    assert "2 business days in transit" in later.factors


def test_in_flight_a_failed_attempt_means_another_day_and_out_for_delivery_means_today():
    model = eta.fit(_history([1] * 60 + [2] * 25 + [3] * 10 + [5] * 5))
    tuesday = MONDAY + timedelta(days=1)
    promise = tuesday
    failed = eta.predict_in_flight(
        model, "ups", "03", eta.DOMESTIC, MONDAY, tuesday, "exception", promise=promise
    )
    assert failed.p50 > tuesday
    assert failed.on_time_probability == 0.0
    assert failed.factors[0] == "waiting for another attempt"
    van = eta.predict_in_flight(
        model, "ups", "03", eta.DOMESTIC, MONDAY, tuesday, "out_for_delivery", promise=promise
    )
    assert (van.p10, van.p50, van.p90, van.on_time_probability) == (tuesday, tuesday, tuesday, 1.0)


def test_in_flight_later_than_any_delivery_seen_predicts_the_next_day_without_inventing_a_window():
    model = eta.fit(_history([1] * 30))
    friday = MONDAY + timedelta(days=4)
    late = eta.predict_in_flight(
        model, "ups", "03", eta.DOMESTIC, MONDAY, friday, "exception", promise=MONDAY + timedelta(days=1)
    )
    assert late.basis == "overdue"
    assert late.p10 == late.p50 == late.p90 == MONDAY + timedelta(days=7)  # the Monday after
    assert late.risk == 1.0


def test_in_flight_without_history_is_the_carriers_latest_estimate_never_in_the_past():
    estimate = MONDAY + timedelta(days=1)
    thursday = MONDAY + timedelta(days=3)
    p = eta.predict_in_flight(
        None, "ups", "03", eta.DOMESTIC, MONDAY, thursday, "in_transit", carrier_estimate=estimate
    )
    assert (p.p50, p.basis, p.on_time_probability, p.risk) == (thursday, "carrier_estimate", None, None)
    assert eta.predict_in_flight(None, "ups", "03", eta.DOMESTIC, MONDAY, thursday, "in_transit") is None


@given(st.lists(st.integers(0, 8), min_size=20, max_size=80), st.integers(0, 10))
def test_in_flight_window_is_ordered_and_never_before_today(days, waited):
    model = eta.fit(_history(days))
    today = eta.add_business_days(MONDAY, waited)
    p = eta.predict_in_flight(
        model, "ups", "03", eta.DOMESTIC, MONDAY, today, "in_transit", promise=MONDAY + timedelta(days=3)
    )
    assert p.p10 <= p.p50 <= p.p90
    assert p.p10 >= today
    assert 0.0 <= p.on_time_probability <= 1.0
