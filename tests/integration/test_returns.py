"""Returns over the API: a bought shipment's return, its print-at-home UPS return label, tracking and KPIs.

UPS's HTTP is mocked with ``responses`` and replies shaped as Shipping.yaml's ShipmentResponse (the
adapters' unit fixtures); the purchase job runs in-process (``purchasing.run_purchase``, what the label
job calls). A return is a shipment of its own, linked both ways, tracked on its own number.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
import threading
import uuid
from typing import Any

import pytest
import requests
import responses
import sqlalchemy as sa

from adapters import registry
from gateway.kernel import models
from gateway.labels import purchasing
from tests.helpers import shipment_body
from tests.integration.test_callbacks import callback_secrets, post_ups, run_worker, track_alert
from tests.unit.adapters import ups_fixtures as ups

pytestmark = pytest.mark.integration

__all__ = ["callback_secrets"]  # the autouse fixture: UPS pushes authenticate with CALLBACK_SECRETS["ups"]

BASE = "https://ups.invalid"
SHIP_URL = f"{BASE}/api/shipments/v2409/ship"
UPS = {"client_id": "cid", "client_secret": "csecret", "account_number": "R3TURN", "base_url": BASE}


@pytest.fixture(autouse=True)
def carriers(app: Any, monkeypatch: pytest.MonkeyPatch) -> registry.Registry:
    """UPS enabled (a fresh adapter: no breaker state carried between tests)."""
    loaded = registry.load([{"adapter": "ups", "id": "ups", "config": UPS}])
    monkeypatch.setattr(app.extensions["handoff"], "_carriers", loaded)
    return loaded


@pytest.fixture
def ups_http():
    """UPS OAuth and Rating answered: rates come from the sample cards (UPS rates no service here)."""
    no_services = {
        "RateResponse": {
            "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
            "RatedShipment": [],
        }
    }
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, f"{BASE}/security/v1/oauth/token", json=ups.TOKEN_REPLY)
        mock.add(responses.POST, re.compile(rf"{re.escape(BASE)}/api/rating/.*"), json=no_services)
        yield mock


def new_number() -> str:
    return "1Z" + uuid.uuid4().hex[:16].upper()


def ship_reply(number: str) -> dict[str, Any]:
    reply = copy.deepcopy(ups.SHIP_REPLY)
    results = reply["ShipmentResponse"]["ShipmentResults"]
    results["ShipmentIdentificationNumber"] = number
    package = results["PackageResults"][0]
    package["TrackingNumber"] = number
    package["ShippingLabel"]["GraphicImage"] = base64.b64encode(f"^XA^FD{number}^FS^XZ".encode()).decode()
    return reply


def booking(reference: str) -> dict[str, Any]:
    body = shipment_body(reference)
    body["origin"].update(company="Acme Widgets", phone="+1 201-555-0100")
    body["destination"]["phone"] = "+1 212-555-0199"
    return body


def buy(app: Any, client: Any, tenant: Any, mock: Any, shipment_id: str, number: str) -> dict[str, Any]:
    """Select the shipment's UPS Ground rate when it has none, request its label and run the purchase."""
    shown = client.get(f"/v1/shipments/{shipment_id}", headers=tenant.headers).get_json()
    if shown["carrier"] is None:
        [ground] = [r for r in shown["rates"]["rates"] if (r["carrier"], r["service_code"]) == ("ups", "03")]
        chosen = client.post(
            f"/v1/shipments/{shipment_id}/rate", json={"rate_id": ground["id"]}, headers=tenant.headers
        )
        assert chosen.status_code == 200, chosen.get_json()
    mock.add(responses.POST, SHIP_URL, json=ship_reply(number))
    requested = client.post(
        f"/v1/shipments/{shipment_id}/label",
        json={"label_format": "zpl"},
        headers={**tenant.headers, "Idempotency-Key": f"label-{shipment_id}"},
    )
    assert requested.status_code == 202, requested.get_json()
    assert purchasing.run_purchase(app.extensions["handoff"], shipment_id) == "purchased"
    mock.remove(responses.POST, SHIP_URL)
    shipment = client.get(f"/v1/shipments/{shipment_id}", headers=tenant.headers).get_json()
    assert (shipment["status"], shipment["tracking_number"]) == ("purchased", number)
    return shipment


def bought_shipment(app: Any, client: Any, tenant: Any, mock: Any) -> dict[str, Any]:
    created = client.post(
        "/v1/shipments", json=booking(f"ORD-{uuid.uuid4().hex[:6]}"), headers=tenant.headers
    )
    assert created.status_code == 201, created.get_json()
    return buy(app, client, tenant, mock, created.get_json()["id"], new_number())


