"""The console's fleet pages over the Flask test client: depots and vans listed, added, changed, deactivated."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.allocation import tables
from gateway.console import fleet_views
from tests.integration.test_allocation import depot_body, vehicle_body
from tests.integration.test_allocation_plans import setup_fleet
from tests.integration.test_console_allocation import signed_in_ops
from tests.integration.test_console_web import csrf_of, make_user, sign_in

pytestmark = pytest.mark.integration

DASH = "\u2013"  # en dash, as the pages write time ranges
PLANTED = '<script>alert("van")</script><b>bold</b>'
NEW_VAN = {
    "name": "Van 2",
    "capacity_kg": "650.5",
    "capacity_m3": "8",
    "max_stops": "40",
    "shift_start": "07:30",
    "shift_end": "16:00",
    "speed_kmh": "",
    "cost_per_km": "0.75",
    "cost_per_hour": "22.50",
    "cost_per_day": "15",
}


@dataclass
class Fleet:
    tenant: Any
    client: Any
    user_id: str
    depot_id: str
    van_id: str


@pytest.fixture
def ops(app: Any, client: Any, make_tenant: Any) -> Fleet:
    """A tenant with the API's Secaucus depot and its Van 1, and an ops user signed in to the console."""
    tenant = make_tenant(("platform", "ops"))
    depot_id, van_id = setup_fleet(client, tenant)
    console, user_id = signed_in_ops(app, tenant.tenant_id)
    return Fleet(tenant, console, user_id, depot_id, van_id)


def text_of(resp: Any) -> str:
    return resp.get_data(as_text=True)


def post(client: Any, path: str, data: dict[str, str], page: str | None = None) -> Any:
    token = csrf_of(text_of(client.get(page or path)))
    return client.post(path, data={**data, "csrf_token": token})


def vans_of(app: Any, tenant_id: str) -> list[tables.Vehicle]:
    with app.extensions["handoff"].sessions() as session:
        rows = session.execute(
            sa.select(tables.Vehicle)
            .where(tables.Vehicle.tenant_id == tenant_id)
            .order_by(tables.Vehicle.created_at)
        ).scalars()
        found = list(rows)
        session.expunge_all()
        return found


def audit_of(app: Any, entity_id: str) -> list[tuple[str, str | None, dict[str, Any]]]:
    with app.extensions["handoff"].sessions() as session:
        return [
            (a.action, a.actor, a.changes)
            for a in session.execute(
                sa.select(tables.AuditEntry)
                .where(tables.AuditEntry.entity_id == entity_id)
                .order_by(tables.AuditEntry.id)
            ).scalars()
        ]


def field_error(body: str, name: str) -> str:
    found = re.search(rf'<span class="fleet-error" id="e-{name}">(.*?)</span>', body, re.S)
    assert found, body
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1)))


def test_the_fleet_page_lists_the_depot_and_its_vans_with_capacity_shift_and_costs(ops):
    page = ops.client.get("/console/fleet")
    assert page.status_code == 200
    body = text_of(page)
    assert 'href="/console/fleet"' in body  # in the navigation
    depot = re.search(rf'<tr id="depot-{ops.depot_id}">(.*?)</tr>', body, re.S)
    assert depot, body
    cells = depot.group(1)
    assert "Secaucus" in cells and "40.7895, -74.0565" in cells and f"07:00{DASH}20:00" in cells
    assert "America/New_York" in cells and "USD" in cells and "1 active" in cells and "active" in cells
    van = re.search(rf'<tr id="van-{ops.van_id}">(.*?)</tr>', body, re.S)
    assert van, body
    cells = van.group(1)
    assert "Van 1" in cells and ops.van_id in cells
    assert "800 kg · 10 m³ · 60 stops" in cells and f"08:00{DASH}18:00" in cells
    assert "0.50 / km · 20.00 / h · 20.00 / day USD" in cells
    assert 'id="depot-map"' in body and "<title>Secaucus (40.78950, -74.05650)</title>" in body

    depot_page = ops.client.get(f"/console/fleet/depots/{ops.depot_id}")
    assert depot_page.status_code == 200
    assert f'<tr id="van-{ops.van_id}">' in text_of(depot_page) and 'id="depot-map"' in text_of(depot_page)


