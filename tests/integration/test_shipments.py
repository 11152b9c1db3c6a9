"""Creating, reading and listing shipments through the API."""

from __future__ import annotations

import copy

import pytest

from tests.helpers import shipment_body


def test_created_shipment_is_a_draft_and_reads_back_exactly(client, platform):
    response = client.post("/v1/shipments", json=shipment_body(), headers=platform.headers)
    assert response.status_code == 201
    created = response.get_json()
    assert created["status"] == "draft"
    assert created["id"].startswith("shp_")
    assert response.headers["Location"] == f"/v1/shipments/{created['id']}"

    fetched = client.get(f"/v1/shipments/{created['id']}", headers=platform.headers).get_json()
    assert fetched == created
    parcel = fetched["parcels"][0]
    assert parcel["weight"] == {"value": "2.5", "unit": "lb"}
    assert parcel["dimensions"] == {"length": "12", "width": "9", "height": "4", "unit": "in"}
    assert parcel["declared_value"] == {"amount": "49.99", "currency": "USD"}
    assert fetched["destination"]["street_lines"] == ["21 W 52nd St", "Apt 4"]
    assert fetched["created_at"].endswith("+00:00")


def test_json_numbers_are_kept_exact(client, platform):
    body = shipment_body()
    raw = (
        '{"reference": "EXACT", "origin": %s, "destination": %s, "parcels": [{"weight": {"value": 0.1, "unit": "kg"},'
        ' "dimensions": {"length": 10.05, "width": 1, "height": 1, "unit": "cm"}}]}'
    )
    import json

    payload = raw % (json.dumps(body["origin"]), json.dumps(body["destination"]))
    response = client.post(
        "/v1/shipments", data=payload, headers={**platform.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.get_json()
    parcel = response.get_json()["parcels"][0]
    assert parcel["weight"]["value"] == "0.1"
    assert parcel["dimensions"]["length"] == "10.05"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b["destination"].update(country_code="XX"), "destination.country_code"),
        (lambda b: b["destination"].update(country_code="us"), "destination.country_code"),
        (lambda b: b["destination"].pop("postal_code"), "destination.postal_code"),
        (lambda b: b["origin"].update(postal_code="  "), "origin.postal_code"),
        (lambda b: b["parcels"][0]["weight"].update(value="0"), "parcels.0.weight.value"),
        (lambda b: b["parcels"][0]["weight"].update(value="-1"), "parcels.0.weight.value"),
        (lambda b: b["parcels"][0]["weight"].update(unit="stone"), "parcels.0.weight.unit"),
        (lambda b: b["parcels"][0]["dimensions"].update(height="0"), "parcels.0.dimensions.height"),
        (lambda b: b["parcels"][0]["dimensions"].pop("unit"), "parcels.0.dimensions.unit"),
        (
            lambda b: b["parcels"][0]["declared_value"].update(currency="XYZ"),
            "parcels.0.declared_value.currency",
        ),
        (lambda b: b.update(parcels=[]), "parcels"),
        (lambda b: b.pop("reference"), "reference"),
        (lambda b: b.update(reference=""), "reference"),
    ],
)
def test_invalid_shipment_is_refused_with_the_offending_field(client, platform, mutate, field):
    body = copy.deepcopy(shipment_body())
    mutate(body)
    response = client.post("/v1/shipments", json=body, headers=platform.headers)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["type"].endswith("/validation-error")
    assert field in problem["errors"], problem["errors"]


def test_country_without_postal_codes_needs_none(client, platform):
    body = shipment_body()
    body["destination"] = {"street_lines": ["Sheikh Zayed Rd"], "city": "Dubai", "country_code": "AE"}
    assert client.post("/v1/shipments", json=body, headers=platform.headers).status_code == 201


def test_list_pages_with_a_cursor_and_filters(client, make_tenant):
    tenant = make_tenant(("platform",))
    ids = []
    for i in range(5):
        ids.append(
            client.post("/v1/shipments", json=shipment_body(f"PAGE-{i}"), headers=tenant.headers).get_json()[
                "id"
            ]
        )
    seen = []
    cursor = None
    while True:
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/v1/shipments", query_string=query, headers=tenant.headers).get_json()
        seen += [s["id"] for s in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))  # newest first, each exactly once

    only = client.get(
        "/v1/shipments", query_string={"reference": "PAGE-3"}, headers=tenant.headers
    ).get_json()
    assert [s["reference"] for s in only["data"]] == ["PAGE-3"]
    drafts = client.get("/v1/shipments", query_string={"status": "draft"}, headers=tenant.headers).get_json()
    assert len(drafts["data"]) == 5
    none = client.get(
        "/v1/shipments", query_string={"status": "delivered"}, headers=tenant.headers
    ).get_json()
    assert none["data"] == []

    created = client.get(f"/v1/shipments/{ids[2]}", headers=tenant.headers).get_json()["created_at"]
    after = client.get(
        "/v1/shipments", query_string={"created_after": created}, headers=tenant.headers
    ).get_json()
    assert {s["id"] for s in after["data"]} == set(ids[2:])
    before = client.get(
        "/v1/shipments", query_string={"created_before": created}, headers=tenant.headers
    ).get_json()
    assert {s["id"] for s in before["data"]} == set(ids[:2])


def test_a_tampered_cursor_is_a_bad_request(client, platform):
    response = client.get("/v1/shipments", query_string={"cursor": "not-a-cursor"}, headers=platform.headers)
    assert response.status_code == 400
    assert response.get_json()["errors"] == {"cursor": ["invalid"]}


def test_booking_is_a_use_case_that_needs_no_request(app, client, platform):
    """``book`` does what ``POST /v1/shipments`` does, on any session: the API reads back what it booked."""
    from gateway.shipments import book
    from gateway.shipments.schemas import ShipmentCreateSchema

    container = app.extensions["handoff"]
    data = ShipmentCreateSchema().load(shipment_body("USE-CASE-1"))
    with container.sessions() as session:
        booked = book.book(session, platform.tenant_id, data, container=container)
        session.commit()
        shipment_id, rates = booked.shipment.id, booked.rates
    assert rates is not None and rates["rates"]

    fetched = client.get(f"/v1/shipments/{shipment_id}", headers=platform.headers).get_json()
    assert (fetched["reference"], fetched["status"]) == ("USE-CASE-1", "draft")
    assert [r["id"] for r in fetched["rates"]["rates"]] == [r["id"] for r in rates["rates"]]