def ship_requests(mock: Any) -> list[dict[str, Any]]:
    return [json.loads(c.request.body) for c in mock.calls if c.request.url.startswith(SHIP_URL)]


def test_a_ups_return_label_is_a_linked_shipment_bought_with_return_service_and_tracked_on_its_own(
    app, client, make_tenant, ups_http
):
    tenant = make_tenant(("platform", "ops"))
    original = bought_shipment(app, client, tenant, ups_http)
    assert (original["is_return"], original["return_of"], original["returns"]) == (False, None, [])

    key = {"Idempotency-Key": f"return-{original['id']}"}
    created = client.post(
        f"/v1/shipments/{original['id']}/return", json={}, headers={**tenant.headers, **key}
    )
    assert created.status_code == 201, created.get_json()
    ret = created.get_json()
    assert created.headers["Location"].endswith(f"/v1/shipments/{ret['id']}")
    assert created.headers["ETag"] == 'W/"1"'
    assert ret["id"] != original["id"]
    assert (ret["is_return"], ret["return_of"], ret["returns"]) == (True, original["id"], [])
    # Back from the customer to the warehouse, the same parcel, the original's carrier and service chosen.
    assert ret["origin"] == original["destination"] and ret["destination"] == original["origin"]
    assert [p["weight"] for p in ret["parcels"]] == [p["weight"] for p in original["parcels"]]
    assert (ret["status"], ret["carrier"], ret["service"]) == ("draft", "ups", original["service"])
    assert ret["reference"] == original["reference"] and ret["tracking_number"] is None
    assert any(r["carrier"] == "ups" for r in ret["rates"]["rates"])

    # The same Idempotency-Key answers the same return; nothing second is booked.
    again = client.post(f"/v1/shipments/{original['id']}/return", json={}, headers={**tenant.headers, **key})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == ret["id"]

    # Linked both ways.
    shown = client.get(f"/v1/shipments/{original['id']}", headers=tenant.headers).get_json()
    assert shown["returns"] == [ret["id"]] and shown["is_return"] is False
    listed = client.get("/v1/shipments", headers=tenant.headers).get_json()["data"]
    assert {s["id"]: (s["is_return"], s["return_of"], s["returns"]) for s in listed} == {
        original["id"]: (False, None, [ret["id"]]),
        ret["id"]: (True, original["id"], []),
    }

    # Its label is a UPS Print Return Label: ReturnService 9, the account holder (the warehouse) as
    # Shipper and ShipTo, the customer as ShipFrom, a merchandise description on every package.
    number = new_number()
    bought = buy(app, client, tenant, ups_http, ret["id"], number)
    [outbound, sent] = ship_requests(ups_http)
    assert "ReturnService" not in outbound["ShipmentRequest"]["Shipment"]
    shipment = sent["ShipmentRequest"]["Shipment"]
    assert shipment["ReturnService"]["Code"] == "9"
    assert shipment["Shipper"]["Name"] == "Acme Widgets" and shipment["Shipper"]["ShipperNumber"] == "R3TURN"
    assert shipment["ShipTo"]["Name"] == "Acme Widgets"
    assert shipment["ShipFrom"]["Name"] == "Jane Doe"
    assert shipment["ShipFrom"]["Address"]["PostalCode"] == "10019"
    assert all(p["Description"] == original["reference"] for p in shipment["Package"])
    assert bought["is_return"] is True and bought["return_of"] == original["id"]
    label = client.get(f"/v1/shipments/{ret['id']}/label", headers=tenant.headers)
    assert label.status_code == 200 and number.encode() in label.data

    # Its tracking events land on the return (its own number), in the same taxonomy.
    assert post_ups(client, track_alert(number, "D", "FS")).status_code == 202
    run_worker(app)
    timeline = client.get(f"/v1/shipments/{ret['id']}/events", headers=tenant.headers).get_json()
    assert timeline["milestone"] == "delivered"
    assert [e["canonical"]["milestone"] for e in timeline["events"]] == ["delivered"]
    outbound_timeline = client.get(f"/v1/shipments/{original['id']}/events", headers=tenant.headers)
    assert outbound_timeline.get_json()["events"] == []

    # The KPIs count the return apart: one shipment, one return (delivered back), two labels.
    kpis = client.get("/v1/kpis", headers=tenant.headers).get_json()
    totals = kpis["totals"]
    assert (totals["shipments"], totals["returns"], totals["returns_delivered"]) == (1, 1, 1)
    assert totals["labelled"] == 2 and totals["delivered"] == 0 and totals["tracked"] == 0
    assert totals["returns_cost"] == {"amount": "19.55", "currency": "USD"}
    assert totals["cost"] == {"amount": "39.1", "currency": "USD"}
    [ups_block] = kpis["by_carrier"]
    assert (ups_block["carrier"], ups_block["shipments"], ups_block["returns"]) == ("ups", 1, 1)


