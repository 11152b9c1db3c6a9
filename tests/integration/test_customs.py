"""Customs over the API: a declaration booked, stored and returned; checked per destination before purchase;
sent to DHL Express and FedEx with the label request; the commercial invoice downloadable as a PDF.

DHL Express (SOAP) and FedEx (REST) are mocked with ``responses``, replies shaped as their published
contracts (the adapters' unit fixtures); the purchase job runs in-process (``purchasing.run_purchase``).
"""

from __future__ import annotations

import base64
import copy
import io
import json
import random
import re
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
import responses
import sqlalchemy as sa
from lxml import etree

from adapters import registry
from gateway.kernel import models
from gateway.labels import purchasing
from tests.customs_fixtures import customs_body
from tests.helpers import shipment_body
from tests.unit.adapters_fedex import fedex_fixtures as fx

pytestmark = pytest.mark.integration

DHL_BASE = "http://dhl.customs.test/sndpt"
DHL_URL = f"{DHL_BASE}/expressRateBook"
DHL_DATA = Path(__file__).resolve().parents[1] / "unit" / "adapters_dhl" / "data"
DHL_INVOICE = b"%PDF-1.4\n% DHL customs invoice (paperless trade)\n%%EOF\n"
FEDEX_INVOICE = b"%PDF-1.4\n% FedEx commercial invoice (ETD)\n%%EOF\n"
CARRIERS = [
    {
        "adapter": "dhl_express",
        "id": "dhl_express",
        "config": {
            "username": "u",
            "password": "p-customs",
            "account_number": "123456789",
            "base_url": DHL_BASE,
        },
    },
    {
        "adapter": "fedex",
        "id": "fedex",
        "config": {
            "client_id": "cid",
            "client_secret": "csecret",
            "account_number": fx.ACCOUNT,
            "base_url": fx.BASE_URL,
        },
    },
]


@pytest.fixture(autouse=True)
def carriers(app: Any, monkeypatch: pytest.MonkeyPatch) -> registry.Registry:
    """DHL Express and FedEx enabled, on accounts of their own (circuit breakers are per account)."""
    configured = copy.deepcopy(CARRIERS)
    configured[0]["config"]["account_number"] = str(random.randrange(10**8, 10**9))
    configured[1]["config"]["account_number"] = str(random.randrange(10**8, 10**9))
    loaded = registry.load(configured)
    monkeypatch.setattr(app.extensions["handoff"], "_carriers", loaded)
    return loaded


def dhl_ship_reply(awb: str) -> str:
    """DHL's createShipmentRequest reply for waybill ``awb``, with its customs invoice in Documents."""
    text = (DHL_DATA / "ship_reply.xml").read_text(encoding="utf-8").replace("1234567890", awb)
    documents = (
        "<Documents><Document><DocumentName>CustomsInvoice</DocumentName><DocumentFormat>PDF</DocumentFormat>"
        f"<DocumentImage>{base64.b64encode(DHL_INVOICE).decode()}</DocumentImage></Document></Documents>"
    )
    return text.replace("<ShipmentIdentificationNumber>", documents + "<ShipmentIdentificationNumber>", 1)


def fedex_ship_reply(number: str) -> dict[str, Any]:
    reply = copy.deepcopy(fx.SHIP_REPLY)
    shipment = reply["output"]["transactionShipments"][0]
    shipment["masterTrackingNumber"] = number
    shipment["pieceResponses"][0]["trackingNumber"] = number
    shipment["pieceResponses"][0]["masterTrackingNumber"] = number
    shipment["completedShipmentDetail"]["masterTrackingId"]["trackingNumber"] = number
    shipment["shipmentDocuments"] = [
        {
            "contentType": "COMMERCIAL_INVOICE",
            "copiesToPrint": 1,
            "docType": "PDF",
            "encodedLabel": base64.b64encode(FEDEX_INVOICE).decode(),
        }
    ]
    return reply


