"""The driver of a van's route in an applied plan: assigned from the console's dispatch pages and the API.

What ops see (the overview, the van's page, the route sheet PDF), what is stored, and the audit log.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.allocation import tables
from gateway.kernel import models
from tests.integration.test_allocation_plans import partners_sell_labels  # noqa: F401 - autouse fixture
from tests.integration.test_console_allocation import signed_in_ops
from tests.integration.test_console_dispatch import Dispatched, applied_plan, pdf_text, text_of
from tests.integration.test_console_web import csrf_of, make_user, sign_in

pytestmark = pytest.mark.integration

PLANTED_NAME = 'Ana <script>alert("drv")</script> Lopez'


@pytest.fixture
def dispatched(app: Any, client: Any, make_tenant: Any) -> Dispatched:
    return applied_plan(app, client, make_tenant)


def van_url(d: Dispatched) -> str:
    return f"/console/dispatch/plans/{d.plan_id}/vans/{d.van_id}"


def post_driver(client: Any, d: Dispatched, driver_id: str, name: str, token: str | None = None) -> Any:
    token = token if token is not None else csrf_of(text_of(client.get(van_url(d))))
    return client.post(
        f"{van_url(d)}/driver", data={"driver_id": driver_id, "driver_name": name, "csrf_token": token}
    )


def stored(app: Any, plan_id: str) -> list[tables.RouteDriver]:
    with app.extensions["handoff"].sessions() as session:
        rows = session.execute(sa.select(tables.RouteDriver).where(tables.RouteDriver.plan_id == plan_id))
        return list(rows.scalars())


def audit(app: Any, plan_id: str) -> list[tables.AuditEntry]:
    with app.extensions["handoff"].sessions() as session:
        rows = session.execute(
            sa.select(tables.AuditEntry)
            .where(tables.AuditEntry.entity_id == plan_id, tables.AuditEntry.action.like("%driver"))
            .order_by(tables.AuditEntry.id)
        )
        return list(rows.scalars())


def overview_row(d: Dispatched) -> str:
    body = text_of(d.client.get(f"/console/dispatch?day={d.day.isoformat()}"))
    row = re.search(rf'<tr id="van-{d.plan_id}-{d.van_id}">(.*?)</tr>', body, re.S)
    assert row, body
    return row.group(1)


def test_ops_assign_a_driver_shown_on_the_overview_the_van_page_and_the_pdf_as_text(app, dispatched):
    d = dispatched
    page = text_of(d.client.get(van_url(d)))
    assert 'id="driver-form"' in page and 'id="unassign-form"' not in page
    assert '<dd id="driver-shown">not assigned</dd>' in page

    resp = post_driver(d.client, d, "drv-17", PLANTED_NAME)
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith(f"{van_url(d)}?driver=saved#driver")

    page = text_of(d.client.get(f"{van_url(d)}?driver=saved"))
    assert PLANTED_NAME not in page  # escaped, never markup
    shown = re.search(r'<dd id="driver-shown">(.*?)</dd>', page, re.S)
    assert shown and html.unescape(shown.group(1)) == f"{PLANTED_NAME} (drv-17)"
    assert 'id="driver-notice"' in page and 'id="unassign-form"' in page
    assert 'value="drv-17"' in page  # the form shows the current driver to change

    cells = overview_row(d)
    assert PLANTED_NAME not in cells and f"{PLANTED_NAME} (drv-17)" in html.unescape(cells)
    assert "not assigned" not in cells and "Change the driver of Van 1" in cells

    pdf = d.client.get(f"{van_url(d)}/route-sheet.pdf")
    assert pdf.status_code == 200
    text = pdf_text(pdf.data)
    assert f"Driver {PLANTED_NAME} (drv-17)" in text  # printed as text, markup escaped
    assert "________" not in text

    (row,) = stored(app, d.plan_id)
    assert (row.vehicle_id, row.driver_id, row.driver_name) == (d.van_id, "drv-17", PLANTED_NAME)
    assert row.tenant_id == d.tenant.tenant_id and row.assigned_by and row.assigned_by.startswith("usr_")
    (entry,) = audit(app, d.plan_id)
    assert (entry.entity_type, entry.action, entry.actor) == ("plan", "assign_driver", row.assigned_by)
    assert entry.changes == {
        "vehicle_id": d.van_id,
        "driver_id": [None, "drv-17"],
        "driver_name": [None, PLANTED_NAME],
    }


def test_reassigning_replaces_the_driver_and_the_same_driver_again_changes_nothing(app, dispatched):
    d = dispatched
    assert post_driver(d.client, d, "drv-17", "Ana Lopez").status_code == 303
    assert post_driver(d.client, d, " drv-42 ", " Bo Chen ").status_code == 303  # blanks around dropped
    assert post_driver(d.client, d, "drv-42", "Bo Chen").status_code == 303  # the same: no change

    (row,) = stored(app, d.plan_id)
    assert (row.driver_id, row.driver_name) == ("drv-42", "Bo Chen")
    assert "Bo Chen (drv-42)" in overview_row(d)
    assert "Driver Bo Chen (drv-42)" in pdf_text(d.client.get(f"{van_url(d)}/route-sheet.pdf").data)
    entries = audit(app, d.plan_id)
    assert [e.action for e in entries] == ["assign_driver", "assign_driver"]
    assert entries[1].changes["driver_id"] == ["drv-17", "drv-42"]
    assert entries[1].changes["driver_name"] == ["Ana Lopez", "Bo Chen"]


def test_unassigning_leaves_the_line_blank_again_and_is_audited(app, dispatched):
    d = dispatched
    assert post_driver(d.client, d, "drv-17", "Ana Lopez").status_code == 303
    token = csrf_of(text_of(d.client.get(van_url(d))))
    resp = d.client.post(f"{van_url(d)}/driver/remove", data={"csrf_token": token})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("?driver=removed#driver")
    page = text_of(d.client.get(f"{van_url(d)}?driver=removed"))
    assert '<dd id="driver-shown">not assigned</dd>' in page and 'id="unassign-form"' not in page
    assert "not assigned" in overview_row(d)
    text = pdf_text(d.client.get(f"{van_url(d)}/route-sheet.pdf").data)
    assert "Ana Lopez" not in text and "Driver ____" in text
    assert stored(app, d.plan_id) == []
    last = audit(app, d.plan_id)[-1]
    assert last.action == "unassign_driver" and last.changes["driver_id"] == ["drv-17", None]
    # Taking off a driver that is not there changes nothing and writes nothing.
    again = d.client.post(f"{van_url(d)}/driver/remove", data={"csrf_token": token})
    assert again.status_code == 303 and len(audit(app, d.plan_id)) == 2


def test_a_blank_or_control_character_driver_is_refused_beside_the_form(app, dispatched):
    d = dispatched
    resp = post_driver(d.client, d, "drv-17", "   ")
    assert resp.status_code == 422
    body = text_of(resp)
    assert 'id="driver-errors"' in body and "Name" in body and 'value="drv-17"' in body
    assert post_driver(d.client, d, "drv\x07", "Ana").status_code == 422
    assert stored(app, d.plan_id) == [] and audit(app, d.plan_id) == []


def test_another_tenants_plan_is_404_and_nothing_changes(app, dispatched, make_tenant):
    d = dispatched
    other = make_tenant(("ops",))
    stranger, _ = signed_in_ops(app, other.tenant_id)
    token = csrf_of(text_of(stranger.get("/console/dispatch")))
    assert post_driver(stranger, d, "drv-1", "Mallory", token).status_code == 404
    assert stranger.post(f"{van_url(d)}/driver/remove", data={"csrf_token": token}).status_code == 404
    # The owner naming a van the plan does not use: 404 too.
    own = csrf_of(text_of(d.client.get(van_url(d))))
    missing = d.client.post(
        f"/console/dispatch/plans/{d.plan_id}/vans/veh_nope/driver",
        data={"driver_id": "drv-1", "driver_name": "Ana", "csrf_token": own},
    )
    assert missing.status_code == 404
    api = app.test_client().put(
        f"/v1/allocation/plans/{d.plan_id}/vehicles/{d.van_id}/driver",
        json={"driver_id": "drv-1", "driver_name": "Mallory"},
        headers=other.headers,
    )
    assert api.status_code == 404 and api.get_json()["type"].endswith("/not-found")
    assert stored(app, d.plan_id) == [] and audit(app, d.plan_id) == []


def test_a_plan_not_applied_takes_no_driver(app, client, make_tenant):
    d = applied_plan(app, client, make_tenant, apply=False)
    token = csrf_of(text_of(d.client.get("/console/dispatch")))
    resp = post_driver(d.client, d, "drv-1", "Ana", token)
    assert resp.status_code == 409 and "apply it" in text_of(resp)
    api = client.put(
        f"/v1/allocation/plans/{d.plan_id}/vehicles/{d.van_id}/driver",
        json={"driver_id": "drv-1", "driver_name": "Ana"},
        headers=d.tenant.headers,
    )
    assert api.status_code == 409 and api.get_json()["type"].endswith("/conflict")
    assert "apply it" in api.get_json()["detail"]
    gone = client.delete(
        f"/v1/allocation/plans/{d.plan_id}/vehicles/{d.van_id}/driver", headers=d.tenant.headers
    )
    assert gone.status_code == 409
    assert stored(app, d.plan_id) == []


def test_a_post_without_the_csrf_token_is_refused(app, dispatched):
    d = dispatched
    assert post_driver(d.client, d, "drv-1", "Ana", token="").status_code == 403
    assert post_driver(d.client, d, "drv-1", "Ana", token="0" * 64).status_code == 403
    assert d.client.post(f"{van_url(d)}/driver/remove", data={}).status_code == 403
    assert stored(app, d.plan_id) == []


def test_finance_gets_403_and_admin_may_assign(app, dispatched):
    d = dispatched
    finance = app.test_client()
    assert sign_in(finance, make_user(app, d.tenant.tenant_id, ("finance",))).status_code == 303
    token = csrf_of(text_of(finance.get("/console/")))
    assert post_driver(finance, d, "drv-1", "Ana", token).status_code == 403
    assert finance.post(f"{van_url(d)}/driver/remove", data={"csrf_token": token}).status_code == 403
    assert stored(app, d.plan_id) == []

    admin = app.test_client()
    assert sign_in(admin, make_user(app, d.tenant.tenant_id, ("admin",))).status_code == 303
    assert post_driver(admin, d, "drv-1", "Ana").status_code == 303
    assert [r.driver_id for r in stored(app, d.plan_id)] == ["drv-1"]


def test_the_api_assigns_changes_and_removes_the_driver_idempotently(app, client, dispatched, make_tenant):
    d = dispatched
    url = f"/v1/allocation/plans/{d.plan_id}/vehicles/{d.van_id}/driver"
    put = client.put(url, json={"driver_id": "drv-17", "driver_name": "Ana Lopez"}, headers=d.tenant.headers)
    assert put.status_code == 200, put.get_json()
    body = put.get_json()
    assert {k: body[k] for k in ("plan_id", "vehicle_id", "driver_id", "driver_name", "assigned_by")} == {
        "plan_id": d.plan_id,
        "vehicle_id": d.van_id,
        "driver_id": "drv-17",
        "driver_name": "Ana Lopez",
        "assigned_by": d.tenant.key_id,
    }
    again = client.put(
        url, json={"driver_id": "drv-17", "driver_name": "Ana Lopez"}, headers=d.tenant.headers
    )
    assert again.status_code == 200 and again.get_json() == body  # same driver: nothing changes

    plan = client.get(f"/v1/allocation/plans/{d.plan_id}", headers=d.tenant.headers).get_json()
    route = next(r for r in plan["result"]["routes"] if r["vehicle_id"] == d.van_id)
    assert route["driver"] == body
    assert all(r["driver"] is None for r in plan["result"]["routes"] if r["vehicle_id"] != d.van_id)

    log = client.get(
        f"/v1/allocation/audit?entity_type=plan&entity_id={d.plan_id}", headers=d.tenant.headers
    ).get_json()["data"]
    assigned = [e for e in log if e["action"] == "assign_driver"]
    assert len(assigned) == 1 and assigned[0]["actor"] == d.tenant.key_id
    assert assigned[0]["changes"]["vehicle_id"] == d.van_id

    for bad in (
        {"driver_id": "", "driver_name": "Ana"},
        {"driver_id": "drv-1"},
        {"driver_id": "x" * 65, "driver_name": "A"},
    ):
        refused = client.put(url, json=bad, headers=d.tenant.headers)
        assert refused.status_code == 422 and refused.get_json()["type"].endswith("/validation-error"), bad
    unknown_van = client.put(
        f"/v1/allocation/plans/{d.plan_id}/vehicles/veh_nope/driver",
        json={"driver_id": "drv-1", "driver_name": "Ana"},
        headers=d.tenant.headers,
    )
    assert unknown_van.status_code == 404 and "no route" in unknown_van.get_json()["detail"]
    finance = make_tenant(("finance", "platform"))
    assert (
        client.put(url, json={"driver_id": "d", "driver_name": "n"}, headers=finance.headers).status_code
        == 403
    )

    gone = client.delete(url, headers=d.tenant.headers)
    assert gone.status_code == 204 and gone.data == b""
    assert client.delete(url, headers=d.tenant.headers).status_code == 204  # none left: still fine
    plan = client.get(f"/v1/allocation/plans/{d.plan_id}", headers=d.tenant.headers).get_json()
    assert all(r["driver"] is None for r in plan["result"]["routes"])
    actions = [e.action for e in audit(app, d.plan_id)]
    assert actions == ["assign_driver", "unassign_driver"]
    assert stored(app, d.plan_id) == []


def test_one_driver_drives_one_van_of_a_plan(app, client, dispatched):
    d = dispatched
    with app.extensions["handoff"].sessions() as session:  # a second van with the same stops
        row = session.get(tables.PlanRun, d.plan_id)
        route = next(r for r in row.result["routes"] if r["vehicle_id"] == d.van_id)
        row.result = {**row.result, "routes": [*row.result["routes"], {**route, "vehicle_id": "veh_second"}]}
        session.commit()
    url = f"/v1/allocation/plans/{d.plan_id}/vehicles"
    first = client.put(
        f"{url}/{d.van_id}/driver",
        json={"driver_id": "drv-1", "driver_name": "Ana"},
        headers=d.tenant.headers,
    )
    assert first.status_code == 200
    clash = client.put(
        f"{url}/veh_second/driver",
        json={"driver_id": "drv-1", "driver_name": "Ana"},
        headers=d.tenant.headers,
    )
    assert clash.status_code == 409 and d.van_id in clash.get_json()["detail"]
    other = client.put(
        f"{url}/veh_second/driver", json={"driver_id": "drv-2", "driver_name": "Bo"}, headers=d.tenant.headers
    )
    assert other.status_code == 200
    assert sorted((r.vehicle_id, r.driver_id) for r in stored(app, d.plan_id)) == [
        (d.van_id, "drv-1"),
        ("veh_second", "drv-2"),
    ]


def test_any_printable_name_is_kept_and_the_pdf_prints_what_its_fonts_can(app, client, dispatched):
    d = dispatched
    name = ("Zoë & 李 😀 ]]> <b>" + "x" * 200)[:200]
    url = f"/v1/allocation/plans/{d.plan_id}/vehicles/{d.van_id}/driver"
    put = client.put(url, json={"driver_id": "ü-" + "9" * 62, "driver_name": name}, headers=d.tenant.headers)
    assert put.status_code == 200 and put.get_json()["driver_name"] == name
    assert html.escape(name, quote=False) in text_of(d.client.get(van_url(d)))
    pdf = d.client.get(f"{van_url(d)}/route-sheet.pdf")
    assert pdf.status_code == 200
    assert "Driver Zoë & ? ? ]]> <b>xxx" in pdf_text(pdf.data)  # beyond Latin-1 prints as "?"


def test_the_platform_hears_which_driver_brings_each_parcel_of_the_van(app, client, dispatched):
    from gateway.webhooks.tables import WebhookEvent

    d = dispatched
    hook = client.post(
        "/v1/webhook-endpoints",
        json={"url": "https://hooks.example.com/handoff", "event_types": ["shipment.allocated"]},
        headers=d.tenant.headers,
    )
    assert hook.status_code == 201, hook.get_json()
    url = f"/v1/allocation/plans/{d.plan_id}/vehicles/{d.van_id}/driver"
    plan = client.get(f"/v1/allocation/plans/{d.plan_id}", headers=d.tenant.headers).get_json()
    on_the_van = {
        p["shipment_id"]
        for p in plan["result"]["packages"]
        if p["assignee"] == "fleet" and p.get("vehicle_id") == d.van_id
    }
    assert len(on_the_van) >= 2
    # One of the van's shipments is cancelled after the plan: its platform hears nothing of drivers.
    cancelled = sorted(on_the_van)[0]
    with app.extensions["handoff"].sessions() as session:
        session.get(models.Shipment, cancelled).status = "cancelled"
        session.commit()
    on_the_van.discard(cancelled)

    def heard() -> list[dict[str, Any]]:
        with app.extensions["handoff"].sessions() as session:
            rows = session.execute(
                sa.select(WebhookEvent)
                .where(
                    WebhookEvent.tenant_id == d.tenant.tenant_id, WebhookEvent.type == "shipment.allocated"
                )
                .order_by(WebhookEvent.created_at)
            ).scalars()
            return [r.data for r in rows]

    put = client.put(url, json={"driver_id": "drv-17", "driver_name": "Ana"}, headers=d.tenant.headers)
    assert put.status_code == 200
    first = heard()
    assert {e["shipment_id"] for e in first} == on_the_van
    assert {(e["driver_id"], e["plan_id"], e["vehicle_id"]) for e in first} == {
        ("drv-17", d.plan_id, d.van_id)
    }
    # A new name for the same driver is no news for the platform; another driver is.
    client.put(url, json={"driver_id": "drv-17", "driver_name": "Ana L."}, headers=d.tenant.headers)
    assert len(heard()) == len(first)
    client.put(url, json={"driver_id": "drv-18", "driver_name": "Bo"}, headers=d.tenant.headers)
    assert [e["driver_id"] for e in heard()[len(first) :]] == ["drv-18"] * len(on_the_van)
    assert client.delete(url, headers=d.tenant.headers).status_code == 204
    assert [e["driver_id"] for e in heard()[2 * len(first) :]] == [None] * len(on_the_van)
