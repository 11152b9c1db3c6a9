"""A return label end to end over real HTTP: UPS through the carrier simulator, through the public API only.

A shipment is booked and its UPS label bought; its return is booked (``POST /v1/shipments/{id}/return``),
rated live, its label bought as a UPS Print Return Label (the simulator's ledger shows ReturnService 9,
sold once, from the customer back to the warehouse) and tracked on its own number until delivered back.
The stack is conftest's (simulator seed 11, gateway HTTP server, worker process, scheduler loop).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from tests.e2e.conftest import LiveGateway, SimulatorServer
from tests.helpers import shipment_body

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def call(method: str, url: str, headers: dict[str, str], **kwargs: Any) -> requests.Response:
    return requests.request(method, url, headers=headers, timeout=60, **kwargs)


def buy(gateway: LiveGateway, headers: dict[str, str], shipment_id: str) -> dict[str, Any]:
    """Request the shipment's label (its rate already selected) and wait until it is purchased."""
    bought = call(
        "POST",
        gateway.url(f"/v1/shipments/{shipment_id}/label"),
        {**headers, "Idempotency-Key": f"label-{shipment_id}"},
        json={},
    )
    assert bought.status_code == 202, bought.text

    def purchased() -> dict[str, Any] | None:
        current = call("GET", gateway.url(f"/v1/shipments/{shipment_id}"), headers).json()
        assert current["status"] not in ("failed", "needs_review"), current
        return current if current["status"] == "purchased" else None

    try:
        return gateway.wait_for(purchased, 90, f"the label of {shipment_id}")
    except AssertionError as exc:
        job = call("GET", gateway.url(f"/v1/jobs/{bought.json()['id']}"), headers).text
        raise AssertionError(f"{exc}\n--- label job ---\n{job}") from None


def test_a_ups_return_label_is_bought_through_the_simulator_and_tracked_back_to_the_warehouse(
    live_gateway: LiveGateway, simulator: SimulatorServer
) -> None:
    gateway = live_gateway
    headers = gateway.tenant(("platform", "ops")).headers

    # The outbound shipment, on a live UPS rate.
    body = shipment_body(reference=f"E2E-RET-{uuid.uuid4().hex[:6]}")
    body["origin"].update(company="Acme Widgets", phone="+1 201-555-0100")
    body["destination"]["phone"] = "+1 212-555-0199"
    created = call("POST", gateway.url("/v1/shipments"), headers, json=body)
    assert created.status_code == 201, created.text
    outbound = created.json()
    live = [r for r in outbound["rates"]["rates"] if r["carrier"] == "ups" and r["source"] == "live"]
    assert live, outbound["rates"]
    chosen = call(
        "POST", gateway.url(f"/v1/shipments/{outbound['id']}/rate"), headers, json={"rate_id": live[0]["id"]}
    )
    assert chosen.status_code == 200, chosen.text
    outbound = buy(gateway, headers, outbound["id"])

    # Its return: a shipment of its own, rated live, the same UPS service selected.
    key = {"Idempotency-Key": f"return-{outbound['id']}"}
    returned = call(
        "POST", gateway.url(f"/v1/shipments/{outbound['id']}/return"), {**headers, **key}, json={}
    )
    assert returned.status_code == 201, returned.text
    ret = returned.json()
    assert (ret["is_return"], ret["return_of"], ret["carrier"], ret["service"]) == (
        True,
        outbound["id"],
        "ups",
        outbound["service"],
    )
    assert any(r["source"] == "live" for r in ret["rates"]["rates"] if r["carrier"] == "ups")
    replay = call("POST", gateway.url(f"/v1/shipments/{outbound['id']}/return"), {**headers, **key}, json={})
    assert replay.status_code == 201 and replay.json()["id"] == ret["id"]

    # Its label: sold once by the simulator as a UPS Print Return Label, from the customer to the warehouse.
    ret = buy(gateway, headers, ret["id"])
    assert ret["tracking_number"] and ret["tracking_number"] != outbound["tracking_number"]
    ledger = simulator.ledger()
    assert ledger["duplicate_references"] == {}
    [sold] = [label for label in ledger["labels"] if label["reference"] == ret["id"]]
    assert (sold["carrier"], sold["tracking_number"], sold["return_type"]) == (
        "ups",
        ret["tracking_number"],
        "9",
    )
    assert (sold["origin_city"], sold["destination_city"]) == ("New York", "Secaucus")
    assert sold["shipper_name"] == "Acme Widgets"
    [first] = [label for label in ledger["labels"] if label["reference"] == outbound["id"]]
    assert first["return_type"] == ""
    document = call("GET", gateway.url(f"/v1/shipments/{ret['id']}/label"), headers)
    assert document.status_code == 200 and document.content

    # Linked both ways.
    shown = call("GET", gateway.url(f"/v1/shipments/{outbound['id']}"), headers).json()
    assert shown["returns"] == [ret["id"]]

    # Tracked on its own number, in the same taxonomy, until delivered back.
    def subscribed() -> bool:
        kept = call("GET", gateway.url(f"/v1/shipments/{ret['id']}/carrier-exchanges"), headers).json()[
            "data"
        ]
        return any(x["operation"] == "track_subscribe" and x["http_status"] == 200 for x in kept)

    gateway.wait_for(subscribed, 60, "the return's Track Alert subscription")
    simulator.advance(hours=36)
    simulator.tick()

    def timeline(shipment_id: str) -> dict[str, Any]:
        response = call("GET", gateway.url(f"/v1/shipments/{shipment_id}/events"), headers)
        assert response.status_code == 200, response.text
        return response.json()

    gateway.wait_for(lambda: timeline(ret["id"])["milestone"] == "delivered", 120, "the return delivered")
    events = timeline(ret["id"])["events"]
    assert all(e["carrier"] == "ups" and not e["unmapped"] for e in events)
    assert {e["tracking_number"] for e in events if e.get("tracking_number")} <= {ret["tracking_number"]}

    # The KPIs count it as a return, delivered back; the outbound is the one shipment.
    totals = call("GET", gateway.url("/v1/kpis"), headers).json()["totals"]
    assert (totals["shipments"], totals["returns"], totals["returns_delivered"]) == (1, 1, 1)