class DhlStub:
    """DHL's expressRateBook endpoint: rates from the unit fixture, a label for the waybill drawn here."""

    def __init__(self) -> None:
        self.awb = str(random.randrange(10**9, 10**10))

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        if b"ShipmentRequest" in request.body:
            return 200, {"Content-Type": "text/xml"}, dhl_ship_reply(self.awb)
        return 200, {"Content-Type": "text/xml"}, (DHL_DATA / "rate_reply.xml").read_text(encoding="utf-8")


@pytest.fixture
def dhl() -> DhlStub:
    return DhlStub()


@pytest.fixture(autouse=True)
def carrier_http(dhl: DhlStub) -> Iterator[responses.RequestsMock]:
    """Carrier HTTP answered as the published contracts describe: DHL's SOAP, FedEx's OAuth, Rate, Ship."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, DHL_URL, callback=dhl)
        mock.add(responses.POST, fx.TOKEN_URL, json=fx.TOKEN_REPLY)
        mock.add(responses.POST, fx.RATE_URL, json=json.loads(fx.dumps(fx.RATE_REPLY)))
        yield mock


def booking(reference: str, **changes: Any) -> dict[str, Any]:
    """A US to DE booking, both parties with the phone numbers and names DHL and FedEx labels need."""
    body = shipment_body(reference)
    body["origin"].update(company="Acme Widgets", phone="+1 201-555-0100")
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


def book(client: Any, tenant: Any, **changes: Any) -> dict[str, Any]:
    created = client.post(
        "/v1/shipments", json=booking(f"CUS-{uuid.uuid4().hex[:6]}", **changes), headers=tenant.headers
    )
    assert created.status_code == 201, created.get_json()
    return created.get_json()


def choose(app: Any, shipment_id: str, carrier: str, service: str) -> None:
    """Give the shipment a carrier's service as a selected rate would (no live rate is mocked here)."""
    with app.extensions["handoff"].sessions() as session:
        session.execute(
            sa.update(models.Shipment)
            .where(models.Shipment.id == shipment_id)
            .values(carrier=carrier, service=service)
        )
        session.commit()


def buy(app: Any, client: Any, tenant: Any, shipment_id: str) -> dict[str, Any]:
    requested = client.post(
        f"/v1/shipments/{shipment_id}/label",
        json={"label_format": "pdf"},
        headers={**tenant.headers, "Idempotency-Key": f"label-{shipment_id}"},
    )
    assert requested.status_code == 202, requested.get_json()
    assert purchasing.run_purchase(app.extensions["handoff"], shipment_id) == "purchased"
    shipment = client.get(f"/v1/shipments/{shipment_id}", headers=tenant.headers).get_json()
    assert shipment["status"] == "purchased", shipment
    return shipment


def pdf_text(data: bytes) -> str:
    pdf = pdfium.PdfDocument(io.BytesIO(data))
    return "\n".join(pdf[n].get_textpage().get_text_range() for n in range(len(pdf)))


def exact(declaration: dict[str, Any]) -> dict[str, Any]:
    """A declaration with its amounts and weights as Decimals (the API writes ``12.50`` as ``12.5``)."""
    out = copy.deepcopy(declaration)
    for item in out["items"]:
        item["unit_value"]["amount"] = Decimal(item["unit_value"]["amount"])
        item["weight"]["value"] = Decimal(item["weight"]["value"])
    return out


def invoice(client: Any, tenant: Any, shipment_id: str, source: str = "gateway") -> Any:
    return client.get(
        f"/v1/shipments/{shipment_id}/documents/commercial-invoice?source={source}", headers=tenant.headers
    )


# -- booking ------------------------------------------------------------------------------------------------


def test_a_booking_with_customs_is_stored_in_minor_units_and_returned_as_sent(app, client, make_tenant):
    tenant = make_tenant(("platform", "ops"))
    shipment = book(client, tenant, customs=customs_body())

    assert exact(shipment["customs"]) == exact(customs_body())
    shown = client.get(f"/v1/shipments/{shipment['id']}", headers=tenant.headers).get_json()
    assert shown["customs"] == shipment["customs"]
    assert shown["customs"]["items"][0]["unit_value"] == {"amount": "12.5", "currency": "USD"}
    with app.extensions["handoff"].sessions() as session:
        row = session.get(models.Shipment, shipment["id"])
        stored = row.customs
    assert [(i["unit_value_minor"], i["currency"], i["weight"]) for i in stored["items"]] == [
        (1250, "USD", "0.4"),
        (800, "USD", "0.35"),
    ]


