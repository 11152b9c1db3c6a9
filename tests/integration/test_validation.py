"""Validation before purchase: POST /v1/validate and /v1/shipments/{id}/validate, and the label gate.

A shipment is checked against a carrier's service with the carrier's own rules (the ones its label
request refuses with): 200 ``{"valid": true}``, or a 422 shipment-invalid naming every problem at once.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.helpers import label_sellers, shipment_body

pytestmark = pytest.mark.integration

PROBLEM_JSON = "application/problem+json"


def _with_phones(body: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    body["origin"]["phone"] = "+1 201-555-0100"
    body["destination"]["phone"] = "+1 212-555-0199"
    return body


def _booked(client: Any, tenant: Any, body: dict[str, Any] | None = None) -> dict[str, Any]:
    created = client.post("/v1/shipments", json=body or shipment_body(), headers=tenant.headers)
    assert created.status_code == 201, created.get_json()
    return created.get_json()


def _select(client: Any, tenant: Any, booked: dict[str, Any], carrier: str) -> dict[str, Any]:
    rate = next(r for r in booked["rates"]["rates"] if r["carrier"] == carrier)
    selected = client.post(
        f"/v1/shipments/{booked['id']}/rate", json={"rate_id": rate["id"]}, headers=tenant.headers
    )
    assert selected.status_code == 200, selected.get_json()
    return rate


def test_a_booking_dhl_express_cannot_take_answers_every_missing_phone_at_once(client, platform):
    body = {**shipment_body(), "carrier": "dhl_express", "service": "P"}

    response = client.post("/v1/validate", json=body, headers=platform.headers)

    assert response.status_code == 422 and response.mimetype == PROBLEM_JSON
    problem = response.get_json()
    assert problem["type"].endswith("/shipment-invalid")
    assert problem["carrier"] == "dhl_express"
    assert set(problem["errors"]) == {"origin.phone", "destination.phone"}
    assert all("phone" in message for message in problem["errors"]["destination.phone"])
    assert {(p["path"], p["code"]) for p in problem["problems"]} == {
        ("origin.phone", "required"),
        ("destination.phone", "required"),
    }


def test_a_booking_the_service_takes_is_valid(client, platform):
    body = {**_with_phones(shipment_body()), "carrier": "dhl_express", "service": "P"}

    response = client.post("/v1/validate", json=body, headers=platform.headers)

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"valid": True, "carrier": "dhl_express", "service": "P"}


def test_every_problem_of_a_usps_booking_is_named_by_its_dotted_path(client, platform):
    body = shipment_body()
    body["destination"] = {
        "name": "Kim",
        "street_lines": ["Invalidenstr. 1"],
        "city": "Berlin",
        "postal_code": "10115",
        "country_code": "DE",
    }
    body["parcels"] = body["parcels"] * 2
    body["parcels"][1] = {**body["parcels"][1], "weight": {"value": "80", "unit": "lb"}}

    response = client.post(
        "/v1/validate",
        json={**body, "carrier": "usps", "service": "PRIORITY_MAIL"},
        headers=platform.headers,
    )

    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert {
        "parcels",
        "parcels.1.weight",
        "destination.country_code",
        "destination.state",
    } <= set(errors)
    assert "origin.state" not in errors


def test_an_unknown_carrier_is_a_validation_error_on_carrier(client, platform):
    response = client.post(
        "/v1/validate",
        json={**shipment_body(), "carrier": "pony_express", "service": "X"},
        headers=platform.headers,
    )

    assert response.status_code == 422
    assert response.get_json()["type"].endswith("/validation-error")
    assert list(response.get_json()["errors"]) == ["carrier"]


def test_a_stored_shipment_is_checked_against_the_service_named(client, platform):
    booked = _booked(client, platform)
    url = f"/v1/shipments/{booked['id']}/validate"

    dhl = client.post(url, json={"carrier": "dhl_express", "service": "N"}, headers=platform.headers)
    ups = client.post(url, json={"carrier": "ups", "service": "03"}, headers=platform.headers)
    ups_early = client.post(url, json={"carrier": "ups", "service": "14"}, headers=platform.headers)

    assert dhl.status_code == 422 and set(dhl.get_json()["errors"]) == {"origin.phone", "destination.phone"}
    assert ups.status_code == 200 and ups.get_json()["valid"] is True
    # Next Day Air Early needs the recipient's phone even at home.
    assert ups_early.status_code == 422
    assert list(ups_early.get_json()["errors"]) == ["destination.phone"]


def test_a_stored_shipment_defaults_to_its_selected_rate_and_needs_one(client, platform):
    booked = _booked(client, platform)
    url = f"/v1/shipments/{booked['id']}/validate"

    unrated = client.post(url, headers=platform.headers)
    assert unrated.status_code == 409 and unrated.get_json()["type"].endswith("/shipment-not-rated")

    rate = _select(client, platform, booked, "dhl_express")
    rated = client.post(url, headers=platform.headers)
    assert rated.status_code == 422
    assert rated.get_json()["carrier"] == "dhl_express"
    assert rate["service_code"] in rated.get_json()["detail"]


def test_another_tenants_shipment_is_not_found(client, make_tenant):
    mine, theirs = make_tenant(), make_tenant()
    booked = _booked(client, theirs)

    response = client.post(
        f"/v1/shipments/{booked['id']}/validate",
        json={"carrier": "ups", "service": "03"},
        headers=mine.headers,
    )

    assert response.status_code == 404


def test_a_label_request_the_carrier_would_refuse_is_a_422_and_queues_nothing(client, platform):
    booked = _booked(client, platform)
    _select(client, platform, booked, "dhl_express")
    url = f"/v1/shipments/{booked['id']}"
    before = client.get(url, headers=platform.headers).get_json()["status"]

    response = client.post(f"{url}/label", headers=platform.headers)

    assert response.status_code == 422, response.get_json()
    assert response.get_json()["type"].endswith("/shipment-invalid")
    assert "destination.phone" in response.get_json()["errors"]
    assert client.get(url, headers=platform.headers).get_json()["status"] == before != "label_requested"


def test_a_label_request_that_passes_the_check_is_queued(app, client, platform, monkeypatch):
    monkeypatch.setattr(app.extensions["handoff"], "_carriers", label_sellers("dhl_express"))
    booked = _booked(client, platform, _with_phones(shipment_body()))
    _select(client, platform, booked, "dhl_express")

    response = client.post(f"/v1/shipments/{booked['id']}/label", headers=platform.headers)

    assert response.status_code == 202, response.get_json()


def test_a_batch_holding_a_shipment_the_carrier_would_refuse_is_a_422_naming_it_and_queues_nothing(
    app, client, platform, monkeypatch
):
    monkeypatch.setattr(app.extensions["handoff"], "_carriers", label_sellers("dhl_express"))
    ready = _booked(client, platform, _with_phones(shipment_body()))
    _select(client, platform, ready, "dhl_express")
    no_phones = _booked(client, platform)
    _select(client, platform, no_phones, "dhl_express")
    ids = [ready["id"], no_phones["id"]]

    response = client.post("/v1/batches", json={"shipment_ids": ids}, headers=platform.headers)

    assert response.status_code == 422 and response.mimetype == PROBLEM_JSON
    problem = response.get_json()
    assert problem["type"].endswith("/shipment-invalid")
    assert set(problem["errors"]) == {"shipment_ids.1"}
    assert any("destination.phone" in message for message in problem["errors"]["shipment_ids.1"])
    assert {(p["shipment_id"], p["path"], p["code"]) for p in problem["problems"]} >= {
        (no_phones["id"], "destination.phone", "required")
    }
    for shipment_id in ids:  # nothing was queued, not even the shipment the carrier takes
        shown = client.get(f"/v1/shipments/{shipment_id}", headers=platform.headers).get_json()
        assert shown["status"] != "label_requested"

    alone = client.post("/v1/batches", json={"shipment_ids": ids[:1]}, headers=platform.headers)
    assert alone.status_code == 202, alone.get_json()