def test_a_van_added_in_the_console_is_listed_and_served_by_the_api_with_the_user_as_actor(app, ops):
    resp = post(ops.client, f"/console/fleet/depots/{ops.depot_id}/vans/new", NEW_VAN)
    assert resp.status_code == 303, text_of(resp)
    van_id = resp.headers["Location"].rsplit("/", 1)[1].split("?")[0]
    assert text_of(ops.client.get(resp.headers["Location"])).count("Created.") == 1
    listed = text_of(ops.client.get("/console/fleet"))
    row = re.search(rf'<tr id="van-{van_id}">(.*?)</tr>', listed, re.S)
    assert row and "Van 2" in row.group(1) and "650.5 kg · 8 m³ · 40 stops" in row.group(1)
    assert f"07:30{DASH}16:00" in row.group(1) and "0.75 / km · 22.50 / h · 15.00 / day USD" in row.group(1)

    api = ops.client.get("/v1/allocation/vehicles", headers=ops.tenant.headers)
    assert api.status_code == 200
    served = {v["id"]: v for v in api.get_json()["data"]}
    assert set(served) == {ops.van_id, van_id}
    assert served[van_id]["depot_id"] == ops.depot_id and served[van_id]["speed_kmh"] == "30"
    assert served[van_id]["cost_per_km"] == {"amount": "0.75", "currency": "USD"}
    stored = next(v for v in vans_of(app, ops.tenant.tenant_id) if v.id == van_id)
    assert (stored.cost_per_km_minor, stored.cost_per_hour_minor, stored.cost_per_day_minor) == (
        75,
        2250,
        1500,
    )
    assert stored.capacity_kg == Decimal("650.5")
    assert [(a, actor) for a, actor, _ in audit_of(app, van_id)] == [("create", ops.user_id)]


def test_editing_a_vans_capacity_writes_a_new_version_by_the_user(app, ops):
    form = fleet_views.van_form(next(v for v in vans_of(app, ops.tenant.tenant_id)))
    assert form["cost_per_km"] == "0.50" and form["capacity_kg"] == "800"
    resp = post(ops.client, f"/console/fleet/vans/{ops.van_id}", {**form, "capacity_kg": "950.25"})
    assert resp.status_code == 303, text_of(resp)
    (van,) = vans_of(app, ops.tenant.tenant_id)
    assert van.capacity_kg == Decimal("950.25") and van.version == 2
    assert van.cost_per_km_minor == 50 and van.max_stops == 60  # untouched
    action, actor, changes = audit_of(app, ops.van_id)[-1]
    assert (action, actor) == ("update", ops.user_id)
    assert set(changes) == {"capacity_kg"}
    page = text_of(ops.client.get(resp.headers["Location"]))
    assert 'value="950.25"' in page and "Saved" in page
    served = ops.client.get(f"/v1/allocation/vehicles/{ops.van_id}", headers=ops.tenant.headers).get_json()
    assert served["capacity_kg"] == "950.25" and served["version"] == 2

    cleared = post(ops.client, f"/console/fleet/vans/{ops.van_id}", {**form, "max_stops": ""})
    assert cleared.status_code == 303
    assert vans_of(app, ops.tenant.tenant_id)[0].max_stops is None  # empty: no stop limit


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"capacity_kg": "-5"}, "capacity_kg", "Must be greater than 0."),
        ({"shift_start": "17:00", "shift_end": "09:00"}, "shift_end", "must be after shift_start"),
        ({"cost_per_km": "0.505"}, "cost_per_km", "at most 2 decimals in USD"),
        ({"cost_per_hour": "twenty"}, "cost_per_hour", 'Must be a decimal number, e.g. "1.25".'),
        ({"cost_per_day": "-1"}, "cost_per_day", "Must be at least 0."),
        ({"shift_start": "8h"}, "shift_start", "not HH:MM"),
    ],
)
def test_bad_van_input_is_refused_beside_its_field_as_the_api_refuses_it_and_nothing_is_stored(
    app, ops, change, field, message
):
    before = vans_of(app, ops.tenant.tenant_id)
    resp = post(ops.client, f"/console/fleet/depots/{ops.depot_id}/vans/new", {**NEW_VAN, **change})
    assert resp.status_code == 422
    body = text_of(resp)
    assert 'id="fleet-errors"' in body and "Nothing was saved" in body
    assert field_error(body, field) == f"{field}: {message}"
    assert f'id="f-{field}"' in body and 'aria-invalid="true"' in body
    assert 'value="Van 2"' in body  # the form keeps what was typed
    assert [v.id for v in vans_of(app, ops.tenant.tenant_id)] == [v.id for v in before]

    api = ops.client.post(
        "/v1/allocation/vehicles",
        json=vehicle_body(ops.depot_id, **{k: v for k, v in change.items()}),
        headers=ops.tenant.headers,
    )
    assert api.status_code == 422 and api.get_json()["errors"][field] == [message]  # the same path and words

    edit = post(ops.client, f"/console/fleet/vans/{ops.van_id}", {**NEW_VAN, "speed_kmh": "30", **change})
    assert edit.status_code == 422 and field_error(text_of(edit), field) == f"{field}: {message}"
    (van,) = vans_of(app, ops.tenant.tenant_id)
    assert van.version == 1 and van.name == "Van 1" and van.capacity_kg == Decimal(800)


