"""The console's dispatch pages over the Flask test client: the day's vans, route sheets (page and PDF)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pypdfium2 as pdfium
import pytest

from gateway.allocation import tables
from gateway.console import dispatch_views
from gateway.kernel import models
from tests.helpers import shipment_body
from tests.integration.test_allocation_plans import (  # noqa: F401 - partners_sell_labels is an autouse fixture
    MIDTOWN,
    local_day,
    partners_sell_labels,
    plan_day,
    setup_fleet,
)
from tests.integration.test_console_allocation import signed_in_ops
from tests.integration.test_console_web import make_user, sign_in

pytestmark = pytest.mark.integration

PLANTED = '<script>alert("stop")</script>'
TINY = {"time_limit_s": "1", "seed": 1, "max_iterations": 50}


@dataclass
class Dispatched:
    tenant: Any
    client: Any
    day: date
    plan_id: str
    van_id: str
    streets: dict[str, str]  # shipment id -> street line
    order: list[str]  # the van's shipment ids in stop order


def book_at(client: Any, tenant: Any, i: int, where: tuple[str, str, str]) -> dict[str, Any]:
    postal, lat, lon = where
    body = shipment_body(f"DSP-{i}")
    body["destination"].update(
        name=f"Recipient {i}",
        street_lines=[f"{100 + i} West {50 + i}th Street"],
        postal_code=postal,
        latitude=lat,
        longitude=lon,
    )
    body["metadata"] = {"delivery_window": "09:00-12:00", "fragile": "true"} if i == 2 else {}
    resp = client.post("/v1/shipments", json=body, headers=tenant.headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def applied_plan(app: Any, client: Any, make_tenant: Any, *, apply: bool = True) -> Dispatched:
    tenant = make_tenant(("platform", "ops"))
    shipments = [book_at(client, tenant, i, w) for i, w in enumerate(MIDTOWN[:3])]
    with app.extensions["handoff"].sessions() as session:  # HTML planted in one recipient's address
        s = session.get(models.Shipment, shipments[0]["id"])
        s.destination.street2 = f"Floor 2 {PLANTED}"
        session.commit()
    _depot_id, van_id = setup_fleet(client, tenant)
    day = local_day(shipments[0])
    plan = plan_day(client, app, tenant, day, **TINY)
    if apply:
        resp = client.post(f"/v1/allocation/plans/{plan['id']}/apply", json={}, headers=tenant.headers)
        assert resp.status_code == 200, resp.get_json()
    route = next(r for r in plan["result"]["routes"] if r["vehicle_id"] == van_id)
    order = [s["shipment_id"] for s in sorted(route["stops"], key=lambda s: s["sequence"])]
    assert len(order) == 3, plan["result"]
    console, _user_id = signed_in_ops(app, tenant.tenant_id)
    streets = {s["id"]: s["destination"]["street_lines"][0] for s in shipments}
    return Dispatched(tenant, console, day, plan["id"], van_id, streets, order)


@pytest.fixture
def dispatched(app: Any, client: Any, make_tenant: Any) -> Dispatched:
    return applied_plan(app, client, make_tenant)


def text_of(resp: Any) -> str:
    return resp.get_data(as_text=True)


def pdf_text(data: bytes) -> str:
    doc = pdfium.PdfDocument(data)
    try:
        return "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    finally:
        doc.close()


def test_the_dispatch_page_lists_the_days_applied_plan_per_van_with_links(dispatched):
    d = dispatched
    page = d.client.get(f"/console/dispatch?day={d.day.isoformat()}")
    assert page.status_code == 200
    body = text_of(page)
    assert 'href="/console/dispatch"' in body  # in the navigation
    row = re.search(rf'<tr id="van-{d.plan_id}-{d.van_id}">(.*?)</tr>', body, re.S)
    assert row, body
    cells = row.group(1)
    assert "Van 1" in cells and "<td>3</td>" in cells and " km" in cells and " min" in cells
    assert "not assigned" in cells
    assert f'href="/console/dispatch/plans/{d.plan_id}/vans/{d.van_id}/route-sheet.pdf"' in cells
    assert f'href="/console/dispatch/plans/{d.plan_id}/vans/{d.van_id}"' in cells
    assert "Secaucus" in body  # the depot

    other_day = text_of(d.client.get(f"/console/dispatch?day={(d.day + timedelta(days=1)).isoformat()}"))
    assert 'id="no-plans"' in other_day and d.plan_id not in other_day
    bad = d.client.get("/console/dispatch?day=tomorrow")
    assert bad.status_code == 422 and 'id="day-error"' in text_of(bad)
    assert d.client.get("/console/dispatch").status_code == 200  # today by default


def test_the_route_sheet_pdf_lists_the_stops_in_order_with_addresses_and_parcels(dispatched):
    d = dispatched
    resp = d.client.get(f"/console/dispatch/plans/{d.plan_id}/vans/{d.van_id}/route-sheet.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert resp.data.startswith(b"%PDF-")
    assert resp.headers["Content-Disposition"].startswith('inline; filename="route-sheet-')
    text = pdf_text(resp.data)
    assert "Route sheet: Van 1" in text and d.day.isoformat() in text and "Secaucus" in text
    assert "Driver" in text
    positions = [text.find(d.streets[sid]) for sid in d.order]
    assert all(p >= 0 for p in positions), text
    assert positions == sorted(positions), (positions, text)
    assert all(f"DSP-{i}" in text for i in range(3))
    assert "New York" in text and "2.5 lb" in text  # city and parcel weight
    assert "09:00-12:00" in text and "any time" in text and "fragile" in text  # windows and notes
    assert PLANTED in text  # printed as text in the PDF (markup escaped, not interpreted)


def test_the_route_sheet_page_shows_the_stops_and_a_planted_address_as_text(dispatched):
    d = dispatched
    page = d.client.get(f"/console/dispatch/plans/{d.plan_id}/vans/{d.van_id}")
    assert page.status_code == 200
    body = text_of(page)
    assert PLANTED not in body
    assert html.escape(PLANTED) in body or "&lt;script&gt;alert(&#34;stop&#34;)&lt;/script&gt;" in body
    table = re.search(r'<table class="list sheet" id="stops">(.*?)</table>', body, re.S)
    assert table
    numbers = re.findall(r'<th scope="row" class="stop-number">(\d+)</th>', table.group(1))
    assert numbers == ["1", "2", "3"]
    positions = [table.group(1).find(d.streets[sid]) for sid in d.order]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)
    assert 'id="pdf-link"' in body


def test_another_tenants_plan_is_404_and_not_listed(app, dispatched, make_tenant):
    d = dispatched
    other = make_tenant(("ops",))
    stranger, _ = signed_in_ops(app, other.tenant_id)
    assert stranger.get(f"/console/dispatch/plans/{d.plan_id}/vans/{d.van_id}").status_code == 404
    pdf = stranger.get(f"/console/dispatch/plans/{d.plan_id}/vans/{d.van_id}/route-sheet.pdf")
    assert pdf.status_code == 404 and pdf.mimetype == "text/html"
    listing = text_of(stranger.get(f"/console/dispatch?day={d.day.isoformat()}"))
    assert d.plan_id not in listing and 'id="no-plans"' in listing
    # The owner asking for a van the plan does not use: 404 too.
    assert d.client.get(f"/console/dispatch/plans/{d.plan_id}/vans/veh_nope").status_code == 404


def test_finance_gets_403_and_no_link_admin_passes_signed_out_goes_to_login(app, dispatched):
    d = dispatched
    email = make_user(app, d.tenant.tenant_id, ("finance",))
    finance = app.test_client()
    assert sign_in(finance, email).status_code == 303
    assert finance.get("/console/dispatch").status_code == 403
    sheet = finance.get(f"/console/dispatch/plans/{d.plan_id}/vans/{d.van_id}/route-sheet.pdf")
    assert sheet.status_code == 403
    assert 'href="/console/dispatch"' not in text_of(finance.get("/console/"))

    admin_email = make_user(app, d.tenant.tenant_id, ("admin",))
    admin = app.test_client()
    assert sign_in(admin, admin_email).status_code == 303
    assert admin.get(f"/console/dispatch?day={d.day.isoformat()}").status_code == 200

    anonymous = app.test_client()
    resp = anonymous.get(f"/console/dispatch/plans/{d.plan_id}/vans/{d.van_id}/route-sheet.pdf")
    assert resp.status_code == 303 and "/console/login" in resp.headers["Location"]


def test_a_plan_not_applied_has_no_route_sheet_and_is_not_listed(app, client, make_tenant):
    d = applied_plan(app, client, make_tenant, apply=False)
    resp = d.client.get(f"/console/dispatch/plans/{d.plan_id}/vans/{d.van_id}/route-sheet.pdf")
    assert resp.status_code == 409 and "apply it" in text_of(resp)
    assert d.plan_id not in text_of(d.client.get(f"/console/dispatch?day={d.day.isoformat()}"))
    with app.extensions["handoff"].sessions() as session:
        assert session.get(tables.PlanRun, d.plan_id).state == "done"


def test_a_long_route_sheet_runs_over_pages_with_the_headings_repeated_and_numbered():
    stops = [
        dispatch_views.SheetStop(
            sequence=n,
            window="any time",
            eta="09:00",
            recipient=f"R{n} & Co <b>",
            address=f"{n} Main St, 10001 New York, NY, US",
            parcels=[dispatch_views.ParcelLine(f"REF-{n}", "", "1 kg")],
            notes=[],
        )
        for n in range(1, 61)
    ]
    sheet = dispatch_views.RouteSheet(
        "alp_x", "Depot", "0, 0 (UTC)", date(2026, 12, 4), "veh_x", "Van Ü", "", "1", "2", "3", stops
    )
    text = pdf_text(dispatch_views.render_pdf(sheet))
    assert text.count("Recipient and address") >= 2 and "page 2" in text
    assert "R60 & Co <b>" in text and "Van Ü" in text
    assert [int(m) for m in re.findall(r"\b(\d+) any time", text)] == list(range(1, 61))


def test_a_fleet_label_bought_after_the_plan_prints_its_stop_and_van(app, dispatched):
    from tests.integration.test_console_finance import run_jobs

    first, last = dispatched.order[0], dispatched.order[-1]
    headers = dispatched.tenant.headers
    client = app.test_client()
    for shipment_id in (first, last):
        bought = client.post(
            f"/v1/shipments/{shipment_id}/label", json={"label_format": "pdf"}, headers=headers
        )
        assert bought.status_code == 202, bought.get_json()
    run_jobs(app)
    van = (
        client.get(f"/v1/allocation/vehicles/{dispatched.van_id}", headers=headers).get_json()["name"].upper()
    )
    for stop, shipment_id in ((1, first), (len(dispatched.order), last)):
        pdf = client.get(f"/v1/shipments/{shipment_id}/label", headers=headers)
        assert pdf.status_code == 200, pdf.get_json()
        assert f"STOP {stop} - {van}" in pdf_text(pdf.data)
        zpl = client.get(f"/v1/shipments/{shipment_id}/label?format=zpl", headers=headers)
        assert f"^FDSTOP {stop} - {van}^FS".encode() in zpl.data
