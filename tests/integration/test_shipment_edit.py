"""Editing a shipment before its label is bought (PATCH, If-Match) and cancelling a draft (DELETE)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.kernel import models
from gateway.rates import tables
from tests.helpers import label_sellers, shipment_body


def _create(client: Any, headers: dict[str, str], **overrides: Any) -> Any:
    response = client.post("/v1/shipments", json=shipment_body(**overrides), headers=headers)
    assert response.status_code == 201, response.get_json()
    return response


def _patch(client: Any, shipment_id: str, body: Any, headers: dict[str, str], if_match: str | None) -> Any:
    extra = {} if if_match is None else {"If-Match": if_match}
    return client.patch(f"/v1/shipments/{shipment_id}", json=body, headers={**headers, **extra})


def _set_status(app: Any, shipment_id: str, status: str) -> None:
    with app.extensions["handoff"].sessions() as session:
        session.execute(
            sa.update(models.Shipment).where(models.Shipment.id == shipment_id).values(status=status)
        )
        session.commit()


def _prices(body: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(r["carrier"], r["service_code"]): r["total_sell"]["amount"] for r in body["rates"]["rates"]}


def test_every_shipment_answer_carries_its_version_and_etag(client, platform):
    created = _create(client, platform.headers)
    body = created.get_json()
    assert body["version"] == 1 and body["cancelled_at"] is None
    assert created.headers["ETag"] == 'W/"1"'
    read = client.get(f"/v1/shipments/{body['id']}", headers=platform.headers)
    assert read.headers["ETag"] == 'W/"1"' and read.get_json()["version"] == 1
    listed = client.get("/v1/shipments", headers=platform.headers).get_json()["data"]
    assert [s["version"] for s in listed] == [1]


def test_an_edit_at_the_current_version_merges_rates_again_and_bumps_the_version(client, platform):
    created = _create(client, platform.headers).get_json()
    heavier = [{**shipment_body()["parcels"][0], "weight": {"value": "40", "unit": "lb"}}]
    patch = {
        "reference": "ORDER-1001-B",
        "destination": {"street_lines": ["1 Rockefeller Plaza"], "phone": "+12125550100"},
        "parcels": heavier,
        "metadata": {"channel": "web"},
    }
    response = _patch(client, created["id"], patch, platform.headers, 'W/"1"')
    assert response.status_code == 200, response.get_json()
    edited = response.get_json()
    assert response.headers["ETag"] == 'W/"2"' and edited["version"] == 2
    assert edited["reference"] == "ORDER-1001-B"
    # Merged member by member: the city, postal code and name sent at booking are kept.
    destination = edited["destination"]
    assert destination["street_lines"] == ["1 Rockefeller Plaza"]
    assert destination["phone"] == "+12125550100"
    assert (destination["name"], destination["city"], destination["postal_code"]) == (
        "Jane Doe",
        "New York",
        "10019",
    )
    assert edited["origin"] == created["origin"]
    assert [p["weight"] for p in edited["parcels"]] == [{"value": "40", "unit": "lb"}]
    assert edited["metadata"] == {"channel": "web"}
    # Rated again: a heavier parcel costs more with every service quoted both times.
    before, after = _prices(created), _prices(edited)
    common = set(before) & set(after)
    assert common
    assert all(float(after[k]) > float(before[k]) for k in common), (before, after)
    assert {r["id"] for r in edited["rates"]["rates"]}.isdisjoint(
        {r["id"] for r in created["rates"]["rates"]}
    )
    # What the API reads back is what the edit answered.
    assert client.get(f"/v1/shipments/{created['id']}", headers=platform.headers).get_json() == edited


def test_an_edit_clears_the_rate_chosen_before_and_a_new_one_can_be_chosen(app, client, platform):
    created = _create(client, platform.headers).get_json()
    chosen = created["rates"]["rates"][0]
    url = f"/v1/shipments/{created['id']}/rate"
    assert client.post(url, json={"rate_id": chosen["id"]}, headers=platform.headers).status_code == 200
    response = _patch(client, created["id"], {"promise_date": None}, platform.headers, 'W/"1"')
    assert response.status_code == 200, response.get_json()
    edited = response.get_json()
    assert (edited["carrier"], edited["service"]) == (None, None)
    with app.extensions["handoff"].sessions() as session:
        snapshot = session.execute(
            sa.select(tables.ShipmentQuoteSnapshot).where(
                tables.ShipmentQuoteSnapshot.shipment_id == created["id"]
            )
        ).scalar_one_or_none()
        assert snapshot is None
    again = client.post(url, json={"rate_id": edited["rates"]["rates"][0]["id"]}, headers=platform.headers)
    assert again.status_code == 200, again.get_json()


def test_an_edit_without_if_match_is_428_and_with_a_stale_one_412(client, platform):
    created = _create(client, platform.headers).get_json()
    missing = _patch(client, created["id"], {"reference": "X"}, platform.headers, None)
    assert missing.status_code == 428
    assert missing.mimetype == "application/problem+json"
    assert missing.get_json()["type"].endswith("/precondition-required")
    assert _patch(client, created["id"], {"reference": "A"}, platform.headers, '"1"').status_code == 200
    stale = _patch(client, created["id"], {"reference": "B"}, platform.headers, 'W/"1"')
    assert stale.status_code == 412
    assert stale.get_json()["type"].endswith("/precondition-failed")
    assert stale.headers["ETag"] == 'W/"2"'
    for garbage in ("2", "W/2", '"abc"'):
        assert _patch(client, created["id"], {"reference": "C"}, platform.headers, garbage).status_code == 412
    shipment = client.get(f"/v1/shipments/{created['id']}", headers=platform.headers).get_json()
    assert (shipment["reference"], shipment["version"]) == ("A", 2)
    listed = 'W/"7", W/"2"'
    assert _patch(client, created["id"], {"reference": "D"}, platform.headers, listed).status_code == 200


def test_an_edit_with_an_idempotency_key_replays_the_same_answer(client, platform):
    created = _create(client, platform.headers).get_json()
    headers = {**platform.headers, "Idempotency-Key": f"edit-{uuid.uuid4().hex}"}
    first = _patch(client, created["id"], {"reference": "RETRIED"}, headers, 'W/"1"')
    second = _patch(client, created["id"], {"reference": "RETRIED"}, headers, 'W/"1"')
    assert first.status_code == second.status_code == 200
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.get_json() == first.get_json()
    assert second.headers["ETag"] == first.headers["ETag"] == 'W/"2"'
    read = client.get(f"/v1/shipments/{created['id']}", headers=platform.headers).get_json()
    assert read["version"] == 2  # applied once
    reused = _patch(client, created["id"], {"reference": "OTHER"}, headers, 'W/"2"')
    assert reused.status_code == 422 and reused.get_json()["type"].endswith("/idempotency-key-reused")


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"destination": {"postal_code": None}}, "destination.postal_code"),
        ({"destination": {"country_code": "XX"}}, "destination.country_code"),
        ({"destination": {"city": None}}, "destination.city"),
        ({"origin": None}, "origin"),
        ({"parcels": []}, "parcels"),
        ({"parcels": [{"weight": {"value": "0", "unit": "kg"}}]}, "parcels.0.weight.value"),
        ({"reference": ""}, "reference"),
        ({"reference": None}, "reference"),
        ({"colour": "red"}, "colour"),
        ({"metadata": {"k": None}}, "metadata"),
    ],
)
def test_a_bad_patch_is_a_422_naming_the_field_and_changes_nothing(client, platform, patch, field):
    created = _create(client, platform.headers).get_json()
    response = _patch(client, created["id"], patch, platform.headers, 'W/"1"')
    assert response.status_code == 422, response.get_json()
    problem = response.get_json()
    assert response.mimetype == "application/problem+json"
    assert problem["type"].endswith("/validation-error")
    assert any(key.startswith(field) for key in problem["errors"]), problem["errors"]
    assert client.get(f"/v1/shipments/{created['id']}", headers=platform.headers).get_json() == created


def test_a_patch_that_is_valid_alone_but_not_once_merged_is_refused(client, platform):
    # A US postal code is required; a patch moving the destination to a country without one is fine.
    created = _create(client, platform.headers).get_json()
    moved = {"destination": {"country_code": "HK", "postal_code": None, "state": None, "city": "Hong Kong"}}
    response = _patch(client, created["id"], moved, platform.headers, 'W/"1"')
    assert response.status_code == 200, response.get_json()
    back = _patch(client, created["id"], {"destination": {"country_code": "US"}}, platform.headers, 'W/"2"')
    assert back.status_code == 422
    assert "destination.postal_code" in back.get_json()["errors"]


def test_a_label_requested_then_bought_then_voided_refuses_the_edit_and_the_cancel(
    app, client, platform, monkeypatch
):
    created = _create(client, platform.headers).get_json()
    rate_id = created["rates"]["rates"][0]["id"]
    # An adapter sells this carrier's labels (a label request for one nobody sells is refused up front).
    sellers = label_sellers(created["rates"]["rates"][0]["carrier"])
    monkeypatch.setattr(app.extensions["handoff"], "_carriers", sellers)
    sid = created["id"]
    assert (
        client.post(
            f"/v1/shipments/{sid}/rate", json={"rate_id": rate_id}, headers=platform.headers
        ).status_code
        == 200
    )
    label = client.post(f"/v1/shipments/{sid}/label", json={}, headers=platform.headers)
    assert label.status_code == 202, label.get_json()
    for status, slug in (
        ("label_requested", "label-in-progress"),
        ("purchased", "label-already-purchased"),
        ("voided", "label-already-purchased"),
    ):
        if status != "label_requested":
            _set_status(app, sid, status)
        edit = _patch(client, sid, {"reference": "LATE"}, platform.headers, 'W/"1"')
        cancel = client.delete(f"/v1/shipments/{sid}", headers=platform.headers)
        for response in (edit, cancel):
            assert response.status_code == 409, (status, response.get_json())
            problem = response.get_json()
            assert problem["type"].endswith(f"/{slug}")
            assert problem["shipment_status"] == status
        if status == "purchased":
            assert f"POST /v1/shipments/{sid}/void" in edit.get_json()["detail"]
    read = client.get(f"/v1/shipments/{sid}", headers=platform.headers).get_json()
    assert (read["reference"], read["version"]) == (created["reference"], 1)


def test_cancel_keeps_the_shipment_and_answers_the_same_when_repeated(client, platform):
    created = _create(client, platform.headers).get_json()
    sid = created["id"]
    first = client.delete(f"/v1/shipments/{sid}", headers=platform.headers)
    assert first.status_code == 200, first.get_json()
    cancelled = first.get_json()
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_at"]
    assert cancelled["version"] == 2 and first.headers["ETag"] == 'W/"2"'
    assert cancelled["rates"] == created["rates"]  # nothing lost
    # Again, even naming the version it had before the first cancel (a retry): the same answer.
    again = client.delete(f"/v1/shipments/{sid}", headers={**platform.headers, "If-Match": 'W/"1"'})
    assert again.status_code == 200 and again.get_json() == cancelled
    read = client.get(f"/v1/shipments/{sid}", headers=platform.headers)
    assert read.status_code == 200 and read.get_json() == cancelled
    listed = client.get("/v1/shipments?status=cancelled", headers=platform.headers).get_json()["data"]
    assert [s["id"] for s in listed] == [sid]


def test_a_cancelled_shipment_cannot_be_edited_rated_or_labelled(client, platform):
    created = _create(client, platform.headers).get_json()
    sid = created["id"]
    assert client.delete(f"/v1/shipments/{sid}", headers=platform.headers).status_code == 200
    edit = _patch(client, sid, {"reference": "REVIVED"}, platform.headers, 'W/"2"')
    assert edit.status_code == 409 and edit.get_json()["type"].endswith("/shipment-cancelled")
    rate = client.post(
        f"/v1/shipments/{sid}/rate",
        json={"rate_id": created["rates"]["rates"][0]["id"]},
        headers=platform.headers,
    )
    assert rate.status_code == 409 and rate.get_json()["type"].endswith("/shipment-cancelled")
    label = client.post(f"/v1/shipments/{sid}/label", json={}, headers=platform.headers)
    assert label.status_code == 409


def test_the_rate_chosen_before_the_cancel_cannot_be_chosen_again_after_it(client, platform):
    created = _create(client, platform.headers).get_json()
    sid, rate_id = created["id"], created["rates"]["rates"][0]["id"]
    url = f"/v1/shipments/{sid}/rate"
    assert client.post(url, json={"rate_id": rate_id}, headers=platform.headers).status_code == 200
    assert client.delete(f"/v1/shipments/{sid}", headers=platform.headers).status_code == 200
    again = client.post(url, json={"rate_id": rate_id}, headers=platform.headers)
    assert again.status_code == 409 and again.get_json()["type"].endswith("/shipment-cancelled")
    label = client.post(f"/v1/shipments/{sid}/label", json={}, headers=platform.headers)
    assert label.status_code == 409 and label.get_json()["type"].endswith("/shipment-cancelled")


def test_cancel_with_a_stale_if_match_is_412_and_with_the_current_one_cancels(client, platform):
    created = _create(client, platform.headers).get_json()
    sid = created["id"]
    assert _patch(client, sid, {"reference": "EDITED"}, platform.headers, 'W/"1"').status_code == 200
    stale = client.delete(f"/v1/shipments/{sid}", headers={**platform.headers, "If-Match": 'W/"1"'})
    assert stale.status_code == 412 and stale.get_json()["type"].endswith("/precondition-failed")
    current = client.delete(f"/v1/shipments/{sid}", headers={**platform.headers, "If-Match": 'W/"2"'})
    assert current.status_code == 200 and current.get_json()["status"] == "cancelled"


def test_a_failed_shipment_can_be_fixed_and_becomes_a_draft(app, client, platform):
    created = _create(client, platform.headers).get_json()
    _set_status(app, created["id"], "failed")
    response = _patch(
        client, created["id"], {"destination": {"street_lines": ["2 Main St"]}}, platform.headers, 'W/"1"'
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "draft"


def test_another_tenants_shipment_is_not_found_for_edit_and_cancel(client, make_tenant):
    owner, other = make_tenant(("platform",)), make_tenant(("platform",))
    created = _create(client, owner.headers).get_json()
    sid = created["id"]
    edit = _patch(client, sid, {"reference": "MINE"}, other.headers, 'W/"1"')
    cancel = client.delete(f"/v1/shipments/{sid}", headers=other.headers)
    for response in (edit, cancel):
        assert response.status_code == 404 and response.get_json()["type"].endswith("/not-found")
    assert client.get(f"/v1/shipments/{sid}", headers=owner.headers).get_json() == created


def test_edit_and_cancel_need_the_platform_role(client, make_tenant, platform):
    created = _create(client, platform.headers).get_json()
    finance = make_tenant(("finance",))
    assert _patch(client, created["id"], {"reference": "X"}, finance.headers, 'W/"1"').status_code == 403
    assert client.delete(f"/v1/shipments/{created['id']}", headers=finance.headers).status_code == 403
