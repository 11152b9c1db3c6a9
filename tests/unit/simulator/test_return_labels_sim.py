"""Return labels at the simulator: UPS ReturnService and FedEx RETURN_SHIPMENT are sold and kept in the ledger."""

from __future__ import annotations

import dataclasses
from typing import Any

import requests

from adapters import http as carrier_http
from adapters.fedex.client import FedexAdapter
from schemas import carrier
from tests.unit.adapters_fedex import fedex_fixtures as fx
from tests.unit.adapters_usps import usps_fixtures as ux
from tests.unit.simulator.sim_payloads import ups_ship_body

FEDEX: dict[str, Any] = {
    "client_id": "sim-fedex-client",
    "client_secret": "sim-fedex-secret",
    "account_number": "740561073",
    "base_url": "http://sim/fedex",
    "timeout_seconds": 5,
}


def ups_return(described: bool = True) -> dict[str, Any]:
    body = ups_ship_body("shp_ret")
    shipment = body["ShipmentRequest"]["Shipment"]
    shipment["ReturnService"] = {"Code": "9", "Description": "UPS Print Return Label"}
    if described:
        for package in shipment["Package"]:
            package["Description"] = "ORDER-1001"
    return body


def test_a_ups_print_return_label_is_sold_and_marked_as_a_return(client, ups_headers, sim):
    reply = client.post("/api/shipments/v2409/ship", json=ups_return(), headers=ups_headers)
    assert reply.status_code == 200, reply.json
    [sold] = sim.ledger.all()
    assert (sold.reference, sold.return_type) == ("shp_ret", "9")
    plain = client.post("/api/shipments/v2409/ship", json=ups_ship_body("shp_out"), headers=ups_headers)
    assert plain.status_code == 200
    assert [s.return_type for s in sim.ledger.all()] == ["9", ""]


def test_a_ups_return_without_a_package_description_is_refused_as_shipping_yaml_requires(
    client, ups_headers, sim
):
    reply = client.post("/api/shipments/v2409/ship", json=ups_return(described=False), headers=ups_headers)
    assert reply.status_code == 400
    assert "Description" in reply.json["response"]["errors"][0]["message"]
    assert sim.ledger.all() == []


def test_a_fedex_print_return_label_bought_by_the_adapter_is_sold_as_a_return(session: requests.Session, sim):
    fedex = FedexAdapter(
        FEDEX,
        session=session,
        breaker=carrier_http.CircuitBreaker(),
        retry=carrier_http.RetryPolicy(attempts=1),
    )
    request = carrier.LabelRequest(
        spec=dataclasses.replace(fx.SPEC, is_return=True),
        account=FEDEX["account_number"],
        service_code="FEDEX_GROUND",
        reference="shp_fxret",
        label_format=carrier.LabelFormat.ZPL,
    )
    label = fedex.label(request)
    [sold] = sim.ledger.all()
    assert (sold.tracking_number, sold.return_type) == (label.tracking_numbers[0], "PRINT_RETURN_LABEL")


def test_a_usps_return_label_is_sold_by_the_return_label_endpoint_in_the_return_service(
    session: requests.Session, sim
):
    from tests.unit.simulator.test_usps_sim import adapter_on

    usps = adapter_on(session)
    label = usps.label(
        carrier.LabelRequest(
            spec=dataclasses.replace(ux.SPEC, is_return=True),
            account="1000405525",
            service_code="PRIORITY_MAIL",
            reference="shp_uspsret",
            label_format=carrier.LabelFormat.PDF,
        )
    )
    assert label.label.startswith(b"%PDF")
    [sold] = sim.ledger.all()
    assert (sold.reference, sold.tracking_number) == ("shp_uspsret", label.tracking_numbers[0])
    assert sold.return_type == "PRIORITY_MAIL_RETURN_SERVICE"
    assert (sold.origin_postal_code, sold.destination_postal_code) == (
        ux.SPEC.origin.postal_code[:5],
        ux.SPEC.destination.postal_code[:5],
    )


def test_a_usps_return_with_a_qr_code_comes_with_the_label_broker_png(session: requests.Session, sim):
    from tests.unit.simulator.test_usps_sim import adapter_on

    label = adapter_on(session).label(
        carrier.LabelRequest(
            spec=dataclasses.replace(ux.SPEC, is_return=True, options=frozenset({"return_qr"})),
            account="1000405525",
            service_code="USPS_GROUND_ADVANTAGE",
            reference="shp_uspsqr",
            label_format=carrier.LabelFormat.PDF,
        )
    )
    assert label.label.startswith(b"%PDF")
    [qr] = label.documents
    assert (qr.kind, qr.format) == ("qr_code", "PNG") and qr.data.startswith(b"\x89PNG")
    [sold] = sim.ledger.all()
    assert sold.return_type == "USPS_GROUND_ADVANTAGE_RETURN_SERVICE"
