"""A second tenant's own UPS account buys that tenant's labels, over real HTTP through the simulator.

Tenant A has no account of its own and buys on the operator's (``CARRIERS``); tenant B connects its
own UPS account through ``POST /v1/carrier-accounts`` and buys on it. The simulator's ledger, which
records the ``ShipperNumber`` each label was sold on, shows each sale on the right account; B voids
its label on its own account too.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.e2e.conftest import UPS_CLIENT_ID, UPS_CLIENT_SECRET, LiveGateway, SimulatorServer
from tests.e2e.test_carriers_e2e import buy_label, call

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _sold(simulator: SimulatorServer, shipment_id: str) -> list[dict[str, Any]]:
    return [label for label in simulator.ledger()["labels"] if label["reference"] == shipment_id]


def test_a_second_tenants_own_ups_account_buys_and_voids_that_tenants_labels(
    live_gateway: LiveGateway, simulator: SimulatorServer
) -> None:
    gateway = live_gateway
    operator = gateway.container.carriers
    operator_number = next(operator.get(k).account_id for k in operator if operator.get(k).name == "ups")
    own_number = f"B{random.randrange(16**5):05X}"
    a = gateway.tenant(("platform", "ops")).headers
    b = gateway.tenant(("admin",)).headers
    connected = call(
        "POST",
        gateway.url("/v1/carrier-accounts"),
        b,
        json={
            "carrier": "ups",
            "label": "B's own UPS",
            "config": {
                "client_id": UPS_CLIENT_ID,
                "client_secret": UPS_CLIENT_SECRET,
                "account_number": own_number,
                "base_url": simulator.url,
                "timeout_seconds": 5,
            },
        },
    )
    assert connected.status_code == 201, connected.text
    assert UPS_CLIENT_SECRET not in connected.text

    on_operator = buy_label(gateway, a, "ups")
    on_own = buy_label(gateway, b, "ups")

    assert [(s["account"], s["tracking_number"]) for s in _sold(simulator, on_operator["id"])] == [
        (operator_number, on_operator["tracking_number"])
    ]
    assert [(s["account"], s["tracking_number"]) for s in _sold(simulator, on_own["id"])] == [
        (own_number, on_own["tracking_number"])
    ]
    assert operator_number != own_number
    voided = call("POST", gateway.url(f"/v1/shipments/{on_own['id']}/void"), b, json={})
    assert voided.status_code == 200, voided.text
    assert [(s["account"], s["voided"]) for s in _sold(simulator, on_own["id"])] == [(own_number, True)]
    # Neither tenant sees the other's shipment.
    assert call("GET", gateway.url(f"/v1/shipments/{on_own['id']}"), a).status_code == 404
    assert call("GET", gateway.url(f"/v1/shipments/{on_operator['id']}"), b).status_code == 404
