"""The world model: files are validated, draws are deterministic, and the statistics match the file.

Every statistical check samples a fixed set of tracking numbers with a fixed seed, so the figures are the
same on every run (no flakiness); the tolerances are still set as if they were random (about 4 standard
errors, or a chi-square critical value at p = 0.001).
"""

from __future__ import annotations

import copy
import json
import math
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests

from adapters import http as carrier_http
from adapters.usps.client import UspsAdapter
from schemas import carrier
from simulator import progressions, world
from tests.unit.adapters_usps import usps_fixtures as ux
from tests.unit.simulator.sim_support import FlaskAdapter

N = 5000
MONDAY = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)  # a Monday, no holiday near
BASE: dict[str, Any] = {
    "name": "test",
    "defaults": {
        "transit_days": {
            "domestic": {"1": 0.6, "2": 0.3, "3": 0.1},
            "international": {"3": 0.5, "4": 0.5},
            "default": {"2": 1.0},
        },
        "cutoff": "17:00",
        "saturday_delivery": False,
        "delivery_windows": [
            {"name": "day", "start": "09:00", "end": "17:00", "weight": 0.75},
            {"name": "evening", "start": "17:00", "end": "20:00", "weight": 0.25},
        ],
        "residential_share": 1.0,
        "failed_attempt": {
            "residential": {"day": 0.1, "evening": 0.3},
            "commercial": {"default": 0.0},
        },
        "estimate": {"quantile": 0.5, "bias_days": 0},
    },
}


def make(**changes: Any) -> world.World:
    data = copy.deepcopy(BASE)
    for key, value in changes.items():
        if key == "defaults":
            data["defaults"].update(value)
        else:
            data[key] = value
    return world.parse_world(data, "test", anchor=MONDAY.date())


def facts(i: int, **changes: Any) -> world.LabelFacts:
    values: dict[str, Any] = {
        "carrier": "ups",
        "service": "03",
        "tracking_number": f"1ZTEST{i:08d}",
        "sold_at": MONDAY,
        "origin_country": "US",
        "destination_country": "US",
        "destination_state": "NY",
    }
    values.update(changes)
    return world.LabelFacts(**values)


def outcomes(model: world.World, n: int = N, **changes: Any) -> list[world.Outcome]:
    return [model.sample(facts(i, **changes), seed=11) for i in range(n)]


# -- the file --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["steady", "metro", "storm"])
def test_the_shipped_worlds_load(name):
    loaded = world.load_world(name)
    assert loaded.name == name
    assert name in world.shipped_worlds()


def test_a_world_file_runs_by_path(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(BASE), encoding="utf-8")
    assert world.load_world(str(path)).name == "test"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("defaults"), "'defaults' is a required property"),
        (lambda d: d["defaults"].pop("cutoff"), "defaults: 'cutoff' is a required property"),
        (lambda d: d["defaults"].update(cutoff="25:00"), "defaults/cutoff: '25:00' does not match"),
        (lambda d: d.update(carriers={"royal_mail": {}}), "'royal_mail' is not one of"),
        (lambda d: d["defaults"].update(speed=3), "'speed' was unexpected"),
        (
            lambda d: d["defaults"]["transit_days"].update(domestic={"0": 1.0}),
            "defaults/transit_days/domestic: '0' does not match",
        ),
        (
            lambda d: d["defaults"]["transit_days"].update(domestic={"1": 0.5, "2": 0.3}),
            "defaults/transit_days/domestic: the probabilities add up to 0.8, not 1",
        ),
        (
            lambda d: d.update(
                disruptions=[{"name": "x", "start": "+3", "end": "+1", "extra_days": {"1": 1}}]
            ),
            "disruptions/0: end",
        ),
        (
            lambda d: d["defaults"]["delivery_windows"][0].update(end="08:00"),
            "delivery window 'day' ends before it starts",
        ),
        (lambda d: d.update(holidays=["2027-02-30"]), "'2027-02-30' is not a date"),
    ],
)
def test_the_schema_refuses_bad_files_with_a_clear_message(change, message):
    data = copy.deepcopy(BASE)
    change(data)
    with pytest.raises(world.WorldError) as caught:
        world.parse_world(data, "bad.json")
    assert message in str(caught.value)
    assert str(caught.value).startswith("bad.json")


def test_an_unknown_world_name_lists_the_shipped_ones(tmp_path):
    with pytest.raises(world.WorldError, match="metro, steady, storm"):
        world.load_world("atlantis")
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(world.WorldError, match="is not JSON"):
        world.load_world(str(broken))


