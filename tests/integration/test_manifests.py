"""End-of-day manifests over the API: FedEx Ground close, USPS SCAN form, UPS and DHL Express gateway
manifests, and the own fleet's dispatch per van.

The carriers' HTTP is mocked with replies shaped as their published contracts (FedEx Ship API
``PUT /ship/v1/endofday/``, USPS ``POST /scan-forms/v3/scan-form``; the adapters' unit fixtures).
Shipments are booked through the API and given a bought label as the label flow records it, on a
fixed past day, so nothing depends on the clock.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import uuid
from datetime import UTC, date, datetime, time
from typing import Any

import pypdfium2 as pdfium
import pytest
import responses

from adapters import registry
from gateway.kernel import models
from gateway.labels import tables as label_tables
from gateway.manifests.tables import Manifest
from tests.helpers import label_sellers, shipment_body
from tests.unit.adapters_fedex import fedex_fixtures as fx
from tests.unit.adapters_usps import usps_fixtures as usps

pytestmark = pytest.mark.integration

DAY = date(2025, 5, 26)
BOUGHT_AT = datetime.combine(DAY, time(15, 30), tzinfo=UTC)
FEDEX_CLOSE_URL = fx.BASE_URL + "/ship/v1/endofday/"
UPS = {
    "client_id": "cid",
    "client_secret": "csecret",
    "account_number": "A1B2C3",
    "base_url": "https://ups.invalid",
}
DHL = {
    "username": "dhl-user",
    "password": "dhl-password",
    "account_number": "950000001",
    "base_url": "https://dhl.invalid/sndpt",
}
CARRIERS = [
    {"adapter": "fedex", "id": "fedex", "config": fx.CONFIG},
    {"adapter": "usps", "id": "usps", "config": usps.CONFIG},
    {"adapter": "ups", "id": "ups", "config": UPS},
    {"adapter": "dhl_express", "id": "dhl_express", "config": DHL},
]


@pytest.fixture
def enable(app: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Enable FedEx, USPS, UPS and DHL Express (fresh adapters), once the shipments are booked."""

    def go() -> None:
        monkeypatch.setattr(app.extensions["handoff"], "_carriers", registry.load(CARRIERS))

    return go


@functools.cache
def account_of(carrier: str) -> str | None:
    """The account a label records: the adapter's account_id (the carrier's account number)."""
    loaded = registry.load(CARRIERS)
    return loaded.get(carrier).account_id if carrier in set(loaded) else None


def book(client: Any, tenant: Any, reference: str, city: str = "New York", postal: str = "10019") -> str:
    body = shipment_body(reference)
    body["destination"].update(city=city, postal_code=postal)
    made = client.post("/v1/shipments", json=body, headers=tenant.headers)
    assert made.status_code == 201, made.get_json()
    return str(made.get_json()["id"])


def buy(
    app: Any,
    tenant: Any,
    shipment_id: str,
    carrier: str,
    service: str,
    number: str,
    *,
    cost_minor: int = 1250,
    status: str = "purchased",
    bought_at: datetime = BOUGHT_AT,
    account: str | None = None,
) -> None:
    """Record a bought label as the label flow does (shipment purchased, a labels row)."""
    with app.extensions["handoff"].sessions() as session:
        shipment = session.get(models.Shipment, shipment_id)
        shipment.carrier, shipment.service = carrier, service
        shipment.tracking_number, shipment.status = number, "purchased" if status == "purchased" else "voided"
        session.add(
            label_tables.Label(
                tenant_id=tenant.tenant_id,
                shipment_id=shipment_id,
                carrier=carrier,
                service=service,
                tracking_number=number,
                tracking_numbers=[number],
                status=status,
                cost_minor=cost_minor,
                currency="USD",
                format="PDF",
                purchased_at=bought_at,
                account=account or account_of(carrier),
            )
        )
        session.commit()


def close(client: Any, tenant: Any, carrier: str, **extra: Any) -> Any:
    body = {"carrier": carrier, "date": DAY.isoformat(), "time_zone": "UTC", **extra}
    return client.post(
        "/v1/manifests", json=body, headers={**tenant.headers, "Idempotency-Key": uuid.uuid4().hex}
    )