def test_a_depot_is_added_and_changed_and_a_currency_its_vans_do_not_use_is_refused(app, ops):
    body = {k: str(v) for k, v in depot_body(name="Newark", latitude="40.7357", longitude="-74.1724").items()}
    missing = post(ops.client, "/console/fleet/depots/new", {**body, "latitude": ""})
    assert missing.status_code == 422
    assert field_error(text_of(missing), "latitude") == "latitude: Missing data for required field."
    bad_zone = post(ops.client, "/console/fleet/depots/new", {**body, "timezone": "Mars/Olympus"})
    assert bad_zone.status_code == 422 and "timezone" in field_error(text_of(bad_zone), "timezone")

    created = post(ops.client, "/console/fleet/depots/new", body)
    assert created.status_code == 303, text_of(created)
    depot_id = created.headers["Location"].rsplit("/", 1)[1].split("?")[0]
    served = ops.client.get(f"/v1/allocation/depots/{depot_id}", headers=ops.tenant.headers).get_json()
    assert served["name"] == "Newark" and served["road_factor"] == "1.3" and served["opens"] == "07:00"
    assert audit_of(app, depot_id)[0][:2] == ("create", ops.user_id)

    page = text_of(ops.client.get(f"/console/fleet/depots/{depot_id}"))
    form = {k: html.unescape(v) for k, v in re.findall(r'name="(\w+)" type="text" value="([^"]*)"', page)}
    form["currency"] = "USD"
    closes = post(ops.client, f"/console/fleet/depots/{depot_id}", {**form, "closes": "06:00"})
    assert (
        closes.status_code == 422 and field_error(text_of(closes), "closes") == "closes: must be after opens"
    )
    saved = post(ops.client, f"/console/fleet/depots/{depot_id}", {**form, "name": "Newark North"})
    assert saved.status_code == 303
    served = ops.client.get(f"/v1/allocation/depots/{depot_id}", headers=ops.tenant.headers).get_json()
    assert served["name"] == "Newark North" and served["version"] == 2 and served["closes"] == "20:00"

    seeded = text_of(ops.client.get(f"/console/fleet/depots/{ops.depot_id}"))
    seeded_form = dict(re.findall(r'name="(\w+)" type="text" value="([^"]*)"', seeded))
    euro = post(ops.client, f"/console/fleet/depots/{ops.depot_id}", {**seeded_form, "currency": "EUR"})
    assert euro.status_code == 409 and "costs are in USD" in text_of(euro)
    assert (
        ops.client.get(f"/v1/allocation/depots/{ops.depot_id}", headers=ops.tenant.headers).get_json()[
            "currency"
        ]
        == "USD"
    )


