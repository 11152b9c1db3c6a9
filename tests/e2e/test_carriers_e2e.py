"""UPS over REST and DHL Express over SOAP, end to end over real HTTP against the carrier simulator.

Through the gateway's public API only: rate shopping with both carriers live, a label bought from each
(background job, exactly one sold per shipment in the simulator's ledger), then tracking. The label
purchase starts tracking: UPS is subscribed to Track Alert (v2: the simulator fetches a bearer token
from the gateway's token URL before each push) and DHL Express, which has no push, is polled. A
simulated day later UPS has pushed its scans and DHL is polled again; both timelines end delivered.
Every carrier call is kept, redacted, and listed for ops; no credential is in them or in the logs.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import requests

from tests.e2e.conftest import SECRETS, LiveGateway, SimulatorServer
from tests.helpers import shipment_body

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CARRIERS = ("ups", "dhl_express")


def booking(reference: str) -> dict[str, Any]:
    body = shipment_body(reference=reference)
    body["origin"]["phone"] = "+1 201-555-0100"
    body["destination"]["phone"] = "+1 212-555-0199"
    return body


def call(method: str, url: str, headers: dict[str, str], **kwargs: Any) -> requests.Response:
    return requests.request(method, url, headers=headers, timeout=60, **kwargs)


def buy_label(gateway: LiveGateway, headers: dict[str, str], carrier: str) -> dict[str, Any]:
    """Book a shipment, choose the carrier's live rate, buy the label; return the purchased shipment."""
    created = call(
        "POST", gateway.url("/v1/shipments"), headers, json=booking(f"E2E-{carrier}-{uuid.uuid4().hex[:6]}")
    )
    assert created.status_code == 201, created.text
    shipment = created.json()
    live = [r for r in shipment["rates"]["rates"] if r["carrier"] == carrier and r["source"] == "live"]
    assert live, f"no live {carrier} rate: {shipment['rates']}"
    chosen = call(
        "POST", gateway.url(f"/v1/shipments/{shipment['id']}/rate"), headers, json={"rate_id": live[0]["id"]}
    )
    assert chosen.status_code == 200, chosen.text
    bought = call(
        "POST",
        gateway.url(f"/v1/shipments/{shipment['id']}/label"),
        {**headers, "Idempotency-Key": f"label-{shipment['id']}"},
        json={},
    )
    assert bought.status_code == 202, bought.text

    def purchased() -> dict[str, Any] | None:
        current = call("GET", gateway.url(f"/v1/shipments/{shipment['id']}"), headers).json()
        assert current["status"] not in ("failed", "needs_review"), current
        return current if current["status"] == "purchased" else None

    try:
        return gateway.wait_for(purchased, 90, f"the {carrier} label")
    except AssertionError as exc:
        job = call("GET", gateway.url(f"/v1/jobs/{bought.json()['id']}"), headers).text
        raise AssertionError(f"{exc}\n--- label job ---\n{job}") from None


def timeline(gateway: LiveGateway, headers: dict[str, str], shipment_id: str) -> dict[str, Any]:
    response = call("GET", gateway.url(f"/v1/shipments/{shipment_id}/events"), headers)
    assert response.status_code == 200, response.text
    return response.json()