def pdf_text(data: bytes) -> str:
    pdf = pdfium.PdfDocument(io.BytesIO(data))
    try:
        return "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()


def mock_fedex_close(status: int = 200) -> None:
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    parts = [
        {"documentPartSequenceNumber": 1, "image": base64.b64encode(b"%PDF-1.4 OP-950 ").decode()},
        {"documentPartSequenceNumber": 2, "image": base64.b64encode(b"part two").decode()},
    ]
    reply: dict[str, Any] = {
        "transactionId": "624deea6-b709-470c-8c39-4b5511281492",
        "output": {"closeDocuments": [{"type": "OP_950", "copiesToPrint": 1, "parts": parts}], "alerts": []},
    }
    if status != 200:
        reply = {
            "errors": [
                {"code": "SERVICE.UNAVAILABLE.ERROR", "message": "The service is currently unavailable"}
            ]
        }
    responses.put(FEDEX_CLOSE_URL, status=status, json=reply)


def close_calls() -> list[Any]:
    return [c for c in responses.calls if c.request.url in (FEDEX_CLOSE_URL, usps.SCAN_URL)]


@responses.activate
def test_a_fedex_day_is_closed_at_fedex_and_listed_once(app, client, make_tenant, enable):
    tenant = make_tenant(("platform", "ops"))
    ground = [book(client, tenant, f"FX-G-{i}", "Chicago", "60601") for i in range(2)]
    express = book(client, tenant, "FX-E", "Boston", "02110")
    later = book(client, tenant, "FX-LATER")
    voided = book(client, tenant, "FX-VOID")
    other_day = book(client, tenant, "FX-OTHER-DAY")
    other_account = book(client, tenant, "FX-OTHER-ACCOUNT")
    enable()
    buy(app, tenant, ground[0], "fedex", "FEDEX_GROUND", "794600000001", cost_minor=1000)
    buy(app, tenant, ground[1], "fedex", "GROUND_HOME_DELIVERY", "794600000002", cost_minor=1550)
    buy(app, tenant, express, "fedex", "PRIORITY_OVERNIGHT", "794600000003", cost_minor=4000)
    buy(app, tenant, voided, "fedex", "FEDEX_GROUND", "794600000004", status="voided")
    buy(
        app,
        tenant,
        other_day,
        "fedex",
        "FEDEX_GROUND",
        "794600000005",
        bought_at=datetime(2025, 5, 25, 23, tzinfo=UTC),
    )
    buy(app, tenant, other_account, "fedex", "FEDEX_GROUND", "794600000007", account="510087020")
    mock_fedex_close()

    made = close(client, tenant, "fedex")

    assert made.status_code == 201, made.get_json()
    (manifest,) = made.get_json()["data"]
    assert (manifest["carrier"], manifest["account"], manifest["kind"], manifest["state"]) == (
        "fedex",
        "fedex",
        "carrier",
        "closed",
    )
    assert made.headers["Location"].endswith(f"/v1/manifests/{manifest['id']}")
    sent = json.loads(close_calls()[0].request.body)
    assert sent == {
        "accountNumber": {"value": fx.ACCOUNT},
        "closeReqType": "GCDR",
        "groundServiceCategory": "GROUND",
        "closeDate": DAY.isoformat(),
    }
    assert [s["tracking_number"] for s in manifest["shipments"]] == [
        "794600000001",
        "794600000002",
        "794600000003",
    ]
    assert manifest["shipments"][0]["destination"] == {
        "city": "Chicago",
        "postal_code": "60601",
        "country_code": "US",
    }
    assert manifest["totals"] == {
        "count": 3,
        "weight": [{"value": "7.5", "unit": "lb"}],
        "cost": [{"amount": "65.5", "currency": "USD"}],
    }
    assert manifest["carrier_document"]["type"] == "OP_950"
    carrier_pdf = client.get(manifest["carrier_document"]["url"], headers=tenant.headers)
    assert carrier_pdf.status_code == 200 and carrier_pdf.data == b"%PDF-1.4 OP-950 part two"

    document = client.get(manifest["document_url"], headers=tenant.headers)
    assert document.status_code == 200 and document.mimetype == "application/pdf"
    text = pdf_text(document.data)
    for number in ("794600000001", "794600000002", "794600000003", "FX-G-0", "Chicago", "60601"):
        assert number in text
    assert all(n not in text for n in ("794600000004", "794600000005", "794600000007"))
    assert "Shipments: 3" in text and "65.50 USD" in text and "7.5 lb" in text

    # A second close of the day finds nothing new: no second call to FedEx.
    again = close(client, tenant, "fedex")
    assert again.status_code == 409
    assert again.get_json()["type"].endswith("/manifest-empty")
    assert len(close_calls()) == 1

    # A label bought later that day is the only one on the next close.
    buy(app, tenant, later, "fedex", "FEDEX_GROUND", "794600000006")
    mock_fedex_close()
    second = close(client, tenant, "fedex")
    assert second.status_code == 201, second.get_json()
    assert [s["tracking_number"] for s in second.get_json()["data"][0]["shipments"]] == ["794600000006"]