# -- determinism -----------------------------------------------------------------------------------------
def test_sampling_is_deterministic_per_seed_and_tracking_number():
    first = [world.load_world("metro").sample(facts(i), seed=5) for i in range(200)]
    again = [world.load_world("metro").sample(facts(i), seed=5) for i in reversed(range(200))]
    assert first == list(reversed(again))
    other_seed = [world.load_world("metro").sample(facts(i), seed=6) for i in range(200)]
    assert first != other_seed


# -- the statistics match the file -----------------------------------------------------------------------
def test_the_transit_distribution_matches_the_file():
    model = make()
    expected = {1: 0.6, 2: 0.3, 3: 0.1}
    counts = Counter(o.transit_days for o in outcomes(model))
    assert set(counts) == set(expected)
    chi_square = sum((counts[k] - N * p) ** 2 / (N * p) for k, p in expected.items())
    assert chi_square < 13.82  # chi-square, 2 degrees of freedom, p = 0.001
    for days, p in expected.items():
        assert abs(counts[days] / N - p) < 4 * math.sqrt(p * (1 - p) / N)
    # Sold on a Monday before the cut-off, no weekend in reach: the n-th day is Monday + n.
    for o in outcomes(model, 300):
        assert o.first_attempt_at.date() == MONDAY.date() + timedelta(days=o.transit_days)


def test_lanes_pick_the_distribution_by_destination():
    model = make()
    international = Counter(o.transit_days for o in outcomes(model, 1000, destination_country="DE"))
    assert set(international) == {3, 4}
    by_country = make(
        defaults={"transit_days": {"CA": {"5": 1.0}, "international": {"3": 1.0}, "default": {"2": 1.0}}}
    )
    assert {o.transit_days for o in outcomes(by_country, 50, destination_country="CA")} == {5}
    assert {o.transit_days for o in outcomes(by_country, 50, destination_country="MX")} == {3}
    assert {o.transit_days for o in outcomes(by_country, 50)} == {2}


def test_services_override_the_carrier_and_the_defaults():
    model = make(
        carriers={
            "ups": {
                "transit_days": {"domestic": {"4": 1.0}},
                "services": {"01": {"transit_days": {"default": {"1": 1.0}}}},
            }
        }
    )
    assert {o.transit_days for o in outcomes(model, 50)} == {4}
    assert {o.transit_days for o in outcomes(model, 50, service="01")} == {1}
    assert {o.transit_days for o in outcomes(model, 50, carrier="fedex")} == {1, 2, 3}


def test_the_failed_attempt_share_matches_the_file_by_window_and_address_type():
    model = make()
    sampled = outcomes(model)
    by_window = {
        name: [o for o in sampled if o.window == name] for name, _rate in (("day", 0.1), ("evening", 0.3))
    }
    assert abs(len(by_window["evening"]) / N - 0.25) < 4 * math.sqrt(0.25 * 0.75 / N)
    for name, rate in (("day", 0.1), ("evening", 0.3)):
        group = by_window[name]
        share = sum(o.failed_attempt for o in group) / len(group)
        assert abs(share - rate) < 4 * math.sqrt(rate * (1 - rate) / len(group))
    overall = sum(o.failed_attempt for o in sampled) / N
    assert abs(overall - (0.75 * 0.1 + 0.25 * 0.3)) < 0.02
    commercial = outcomes(model, 1000, address_type=world.COMMERCIAL)
    assert not any(o.failed_attempt for o in commercial)
    # A failed attempt is followed by a delivery on the next delivery day.
    for o in sampled:
        if o.failed_attempt:
            assert o.delivered_at.date() > o.first_attempt_at.date()
        else:
            assert o.delivered_at == o.first_attempt_at


def test_a_holiday_and_a_sunday_never_see_a_delivery():
    holiday = date(2027, 3, 3)  # a Wednesday
    model = make(holidays=["2027-03-03"], defaults={"saturday_delivery": True})
    sampled = []
    for day in range(10):
        for hour in (8, 16, 20):
            sold = MONDAY.replace(hour=hour) + timedelta(days=day)
            sampled += [model.sample(facts(i, sold_at=sold), seed=3) for i in range(150)]
    for o in sampled:
        for when in (o.first_attempt_at, o.delivered_at):
            assert when.weekday() != 6 and when.date() != holiday
    assert any(o.delivered_at.weekday() == 5 for o in sampled)  # Saturday is a delivery day here
    no_saturday = make(holidays=["2027-03-03"])
    assert not any(
        o.delivered_at.weekday() in (5, 6)
        for o in outcomes(no_saturday, 500, sold_at=MONDAY + timedelta(days=3))
    )


