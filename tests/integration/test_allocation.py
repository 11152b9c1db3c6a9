"""Allocation settings through the API: rule sets (validated, versioned, audited) and the own fleet."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from allocation import model, rules
from gateway.allocation import day_input, tables
from gateway.kernel import models
from gateway.predictions.tables import EtaModel
from rating import eta
from tests.helpers import shipment_body

pytestmark = pytest.mark.integration

NO_FLEET_IN_MANHATTAN = {
    "id": "no-fleet-100",
    "description": "Vans never go to Manhattan",
    "when": {"postal_prefix": ["100"]},
    "action": {"type": "forbid", "target": "fleet"},
}
HEAVY_TO_UPS = {
    "id": "heavy-ups",
    "when": {"weight_kg": {"min": "20"}},
    "action": {"type": "require", "target": "ups"},
}


def depot_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "name": "Secaucus",
        "latitude": "40.7895",
        "longitude": "-74.0565",
        "opens": "07:00",
        "closes": "20:00",
        "timezone": "America/New_York",
        "currency": "USD",
    }
    body.update(overrides)
    return body


def vehicle_body(depot_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "depot_id": depot_id,
        "name": "Van 1",
        "capacity_kg": "800",
        "capacity_m3": "10",
        "shift_start": "08:00",
        "shift_end": "18:00",
        "max_stops": 60,
        "speed_kmh": "30",
        "cost_per_km": "0.50",
        "cost_per_hour": "20.00",
        "cost_per_day": "20.00",
    }
    body.update(overrides)
    return body


def test_a_rule_set_is_created_versioned_on_every_update_and_deactivated_never_deleted(client, make_tenant):
    ops = make_tenant(("ops",))
    created = client.post(
        "/v1/allocation/rule-sets",
        json={"name": "city", "rules": [NO_FLEET_IN_MANHATTAN]},
        headers=ops.headers,
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    rs_id = body["id"]
    assert body["version"] == 1 and body["active"] is True
    assert body["rules"] == [NO_FLEET_IN_MANHATTAN]
    assert created.headers["Location"].endswith(f"/v1/allocation/rule-sets/{rs_id}")

    updated = client.put(
        f"/v1/allocation/rule-sets/{rs_id}",
        json={"rules": [NO_FLEET_IN_MANHATTAN, HEAVY_TO_UPS], "base_version": 1},
        headers=ops.headers,
    )
    assert updated.status_code == 200, updated.get_json()
    assert updated.get_json()["version"] == 2

    stale = client.put(
        f"/v1/allocation/rule-sets/{rs_id}", json={"rules": [], "base_version": 1}, headers=ops.headers
    )
    assert stale.status_code == 409

    versions = client.get(f"/v1/allocation/rule-sets/{rs_id}/versions", headers=ops.headers).get_json()[
        "data"
    ]
    assert [v["version"] for v in versions] == [2, 1]
    first = client.get(f"/v1/allocation/rule-sets/{rs_id}/versions/1", headers=ops.headers).get_json()
    assert first["rules"] == [NO_FLEET_IN_MANHATTAN]  # the old version is untouched

    gone = client.delete(f"/v1/allocation/rule-sets/{rs_id}", headers=ops.headers)
    assert gone.status_code == 200 and gone.get_json()["active"] is False
    assert client.get("/v1/allocation/rule-sets", headers=ops.headers).get_json()["data"] == []
    listed = client.get("/v1/allocation/rule-sets?include_inactive=true", headers=ops.headers).get_json()[
        "data"
    ]
    assert [r["id"] for r in listed] == [rs_id]
    assert (
        client.get(f"/v1/allocation/rule-sets/{rs_id}", headers=ops.headers).get_json()["current_version"]
        == 2
    )


def test_every_rule_change_is_audited_with_who_when_and_what(client, make_tenant):
    ops = make_tenant(("ops",))
    rs_id = client.post(
        "/v1/allocation/rule-sets",
        json={"name": "city", "rules": [NO_FLEET_IN_MANHATTAN]},
        headers=ops.headers,
    ).get_json()["id"]
    changed = {**NO_FLEET_IN_MANHATTAN, "when": {"postal_prefix": ["100", "101"]}}
    client.put(
        f"/v1/allocation/rule-sets/{rs_id}", json={"rules": [changed, HEAVY_TO_UPS]}, headers=ops.headers
    )
    client.delete(f"/v1/allocation/rule-sets/{rs_id}", headers=ops.headers)

    resp = client.get(f"/v1/allocation/audit?entity_id={rs_id}", headers=ops.headers)
    assert resp.status_code == 200
    entries = resp.get_json()["data"]
    assert [(e["action"], e["version"]) for e in entries] == [("deactivate", 2), ("update", 2), ("create", 1)]
    assert {e["actor"] for e in entries} == {ops.key_id}
    assert all(e["created_at"] for e in entries)
    assert entries[2]["changes"]["added"] == ["no-fleet-100"]
    assert entries[1]["changes"] == {"added": ["heavy-ups"], "removed": [], "changed": ["no-fleet-100"]}
    assert entries[0]["changes"] == {"active": [True, False]}

    page = client.get("/v1/allocation/audit?limit=2", headers=ops.headers).get_json()
    assert len(page["data"]) == 2 and page["next_cursor"]
    rest = client.get(
        f"/v1/allocation/audit?limit=2&cursor={page['next_cursor']}", headers=ops.headers
    ).get_json()
    assert [e["action"] for e in rest["data"]] == ["create"]


@pytest.mark.parametrize(
    ("rule", "field", "says"),
    [
        ({"id": "r1", "when": {}, "action": {"type": "forbid"}}, "rules.0.action", "target"),
        (
            {"id": "r1", "when": {}, "action": {"type": "teleport", "target": "ups"}},
            "rules.0.action.type",
            "teleport",
        ),
        (
            {
                "id": "r1",
                "when": {"weight_kg": {"max": 12.5}},
                "action": {"type": "forbid", "target": "fleet"},
            },
            "rules.0.when.weight_kg.max",
            "decimal string",
        ),
        (
            {"id": "r1", "when": {"colour": ["red"]}, "action": {"type": "forbid", "target": "fleet"}},
            "rules.0.when",
            "unknown field",
        ),
        (
            {"id": "r1", "when": {}, "action": {"type": "cap", "carrier": "fleet", "max_packages": 3}},
            "rules.0.action.carrier",
            "partner carriers",
        ),
        (
            {"id": "bad id!", "when": {}, "action": {"type": "forbid", "target": "ups"}},
            "rules.0.id",
            "rule id",
        ),
        (
            {"id": "r1", "when": {}, "action": {"type": "min_on_time", "probability": 1.5}},
            "rules.0.action.probability",
            "between 0 and 1",
        ),
        (
            {"id": "r1", "when": {}, "action": {"type": "min_on_time", "probability": "0.9"}},
            "rules.0.action.probability",
            "as a number from 0 to 1",
        ),
    ],
)
def test_an_invalid_rule_is_a_422_naming_the_dotted_field(client, make_tenant, rule, field, says):
    ops = make_tenant(("ops",))
    resp = client.post("/v1/allocation/rule-sets", json={"name": "x", "rules": [rule]}, headers=ops.headers)
    assert resp.status_code == 422
    assert resp.content_type == "application/problem+json"
    errors = resp.get_json()["errors"]
    assert field in errors, errors
    assert says in " ".join(errors[field])
    assert client.get("/v1/allocation/audit", headers=ops.headers).get_json()["data"] == []


def test_a_minimum_on_time_probability_per_service_level_is_a_rule_like_any_other(client, make_tenant):
    ops = make_tenant(("ops",))
    rule = {
        "id": "express-90",
        "description": "Express only with carriers likely to be on time",
        "when": {"service_level": ["express"]},
        "action": {"type": "min_on_time", "probability": 0.9},
    }
    created = client.post(
        "/v1/allocation/rule-sets", json={"name": "risk", "rules": [rule]}, headers=ops.headers
    )
    assert created.status_code == 201, created.get_json()
    (stored,) = created.get_json()["rules"]
    assert float(stored["action"].pop("probability")) == 0.9  # the JSON number comes back as a Decimal
    assert stored == {**rule, "action": {"type": "min_on_time"}}


def test_rule_ids_are_unique_across_active_rule_sets(client, make_tenant):
    ops = make_tenant(("ops",))
    first = client.post(
        "/v1/allocation/rule-sets", json={"name": "a", "rules": [HEAVY_TO_UPS]}, headers=ops.headers
    )
    assert first.status_code == 201
    second = client.post(
        "/v1/allocation/rule-sets",
        json={"name": "b", "rules": [NO_FLEET_IN_MANHATTAN, HEAVY_TO_UPS]},
        headers=ops.headers,
    )
    assert second.status_code == 422
    assert "rules.1.id" in second.get_json()["errors"]


def test_rules_need_the_ops_role_and_stay_inside_the_tenant(client, make_tenant):
    ops, other = make_tenant(("ops",)), make_tenant(("ops",))
    platform = make_tenant(("platform",))
    body = {"name": "city", "rules": [NO_FLEET_IN_MANHATTAN]}
    assert client.post("/v1/allocation/rule-sets", json=body, headers=platform.headers).status_code == 403
    rs_id = client.post("/v1/allocation/rule-sets", json=body, headers=ops.headers).get_json()["id"]
    assert client.get(f"/v1/allocation/rule-sets/{rs_id}", headers=other.headers).status_code == 404
    assert (
        client.put(f"/v1/allocation/rule-sets/{rs_id}", json=body, headers=other.headers).status_code == 404
    )
    assert client.delete(f"/v1/allocation/rule-sets/{rs_id}", headers=other.headers).status_code == 404
    assert (
        client.get(f"/v1/allocation/audit?entity_id={rs_id}", headers=other.headers).get_json()["data"] == []
    )


def test_depots_and_vans_are_versioned_and_audited_with_before_and_after(client, make_tenant):
    ops = make_tenant(("ops",))
    depot = client.post("/v1/allocation/depots", json=depot_body(), headers=ops.headers)
    assert depot.status_code == 201, depot.get_json()
    depot_id = depot.get_json()["id"]
    van = client.post("/v1/allocation/vehicles", json=vehicle_body(depot_id), headers=ops.headers)
    assert van.status_code == 201, van.get_json()
    van_body = van.get_json()
    assert van_body["cost_per_km"] == {"amount": "0.5", "currency": "USD"}
    assert (van_body["shift_start"], van_body["shift_end"], van_body["version"]) == ("08:00", "18:00", 1)

    patched = client.patch(
        f"/v1/allocation/vehicles/{van_body['id']}",
        json={"capacity_kg": "650", "shift_end": "17:30"},
        headers=ops.headers,
    )
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["version"] == 2
    entries = client.get(
        f"/v1/allocation/audit?entity_type=vehicle&entity_id={van_body['id']}", headers=ops.headers
    ).get_json()["data"]
    assert entries[0]["action"] == "update" and entries[0]["version"] == 2
    assert entries[0]["changes"] == {"capacity_kg": ["800", "650"], "shift_end": ["18:00", "17:30"]}
    assert entries[0]["actor"] == ops.key_id
    assert entries[1]["action"] == "create"

    assert (
        client.delete(f"/v1/allocation/vehicles/{van_body['id']}", headers=ops.headers).get_json()["active"]
        is False
    )
    assert client.get("/v1/allocation/vehicles", headers=ops.headers).get_json()["data"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cost_per_km": "0.505"}, "cost_per_km"),
        ({"shift_start": "18:00", "shift_end": "08:00"}, "shift_end"),
        ({"shift_start": "8am"}, "shift_start"),
        ({"capacity_kg": "-1"}, "capacity_kg"),
    ],
)
def test_a_bad_van_is_a_422_naming_the_field(client, make_tenant, change, field):
    ops = make_tenant(("ops",))
    depot_id = client.post("/v1/allocation/depots", json=depot_body(), headers=ops.headers).get_json()["id"]
    resp = client.post(
        "/v1/allocation/vehicles", json={**vehicle_body(depot_id), **change}, headers=ops.headers
    )
    assert resp.status_code == 422
    assert field in resp.get_json()["errors"], resp.get_json()


def test_a_van_for_a_depot_the_tenant_does_not_have_is_a_409_naming_the_field(client, make_tenant):
    # Well formed, refused by the tenant's fleet: a conflict, like a plan with no depot.
    ops = make_tenant(("ops",))
    resp = client.post("/v1/allocation/vehicles", json=vehicle_body("dep_nope"), headers=ops.headers)
    assert resp.status_code == 409
    assert resp.get_json()["type"].endswith("/conflict")
    assert "depot_id" in resp.get_json()["errors"]


def test_a_depot_needs_a_real_time_zone(client, make_tenant):
    ops = make_tenant(("ops",))
    resp = client.post("/v1/allocation/depots", json=depot_body(timezone="Mars/Olympus"), headers=ops.headers)
    assert resp.status_code == 422
    assert "timezone" in resp.get_json()["errors"]


def test_partner_options_carry_the_on_time_probability_of_the_tenants_eta_model(client, app, make_tenant):
    ops = make_tenant(("platform", "ops"))
    depot = client.post("/v1/allocation/depots", json=depot_body(), headers=ops.headers)
    assert depot.status_code == 201, depot.get_json()
    # 16 of every 20 UPS Ground deliveries take at most 2 business days.
    pattern = [1] * 10 + [2] * 6 + [3] * 3 + [5]
    fitted = eta.fit(eta.Observation("ups", "03", eta.DOMESTIC, d) for d in pattern)
    today = datetime.now(UTC).date()
    promise = eta.add_business_days(today, 2)
    booked = client.post(
        "/v1/shipments",
        json=shipment_body("RISK-1", promise_date=promise.isoformat()),
        headers=ops.headers,
    )
    assert booked.status_code == 201, booked.get_json()
    rows = [
        {
            "carrier": carrier,
            "service_code": service,
            "total_cost": {"amount": price, "currency": "USD"},
            "estimated_delivery": promise.isoformat(),
        }
        for carrier, service, price in (("ups", "03", "9.00"), ("fedex", "GROUND", "7.00"))
    ]
    container = app.extensions["handoff"]
    with container.sessions() as session:
        shipment = session.get(models.Shipment, booked.get_json()["id"])
        depot_row = session.get(tables.Depot, depot.get_json()["id"])
        assert day_input.eta_model(session, {"ETA_POOLED": False}, ops.tenant_id) is None
        session.add(
            EtaModel(
                tenant_id=ops.tenant_id,
                window_from=today,
                window_to=today,
                deliveries=len(pattern),
                document=fitted.to_document(),
            )
        )
        session.flush()
        predicting = day_input.eta_model(session, {"ETA_POOLED": False}, ops.tenant_id)
        assert predicting is not None
        pkg, options, _, _ = day_input.package_for(
            shipment, depot_row, today, "USD", "t", rows, None, eta_model=predicting
        )
        shipment.promise_date = None
        _, no_promise, _, _ = day_input.package_for(
            shipment, depot_row, today, "USD", "t", rows, None, eta_model=predicting
        )
        session.rollback()
    by_carrier = {o.carrier: o.on_time_probability for o in options}
    assert by_carrier == {"ups": 0.8, "fedex": None}  # no history for FedEx: unknown
    assert [o.on_time_probability for o in no_promise] == [None, None]
    # A minimum of 75% keeps UPS and drops FedEx, whose chance is unknown.
    problem = model_problem(pkg, options)
    ev = rules.evaluate(problem)
    assert set(ev.allowed[pkg.id].carriers) == {"ups"}


def model_problem(pkg: model.Package, options: tuple[model.PartnerOption, ...]) -> model.Problem:
    return model.Problem(
        depot=model.Depot("D", model.Location(0.0, 0.0)),
        vehicles=(),
        packages=(replace(pkg, min_on_time_probability=0.75),),
        options={pkg.id: options},
        currency="USD",
        distance_model="haversine",
    )
