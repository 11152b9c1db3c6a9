"""Fault injection honours its per-carrier rates, deterministically for a seed."""

from __future__ import annotations

import pytest
from lxml import etree

from simulator import faults as sim_faults
from tests.unit.simulator.sim_payloads import dhl_rate, dhl_ship, ups_rate_body, ups_ship_body


def _sequence(seed: int, rates: dict, calls: int = 400, operation: str = "rate") -> list[str | None]:
    injector = sim_faults.FaultInjector(seed, {"ups": rates})
    return [injector.decide("ups", operation) for _ in range(calls)]


def test_the_same_seed_gives_the_same_fault_sequence():
    rates = {"error_5xx": 0.2, "timeout": 0.1, "malformed": 0.1}
    assert _sequence(11, rates) == _sequence(11, rates)
    assert _sequence(11, rates) != _sequence(12, rates)


@pytest.mark.parametrize("kind", ["error_5xx", "timeout", "malformed"])
def test_each_fault_kind_is_injected_at_about_its_rate(kind):
    sequence = _sequence(5, {kind: 0.25}, calls=4000)
    assert set(sequence) == {None, kind}
    assert sequence.count(kind) / len(sequence) == pytest.approx(0.25, abs=0.03)


def test_one_carriers_faults_do_not_depend_on_other_carriers_calls():
    alone = sim_faults.FaultInjector(3, {"ups": {"error_5xx": 0.5}, "dhl_express": {"error_5xx": 0.5}})
    mixed = sim_faults.FaultInjector(3, {"ups": {"error_5xx": 0.5}, "dhl_express": {"error_5xx": 0.5}})
    ups_alone = [alone.decide("ups", "rate") for _ in range(50)]
    ups_mixed = []
    for _ in range(50):
        mixed.decide("dhl_express", "rate")
        ups_mixed.append(mixed.decide("ups", "rate"))
    assert ups_alone == ups_mixed


def test_faults_can_be_limited_to_some_operations():
    injector = sim_faults.FaultInjector(1, {"ups": {"error_5xx": 1.0, "operations": ["ship"]}})
    assert injector.decide("ups", "rate") is None
    assert injector.decide("ups", "ship") == "error_5xx"


def test_charged_timeout_on_a_non_purchase_is_a_plain_timeout():
    injector = sim_faults.FaultInjector(1, {"ups": {"charged_timeout": 1.0}})
    assert injector.decide("ups", "track") == "timeout"
    assert injector.decide("ups", "ship") == "charged_timeout"


@pytest.mark.parametrize(
    "settings",
    [
        {"error_5xx": 1.5},
        {"error_5xx": -0.1},
        {"error_5xx": "half"},
        {"error_5xx": 0.6, "timeout": 0.6},
        {"oops": 0.1},
    ],
)
def test_impossible_fault_settings_are_refused_with_a_clear_message(client, settings):
    reply = client.post("/_sim/faults", json={"carriers": {"ups": settings}})
    assert reply.status_code == 400
    assert reply.json["error"]


def test_faults_for_an_unknown_carrier_are_refused(client):
    assert client.post("/_sim/faults", json={"carriers": {"ontrac": {"error_5xx": 1}}}).status_code == 400


def test_a_carrier_failing_100_percent_leaves_the_other_carrier_answering(client, ups_headers):
    client.post("/_sim/faults", json={"carriers": {"ups": {"error_5xx": 1.0}}})
    for _ in range(5):
        reply = client.post("/api/rating/v2409/Shop", json=ups_rate_body(), headers=ups_headers)
        assert reply.status_code == 503
        assert reply.json["response"]["errors"][0]["code"]
        assert (
            client.post("/sndpt/expressRateBook", data=dhl_rate(), content_type="text/xml").status_code == 200
        )
    assert client.get("/_sim/faults").json["injected"] == {"ups": {"error_5xx": 5}}