def test_a_booking_without_customs_shows_none_and_an_unknown_content_type_is_refused(client, make_tenant):
    tenant = make_tenant(("platform",))
    assert book(client, tenant)["customs"] is None

    refused = client.post(
        "/v1/shipments",
        json=booking("CUS-BAD", customs=customs_body(content_type="weapons", incoterm="EXW")),
        headers=tenant.headers,
    )
    assert refused.status_code == 422
    assert set(refused.get_json()["errors"]) == {"customs.content_type", "customs.incoterm"}


def test_customs_can_be_replaced_and_cleared_by_patch(client, make_tenant):
    tenant = make_tenant(("platform",))
    shipment = book(client, tenant, customs=customs_body())
    etag = f'W/"{shipment["version"]}"'
    gift = customs_body(content_type="gift", items=customs_body()["items"][:1])
    patched = client.patch(
        f"/v1/shipments/{shipment['id']}",
        json={"customs": gift},
        headers={**tenant.headers, "If-Match": etag},
    )
    assert patched.status_code == 200, patched.get_json()
    assert exact(patched.get_json()["customs"]) == exact(gift)
    etag = f'W/"{patched.get_json()["version"]}"'
    cleared = client.patch(
        f"/v1/shipments/{shipment['id']}",
        json={"customs": None},
        headers={**tenant.headers, "If-Match": etag},
    )
    assert cleared.status_code == 200, cleared.get_json()
    assert cleared.get_json()["customs"] is None


# -- validation per destination -----------------------------------------------------------------------------


def problems_of(response: Any) -> set[tuple[str, str]]:
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["type"].endswith("/shipment-invalid")
    return {(p["path"], p["code"]) for p in body["problems"]}


@pytest.mark.parametrize("carrier,service", [("dhl_express", "P"), ("fedex", "FEDEX_INTERNATIONAL_PRIORITY")])
def test_validate_names_the_missing_customs_declaration_of_goods_from_us_to_de(
    client, make_tenant, carrier, service
):
    tenant = make_tenant(("platform",))
    body = booking("CUS-VAL", carrier=carrier, service=service)
    del body["parcels"][0]["declared_value"]

    assert ("customs", "required") in problems_of(
        client.post("/v1/validate", json=body, headers=tenant.headers)
    )

    body["customs"] = customs_body()
    valid = client.post("/v1/validate", json=body, headers=tenant.headers)
    assert valid.status_code == 200, valid.get_json()


def test_validate_names_every_bad_line_of_a_declaration_by_its_path(client, make_tenant):
    tenant = make_tenant(("platform",))
    items = customs_body()["items"]
    items[0] = {**items[0], "hs_code": "61-09", "origin_country": "XX"}
    items[1] = {**items[1], "hs_code": None, "unit_value": {"amount": "0", "currency": "EUR"}}
    body = booking(
        "CUS-VAL2",
        carrier="dhl_express",
        service="P",
        customs=customs_body(incoterm="DDP", items=items, importer_tax_ids=[{"type": "EIN", "number": "1"}]),
    )

    assert problems_of(client.post("/v1/validate", json=body, headers=tenant.headers)) == {
        ("customs.items.0.hs_code", "invalid_format"),
        ("customs.items.0.origin_country", "invalid_format"),
        ("customs.items.1.hs_code", "required"),
        ("customs.items.1.unit_value", "currency_mismatch"),
        ("customs.importer_tax_ids.0.number", "invalid_format"),
        ("customs.importer_tax_ids", "tax_id_required"),
    }


