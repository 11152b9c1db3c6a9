"""Ops rate cards: upload and validate versions, list them, activate with effective dates, dry-run."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.helpers import shipment_body

# A card simple enough to price by hand: all of the US is zone 1, actual weight in kg,
# up to 5 kg costs 10.00 and up to 30 kg 20.00; no surcharges. The helpers' parcel weighs
# 2.5 lb (1.134 kg), so it costs exactly the first break.
CARD: dict[str, Any] = {
    "id": "acme-ground",
    "version": 1,
    "effective_from": "2026-01-01",
    "carrier": "acme",
    "service": {"code": "G", "name": "Acme Ground"},
    "currency": "USD",
    "units": {"weight": "kg", "length": "cm"},
    "zones": {
        "by": "postal",
        "charts": [
            {
                "origins": [{"country": "US"}],
                "destinations": [{"zone": "1", "areas": [{"country": "US"}]}],
            }
        ],
    },
    "rates": {
        "by_zone": {
            "1": {"breaks": [{"up_to": "5", "price": "10.00"}, {"up_to": "30", "price": "20.00"}]},
        }
    },
    "transit": {
        "days_by_zone": {"1": 2},
        "cutoff": "23:59",
        "timezone": "UTC",
        "calendar": {"business_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
    },
}


def card(version: int = 1, price: str = "10.00", **overrides: Any) -> dict[str, Any]:
    doc = copy.deepcopy(CARD)
    doc["version"] = version
    doc["rates"]["by_zone"]["1"]["breaks"][0]["price"] = price
    doc.update(overrides)
    return doc


def rate_body() -> dict[str, Any]:
    body = shipment_body()
    del body["reference"]
    return body


@pytest.fixture
def ops(make_tenant: Any) -> Any:
    return make_tenant(("platform", "ops"))


def _upload(client: Any, tenant: Any, doc: dict[str, Any]) -> dict[str, Any]:
    resp = client.post("/v1/rate-cards", json=doc, headers=tenant.headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _activate(client: Any, tenant: Any, version: int, **body: Any) -> Any:
    return client.post(
        f"/v1/rate-cards/acme-ground/versions/{version}/activate", json=body, headers=tenant.headers
    )


def _acme(client: Any, tenant: Any) -> tuple[str, list[dict[str, Any]]]:
    body = client.post("/v1/rates", json=rate_body(), headers=tenant.headers).get_json()
    return body["source"], [r for r in body["rates"] if r["carrier"] == "acme"]


def test_an_uploaded_card_is_a_draft_with_its_document_and_who_uploaded_it(client: Any, ops: Any) -> None:
    resp = client.post("/v1/rate-cards", json=card(), headers=ops.headers)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert resp.headers["Location"].endswith("/v1/rate-cards/acme-ground/versions/1")
    assert (body["status"], body["in_force"], body["uploaded_by"]) == ("draft", False, ops.key_id)
    assert body["document"] == card()
    read = client.get("/v1/rate-cards/acme-ground/versions/1", headers=ops.headers).get_json()
    assert read["document"]["rates"]["by_zone"]["1"]["breaks"][0]["price"] == "10.00"
    assert [(h["action"], h["by"]) for h in read["history"]] == [("card.uploaded", ops.key_id)]


def test_a_draft_does_not_change_what_the_tenant_is_quoted(client: Any, ops: Any) -> None:
    _upload(client, ops, card())
    source, acme = _acme(client, ops)
    assert source == "sample"
    assert acme == []


def test_an_invalid_card_is_a_422_naming_every_field_by_dotted_path(client: Any, ops: Any) -> None:
    doc = card()
    doc["rates"]["by_zone"]["1"]["breaks"][1]["price"] = 20.5  # a JSON number, not a string
    doc["currency"] = "usd"
    del doc["transit"]
    resp = client.post("/v1/rate-cards", json=doc, headers=ops.headers)
    assert resp.status_code == 422
    assert resp.content_type == "application/problem+json"
    problem = resp.get_json()
    assert problem["type"].endswith("/validation-error")
    errors = problem["errors"]
    assert "rates.by_zone.1.breaks.1.price" in errors
    assert "20.5" in errors["rates.by_zone.1.breaks.1.price"][0]
    assert "currency" in errors
    assert any("transit" in m for m in errors["_schema"])
    assert client.get("/v1/rate-cards", headers=ops.headers).get_json() == {"data": []}


def test_a_card_that_fails_to_compile_names_the_field_too(client: Any, ops: Any) -> None:
    doc = card()
    doc["rates"]["by_zone"]["1"]["breaks"][1]["price"] = "9.00"  # heavier but cheaper
    doc["surcharges"] = [
        {"code": "SIG", "kind": "signature", "description": "Signature", "amount": "2.00"},
        {"code": "SIG", "kind": "signature", "description": "Signature again", "amount": "3.00"},
    ]
    resp = client.post("/v1/rate-cards", json=doc, headers=ops.headers)
    assert resp.status_code == 422, resp.get_json()
    errors = resp.get_json()["errors"]
    assert "rates.by_zone.1.breaks" in errors
    assert "surcharges.1.code" in errors


def test_a_card_body_that_is_not_an_object_is_a_422(client: Any, ops: Any) -> None:
    resp = client.post("/v1/rate-cards", json=[card()], headers=ops.headers)
    assert resp.status_code == 422
    assert resp.content_type == "application/problem+json"


def test_the_same_version_twice_is_a_409_and_a_card_cannot_move_service(client: Any, ops: Any) -> None:
    _upload(client, ops, card())
    again = client.post("/v1/rate-cards", json=card(price="11.00"), headers=ops.headers)
    assert again.status_code == 409
    moved = card(version=2)
    moved["service"] = {"code": "X", "name": "Acme Express"}
    resp = client.post("/v1/rate-cards", json=moved, headers=ops.headers)
    assert resp.status_code == 422
    assert "service.code" in resp.get_json()["errors"]
    rival = card(id="acme-ground-2")
    resp = client.post("/v1/rate-cards", json=rival, headers=ops.headers)
    assert resp.status_code == 422
    assert "id" in resp.get_json()["errors"]


def test_cards_and_versions_are_listed(client: Any, ops: Any) -> None:
    _upload(client, ops, card())
    _upload(client, ops, card(version=2, price="12.00"))
    listed = client.get("/v1/rate-cards", headers=ops.headers).get_json()["data"]
    assert [(c["card_id"], c["latest_version"], c["version_in_force"]) for c in listed] == [
        ("acme-ground", 2, None)
    ]
    one = client.get("/v1/rate-cards/acme-ground", headers=ops.headers).get_json()
    assert [(v["version"], v["status"]) for v in one["versions"]] == [(1, "draft"), (2, "draft")]
    assert client.get("/v1/rate-cards/nope", headers=ops.headers).status_code == 404
    assert client.get("/v1/rate-cards/acme-ground/versions/3", headers=ops.headers).status_code == 404


def test_activation_puts_a_version_in_force_and_retires_the_previous_one(client: Any, ops: Any) -> None:
    _upload(client, ops, card())
    _upload(client, ops, card(version=2, price="12.00"))
    first = _activate(client, ops, 1)
    assert first.status_code == 200, first.get_json()
    assert (first.get_json()["status"], first.get_json()["in_force"]) == ("active", True)
    source, acme = _acme(client, ops)
    assert source == "contract"
    assert [(r["card_version"], Decimal(r["total_cost"]["amount"])) for r in acme] == [(1, Decimal("10.00"))]

    second = _activate(client, ops, 2).get_json()
    assert second["status"] == "active"
    assert [(r["version"], r["status"]) for r in second["retired"]] == [(1, "retired")]
    assert second["retired"][0]["retired_at"] is not None
    _, acme = _acme(client, ops)
    assert [(r["card_version"], Decimal(r["total_cost"]["amount"])) for r in acme] == [(2, Decimal("12.00"))]

    v1 = client.get("/v1/rate-cards/acme-ground/versions/1", headers=ops.headers).get_json()
    actions = [(h["action"], h["by"]) for h in v1["history"]]
    assert actions == [
        ("card.uploaded", ops.key_id),
        ("card.activated", ops.key_id),
        ("card.retired", ops.key_id),
    ]
    assert v1["history"][-1]["detail"]["superseded_by"] == 2
    assert all(h["at"] for h in v1["history"])
    listed = client.get("/v1/rate-cards", headers=ops.headers).get_json()["data"][0]
    assert listed["version_in_force"] == 2


def test_activating_an_older_version_rolls_back(client: Any, ops: Any) -> None:
    _upload(client, ops, card())
    _upload(client, ops, card(version=2, price="12.00"))
    _activate(client, ops, 2)
    back = _activate(client, ops, 1).get_json()
    assert [r["version"] for r in back["retired"]] == [2]
    _, acme = _acme(client, ops)
    assert [r["card_version"] for r in acme] == [1]


def test_a_version_starting_tomorrow_leaves_today_to_the_one_in_force(client: Any, ops: Any) -> None:
    today = datetime.now(UTC).date()
    tomorrow = today + timedelta(days=1)
    _upload(client, ops, card())
    _upload(client, ops, card(version=2, price="12.00"))
    _activate(client, ops, 1)
    resp = _activate(client, ops, 2, effective_from=tomorrow.isoformat())
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert (body["effective_from"], body["in_force"]) == (tomorrow.isoformat(), False)
    assert body["retired"] == []
    assert [(v["version"], v["effective_to"], v["in_force"]) for v in body["ending"]] == [
        (1, today.isoformat(), True)
    ]
    _, acme = _acme(client, ops)
    assert [r["card_version"] for r in acme] == [1]


def test_activation_dates_are_checked(client: Any, ops: Any) -> None:
    _upload(client, ops, card())
    resp = _activate(client, ops, 1, effective_from="2026-06-01", effective_to="2026-05-01")
    assert resp.status_code == 422
    assert "effective_to" in resp.get_json()["errors"]
    resp = _activate(client, ops, 1, effective_to="2020-01-01")
    assert resp.status_code == 422
    assert "effective_to" in resp.get_json()["errors"]
    assert _activate(client, ops, 1, effective_from="not-a-date").status_code == 422


def test_activating_twice_changes_nothing_the_second_time(client: Any, ops: Any) -> None:
    _upload(client, ops, card())
    assert _activate(client, ops, 1).status_code == 200
    again = _activate(client, ops, 1)
    assert again.status_code == 200
    activations = [h for h in again.get_json()["history"] if h["action"] == "card.activated"]
    assert len(activations) == 1


def test_only_ops_manages_cards_and_other_tenants_see_nothing(
    client: Any, ops: Any, make_tenant: Any
) -> None:
    platform = make_tenant(("platform",))
    finance = make_tenant(("finance",))
    assert client.post("/v1/rate-cards", json=card(), headers=platform.headers).status_code == 403
    assert client.post("/v1/rate-cards", json=card(), headers=finance.headers).status_code == 403
    assert client.get("/v1/rate-cards", headers=finance.headers).status_code == 200
    _upload(client, ops, card())
    other = make_tenant(("ops",))
    assert client.get("/v1/rate-cards/acme-ground", headers=other.headers).status_code == 404
    assert client.get("/v1/rate-cards/acme-ground/versions/1", headers=other.headers).status_code == 404
    assert _activate(client, other, 1).status_code == 404
    resp = client.post("/v1/rate-cards/acme-ground/versions/1/dry-run", json={}, headers=other.headers)
    assert resp.status_code == 404
    # The other tenant may upload its own card with the same id and version.
    assert client.post("/v1/rate-cards", json=card(), headers=other.headers).status_code == 201


def _amount(m: dict[str, str]) -> Decimal:
    return Decimal(m["amount"])


def _ship(client: Any, tenant: Any, weight_lb: str, reference: str) -> str:
    body = shipment_body(reference=reference)
    body["parcels"][0]["weight"]["value"] = weight_lb
    resp = client.post("/v1/shipments", json=body, headers=tenant.headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def test_a_dry_run_prices_the_last_shipments_under_the_candidate_and_the_card_in_force(
    client: Any, ops: Any
) -> None:
    _upload(client, ops, card())
    _activate(client, ops, 1)
    oldest = _ship(client, ops, "2.5", "OLD")  # 1.134 kg: 10.00 -> 12.00
    light = _ship(client, ops, "2.5", "LIGHT")  # 10.00 -> 12.00
    heavy = _ship(client, ops, "22", "HEAVY")  # 9.979 kg: 20.00 under both
    huge = _ship(client, ops, "80", "HUGE")  # 36.3 kg: above the top break under both
    _upload(client, ops, card(version=2, price="12.00"))

    resp = client.post("/v1/rate-cards/acme-ground/versions/2/dry-run", json={"last": 3}, headers=ops.headers)
    assert resp.status_code == 200, resp.get_json()
    run = resp.get_json()
    assert (run["candidate_version"], run["current_version"]) == (2, 1)
    assert [r["shipment_id"] for r in run["results"]] == [huge, heavy, light]
    assert oldest not in {r["shipment_id"] for r in run["results"]}
    by_id = {r["shipment_id"]: r for r in run["results"]}
    assert _amount(by_id[light]["current"]["total_cost"]) == Decimal("10.00")
    assert _amount(by_id[light]["candidate"]["total_cost"]) == Decimal("12.00")
    assert _amount(by_id[light]["difference"]["cost"]) == Decimal("2.00")
    assert by_id[light]["difference"]["cost"]["currency"] == "USD"
    assert _amount(by_id[heavy]["difference"]["cost"]) == 0
    assert by_id[huge]["difference"] is None
    assert by_id[huge]["candidate"]["ineligible"]["reason"] == "weight_limit"
    assert (run["shipments"], run["compared"], run["neither"]) == (3, 2, 1)
    totals = run["totals"]
    assert (_amount(totals["current_cost"]), _amount(totals["candidate_cost"])) == (30, 32)
    assert _amount(totals["difference_cost"]) == 2
    assert totals["difference_cost"]["currency"] == "USD"
    # Nothing changed: the draft is still a draft and quotes still use version 1.
    assert (
        client.get("/v1/rate-cards/acme-ground/versions/2", headers=ops.headers).get_json()["status"]
        == "draft"
    )
    _, acme = _acme(client, ops)
    assert [r["card_version"] for r in acme] == [1]


def test_a_dry_run_without_a_card_in_force_shows_only_the_candidate(client: Any, ops: Any) -> None:
    _ship(client, ops, "2.5", "A")
    _upload(client, ops, card())
    run = client.post(
        "/v1/rate-cards/acme-ground/versions/1/dry-run", json={}, headers=ops.headers
    ).get_json()
    assert run["current_version"] is None
    assert [(r["current"], _amount(r["candidate"]["total_cost"])) for r in run["results"]] == [(None, 10)]
    assert (run["compared"], run["only_candidate"]) == (0, 1)
    assert Decimal(run["totals"]["difference_cost"]["amount"]) == 0


def test_a_dry_run_refuses_an_unreasonable_count(client: Any, ops: Any) -> None:
    _upload(client, ops, card())
    url = "/v1/rate-cards/acme-ground/versions/1/dry-run"
    assert client.post(url, json={"last": 0}, headers=ops.headers).status_code == 422
    assert client.post(url, json={"last": 100000}, headers=ops.headers).status_code == 422
