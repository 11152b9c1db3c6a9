"""Rates on shipment create, and freezing a chosen rate onto the shipment."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from gateway.kernel import models
from gateway.rates import tables
from tests.helpers import shipment_body


def _create(client: Any, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    resp = client.post("/v1/shipments", json=shipment_body(**overrides), headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_creating_a_shipment_returns_the_same_rates_as_rating_it(client: Any, make_tenant: Any) -> None:
    tenant = make_tenant(("platform",))
    created = _create(client, tenant.headers)
    body = shipment_body()
    del body["reference"]
    shopped = client.post("/v1/rates", json=body, headers=tenant.headers).get_json()

    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        return (
            r["carrier"],
            r["service_code"],
            r["total_sell"]["amount"],
            r["estimated_delivery"],
            r["labels"],
        )

    assert created["status"] == "draft"
    assert created["rates"]["rates"]
    assert [key(r) for r in created["rates"]["rates"]] == [key(r) for r in shopped["rates"]]


def test_selecting_a_rate_freezes_every_charge_line_and_sets_carrier_and_service(
    app: Any, client: Any, make_tenant: Any
) -> None:
    tenant = make_tenant(("platform",))
    created = _create(client, tenant.headers)
    chosen = created["rates"]["rates"][-1]
    resp = client.post(
        f"/v1/shipments/{created['id']}/rate", json={"rate_id": chosen["id"]}, headers=tenant.headers
    )
    assert resp.status_code == 200, resp.get_json()
    snap = resp.get_json()
    assert (snap["carrier"], snap["service"]) == (chosen["carrier"], chosen["service_code"])
    assert snap["card_id"] == chosen["card_id"] and snap["card_version"] == chosen["card_version"]
    assert snap["lines"] == chosen["lines"]
    assert snap["total_sell"] == chosen["total_sell"]
    assert sum(Decimal(line["cost"]["amount"]) for line in snap["lines"]) == Decimal(
        snap["total_cost"]["amount"]
    )
    shipment = client.get(f"/v1/shipments/{created['id']}", headers=tenant.headers).get_json()
    assert (shipment["carrier"], shipment["service"]) == (chosen["carrier"], chosen["service_code"])
    with app.extensions["handoff"].sessions() as session:
        row = session.execute(
            sa.select(tables.ShipmentQuoteSnapshot).where(
                tables.ShipmentQuoteSnapshot.shipment_id == created["id"]
            )
        ).scalar_one()
        assert row.total_sell_minor == int(Decimal(chosen["total_sell"]["amount"]) * 100)
        assert all(isinstance(line["cost_minor"], int) for line in row.lines)


def test_selecting_the_same_rate_twice_answers_the_same_snapshot(client: Any, make_tenant: Any) -> None:
    tenant = make_tenant(("platform",))
    created = _create(client, tenant.headers)
    rate_id = created["rates"]["rates"][0]["id"]
    url = f"/v1/shipments/{created['id']}/rate"
    first = client.post(url, json={"rate_id": rate_id}, headers=tenant.headers)
    second = client.post(url, json={"rate_id": rate_id}, headers=tenant.headers)
    assert first.status_code == second.status_code == 200
    assert first.get_json() == second.get_json()


def test_a_different_rate_on_a_shipment_past_draft_is_a_409(app: Any, client: Any, make_tenant: Any) -> None:
    tenant = make_tenant(("platform",))
    created = _create(client, tenant.headers)
    first, other = created["rates"]["rates"][0], created["rates"]["rates"][1]
    url = f"/v1/shipments/{created['id']}/rate"
    assert client.post(url, json={"rate_id": first["id"]}, headers=tenant.headers).status_code == 200
    with app.extensions["handoff"].sessions() as session:
        session.execute(
            sa.update(models.Shipment).where(models.Shipment.id == created["id"]).values(status="booked")
        )
        session.commit()
    resp = client.post(url, json={"rate_id": other["id"]}, headers=tenant.headers)
    assert resp.status_code == 409
    assert resp.content_type == "application/problem+json"
    again = client.post(url, json={"rate_id": first["id"]}, headers=tenant.headers)
    assert again.status_code == 200 and again.get_json()["rate_id"] == first["id"]


def test_a_draft_may_change_its_mind_before_booking(client: Any, make_tenant: Any) -> None:
    tenant = make_tenant(("platform",))
    created = _create(client, tenant.headers)
    first, other = created["rates"]["rates"][0], created["rates"]["rates"][1]
    url = f"/v1/shipments/{created['id']}/rate"
    client.post(url, json={"rate_id": first["id"]}, headers=tenant.headers)
    resp = client.post(url, json={"rate_id": other["id"]}, headers=tenant.headers)
    assert resp.status_code == 200
    assert resp.get_json()["rate_id"] == other["id"]


def test_a_rate_quoted_for_other_parcels_cannot_be_selected(client: Any, make_tenant: Any) -> None:
    tenant = make_tenant(("platform",))
    created = _create(client, tenant.headers)
    body = shipment_body()
    del body["reference"]
    body["parcels"][0]["weight"]["value"] = "9"
    other = client.post("/v1/rates", json=body, headers=tenant.headers).get_json()["rates"][0]
    resp = client.post(
        f"/v1/shipments/{created['id']}/rate", json={"rate_id": other["id"]}, headers=tenant.headers
    )
    assert resp.status_code == 422
    assert "rate_id" in resp.get_json()["errors"]


def test_an_expired_rate_is_refused(app: Any, client: Any, make_tenant: Any) -> None:
    tenant = make_tenant(("platform",))
    created = _create(client, tenant.headers)
    rate_id = created["rates"]["rates"][0]["id"]
    with app.extensions["handoff"].sessions() as session:
        session.execute(
            sa.update(tables.RateQuote)
            .where(tables.RateQuote.id == rate_id)
            .values(expires_at=tables.RateQuote.created_at)
        )
        session.commit()
    resp = client.post(
        f"/v1/shipments/{created['id']}/rate", json={"rate_id": rate_id}, headers=tenant.headers
    )
    assert resp.status_code == 422
    assert resp.get_json()["type"].endswith("/rate-expired")


def test_another_tenants_rate_or_shipment_is_not_found(client: Any, make_tenant: Any) -> None:
    mine, theirs = make_tenant(("platform",)), make_tenant(("platform",))
    my_shipment = _create(client, mine.headers)
    their_shipment = _create(client, theirs.headers)
    their_rate = their_shipment["rates"]["rates"][0]["id"]
    resp = client.post(
        f"/v1/shipments/{my_shipment['id']}/rate", json={"rate_id": their_rate}, headers=mine.headers
    )
    assert resp.status_code == 404
    resp = client.post(
        f"/v1/shipments/{their_shipment['id']}/rate", json={"rate_id": their_rate}, headers=mine.headers
    )
    assert resp.status_code == 404