def test_labels_sold_after_the_cut_off_or_on_a_weekend_ship_the_next_business_day():
    model = make(defaults={"transit_days": {"default": {"1": 1.0}}})
    assert model.sample(facts(1, sold_at=MONDAY.replace(hour=16, minute=59)), 1).ship_date == MONDAY.date()
    late = model.sample(facts(1, sold_at=MONDAY.replace(hour=17)), 1)
    assert late.ship_date == MONDAY.date() + timedelta(days=1)
    assert late.first_attempt_at.date() == MONDAY.date() + timedelta(days=2)
    saturday = model.sample(facts(1, sold_at=MONDAY - timedelta(days=2)), 1)
    assert saturday.ship_date == MONDAY.date()


def test_congestion_adds_delay_only_on_heavy_days():
    model = make(defaults={"congestion": {"threshold": 40, "probability": 0.5, "extra_days": {"1": 1.0}}})
    light = outcomes(model, 2000, day_rank=40)
    heavy = outcomes(model, 2000, day_rank=41)
    assert all(o.congestion_days == 0 for o in light)
    share = sum(o.congestion_days for o in heavy) / 2000
    assert abs(share - 0.5) < 4 * math.sqrt(0.25 / 2000)
    mean = lambda sample: sum(o.total_days for o in sample) / len(sample)  # noqa: E731
    assert abs(mean(heavy) - mean(light) - 0.5) < 0.06


def test_a_disruption_adds_delay_where_and_when_configured():
    storm = {
        "name": "storm",
        "start": "+1",
        "end": "+2",
        "countries": ["US"],
        "states": ["NY", "NJ"],
        "probability": 1.0,
        "extra_days": {"2": 0.5, "3": 0.5},
    }
    model = make(disruptions=[storm])
    hit = outcomes(model, 2000)
    assert all(o.disruption == "storm" and o.disruption_days in (2, 3) for o in hit)
    assert abs(sum(o.disruption_days for o in hit) / 2000 - 2.5) < 0.05
    elsewhere = outcomes(model, 500, destination_state="CA")
    assert all(o.disruption is None and o.disruption_days == 0 for o in elsewhere)
    later = outcomes(model, 500, sold_at=MONDAY + timedelta(days=7))
    assert all(o.disruption_days == 0 for o in later)
    only_fedex = make(disruptions=[{**storm, "carriers": ["fedex"]}])
    assert all(o.disruption_days == 0 for o in outcomes(only_fedex, 200))


def test_a_biased_carrier_is_off_by_its_bias_on_average():
    transit = {"default": {"1": 0.2, "2": 0.5, "3": 0.3}}
    honest = make(defaults={"transit_days": transit})
    biased = make(
        defaults={"transit_days": transit},
        carriers={"ups": {"estimate": {"quantile": 0.5, "bias_days": -1}}},
    )
    truthful, early = outcomes(honest), outcomes(biased)
    assert [o.total_days for o in truthful] == [o.total_days for o in early]  # the same parcels

    def mean_error(sample: list[world.Outcome]) -> float:
        return sum(o.estimate.days - o.total_days for o in sample) / len(sample)

    # The honest median (2 days) against the file's mean (2.1 days): off by -0.1; the biased one a day more.
    assert abs(mean_error(truthful) - (2 - 2.1)) < 0.03
    assert abs(mean_error(early) - mean_error(truthful) - (-1)) < 1e-9
    assert {o.estimate.days for o in early} == {1}
    assert {
        o.estimate.days for o in outcomes(make(carriers={"ups": {"estimate": {"bias_days": -3}}}), 10)
    } == {1}  # never below one day


def test_an_over_confident_carrier_quotes_a_low_quantile():
    transit = {"default": {"2": 0.3, "3": 0.4, "4": 0.3}}
    honest = make(defaults={"transit_days": transit})
    bold = make(defaults={"transit_days": transit, "estimate": {"quantile": 0.2}})
    met = lambda sample: sum(o.total_days <= o.estimate.days for o in sample) / len(sample)  # noqa: E731
    assert {o.estimate.days for o in outcomes(honest, 10)} == {3}
    assert {o.estimate.days for o in outcomes(bold, 10)} == {2}
    assert abs(met(outcomes(honest)) - 0.7) < 0.03
    assert abs(met(outcomes(bold)) - 0.3) < 0.03


def test_the_estimate_ignores_congestion_and_disruption():
    model = world.load_world("storm", anchor=MONDAY.date())
    quoted = model.carrier_estimate("ups", "03", "US", "US", MONDAY)
    sampled = model.sample(facts(1, day_rank=500), seed=1)
    assert sampled.estimate == quoted


