"""International labels with customs over real HTTP: DHL Express and FedEx through the carrier simulator.

A US to DE booking with a customs declaration is rated live, its label bought (the declaration travels in
DHL's ExportDeclaration and FedEx's customsClearanceDetail, which ask each for the carrier's paperless
commercial invoice), and both invoices are downloaded: the gateway's, listing the items and totals with
the tracking number, and the one the simulated carrier generated. Without a declaration the label request
is refused before anything is bought. The stack and the simulator (with its FedEx account) are those of
``test_fedex_usps_e2e``.
"""

from __future__ import annotations

import io
import uuid
from typing import Any

import pypdfium2 as pdfium
import pytest

from tests.customs_fixtures import customs_body
from tests.e2e.conftest import LiveGateway, SimulatorServer
from tests.e2e.test_fedex_usps_e2e import booking, call, live_gateway, simulator, sold_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

__all__ = ["live_gateway", "simulator"]  # this module runs on test_fedex_usps_e2e's stack and simulator

# The live service bought for each carrier from the US to Germany.
SERVICES = {"dhl_express": "P", "fedex": "FEDEX_INTERNATIONAL_PRIORITY"}


def international(reference: str, **changes: Any) -> dict[str, Any]:
    body = booking(reference)
    body["destination"] = {
        "name": "Max Muster",
        "street_lines": ["Markt 1"],
        "city": "Leipzig",
        "postal_code": "04109",
        "country_code": "DE",
        "phone": "+49 341 1234567",
    }
    body.update(changes)
    return body


def pdf_text(data: bytes) -> str:
    pdf = pdfium.PdfDocument(io.BytesIO(data))
    return "\n".join(pdf[n].get_textpage().get_text_range() for n in range(len(pdf)))


def book_and_choose(gateway: LiveGateway, headers: dict[str, str], carrier: str, body: dict[str, Any]) -> str:
    created = call("POST", gateway.url("/v1/shipments"), headers, json=body)
    assert created.status_code == 201, created.text
    shipment = created.json()
    live = [
        r
        for r in shipment["rates"]["rates"]
        if (r["carrier"], r["service_code"], r["source"]) == (carrier, SERVICES[carrier], "live")
    ]
    assert live, f"no live {carrier} {SERVICES[carrier]} rate: {shipment['rates']}"
    if carrier == "fedex" and body.get("customs"):
        # FedEx estimates duties and taxes from the declared commodities (the simulator: 19% of USD 33).
        assert live[0]["duties_and_taxes"] == {"amount": "6.27", "currency": "USD"}
    chosen = call(
        "POST", gateway.url(f"/v1/shipments/{shipment['id']}/rate"), headers, json={"rate_id": live[0]["id"]}
    )
    assert chosen.status_code == 200, chosen.text
    return str(shipment["id"])


@pytest.mark.parametrize("carrier", sorted(SERVICES))
def test_an_international_label_with_customs_and_its_commercial_invoices(
    live_gateway: LiveGateway, simulator: SimulatorServer, carrier: str
) -> None:
    gateway = live_gateway
    headers = gateway.tenant(("platform", "ops")).headers
    shipment_id = book_and_choose(
        gateway, headers, carrier, international(f"E2E-CUS-{uuid.uuid4().hex[:6]}", customs=customs_body())
    )

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

    shipment = gateway.wait_for(purchased, 90, f"the {carrier} label")
    assert shipment["customs"]["items"][0]["hs_code"] == "6109.10.00"
    sold = sold_for(simulator, shipment_id)
    assert [(s["carrier"], s["tracking_number"]) for s in sold] == [(carrier, shipment["tracking_number"])]

    ours = call("GET", gateway.url(f"/v1/shipments/{shipment_id}/documents/commercial-invoice"), headers)
    assert ours.status_code == 200, ours.text
    assert ours.headers["Content-Type"] == "application/pdf"
    text = pdf_text(ours.content)
    assert "COMMERCIAL INVOICE" in text and "PRO FORMA" not in text
    assert "Cotton T-shirt" in text and "Ceramic mug" in text
    assert "Total declared value: 33.00 USD" in text and shipment["tracking_number"] in text

    theirs = call(
        "GET",
        gateway.url(f"/v1/shipments/{shipment_id}/documents/commercial-invoice?source=carrier"),
        headers,
    )
    assert theirs.status_code == 200, theirs.text
    assert "SIMULATOR COMMERCIAL INVOICE" in pdf_text(theirs.content)


def test_without_a_declaration_the_international_label_is_refused_before_anything_is_bought(
    live_gateway: LiveGateway, simulator: SimulatorServer
) -> None:
    gateway = live_gateway
    headers = gateway.tenant(("platform",)).headers
    body = international(f"E2E-NOCUS-{uuid.uuid4().hex[:6]}")
    del body["parcels"][0]["declared_value"]
    shipment_id = book_and_choose(gateway, headers, "dhl_express", body)

    refused = call(
        "POST",
        gateway.url(f"/v1/shipments/{shipment_id}/label"),
        {**headers, "Idempotency-Key": f"label-{shipment_id}"},
        json={},
    )
    assert refused.status_code == 422, refused.text
    assert ("customs", "required") in {(p["path"], p["code"]) for p in refused.json()["problems"]}
    assert sold_for(simulator, shipment_id) == []