def test_a_van_is_deactivated_and_reactivated(app, ops):
    resp = post(
        ops.client,
        f"/console/fleet/vans/{ops.van_id}/state",
        {"action": "deactivate"},
        page=f"/console/fleet/vans/{ops.van_id}",
    )
    assert resp.status_code == 303
    assert vans_of(app, ops.tenant.tenant_id)[0].active is False
    assert ops.client.get("/v1/allocation/vehicles", headers=ops.tenant.headers).get_json()["data"] == []
    listed = text_of(ops.client.get("/console/fleet"))
    row = re.search(rf'<tr id="van-{ops.van_id}" class="inactive">(.*?)</tr>', listed, re.S)
    assert row and "deactivated" in row.group(1)
    assert "0 active (1 in all)" in listed
    assert [a[:2] for a in audit_of(app, ops.van_id)][-1] == ("deactivate", ops.user_id)

    back = post(
        ops.client,
        f"/console/fleet/vans/{ops.van_id}/state",
        {"action": "reactivate"},
        page=f"/console/fleet/vans/{ops.van_id}",
    )
    assert back.status_code == 303 and vans_of(app, ops.tenant.tenant_id)[0].active is True

    depot = post(
        ops.client,
        f"/console/fleet/depots/{ops.depot_id}/state",
        {"action": "deactivate"},
        page=f"/console/fleet/depots/{ops.depot_id}",
    )
    assert depot.status_code == 303
    assert ops.client.get("/v1/allocation/depots", headers=ops.tenant.headers).get_json()["data"] == []
    assert 'id="depot-state">deactivated' in text_of(ops.client.get(f"/console/fleet/depots/{ops.depot_id}"))


def test_another_tenants_depot_and_van_are_404_and_cannot_be_written(app, ops, make_tenant):
    other = make_tenant(("ops",))
    stranger, _ = signed_in_ops(app, other.tenant_id)
    token = csrf_of(text_of(stranger.get("/console/fleet")))
    for path in (
        f"/console/fleet/depots/{ops.depot_id}",
        f"/console/fleet/vans/{ops.van_id}",
        f"/console/fleet/depots/{ops.depot_id}/vans/new",
    ):
        assert stranger.get(path).status_code == 404
        assert stranger.post(path, data={**NEW_VAN, "csrf_token": token}).status_code == 404
    for path in (f"/console/fleet/depots/{ops.depot_id}/state", f"/console/fleet/vans/{ops.van_id}/state"):
        assert stranger.post(path, data={"action": "deactivate", "csrf_token": token}).status_code == 404
    (van,) = vans_of(app, ops.tenant.tenant_id)
    assert van.active and van.version == 1
    own = text_of(stranger.get("/console/fleet"))
    assert "Secaucus" not in own and ops.van_id not in own and 'id="no-depots"' in own


def test_posts_without_the_csrf_token_are_refused_and_change_nothing(app, ops):
    add = ops.client.post(f"/console/fleet/depots/{ops.depot_id}/vans/new", data=NEW_VAN)
    assert add.status_code == 403 and add.mimetype == "text/html"
    edit = ops.client.post(f"/console/fleet/vans/{ops.van_id}", data={**NEW_VAN, "csrf_token": "0" * 64})
    assert edit.status_code == 403
    off = ops.client.post(f"/console/fleet/vans/{ops.van_id}/state", data={"action": "deactivate"})
    assert off.status_code == 403
    depot = ops.client.post("/console/fleet/depots/new", data={"name": "x"})
    assert depot.status_code == 403
    (van,) = vans_of(app, ops.tenant.tenant_id)
    assert van.active and van.version == 1 and van.name == "Van 1"


