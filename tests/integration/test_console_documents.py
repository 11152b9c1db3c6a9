"""The console's shipment page hands out the label and the commercial invoice, as the API does."""

from __future__ import annotations

from typing import Any

from tests.customs_fixtures import customs_body
from tests.integration.test_console_web import make_user, seed, sign_in
from tests.integration.test_returns import booking, bought_shipment, carriers, ups_http

__all__ = ["carriers", "ups_http"]  # the UPS fixtures of the returns tests, used here


def _console(app: Any, tenant_id: str) -> Any:
    client = app.test_client()
    assert sign_in(client, make_user(app, tenant_id, ("ops",))).status_code == 303
    return client


def test_the_label_downloads_from_the_shipment_page_as_the_apis_signed_link_serves_it(
    app, client, make_tenant, ups_http
):
    tenant = make_tenant(("platform", "ops"))
    shipment = bought_shipment(app, client, tenant, ups_http)
    console = _console(app, tenant.tenant_id)
    page = console.get(f"/console/shipments/{shipment['id']}").get_data(as_text=True)
    assert f'href="/console/shipments/{shipment["id"]}/label.zpl"' in page

    got = console.get(f"/console/shipments/{shipment['id']}/label.zpl")

    assert got.status_code == 200
    assert f'filename="{shipment["tracking_number"]}.zpl"' in got.headers["Content-Disposition"]
    assert got.headers["Cache-Control"] == "no-store"
    api = client.get(f"/v1/shipments/{shipment['id']}/label?format=zpl", headers=tenant.headers)
    assert api.status_code == 200 and got.data == api.data
    assert shipment["tracking_number"].encode() in got.data


def test_a_label_with_no_document_or_of_another_tenant_is_refused_with_its_reason(app, make_tenant):
    mine, theirs = seed(app, make_tenant), seed(app, make_tenant)
    console = _console(app, mine.tenant_id)

    lost = console.get(f"/console/shipments/{mine.shipment_id}/label.pdf")
    assert lost.status_code == 404  # the API answers label-document-unavailable with a 404 too
    assert "reprint it from the carrier" in lost.get_data(as_text=True)
    assert console.get(f"/console/shipments/{theirs.shipment_id}/label.pdf").status_code == 404
    assert console.get(f"/console/shipments/{mine.shipment_id}/label.exe").status_code == 404
    assert app.test_client().get(f"/console/shipments/{mine.shipment_id}/label.pdf").status_code in (302, 303)


def test_the_commercial_invoice_of_a_declared_shipment_downloads_and_an_undeclared_one_says_why(
    app, client, make_tenant
):
    tenant = make_tenant(("platform", "ops"))
    body = booking("ORD-CUSTOMS")
    body["destination"].update(country_code="GB", state=None, postal_code="SW1A 1AA", city="London")
    body["customs"] = customs_body()
    created = client.post("/v1/shipments", json=body, headers=tenant.headers)
    assert created.status_code == 201, created.get_json()
    declared = created.get_json()["id"]
    console = _console(app, tenant.tenant_id)
    page = console.get(f"/console/shipments/{declared}").get_data(as_text=True)
    assert f'href="/console/shipments/{declared}/commercial-invoice"' in page

    got = console.get(f"/console/shipments/{declared}/commercial-invoice")

    assert got.status_code == 200 and got.mimetype == "application/pdf" and got.data.startswith(b"%PDF")
    api = client.get(f"/v1/shipments/{declared}/documents/commercial-invoice", headers=tenant.headers)
    assert api.status_code == 200 and api.mimetype == "application/pdf"
    plain = seed(app, make_tenant)
    other = _console(app, plain.tenant_id)
    refused = other.get(f"/console/shipments/{plain.shipment_id}/commercial-invoice")
    assert refused.status_code == 409
    assert "commercial-invoice" not in other.get(f"/console/shipments/{plain.shipment_id}").get_data(
        as_text=True
    )