@responses.activate
def test_a_usps_day_gets_a_scan_form_for_its_labels(app, client, make_tenant, enable):
    tenant = make_tenant(("platform", "ops"))
    ids = [book(client, tenant, f"US-{i}") for i in range(2)]
    enable()
    numbers = ["9400100000000000000011", "9400100000000000000028"]
    for shipment_id, number in zip(ids, numbers, strict=True):
        buy(app, tenant, shipment_id, "usps", "USPS_GROUND_ADVANTAGE", number, cost_minor=725)
    responses.post(usps.TOKEN_URL, json=usps.TOKEN_REPLY)
    responses.post(
        usps.SCAN_URL,
        status=201,
        json={
            "form": "5630",
            "imageType": "PDF",
            "labelType": "8.5x11LABEL",
            "mailingDate": DAY.isoformat(),
            "overwriteMailingDate": False,
            "entryFacilityZIPCode": "07094",
            "destinationEntryFacilityType": "NONE",
            "shipment": {"trackingNumbers": numbers},
            "manifestNumber": "9475038234567000031430",
            "trackingNumbers": numbers,
            "SCANFormImage": base64.b64encode(b"%PDF-1.4 PS 5630").decode(),
        },
    )

    made = close(client, tenant, "usps")

    assert made.status_code == 201, made.get_json()
    (manifest,) = made.get_json()["data"]
    assert (manifest["kind"], manifest["state"], manifest["carrier_reference"]) == (
        "carrier",
        "closed",
        "9475038234567000031430",
    )
    sent = json.loads(close_calls()[0].request.body)
    assert sent["shipment"] == {"trackingNumbers": numbers}
    assert (sent["mailingDate"], sent["entryFacilityZIPCode"], sent["form"]) == (
        DAY.isoformat(),
        "07094",
        "5630",
    )
    assert manifest["carrier_document"]["type"] == "PS_5630"
    form = client.get(manifest["carrier_document"]["url"], headers=tenant.headers)
    assert form.data == b"%PDF-1.4 PS 5630"
    text = pdf_text(client.get(manifest["document_url"], headers=tenant.headers).data)
    assert all(n in text for n in numbers) and "9475038234567000031430" in text