# -- retiming a progression ------------------------------------------------------------------------------
def test_retime_lands_the_attempt_and_the_delivery_at_the_sampled_times():
    origin = progressions.Place("Atlanta", "US", "GA")
    destination = progressions.Place("New York", "US", "NY")
    sold = MONDAY
    first = sold + timedelta(days=2, hours=6, minutes=17)
    delivered = sold + timedelta(days=3, hours=2)
    for build, scenario in (
        (progressions.ups_steps, "failed_attempt"),
        (progressions.fedex_steps, "failed_attempt"),
        (progressions.usps_steps, "failed_attempt"),
        (progressions.dhl_steps, "not_home"),
    ):
        steps = progressions.retime(build(scenario, origin, destination, 1, "X"), sold, first, delivered)
        times = [s.at(sold) for s in steps]
        assert times == sorted(times)
        assert steps[-1].delivered and times[-1] == delivered
        ofd = next(i for i, s in enumerate(steps) if s.code in progressions.OUT_FOR_DELIVERY)
        assert times[ofd + 1] == first
        assert times[-2] > first  # the re-attempt's out-for-delivery comes after the failed attempt
        normal = progressions.retime(build("normal", origin, destination, 1, "X"), sold, first, first)
        assert normal[-1].at(sold) == first
        assert normal[0].at(sold) >= sold
        assert [s.at(sold) for s in normal] == sorted(s.at(sold) for s in normal)


# -- the simulator app with a world ------------------------------------------------------------------------
USPS_CONFIG: dict[str, Any] = {
    "client_id": "sim-usps-client",
    "client_secret": "sim-usps-secret",
    "crid": "56982563",
    "mid": "904128936",
    "account_number": "1000405525",
    "base_url": "http://sim/usps",
    "timeout_seconds": 5,
    "webhook_secret": "0123456789abcdef0123456789abcdef",
}


def test_a_label_under_the_metro_world_is_delivered_when_the_world_says(make_app):
    app = make_app(world="metro", exception_share=0.0)
    sim = app.extensions["handoff_simulator"]
    assert sim.world is not None and sim.world.name == "metro"
    http = requests.Session()
    http.mount("http://sim/", FlaskAdapter(app))
    usps = UspsAdapter(
        USPS_CONFIG,
        session=http,
        breaker=carrier_http.CircuitBreaker(),
        retry=carrier_http.RetryPolicy(attempts=1),
    )
    bought = [
        usps.label(
            carrier.LabelRequest(
                spec=ux.SPEC,
                account=USPS_CONFIG["account_number"],
                service_code="PRIORITY_MAIL",
                reference=f"shp_world_{i}",
                label_format=carrier.LabelFormat.PDF,
            )
        )
        for i in range(30)
    ]
    records = [sim.ledger.get(label.tracking_numbers[0]) for label in bought]
    plans = {r.tracking_number: sim.world_outcome(r) for r in records}
    expected = {n: sim.world.sample(sim.world_facts(r), 7) for n, r in zip(plans, records, strict=True)}
    assert plans == expected

    # Before delivery, the track reply carries the world's carrier estimate.
    number = records[0].tracking_number
    before = usps.track(carrier.TrackRequest(number))
    assert before.estimated_delivery == plans[number].estimate.date

    latest = max(o.delivered_at for o in plans.values())
    hours = (latest - sim.clock.now()).total_seconds() / 3600 + 1
    app.test_client().post("/_sim/clock", json={"advance_hours": hours})
    for record in records:
        plan = plans[record.tracking_number]
        found = usps.track(carrier.TrackRequest(record.tracking_number)).events
        assert found[-1].code == "01"
        assert found[-1].occurred_at == plan.delivered_at
        attempts = [e for e in found if e.code == "02"]
        if plan.failed_attempt:
            assert [e.occurred_at for e in attempts] == [plan.first_attempt_at]
        else:
            assert not attempts
    http.close()


def test_without_a_world_the_progression_is_unchanged(make_app):
    app = make_app()
    sim = app.extensions["handoff_simulator"]
    assert sim.world is None
    from simulator.ledger import LabelRecord

    record = LabelRecord(
        carrier="ups",
        tracking_number="1ZNOWORLD0000001",
        reference=None,
        requested_at=MONDAY.isoformat(),
        service="03",
        label_format="PDF",
        charge_amount="1",
        charge_currency="USD",
        origin_country="US",
        destination_country="US",
    )
    assert sim.world_outcome(record) is None and sim.estimated_delivery(record) is None
    assert [s.hours for s in sim.steps_for(record)] == [0.0, 3.0, 5.0, 9.0, 11.0, 15.0, 17.0, 19.0]


def test_the_world_flag_names_a_world_and_refuses_an_unknown_one(capsys):
    from simulator import __main__ as cli

    _args, settings = cli.parse_args(["--world", "metro"])
    assert settings.world == "metro"
    assert cli.parse_args([])[1].world is None
    with pytest.raises(SystemExit):
        cli.parse_args(["--world", "atlantis"])
    assert "no world 'atlantis'" in capsys.readouterr().err
