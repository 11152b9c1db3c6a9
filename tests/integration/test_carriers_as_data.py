"""Carriers are data: a third and a fourth carrier (FedEx, USPS) are shopped, reconciled and counted
by the same code as UPS and DHL Express, with nothing but their cards, labels and invoices.

Rate shopping: the tenant holds FedEx, USPS, UPS and DHL Express contracts, and the adapters
enabled decide which of the four can be bought. Reconciliation: a FedEx invoice CSV (the FedEx layout) is matched against FedEx shipments frozen on the FedEx card. USPS
publishes no invoice file (postage is paid when the label is bought; see the USPS notes), so a USPS
statement is reconciled through the generic CSV and the column mapping a tenant saves for ``usps``.
KPIs: four carriers' labels are counted, costed and filtered per carrier. The demo's report: four
carriers get four named, coloured rows with no list of carriers in the demo.
"""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.kernel import models
from gateway.kernel.types import utcnow
from gateway.labels import tables as label_tables
from gateway.rates import tables as rating_tables
from gateway.reconciliation import runs
from gateway.tracking import tables as tracking_tables
from tests.helpers import label_sellers, shipment_body
from tests.unit.reconciliation.invoice_files import FEDEX_HEADER, fedex_row, to_csv

pytestmark = pytest.mark.integration

FOUR = ("ups", "dhl_express", "fedex", "usps")
CENT = Decimal("0.01")


def contract_card(card_id: str, carrier: str, code: str, name: str, factor: str) -> dict[str, Any]:
    """The bundled UPS Ground list card re-issued as another carrier's contract at ``factor`` of its prices."""
    doc = json.loads((resources.files("rating") / "cards" / "ups_ground.json").read_text())
    doc.update(id=card_id, carrier=carrier, service={"code": code, "name": name})
    doc["effective_from"] = (utcnow().date() - timedelta(days=30)).isoformat()
    doc.pop("effective_to", None)
    f = Decimal(factor)
    table = doc["rates"]
    if "minimum_charge" in table:
        table["minimum_charge"] = str((Decimal(table["minimum_charge"]) * f).quantize(CENT))
    for zone in table["by_zone"].values():
        for brk in zone.get("breaks") or []:
            brk["price"] = str((Decimal(brk["price"]) * f).quantize(CENT))
        if "per_unit_over" in zone:
            zone["per_unit_over"] = str((Decimal(zone["per_unit_over"]) * f).quantize(CENT))
    return doc


def put_card(client: Any, tenant: Any, doc: dict[str, Any]) -> None:
    created = client.post("/v1/rate-cards", json=doc, headers=tenant.headers)
    assert created.status_code == 201, created.get_json()
    row = created.get_json()
    activated = client.post(
        f"/v1/rate-cards/{row['card_id']}/versions/{row['version']}/activate", json={}, headers=tenant.headers
    )
    assert activated.status_code == 200, activated.get_json()


def four_cards(client: Any, tenant: Any) -> None:
    """The tenant's contracts with four carriers (a tenant's own cards replace the bundled samples)."""
    put_card(client, tenant, contract_card("ups-ground-c", "ups", "03", "UPS Ground", "1.00"))
    put_card(client, tenant, contract_card("dhl-domestic-c", "dhl_express", "N", "DHL Domestic", "1.30"))
    put_card(client, tenant, contract_card("fedex-ground-c", "fedex", "FEDEX_GROUND", "FedEx Ground", "0.90"))
    put_card(
        client,
        tenant,
        contract_card("usps-priority-c", "usps", "PRIORITY_MAIL", "Priority Mail", "0.70"),
    )


def book(client: Any, tenant: Any) -> dict[str, Any]:
    created = client.post(
        "/v1/shipments", json=shipment_body(f"CAD-{uuid.uuid4().hex[:8]}"), headers=tenant.headers
    )
    assert created.status_code == 201, created.get_json()
    return created.get_json()


# --- rate shopping ------------------------------------------------------------------------------