def test_documents_need_no_items_and_inside_the_eu_no_declaration_at_all(client, make_tenant):
    tenant = make_tenant(("platform",))
    documents = booking(
        "CUS-DOC", carrier="dhl_express", service="P", customs={"content_type": "documents", "items": []}
    )
    assert client.post("/v1/validate", json=documents, headers=tenant.headers).status_code == 200

    inside_eu = booking("CUS-EU", carrier="dhl_express", service="P")
    inside_eu["origin"].update(country_code="FR", postal_code="75001", city="Paris", state=None)
    del inside_eu["parcels"][0]["declared_value"]
    assert client.post("/v1/validate", json=inside_eu, headers=tenant.headers).status_code == 200


def test_a_label_request_without_the_declaration_is_refused_before_anything_is_bought(
    app, client, make_tenant, carrier_http
):
    tenant = make_tenant(("platform",))
    body = booking("CUS-NOLABEL")
    del body["parcels"][0]["declared_value"]
    created = client.post("/v1/shipments", json=body, headers=tenant.headers)
    assert created.status_code == 201
    shipment_id = created.get_json()["id"]
    choose(app, shipment_id, "dhl_express", "P")

    refused = client.post(
        f"/v1/shipments/{shipment_id}/label",
        json={},
        headers={**tenant.headers, "Idempotency-Key": shipment_id},
    )
    assert ("customs", "required") in problems_of(refused)
    assert not [c for c in carrier_http.calls if "ShipmentRequest" in str(c.request.body or "")]


# -- the label requests carry the declaration ----------------------------------------------------------------


def dhl_ship_body(mock: responses.RequestsMock) -> etree._Element:
    [call] = [c for c in mock.calls if c.request.url == DHL_URL and b"ShipmentRequest" in c.request.body]
    return etree.fromstring(call.request.body)


def find(node: etree._Element, path: str) -> list[etree._Element]:
    return node.xpath("//*[local-name()='" + "']/*[local-name()='".join(path.split("/")) + "']")


def test_a_dhl_express_label_carries_the_declaration_and_both_invoices_are_kept(
    app, client, make_tenant, carrier_http, dhl
):
    tenant = make_tenant(("platform", "ops"))
    shipment = book(client, tenant, customs=customs_body(incoterm="DDP"))
    choose(app, shipment["id"], "dhl_express", "P")

    bought = buy(app, client, tenant, shipment["id"])

    envelope = dhl_ship_body(carrier_http)
    lines = find(envelope, "ExportDeclaration/ExportLineItems/ExportLineItem")
    assert [
        {child.tag: child.text for child in line if child.tag in ("CommodityCode", "Quantity", "UnitPrice")}
        for line in lines
    ] == [
        {"CommodityCode": "61091000", "Quantity": "2", "UnitPrice": "12.500"},
        {"CommodityCode": "691200", "Quantity": "1", "UnitPrice": "8.000"},
    ]
    assert [n.text for n in find(envelope, "ExportLineItem/ManufacturingCountryCode")] == ["US", "CN"]
    assert [n.text for n in find(envelope, "InternationalDetail/Content")] == ["NON_DOCUMENTS"]
    assert [n.text for n in find(envelope, "RequestedShipment/PaymentInfo")] == ["DDP"]
    assert [n.text for n in find(envelope, "Commodities/CustomsValue")] == ["33.000"]
    assert [n.text for n in find(envelope, "ExportDeclaration/InvoiceNumber")] == ["INV-1001"]
    assert [n.text for n in find(envelope, "ShipmentInfo/PaperlessTradeEnabled")] == ["true"]
    assert [
        n.text for n in find(envelope, "Recipient/RegistrationNumbers/RegistrationNumber/NumberTypeCode")
    ] == ["EOR"]

    ours = invoice(client, tenant, shipment["id"])
    assert ours.status_code == 200 and ours.mimetype == "application/pdf"
    text = pdf_text(ours.data)
    for expected in ("COMMERCIAL INVOICE", "INV-1001", "Cotton T-shirt", "Ceramic mug", "61091000", "DDP"):
        assert expected in text
    assert "25.00 USD" in text and "Total declared value: 33.00 USD" in text
    assert "Total net weight: 0.750 kg" in text
    assert bought["tracking_number"] == dhl.awb and dhl.awb in text
    theirs = invoice(client, tenant, shipment["id"], "carrier")
    assert theirs.status_code == 200 and theirs.data == DHL_INVOICE


