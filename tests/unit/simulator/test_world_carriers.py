"""Carrier replies under a world: UPS track and rate carry the world's carrier estimate, and the storm
world's biased UPS is a day early against its honest median; events land where the world says."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from simulator import world
from simulator.ledger import LabelRecord
from tests.unit.simulator.sim_payloads import ups_rate_body, ups_ship_body


@pytest.fixture
def app(make_app):
    return make_app(world="storm")


def _ship(client, headers, reference):
    reply = client.post("/api/shipments/v2409/ship", json=ups_ship_body(reference=reference), headers=headers)
    assert reply.status_code == 200, reply.json
    return reply.json["ShipmentResponse"]["ShipmentResults"]["PackageResults"][0]["TrackingNumber"]


def _package(client, headers, number):
    reply = client.get(f"/api/track/v1/details/{number}", headers=headers)
    assert reply.status_code == 200, reply.json
    return reply.json["trackResponse"]["shipment"][0]["package"][0]


def test_ups_track_carries_the_world_estimate_then_the_sampled_delivery(client, sim, ups_headers):
    number = _ship(client, ups_headers, "shp_storm_1")
    label = sim.ledger.get(number)
    outcome = sim.world_outcome(label)
    package = _package(client, ups_headers, number)
    assert package["deliveryDate"] == [{"type": "SDD", "date": outcome.estimate.date.strftime("%Y%m%d")}]
    # Storm's UPS quotes a day sooner than its median (bias -1).
    profile = sim.world.profile("ups", "03")
    median = world.quantile(profile.transit(("US", "domestic", "default")), 0.5)
    assert outcome.estimate.days == max(1, median - 1)

    hours = (outcome.delivered_at - sim.clock.now()).total_seconds() / 3600 + 1
    client.post("/_sim/clock", json={"advance_hours": hours})
    package = _package(client, ups_headers, number)
    assert package["deliveryDate"] == [{"type": "DEL", "date": outcome.delivered_at.strftime("%Y%m%d")}]
    assert package["deliveryTime"]["endTime"] == outcome.delivered_at.strftime("%H%M%S")
    codes = [a["status"]["code"] for a in reversed(package["activity"])]
    assert codes[-1] == "FS" and ("UR" in codes) == outcome.failed_attempt


def test_ups_time_in_transit_quotes_the_world_estimate(client, sim, ups_headers):
    reply = client.post("/api/rating/v2409/Shoptimeintransit", json=ups_rate_body(), headers=ups_headers)
    assert reply.status_code == 200, reply.json
    now = sim.clock.now()
    for rated in reply.json["RateResponse"]["RatedShipment"]:
        code = rated["Service"]["Code"]
        expected = sim.world.carrier_estimate("ups", code, "US", "US", now)
        arrival = rated["TimeInTransit"]["ServiceSummary"]["EstimatedArrival"]
        assert arrival["Arrival"]["Date"] == expected.date.strftime("%Y%m%d")
        assert arrival["BusinessDaysInTransit"] == str(expected.days)


def test_a_label_always_gets_the_same_steps_ending_at_the_sampled_delivery(sim):
    # Pushes and polls both build their events from steps_for: the same steps each time keep them consistent.
    record = LabelRecord(
        carrier="fedex",
        tracking_number="794600000001",
        reference=None,
        requested_at=datetime(2027, 3, 1, 10, 0, tzinfo=UTC).isoformat(),
        service="FEDEX_2_DAY",
        label_format="PDF",
        charge_amount="1",
        charge_currency="USD",
        origin_country="US",
        destination_country="US",
        destination_state="NY",
    )
    sim.ledger.record(record)
    first = sim.steps_for(record)
    assert first == sim.steps_for(record)
    assert [s.at(datetime.fromisoformat(record.requested_at)) for s in first][-1] == (
        sim.world_outcome(record).delivered_at
    )


def test_the_sim_api_shows_the_world_and_each_label_outcome(client, sim, ups_headers):
    assert client.get("/_sim/world").json["world"] == "storm"
    number = _ship(client, ups_headers, "shp_storm_api")
    reply = client.get(f"/_sim/world/{number}")
    assert reply.status_code == 200
    outcome = sim.world_outcome(sim.ledger.get(number))
    assert reply.json["delivered_at"] == outcome.delivered_at.isoformat()
    assert reply.json["carrier_estimate"]["date"] == outcome.estimate.date.isoformat()
    assert client.get("/_sim/world/1ZUNKNOWN").status_code == 404


def test_without_a_world_the_sim_api_says_so(make_app):
    client = make_app().test_client()
    assert client.get("/_sim/world").json == {"world": None}