@pytest.mark.parametrize(
    ("carrier", "service", "number"),
    [("ups", "03", "1Z999AA10123456784"), ("dhl_express", "P", "1234567890")],
)
@responses.activate
def test_ups_and_dhl_express_days_get_the_gateways_own_manifest(
    app, client, make_tenant, enable, carrier, service, number
):
    tenant = make_tenant(("platform", "ops"))
    shipment_id = book(client, tenant, f"GW-{carrier}")
    enable()
    buy(app, tenant, shipment_id, carrier, service, number)

    made = close(client, tenant, carrier)  # no carrier HTTP is mocked: none may be called

    assert made.status_code == 201, made.get_json()
    (manifest,) = made.get_json()["data"]
    assert (manifest["kind"], manifest["state"], manifest["carrier_document"]) == ("gateway", "closed", None)
    assert manifest["carrier_reference"] is None and len(responses.calls) == 0
    text = pdf_text(client.get(manifest["document_url"], headers=tenant.headers).data)
    assert number in text and f"GW-{carrier}" in text and "no end-of-day close through its API" in text
    missing = client.get(f"/v1/manifests/{manifest['id']}/document?source=carrier", headers=tenant.headers)
    assert missing.status_code == 404 and missing.get_json()["type"].endswith(
        "/manifest-document-unavailable"
    )
    assert close(client, tenant, carrier).status_code == 409


@responses.activate
def test_a_failed_fedex_close_is_kept_and_retried_with_the_same_shipments(app, client, make_tenant, enable):
    tenant = make_tenant(("platform", "ops"))
    shipment_id = book(client, tenant, "FX-RETRY")
    enable()
    buy(app, tenant, shipment_id, "fedex", "FEDEX_GROUND", "794600000101")
    mock_fedex_close(status=503)

    failed = close(client, tenant, "fedex")

    assert failed.status_code == 503, failed.get_json()
    problem = failed.get_json()
    assert problem["type"].endswith("/carrier-unavailable")
    listed = client.get("/v1/manifests", headers=tenant.headers).get_json()["data"]
    assert [(m["id"], m["state"], m["shipment_count"]) for m in listed] == [
        (problem["manifest_id"], "failed", 1)
    ]
    assert listed[0]["document_url"] is None

    responses.replace(responses.PUT, FEDEX_CLOSE_URL, json={"output": {"closeDocuments": [], "alerts": []}})
    retried = close(client, tenant, "fedex")

    assert retried.status_code == 201, retried.get_json()
    (manifest,) = retried.get_json()["data"]
    assert (manifest["id"], manifest["state"], manifest["attempts"]) == (problem["manifest_id"], "closed", 2)
    assert [s["tracking_number"] for s in manifest["shipments"]] == ["794600000101"]
    assert manifest["carrier_document"] is None


@responses.activate
def test_a_close_with_an_idempotency_key_replays_and_calls_fedex_once(app, client, make_tenant, enable):
    tenant = make_tenant(("platform", "ops"))
    shipment_id = book(client, tenant, "FX-IDEM")
    enable()
    buy(app, tenant, shipment_id, "fedex", "FEDEX_GROUND", "794600000201")
    mock_fedex_close()
    headers = {**tenant.headers, "Idempotency-Key": uuid.uuid4().hex}
    body = {"carrier": "fedex", "date": DAY.isoformat()}

    first = client.post("/v1/manifests", json=body, headers=headers)
    second = client.post("/v1/manifests", json=body, headers=headers)

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.get_json() == second.get_json()
    assert len(close_calls()) == 1


def test_the_day_is_counted_in_the_given_time_zone(app, client, make_tenant, enable):
    tenant = make_tenant(("platform", "ops"))
    late = book(client, tenant, "UPS-LATE")
    enable()
    # 02:00 UTC on the 27th is still the 26th in Chicago.
    buy(app, tenant, late, "ups", "03", "1Z999AA10123456799", bought_at=datetime(2025, 5, 27, 2, tzinfo=UTC))

    assert close(client, tenant, "ups").status_code == 409  # the UTC 26th holds nothing
    made = close(client, tenant, "ups", time_zone="America/Chicago")
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["data"][0]["shipments"][0]["shipment_id"] == late


def test_another_tenant_cannot_see_a_manifest(app, client, make_tenant, enable):
    owner, other = make_tenant(("platform", "ops")), make_tenant(("ops", "platform"))
    shipment_id = book(client, owner, "ISO-1")
    enable()
    buy(app, owner, shipment_id, "ups", "03", "1Z999AA10123456701")
    manifest = close(client, owner, "ups").get_json()["data"][0]

    for path in (f"/v1/manifests/{manifest['id']}", f"/v1/manifests/{manifest['id']}/document"):
        resp = client.get(path, headers=other.headers)
        assert resp.status_code == 404 and resp.get_json()["type"].endswith("/not-found")
    assert client.get("/v1/manifests", headers=other.headers).get_json()["data"] == []
    assert close(client, other, "ups").status_code == 409  # the owner's shipment is not the other's to close
    assert [m["id"] for m in client.get("/v1/manifests", headers=owner.headers).get_json()["data"]] == [
        manifest["id"]
    ]