def test_finance_does_not_see_the_fleet_and_admin_does(app, ops):
    email = make_user(app, ops.tenant.tenant_id, ("finance",))
    client = app.test_client()
    assert sign_in(client, email).status_code == 303
    assert client.get("/console/fleet").status_code == 403
    assert client.get(f"/console/fleet/vans/{ops.van_id}").status_code == 403
    assert 'href="/console/fleet"' not in text_of(client.get("/console/"))
    admin = app.test_client()
    assert sign_in(admin, make_user(app, ops.tenant.tenant_id, ("admin",))).status_code == 303
    assert admin.get("/console/fleet").status_code == 200
    assert 'href="/console/fleet"' in text_of(admin.get("/console/"))


def test_a_planted_van_name_is_shown_as_text(app, ops):
    resp = post(ops.client, f"/console/fleet/depots/{ops.depot_id}/vans/new", {**NEW_VAN, "name": PLANTED})
    assert resp.status_code == 303
    for path in ("/console/fleet", f"/console/fleet/depots/{ops.depot_id}", resp.headers["Location"]):
        body = text_of(ops.client.get(path))
        assert PLANTED not in body and "<b>bold</b>" not in body
        assert "&lt;script&gt;" in body and "&lt;b&gt;bold&lt;/b&gt;" in body
    refused = post(
        ops.client,
        f"/console/fleet/depots/{ops.depot_id}/vans/new",
        {**NEW_VAN, "name": PLANTED, "capacity_kg": "0"},
    )
    assert refused.status_code == 422 and PLANTED not in text_of(refused)


def test_long_lists_are_paginated(app, ops, monkeypatch):
    monkeypatch.setattr(fleet_views, "DEPOTS_PER_PAGE", 1)
    monkeypatch.setattr(fleet_views, "VANS_PER_PAGE", 1)
    monkeypatch.setattr(fleet_views, "VANS_ON_OVERVIEW", 1)
    second = ops.client.post(
        "/v1/allocation/depots", json=depot_body(name="Second depot"), headers=ops.tenant.headers
    )
    assert second.status_code == 201
    extra = ops.client.post(
        "/v1/allocation/vehicles", json=vehicle_body(ops.depot_id, name="Van 9"), headers=ops.tenant.headers
    )
    assert extra.status_code == 201
    first_page = text_of(ops.client.get("/console/fleet"))
    assert "Secaucus" in first_page and "Second depot" not in first_page
    assert 'href="/console/fleet?page=2"' in first_page and "The first 1 of 2" in first_page
    assert "Second depot" in text_of(ops.client.get("/console/fleet?page=2"))
    assert "Second depot" in text_of(ops.client.get("/console/fleet?page=99"))  # the last page
    for odd in ("\u00b2", "\u0663", "-1", "1.5"):  # digits int() refuses, and no whole number
        assert ops.client.get(f"/console/fleet?page={odd}").status_code == 200, odd
        assert ops.client.get(f"/console/shipments?page={odd}").status_code == 200, odd
    depot_page = text_of(ops.client.get(f"/console/fleet/depots/{ops.depot_id}"))
    assert "Van 1" in depot_page and "Van 9" not in depot_page and "page 1 of 2" in depot_page
    assert "Van 9" in text_of(ops.client.get(f"/console/fleet/depots/{ops.depot_id}?page=2"))


def test_a_capacity_too_large_to_store_is_refused_not_a_server_error(app, ops):
    resp = post(
        ops.client, f"/console/fleet/depots/{ops.depot_id}/vans/new", {**NEW_VAN, "capacity_kg": "5000000000"}
    )
    # The API's schema bounds it below what numeric(12, 3) holds, on every database.
    assert resp.status_code == 422 and "capacity_kg" in text_of(resp)
    assert len(vans_of(app, ops.tenant.tenant_id)) == 1
    api = app.test_client().post(
        "/v1/allocation/vehicles",
        json={**vehicle_body(ops.depot_id), "capacity_kg": "5000000000", "capacity_m3": "100000000"},
        headers=ops.tenant.headers,
    )
    assert api.status_code == 422
    assert set(api.get_json()["errors"]) == {"capacity_kg", "capacity_m3"}