def test_a_return_goes_to_the_address_given_with_the_parcels_given(app, client, make_tenant, ups_http):
    tenant = make_tenant(("platform",))
    original = bought_shipment(app, client, tenant, ups_http)
    depot = {
        "company": "Acme Returns Center",
        "street_lines": ["9 Dock Rd"],
        "city": "Edison",
        "state": "NJ",
        "postal_code": "08817",
        "country_code": "US",
    }
    parcel = {
        "weight": {"value": "1.2", "unit": "lb"},
        "dimensions": {"length": "10", "width": "8", "height": "3", "unit": "in"},
    }
    created = client.post(
        f"/v1/shipments/{original['id']}/return",
        json={"return_to": depot, "parcels": [parcel], "reference": "RMA-77", "metadata": {"rma": "77"}},
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.get_json()
    ret = created.get_json()
    assert (
        ret["destination"]["company"] == "Acme Returns Center"
        and ret["destination"]["postal_code"] == "08817"
    )
    assert ret["origin"] == original["destination"]
    assert [p["weight"] for p in ret["parcels"]] == [{"value": "1.2", "unit": "lb"}]
    assert (ret["reference"], ret["metadata"]) == ("RMA-77", {"rma": "77"})


def test_only_a_bought_shipment_can_be_returned_and_a_return_is_not_returned_again(
    app, client, make_tenant, ups_http
):
    tenant = make_tenant(("platform",))
    draft = client.post("/v1/shipments", json=booking("ORD-DRAFT"), headers=tenant.headers).get_json()
    refused = client.post(f"/v1/shipments/{draft['id']}/return", json={}, headers=tenant.headers)
    assert refused.status_code == 409
    problem = refused.get_json()
    assert problem["type"].endswith("/return-not-allowed") and problem["shipment_status"] == "draft"
    assert refused.headers["Content-Type"].startswith("application/problem+json")

    cancelled = client.delete(f"/v1/shipments/{draft['id']}", headers={**tenant.headers, "If-Match": "*"})
    assert cancelled.status_code == 200
    refused = client.post(f"/v1/shipments/{draft['id']}/return", headers=tenant.headers)
    assert refused.status_code == 409 and refused.get_json()["shipment_status"] == "cancelled"

    original = bought_shipment(app, client, tenant, ups_http)
    ret = client.post(f"/v1/shipments/{original['id']}/return", json={}, headers=tenant.headers).get_json()
    twice = client.post(f"/v1/shipments/{ret['id']}/return", json={}, headers=tenant.headers)
    assert twice.status_code == 409 and twice.get_json()["type"].endswith("/return-not-allowed")

    with app.extensions["handoff"].sessions() as session:
        count = session.execute(
            sa.select(sa.func.count()).where(
                models.Shipment.tenant_id == tenant.tenant_id, models.Shipment.is_return.is_(True)
            )
        ).scalar_one()
    assert count == 1


def test_a_carrier_without_return_labels_is_refused_with_the_carriers_that_have_them(
    app, client, make_tenant, ups_http
):
    tenant = make_tenant(("platform",))
    original = bought_shipment(app, client, tenant, ups_http)
    refused = client.post(
        f"/v1/shipments/{original['id']}/return", json={"carrier": "dhl_express"}, headers=tenant.headers
    )
    assert refused.status_code == 422
    problem = refused.get_json()
    assert problem["type"].endswith("/return-not-supported") and problem["carrier"] == "dhl_express"
    assert {"ups", "fedex"} <= set(problem["supported_carriers"])
    assert "dhl_express" not in problem["supported_carriers"]

    # A service the carrier has no purchasable rate for is a 422 naming the field; nothing is kept.
    refused = client.post(
        f"/v1/shipments/{original['id']}/return", json={"service": "NOPE"}, headers=tenant.headers
    )
    assert refused.status_code == 422 and "service" in refused.get_json()["errors"]
    shown = client.get(f"/v1/shipments/{original['id']}", headers=tenant.headers).get_json()
    assert shown["returns"] == []


def test_a_return_of_a_rate_chosen_by_hand_with_a_carrier_without_returns_gets_no_label(
    app, client, make_tenant, ups_http
):
    tenant = make_tenant(("platform",))
    original = bought_shipment(app, client, tenant, ups_http)
    ret = client.post(f"/v1/shipments/{original['id']}/return", json={}, headers=tenant.headers).get_json()
    with app.extensions["handoff"].sessions() as session:
        row = session.get(models.Shipment, ret["id"])
        row.carrier, row.service = "dhl_express", "N"
        session.commit()
    refused = client.post(f"/v1/shipments/{ret['id']}/label", json={}, headers=tenant.headers)
    assert refused.status_code == 422 and refused.get_json()["type"].endswith("/return-not-supported")


def test_another_tenant_can_neither_return_nor_see_a_shipment_or_its_returns(
    app, client, make_tenant, ups_http
):
    owner = make_tenant(("platform",))
    other = make_tenant(("platform", "ops"))
    original = bought_shipment(app, client, owner, ups_http)
    ret = client.post(f"/v1/shipments/{original['id']}/return", json={}, headers=owner.headers).get_json()

    assert (
        client.post(f"/v1/shipments/{original['id']}/return", json={}, headers=other.headers).status_code
        == 404
    )
    assert client.get(f"/v1/shipments/{ret['id']}", headers=other.headers).status_code == 404
    assert client.get("/v1/shipments", headers=other.headers).get_json()["data"] == []
    assert client.get("/v1/kpis", headers=other.headers).get_json()["totals"]["returns"] == 0
    # And a finance key reads returns but does not book them.
    finance = make_tenant(("finance",))
    assert (
        client.post(f"/v1/shipments/{original['id']}/return", json={}, headers=finance.headers).status_code
        == 403
    )


@pytest.fixture(scope="module")
def usps_sim():
    """The carrier simulator in a thread of the test process (its own seed: numbers of its own)."""
    from werkzeug.serving import make_server

    from simulator.app import create_app as create_simulator

    server = make_server("127.0.0.1", 0, create_simulator({"seed": 2019}), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_usps_return_asked_with_a_qr_code_keeps_the_label_broker_qr_code(
    app, client, make_tenant, monkeypatch, usps_sim
):
    usps_config = {
        "client_id": "sim-usps-client",
        "client_secret": "sim-usps-secret",
        "crid": "56982563",
        "mid": "904128936",
        "account_number": str(1000000000 + secrets.randbelow(10**9)),
        "base_url": f"{usps_sim}/usps",
        "timeout_seconds": 5,
    }
    loaded = registry.load([{"adapter": "usps", "id": "usps", "config": usps_config}])
    monkeypatch.setattr(app.extensions["handoff"], "_carriers", loaded)
    tenant = make_tenant(("platform", "ops"))
    created = client.post("/v1/shipments", json=booking("ORD-USPS"), headers=tenant.headers).get_json()
    usps_rates = [r for r in created["rates"]["rates"] if r["carrier"] == "usps"]
    priorities = [r for r in usps_rates if r["service_code"].split("/")[0] == "PRIORITY_MAIL"]
    assert priorities, created["rates"]
    priority = priorities[0]
    chosen = client.post(
        f"/v1/shipments/{created['id']}/rate", json={"rate_id": priority["id"]}, headers=tenant.headers
    )
    assert chosen.status_code == 200, chosen.get_json()
    container = app.extensions["handoff"]
    assert (
        client.post(f"/v1/shipments/{created['id']}/label", json={}, headers=tenant.headers).status_code
        == 202
    )
    assert purchasing.run_purchase(container, created["id"]) == "purchased"

    ret = client.post(f"/v1/shipments/{created['id']}/return", json={"qr_code": True}, headers=tenant.headers)
    assert ret.status_code == 201, ret.get_json()
    ret = ret.get_json()
    assert (ret["carrier"], ret["service"]) == ("usps", priority["service_code"])
    missing = client.get(f"/v1/shipments/{ret['id']}/return-qr", headers=tenant.headers)
    assert missing.status_code == 404 and "not bought yet" in missing.get_json()["detail"]

    assert client.post(f"/v1/shipments/{ret['id']}/label", json={}, headers=tenant.headers).status_code == 202
    assert purchasing.run_purchase(container, ret["id"]) == "purchased"
    qr = client.get(f"/v1/shipments/{ret['id']}/return-qr", headers=tenant.headers)
    assert qr.status_code == 200 and qr.mimetype == "image/png" and qr.data.startswith(b"\x89PNG")
    label = client.get(f"/v1/shipments/{ret['id']}/label", headers=tenant.headers)
    assert label.status_code == 200 and label.data.startswith(b"%PDF")
    ledger = requests.get(f"{usps_sim}/_sim/labels", params={"reference": ret["id"]}, timeout=5).json()
    assert [s["return_type"] for s in ledger["labels"]] == ["PRIORITY_MAIL_RETURN_SERVICE"]

    # The outbound has none; another tenant sees none.
    outbound = client.get(f"/v1/shipments/{created['id']}/return-qr", headers=tenant.headers)
    assert outbound.status_code == 404 and "not asked with qr_code" in outbound.get_json()["detail"]
    other = make_tenant(("platform",))
    assert client.get(f"/v1/shipments/{ret['id']}/return-qr", headers=other.headers).status_code == 404


def test_a_qr_code_is_refused_for_a_carrier_whose_returns_have_none(app, client, make_tenant, ups_http):
    tenant = make_tenant(("platform",))
    original = bought_shipment(app, client, tenant, ups_http)
    refused = client.post(
        f"/v1/shipments/{original['id']}/return", json={"qr_code": True}, headers=tenant.headers
    )
    assert refused.status_code == 422
    assert refused.get_json()["errors"] == {"qr_code": ["ups gives no QR code"]}


def test_an_invoice_line_for_a_return_label_is_marked_as_a_return(app, client, make_tenant, ups_http):
    from tests.integration.test_reconciliation import World

    world = World(app, client, make_tenant)
    # Weights no other test books: no live answer cached by another module prices these (sample cards do).
    outbound = world.book(weight="2.31")
    ret = world.book(weight="2.37")
    world.update_shipment(ret, is_return=True, return_of_id=outbound.id)
    invoice_id, _report = world.run(world.clean_rows(outbound) + world.clean_rows(ret))
    lines = world.lines(invoice_id)
    assert {(line["tracking_number"], line["is_return"]) for line in lines} == {
        (outbound.tracking, False),
        (ret.tracking, True),
    }
    one = next(line for line in lines if line["tracking_number"] == ret.tracking)
    shown = client.get(f"/v1/invoices/{invoice_id}/lines/{one['id']}", headers=world.headers).get_json()
    assert shown["is_return"] is True and shown["shipment_id"] == ret.id


def test_an_international_return_carries_the_goods_declared_as_a_return(app, client, make_tenant, ups_http):
    from tests.customs_fixtures import customs_body

    tenant = make_tenant(("platform",))
    body = booking(f"ORD-{uuid.uuid4().hex[:6]}")
    body["destination"] = {
        "name": "Max Muster",
        "street_lines": ["Markt 1"],
        "city": "Leipzig",
        "postal_code": "04109",
        "country_code": "DE",
        "phone": "+49 341 1234567",
    }
    body["customs"] = customs_body()
    created = client.post("/v1/shipments", json=body, headers=tenant.headers)
    assert created.status_code == 201, created.get_json()
    original = created.get_json()
    with app.extensions["handoff"].sessions() as session:  # bought, as the label job records it
        row = session.get(models.Shipment, original["id"])
        row.carrier, row.service, row.status, row.tracking_number = "ups", "65", "purchased", new_number()
        session.commit()

    ret = client.post(f"/v1/shipments/{original['id']}/return", json={}, headers=tenant.headers)
    assert ret.status_code == 201, ret.get_json()
    customs = ret.get_json()["customs"]
    sent = original["customs"]
    assert customs["content_type"] == "return" and customs["items"] == sent["items"]
    assert customs["exporter_tax_ids"] == sent["importer_tax_ids"]
    assert customs["importer_tax_ids"] == sent["exporter_tax_ids"]
    assert customs["invoice_number"] is None
    assert ret.get_json()["origin"]["country_code"] == "DE"


def test_a_return_is_no_package_of_the_fleets_day(app, client, make_tenant, ups_http):
    from gateway.allocation import day_input
    from gateway.allocation import tables as allocation_tables
    from tests.integration.test_allocation_plans import PHILADELPHIA, book, local_day, setup_fleet

    tenant = make_tenant(("platform", "ops"))
    original = bought_shipment(app, client, tenant, ups_http)
    ret = client.post(f"/v1/shipments/{original['id']}/return", json={}, headers=tenant.headers).get_json()
    depot_id, _van = setup_fleet(client, tenant)
    draft = book(client, tenant, PHILADELPHIA[0], "ORD-FLEET")
    with app.extensions["handoff"].sessions() as session:
        depot = session.get(allocation_tables.Depot, depot_id)
        day = day_input.build_day(session, tenant.tenant_id, depot, local_day(ret), statuses=None)
    planned = set(day.meta)
    assert draft["id"] in planned and original["id"] in planned
    assert ret["id"] not in planned