def test_a_fedex_label_carries_customs_clearance_detail_and_keeps_fedexs_invoice(
    app, client, make_tenant, carrier_http
):
    tenant = make_tenant(("platform", "ops"))
    shipment = book(client, tenant, customs=customs_body())
    choose(app, shipment["id"], "fedex", "FEDEX_INTERNATIONAL_PRIORITY")
    number = str(random.randrange(10**11, 10**12))
    carrier_http.add(responses.POST, fx.SHIP_URL, json=json.loads(fx.dumps(fedex_ship_reply(number))))

    buy(app, client, tenant, shipment["id"])

    [call] = [c for c in carrier_http.calls if c.request.url == fx.SHIP_URL]
    sent = json.loads(call.request.body)["requestedShipment"]
    detail = sent["customsClearanceDetail"]
    assert detail["dutiesPayment"] == {"paymentType": "RECIPIENT"}
    assert detail["commercialInvoice"]["termsOfSale"] == "DAP"
    assert detail["commercialInvoice"]["shipmentPurpose"] == "SOLD"
    assert detail["totalCustomsValue"] == {"amount": 33, "currency": "USD"}
    assert [
        (c["description"], c["quantity"], c["harmonizedCode"], c["countryOfManufacture"], c["unitPrice"])
        for c in detail["commodities"]
    ] == [
        ("Cotton T-shirt", 2, "61091000", "US", {"amount": 12.5, "currency": "USD"}),
        ("Ceramic mug", 1, "691200", "CN", {"amount": 8, "currency": "USD"}),
    ]
    assert sent["shipper"]["tins"] == [{"number": "123456789", "tinType": "FEDERAL", "usage": "EIN"}]
    assert sent["recipients"][0]["tins"][0]["number"] == "DE123456789012345"
    assert "ELECTRONIC_TRADE_DOCUMENTS" in sent["shipmentSpecialServices"]["specialServiceTypes"]

    text = pdf_text(invoice(client, tenant, shipment["id"]).data)
    assert "Cotton T-shirt" in text and "Total declared value: 33.00 USD" in text and number in text
    assert invoice(client, tenant, shipment["id"], "carrier").data == FEDEX_INVOICE


# -- the invoice download -----------------------------------------------------------------------------------


def test_before_the_label_the_invoice_is_pro_forma_and_without_a_declaration_there_is_none(
    client, make_tenant
):
    tenant = make_tenant(("platform",))
    shipment = book(client, tenant, customs=customs_body())
    draft = invoice(client, tenant, shipment["id"])
    assert draft.status_code == 200
    assert "PRO FORMA INVOICE" in pdf_text(draft.data)
    missing = invoice(client, tenant, shipment["id"], "carrier")
    assert missing.status_code == 404
    assert missing.get_json()["type"].endswith("/customs-document-unavailable")

    plain = book(client, tenant)
    refused = invoice(client, tenant, plain["id"])
    assert refused.status_code == 409
    assert refused.get_json()["type"].endswith("/customs-not-declared")


def test_another_tenants_invoice_is_not_found(client, make_tenant):
    owner, other = make_tenant(("platform",)), make_tenant(("platform",))
    shipment = book(client, owner, customs=customs_body())
    assert invoice(client, other, shipment["id"]).status_code == 404


def test_the_invoice_lists_every_line_over_several_pages(client, make_tenant):
    tenant = make_tenant(("platform",))
    line = customs_body()["items"][1]
    items = [{**line, "description": f"Mug model {n:02d}"} for n in range(30)]
    shipment = book(client, tenant, customs=customs_body(items=items))
    data = invoice(client, tenant, shipment["id"]).data
    text = pdf_text(data)
    assert len(pdfium.PdfDocument(io.BytesIO(data))) == 2
    assert all(f"Mug model {n:02d}" in text for n in range(30))
    assert "Total declared value: 240.00 USD" in text
    assert re.search(r"Total units: 30\b", text)