def test_runtime_faults_apply_to_the_http_endpoints_deterministically(make_app):
    def statuses() -> list[int]:
        app = make_app()
        client = app.test_client()
        client.post(
            "/_sim/faults",
            json={"seed": 99, "carriers": {"dhl_express": {"error_5xx": 0.3, "malformed": 0.2}}},
        )
        return [
            client.post("/sndpt/expressRateBook", data=dhl_rate(), content_type="text/xml").status_code
            for _ in range(60)
        ]

    first = statuses()
    assert first == statuses()
    injector = sim_faults.FaultInjector(99, {"dhl_express": {"error_5xx": 0.3, "malformed": 0.2}})
    expected = [500 if injector.decide("dhl_express", "rate") == "error_5xx" else 200 for _ in range(60)]
    assert first == expected


def test_a_5xx_on_a_purchase_sells_nothing(client, ups_headers, sim):
    client.post("/_sim/faults", json={"carriers": {"ups": {"error_5xx": 1.0}}})
    reply = client.post("/api/shipments/v2409/ship", json=ups_ship_body(), headers=ups_headers)
    assert reply.status_code == 503
    assert sim.ledger.all() == []


def test_a_timeout_sleeps_past_the_client_and_sells_nothing(client, ups_headers, sim, manual_time):
    client.post("/_sim/faults", json={"carriers": {"ups": {"timeout": 1.0}}})
    reply = client.post("/api/shipments/v2409/ship", json=ups_ship_body(), headers=ups_headers)
    assert manual_time.slept == [sim.config.timeout_sleep_seconds]
    assert reply.status_code == 504
    assert sim.ledger.all() == []


def test_charged_then_timed_out_records_the_label_but_answers_late(client, ups_headers, sim, manual_time):
    client.post("/_sim/faults", json={"carriers": {"ups": {"charged_timeout": 1.0}}})
    reply = client.post(
        "/api/shipments/v2409/ship", json=ups_ship_body(reference="shp_late"), headers=ups_headers
    )
    assert manual_time.slept == [sim.config.timeout_sleep_seconds]
    labels = client.get("/_sim/labels?reference=shp_late").json["labels"]
    assert len(labels) == 1 and labels[0]["response_lost"] is True
    # The late answer is the real one: the same label the ledger holds.
    assert (
        reply.json["ShipmentResponse"]["ShipmentResults"]["ShipmentIdentificationNumber"]
        == labels[0]["tracking_number"]
    )


def test_charged_then_timed_out_works_for_dhl_too(client, sim, manual_time):
    client.post("/_sim/faults", json={"carriers": {"dhl_express": {"charged_timeout": 1.0}}})
    client.post("/sndpt/expressRateBook", data=dhl_ship(reference="shp_d"), content_type="text/xml")
    assert [x.response_lost for x in sim.ledger.by_reference("shp_d")] == [True]
    assert manual_time.slept


def test_malformed_bodies_cannot_be_parsed(client, ups_headers):
    client.post(
        "/_sim/faults", json={"carriers": {"ups": {"malformed": 1.0}, "dhl_express": {"malformed": 1.0}}}
    )
    ups = client.post("/api/rating/v2409/Shop", json=ups_rate_body(), headers=ups_headers)
    assert ups.status_code == 200 and ups.get_json(silent=True) is None
    dhl = client.post("/sndpt/expressRateBook", data=dhl_rate(), content_type="text/xml")
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(dhl.data)


def test_faults_configured_at_start_apply_from_the_first_call(make_app):
    client = make_app(faults={"dhl_express": {"error_5xx": 1.0}}).test_client()
    assert client.post("/sndpt/expressRateBook", data=dhl_rate(), content_type="text/xml").status_code == 500


def test_clearing_faults_restores_normal_answers(client, ups_headers):
    client.post("/_sim/faults", json={"carriers": {"ups": {"error_5xx": 1.0}}})
    client.delete("/_sim/faults")
    assert client.post("/api/rating/v2409/Shop", json=ups_rate_body(), headers=ups_headers).status_code == 200