def test_closing_needs_an_enabled_carrier_and_a_past_day(client, make_tenant, enable):
    tenant = make_tenant(("platform", "ops"))
    enable()
    unknown = close(client, tenant, "purolator")
    assert unknown.status_code == 422 and "carrier" in unknown.get_json()["errors"]
    future = client.post(
        "/v1/manifests", json={"carrier": "ups", "date": "2999-01-01"}, headers=tenant.headers
    )
    assert future.status_code == 422 and "date" in future.get_json()["errors"]
    ancient = close(client, tenant, "ups", date="0001-01-01", time_zone="Asia/Tokyo")
    assert ancient.status_code == 422 and "date" in ancient.get_json()["errors"]
    wrong_account = close(client, tenant, "ups", account="fedex")
    assert wrong_account.status_code == 422 and "account" in wrong_account.get_json()["errors"]
    reader = make_tenant(("finance",))
    assert close(client, reader, "ups").status_code == 403


def test_an_applied_plan_gets_one_dispatch_manifest_per_van(app, client, make_tenant, monkeypatch):
    from tests.integration.test_allocation_plans import MIDTOWN, local_day, plan_day, setup_fleet
    from tests.integration.test_allocation_plans import book as book_at

    monkeypatch.setattr(app.extensions["handoff"], "_carriers", label_sellers("ups", "dhl_express"))
    tenant = make_tenant(("platform", "ops"))
    shipments = [book_at(client, tenant, w, f"VAN-{i}") for i, w in enumerate(MIDTOWN[:5])]
    day = local_day(shipments[0])
    setup_fleet(client, tenant)
    plan = plan_day(client, app, tenant, day)
    applied = client.post(f"/v1/allocation/plans/{plan['id']}/apply", json={}, headers=tenant.headers)
    assert applied.status_code == 200, applied.get_json()
    routes = [r for r in plan["result"]["routes"] if r["stops"]]
    assert routes, plan["result"]

    made = client.post(
        "/v1/manifests", json={"carrier": "fleet", "plan_id": plan["id"]}, headers=tenant.headers
    )

    assert made.status_code == 201, made.get_json()
    manifests = made.get_json()["data"]
    assert [m["vehicle_id"] for m in manifests] == [r["vehicle_id"] for r in routes]
    for manifest, route in zip(manifests, routes, strict=True):
        assert (manifest["carrier"], manifest["kind"], manifest["state"], manifest["plan_id"]) == (
            "fleet",
            "dispatch",
            "closed",
            plan["id"],
        )
        assert manifest["date"] == day.isoformat()
        assert [s["shipment_id"] for s in manifest["shipments"]] == [s["shipment_id"] for s in route["stops"]]
        assert [s["position"] for s in manifest["shipments"]] == [s["sequence"] for s in route["stops"]]
        first = manifest["shipments"][0]
        assert first["stop"]["street_lines"] == ["21 W 52nd St", "Apt 4"]
        assert first["stop"]["eta"] == route["stops"][0]["eta_local"]
        text = pdf_text(client.get(manifest["document_url"], headers=tenant.headers).data)
        assert all(s["reference"] in text for s in route["stops"]) and "21 W 52nd St" in text

    again = client.post(
        "/v1/manifests", json={"carrier": "fleet", "plan_id": plan["id"]}, headers=tenant.headers
    )
    assert again.status_code == 409 and again.get_json()["type"].endswith("/manifest-empty")
    with app.extensions["handoff"].sessions() as session:
        assert session.query(Manifest).filter_by(tenant_id=tenant.tenant_id).count() == len(routes)