def test_four_carriers_are_shopped_alike_and_the_enabled_adapters_decide_what_can_be_bought(
    app: Any, client: Any, make_tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = app.extensions["handoff"]
    tenant = make_tenant(("platform", "ops"))
    four_cards(client, tenant)

    monkeypatch.setattr(container, "_carriers", label_sellers(*FOUR))
    rates = book(client, tenant)["rates"]["rates"]
    partners = [r for r in rates if r["carrier"] in FOUR]
    assert {r["carrier"] for r in partners} == set(FOUR)
    assert all(r["purchasable"] for r in partners)
    cheapest = next(r for r in rates if "cheapest" in r["labels"])
    assert (cheapest["carrier"], cheapest["service_code"]) == ("usps", "PRIORITY_MAIL")
    fedex = next(r for r in rates if r["carrier"] == "fedex")
    ups = next(r for r in rates if r["carrier"] == "ups" and r["service_code"] == "03")
    # The FedEx contract is the UPS Ground list card at 90 %: the same zone, a lower price.
    assert fedex["zone"] == ups["zone"]
    assert Decimal(fedex["total_cost"]["amount"]) < Decimal(ups["total_cost"]["amount"])

    # Without a USPS adapter enabled, USPS rates are still quoted but cannot be bought; FedEx takes "cheapest".
    monkeypatch.setattr(container, "_carriers", label_sellers("ups", "dhl_express", "fedex"))
    rates = book(client, tenant)["rates"]["rates"]
    usps = [r for r in rates if r["carrier"] == "usps"]
    assert usps and not any(r["purchasable"] for r in usps)
    assert all("usps" in r["not_purchasable_reason"] and r["labels"] == [] for r in usps)
    cheapest = next(r for r in rates if "cheapest" in r["labels"])
    assert cheapest["carrier"] == "fedex"


def test_a_contract_card_can_carry_the_carriers_own_long_service_codes(client: Any, make_tenant: Any) -> None:
    tenant = make_tenant(("platform", "ops"))
    for card_id, carrier, code in (
        ("usps-gadv-c", "usps", "USPS_GROUND_ADVANTAGE"),
        ("fedex-ip-c", "fedex", "FEDEX_INTERNATIONAL_PRIORITY"),
    ):
        put_card(client, tenant, contract_card(card_id, carrier, code, code.title(), "0.80"))


# --- reconciliation -----------------------------------------------------------------------------


class Shipped:
    def __init__(self, shipment_id: str, tracking: str, lines: dict[str, int]) -> None:
        self.id, self.tracking, self.lines = shipment_id, tracking, lines


def ship_on(app: Any, client: Any, tenant: Any, carrier: str, tracking: str) -> Shipped:
    """Book, freeze the carrier's card rate, and give the shipment that carrier's label and a scan."""
    shipment = book(client, tenant)
    rate = next(r for r in shipment["rates"]["rates"] if r["carrier"] == carrier)
    selected = client.post(
        f"/v1/shipments/{shipment['id']}/rate", json={"rate_id": rate["id"]}, headers=tenant.headers
    )
    assert selected.status_code == 200, selected.get_json()
    container = app.extensions["handoff"]
    with container.sessions() as session:
        session.execute(
            sa.update(models.Shipment)
            .where(models.Shipment.id == shipment["id"])
            .values(status="purchased", tracking_number=tracking)
        )
        snap = session.execute(
            sa.select(rating_tables.ShipmentQuoteSnapshot).where(
                rating_tables.ShipmentQuoteSnapshot.shipment_id == shipment["id"]
            )
        ).scalar_one()
        session.add(
            label_tables.Label(
                tenant_id=tenant.tenant_id,
                shipment_id=shipment["id"],
                carrier=carrier,
                service=rate["service_code"],
                tracking_number=tracking,
                status="purchased",
                cost_minor=snap.total_cost_minor,
                currency="USD",
                purchased_at=utcnow() - timedelta(days=3),
            )
        )
        session.add(
            tracking_tables.TrackingEvent(
                tenant_id=tenant.tenant_id,
                shipment_id=shipment["id"],
                carrier=carrier,
                tracking_number=tracking,
                milestone="in_transit",
                mapping="mapped",
                occurred_at=utcnow() - timedelta(days=2),
                raw_code="IT",
                source="push",
                dedup_key=uuid.uuid4().hex,
                event={"milestone": "in_transit"},
            )
        )
        lines = {line["code"]: line["cost_minor"] for line in snap.lines}
        session.commit()
    return Shipped(shipment["id"], tracking, lines)


def _amount(cents: int) -> str:
    return str(Decimal(cents) / 100)


def fedex_invoice_row(number: str, shipped: Shipped, *, base_extra: int = 0) -> list[str]:
    """A FedEx CSV row billing exactly the shipment's quote lines (plus ``base_extra`` cents on transport)."""
    descriptions = {"FSC": "Fuel Surcharge", "RES": "Residential"}
    charges = [(descriptions[code], _amount(c)) for code, c in shipped.lines.items() if code in descriptions]
    assert set(shipped.lines) <= {"BASE", *descriptions}, shipped.lines
    return fedex_row(
        invoice_number=number,
        tracking=shipped.tracking,
        transport=_amount(shipped.lines["BASE"] + base_extra),
        charges=charges,
    )


def reconcile(app: Any, client: Any, tenant: Any, invoice_id: str) -> dict[str, Any]:
    container = app.extensions["handoff"]
    runs.run(container.sessions, invoice_id, settings=container.settings)
    body = client.get(f"/v1/invoices/{invoice_id}/reconciliation", headers=tenant.headers).get_json()
    assert body["status"] == "reconciled", body
    return body


def flagged(client: Any, tenant: Any, invoice_id: str) -> set[tuple[str, str]]:
    resp = client.get(
        f"/v1/invoices/{invoice_id}/lines",
        query_string={"flagged": "true", "limit": 500},
        headers=tenant.headers,
    )
    assert resp.status_code == 200, resp.get_json()
    return {
        (ln["tracking_number"], d["class"]) for ln in resp.get_json()["data"] for d in ln["discrepancies"]
    }


def test_a_fedex_invoice_is_reconciled_against_fedex_shipments_through_the_fedex_layout(
    app: Any, client: Any, make_tenant: Any
) -> None:
    tenant = make_tenant(("platform", "ops", "finance"))
    four_cards(client, tenant)
    clean = ship_on(app, client, tenant, "fedex", f"7946{uuid.uuid4().int % 10**8:08d}")
    overbilled = ship_on(app, client, tenant, "fedex", f"7946{uuid.uuid4().int % 10**8:08d}")
    number = f"7-{uuid.uuid4().hex[:9]}"
    stranger = fedex_row(invoice_number=number, tracking="794699999999", transport="9.80")
    data = to_csv(
        [
            FEDEX_HEADER,
            fedex_invoice_row(number, clean),
            fedex_invoice_row(number, overbilled, base_extra=250),
            stranger,
        ]
    )
    # No format, no carrier: the layout is sniffed, and the layout says which carrier bills.
    resp = client.post(
        "/v1/invoices",
        data={"file": (io.BytesIO(data), "fedex.csv")},
        headers=tenant.headers,
        content_type="multipart/form-data",
    )
    assert resp.status_code == 201, resp.get_json()
    invoice = resp.get_json()
    assert (invoice["carrier"], invoice["format"]) == ("fedex", "fedex")

    report = reconcile(app, client, tenant, invoice["id"])["report"]
    found = flagged(client, tenant, invoice["id"])
    assert ("794699999999", "unknown_tracking") in found
    assert not {cls for t, cls in found if t == clean.tracking}
    assert {cls for t, cls in found if t == overbilled.tracking}, found
    assert set(report["by_carrier"]) == {"fedex"}
    # Recoverable: the unknown parcel in full, and at least the 2.50 over the FedEx contract.
    assert Decimal(report["totals"]["recoverable"]["amount"]) >= Decimal("9.80") + Decimal("2.50")


def test_a_usps_statement_is_reconciled_through_the_mapping_saved_for_usps(
    app: Any, client: Any, make_tenant: Any
) -> None:
    tenant = make_tenant(("platform", "ops", "finance"))
    four_cards(client, tenant)
    shipped = ship_on(app, client, tenant, "usps", f"9400{uuid.uuid4().int % 10**18:018d}")
    mapping = {
        "columns": {
            "invoice_number": "Statement",
            "tracking_number": "IMpb",
            "charge_code": "Code",
            "amount": "Amount",
            "currency": "Currency",
        }
    }
    saved = client.put("/v1/invoice-mappings/usps", json=mapping, headers=tenant.headers)
    assert saved.status_code in (200, 201), saved.get_json()
    number = f"EPS-{uuid.uuid4().hex[:8]}"
    rows = [["Statement", "IMpb", "Code", "Amount", "Currency"]]
    rows += [[number, shipped.tracking, code, _amount(c), "USD"] for code, c in shipped.lines.items()]
    rows.append([number, "9400111111111111111111", "BASE", "6.15", "USD"])
    resp = client.post(
        "/v1/invoices",
        data={"file": (io.BytesIO(to_csv(rows)), "usps.csv"), "format": "generic", "carrier": "usps"},
        headers=tenant.headers,
        content_type="multipart/form-data",
    )
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["carrier"] == "usps"

    report = reconcile(app, client, tenant, resp.get_json()["id"])["report"]
    found = flagged(client, tenant, resp.get_json()["id"])
    assert found == {("9400111111111111111111", "unknown_tracking")}
    assert set(report["by_carrier"]) == {"usps"}
    assert report["by_carrier"]["usps"]["recoverable"]["amount"] == "6.15"


def test_a_layout_of_one_carrier_cannot_bill_another(client: Any, make_tenant: Any) -> None:
    tenant = make_tenant(("finance",))
    data = to_csv([FEDEX_HEADER, fedex_row(invoice_number="7-x", tracking="794600000009", transport="1.00")])
    resp = client.post(
        "/v1/invoices",
        data={"file": (io.BytesIO(data), "f.csv"), "format": "fedex", "carrier": "usps"},
        headers=tenant.headers,
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422
    assert resp.get_json()["errors"]["carrier"] == ["must be fedex for format fedex"]


# --- KPIs ---------------------------------------------------------------------------------------


def test_kpis_count_and_cost_four_carriers_and_filter_any_of_them(
    app: Any, client: Any, make_tenant: Any
) -> None:
    tenant = make_tenant(("platform", "ops"))
    costs = {"ups": 1234, "dhl_express": 3100, "fedex": 1190, "usps": 875}
    container = app.extensions["handoff"]
    for carrier, cost in costs.items():
        shipment = book(client, tenant)
        with container.sessions() as session:
            row = session.get(models.Shipment, shipment["id"])
            row.carrier, row.service = carrier, "S"
            row.tracking_number, row.status = f"{carrier.upper()}-{uuid.uuid4().hex[:10]}", "purchased"
            session.add(
                label_tables.Label(
                    tenant_id=tenant.tenant_id,
                    shipment_id=shipment["id"],
                    carrier=carrier,
                    service="S",
                    tracking_number=row.tracking_number,
                    status="purchased",
                    cost_minor=cost,
                    currency="USD",
                )
            )
            session.commit()
    day = utcnow().date().isoformat()
    query = {"from": day, "to": day, "tz": "UTC"}
    body = client.get("/v1/kpis", query_string=query, headers=tenant.headers).get_json()
    by_carrier = {c["carrier"]: c for c in body["by_carrier"]}
    assert set(by_carrier) == set(FOUR)
    assert {c: by_carrier[c]["cost"]["amount"] for c in FOUR} == {
        c: str(Decimal(v) / 100) for c, v in costs.items()
    }
    assert all(by_carrier[c]["labelled"] == 1 for c in FOUR)
    assert body["totals"]["cost"]["amount"] == str(Decimal(sum(costs.values())) / 100)
    for carrier in ("fedex", "usps"):
        only = client.get("/v1/kpis", query_string={**query, "carrier": carrier}, headers=tenant.headers)
        assert [c["carrier"] for c in only.get_json()["by_carrier"]] == [carrier]
        assert only.get_json()["totals"]["shipments"] == 1


# --- the demo's report --------------------------------------------------------------------------


def test_the_demo_report_names_and_colours_every_carrier_it_is_given() -> None:
    from demo import carriers, report, summary

    block = {
        "shipments": 10,
        "labelled": 10,
        "delivered": 9,
        "cost": 100.0,
        "cost_per_shipment": 10.0,
        "cost_per_delivery": 11.1,
        "on_time_percent": 90.0,
        "first_attempt_percent": 95.0,
        "exception_rate_percent": 1.0,
    }
    legend = carriers.legend(["fleet", *FOUR])
    names = {c: legend[c]["name"] for c in legend}
    assert names["fleet"] == "Own fleet" and names["ups"] == "UPS" and names["usps"] == "USPS"
    assert len({legend[c]["colour"] for c in legend}) == 5  # one colour each
    record = {"carriers": {c: dict(block) for c in ["fleet", *FOUR]}, "carrier_legend": legend, "tenants": {}}
    costs = report._cost_section(record)
    cards = report._scorecards({**record, "totals": {"exceptions_by_reason": {}}})
    for code in FOUR:
        assert f"<td>{names[code]}</td>" in costs
        assert f"on-time-{code}" in cards and legend[code]["colour"] in cards
    assert summary.carrier_name(record, "fedex") == names["fedex"]