def exchanges(gateway: LiveGateway, headers: dict[str, str], shipment_id: str) -> list[dict[str, Any]]:
    response = call("GET", gateway.url(f"/v1/shipments/{shipment_id}/carrier-exchanges"), headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_rates_labels_and_tracking_for_ups_and_dhl_express_over_real_http(
    live_gateway: LiveGateway, simulator: SimulatorServer
) -> None:
    gateway = live_gateway
    headers = gateway.tenant(("platform", "ops")).headers

    # Rate shopping asks both carriers live, within the deadline.
    body = booking("E2E-RATES")
    shopped = call(
        "POST",
        gateway.url("/v1/rates"),
        headers,
        json={k: body[k] for k in ("origin", "destination", "parcels")},
    )
    assert shopped.status_code == 200, shopped.text
    assert shopped.json()["errors"] == []
    live = {r["carrier"] for r in shopped.json()["rates"] if r["source"] == "live"}
    assert set(CARRIERS) <= live

    # One label from each carrier, each sold exactly once.
    shipments = {carrier: buy_label(gateway, headers, carrier) for carrier in CARRIERS}
    ledger = simulator.ledger()
    assert ledger["duplicate_references"] == {}
    for carrier, shipment in shipments.items():
        sold = [label for label in ledger["labels"] if label["reference"] == shipment["id"]]
        assert [(label["carrier"], label["tracking_number"]) for label in sold] == [
            (carrier, shipment["tracking_number"])
        ]
        document = call("GET", gateway.url(f"/v1/shipments/{shipment['id']}/label"), headers)
        assert document.status_code == 200 and document.content

    # The purchase started tracking: UPS subscribed to Track Alert, DHL Express polled.
    ups, dhl = shipments["ups"]["id"], shipments["dhl_express"]["id"]
    gateway.wait_for(
        lambda: any(
            x["operation"] == "track_subscribe" and x["http_status"] == 200
            for x in exchanges(gateway, headers, ups)
        ),
        60,
        "the UPS Track Alert subscription",
    )
    gateway.wait_for(
        lambda: any(x["operation"] == "trackShipmentRequest" for x in exchanges(gateway, headers, dhl)),
        60,
        "the first DHL Express poll",
    )

    # A simulated day and a half later: UPS pushes its scans, DHL Express is asked again.
    simulator.advance(hours=36)
    simulator.tick()
    pushed = simulator.pushes("ups")
    mine = [
        p
        for p in pushed
        if p["payload"] and p["payload"].get("trackingNumber") == shipments["ups"]["tracking_number"]
    ]
    assert mine and all(p["status"] == 202 for p in mine), mine
    gateway.wait_for(
        lambda: timeline(gateway, headers, ups)["milestone"] == "delivered",
        120,
        f"UPS delivered; pushed {[p['payload']['activityStatus'] for p in mine]}, "
        f"timeline now {timeline(gateway, headers, ups)}",
    )
    refreshed = call("POST", gateway.url(f"/v1/shipments/{dhl}/tracking/refresh"), headers, json={})
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["milestone"] == "delivered"

    for carrier, shipment_id in (("ups", ups), ("dhl_express", dhl)):
        events = timeline(gateway, headers, shipment_id)["events"]
        assert events[-1]["milestone"] == "delivered"
        assert all(e["carrier"] == carrier and e["raw"]["code"] for e in events)
        assert not [e for e in events if e["unmapped"]], "every simulator code is mapped"
        summary = call("GET", gateway.url(f"/v1/shipments/{shipment_id}"), headers).json()["tracking"]
        assert summary["milestone"] == "delivered"
    ups_sources = {e["source"] for e in timeline(gateway, headers, ups)["events"]}
    assert "webhook" in ups_sources  # pushed, beside the history fetched when it was subscribed

    # Every carrier call about these shipments is kept for disputes, and none holds a credential.
    for carrier, shipment_id in (("ups", ups), ("dhl_express", dhl)):
        kept = exchanges(gateway, headers, shipment_id)
        assert {x["operation"] for x in kept} >= {"label" if carrier == "ups" else "createShipmentRequest"}
        assert all(x["duration_ms"] is not None and x["occurred_at"] for x in kept)
        dumped = json.dumps(kept)
        for secret in SECRETS:
            assert secret not in dumped
    gateway.container.exchange_recorder.flush()
    assert not any(secret in gateway.worker_log.read_text(errors="replace") for secret in SECRETS)


def test_a_carrier_failing_every_call_is_a_per_carrier_error_and_the_others_still_answer_in_time(
    live_gateway: LiveGateway, simulator: SimulatorServer
) -> None:
    headers = live_gateway.tenant(("platform",)).headers
    body = booking("E2E-DOWN")
    body["parcels"][0]["weight"]["value"] = "3.7"  # a shipment not asked before: no cached answer
    simulator.faults({"dhl_express": {"error_5xx": 1.0}})
    try:
        started = time.monotonic()
        shopped = call(
            "POST",
            live_gateway.url("/v1/rates"),
            headers,
            json={k: body[k] for k in ("origin", "destination", "parcels")},
        )
        elapsed = time.monotonic() - started
    finally:
        simulator.clear_faults()

    assert shopped.status_code == 200, shopped.text
    answer = shopped.json()
    assert elapsed < answer["deadline_ms"] / 1000 + 1.0  # the deadline, plus slack for a loaded machine
    assert "ups" in {r["carrier"] for r in answer["rates"] if r["source"] == "live"}
    assert [e["carrier"] for e in answer["errors"]] == ["dhl_express"]
    assert answer["errors"][0]["code"] in {"unavailable", "timeout"}
