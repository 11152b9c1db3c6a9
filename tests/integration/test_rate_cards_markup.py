"""Tenant markup: set by ops, applied to the sell price of every charge line, cost untouched."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from adapters import registry
from gateway import create_app
from gateway.kernel import auth, models
from gateway.rates import tables
from schemas import carrier
from tests.helpers import shipment_body
from tests.integration.test_rate_cards import card
from tests.plugins.handoff_example_adapter.handoff_example_adapter import ExampleAdapter


def rate_body() -> dict[str, Any]:
    body = shipment_body()
    del body["reference"]
    return body


def _d(m: dict[str, str]) -> Decimal:
    return Decimal(m["amount"])


@pytest.fixture
def ops(make_tenant: Any) -> Any:
    return make_tenant(("platform", "ops"))


def _set(client: Any, tenant: Any, rules: list[dict[str, Any]]) -> Any:
    return client.put("/v1/markups", json={"rules": rules}, headers=tenant.headers)


def _acme_card_with_fuel(client: Any, tenant: Any) -> None:
    doc = card()
    doc["surcharges"] = [
        {"code": "FSC", "kind": "fuel", "description": "Fuel", "percent": "10", "applies_to": ["BASE"]}
    ]
    assert client.post("/v1/rate-cards", json=doc, headers=tenant.headers).status_code == 201
    resp = client.post("/v1/rate-cards/acme-ground/versions/1/activate", json={}, headers=tenant.headers)
    assert resp.status_code == 200


def _acme_rate(client: Any, tenant: Any) -> dict[str, Any]:
    body = client.post("/v1/rates", json=rate_body(), headers=tenant.headers).get_json()
    (rate,) = [r for r in body["rates"] if r["carrier"] == "acme"]
    return rate


def _lines(rate: dict[str, Any]) -> dict[str, tuple[Decimal, Decimal]]:
    return {line["code"]: (_d(line["cost"]), _d(line["sell"])) for line in rate["lines"]}


def test_a_default_percent_and_a_service_rule_set_sell_prices_by_hand(client: Any, ops: Any) -> None:
    _acme_card_with_fuel(client, ops)
    # No markup yet: BASE 10.00 and fuel 10 % = 1.00, sold at cost.
    assert _lines(_acme_rate(client, ops)) == {
        "BASE": (Decimal("10.00"), Decimal("10.00")),
        "FSC": (Decimal("1.00"), Decimal("1.00")),
    }
    # 12.5 % on every line: 11.25 and 1.125 -> 1.12 (half to even); totals 11.00 cost, 12.37 sell.
    assert _set(client, ops, [{"percent": "12.5"}]).status_code == 200
    rate = _acme_rate(client, ops)
    assert _lines(rate) == {
        "BASE": (Decimal("10.00"), Decimal("11.25")),
        "FSC": (Decimal("1.00"), Decimal("1.12")),
    }
    assert (_d(rate["total_cost"]), _d(rate["total_sell"])) == (Decimal("11.00"), Decimal("12.37"))
    # A rule for the carrier service beats the default: 2.00 fixed once, on the first line.
    rules = [
        {"percent": "12.5"},
        {"carrier": "acme", "service_code": "G", "fixed": {"amount": "2.00", "currency": "USD"}},
    ]
    assert _set(client, ops, rules).status_code == 200
    rate = _acme_rate(client, ops)
    assert _lines(rate) == {
        "BASE": (Decimal("10.00"), Decimal("12.00")),
        "FSC": (Decimal("1.00"), Decimal("1.00")),
    }
    assert (_d(rate["total_cost"]), _d(rate["total_sell"])) == (Decimal("11.00"), Decimal("13.00"))


def test_the_frozen_snapshot_keeps_cost_and_sell_apart(app: Any, client: Any, ops: Any) -> None:
    _acme_card_with_fuel(client, ops)
    _set(client, ops, [{"carrier": "acme", "percent": "20"}])
    created = client.post("/v1/shipments", json=shipment_body(), headers=ops.headers).get_json()
    (rate,) = [r for r in created["rates"]["rates"] if r["carrier"] == "acme"]
    resp = client.post(
        f"/v1/shipments/{created['id']}/rate", json={"rate_id": rate["id"]}, headers=ops.headers
    )
    assert resp.status_code == 200, resp.get_json()
    snap = resp.get_json()
    # BASE 10.00 -> 12.00, FSC 1.00 -> 1.20.
    assert [(line["code"], _d(line["cost"]), _d(line["sell"])) for line in snap["lines"]] == [
        ("BASE", Decimal("10.00"), Decimal("12.00")),
        ("FSC", Decimal("1.00"), Decimal("1.20")),
    ]
    assert (_d(snap["total_cost"]), _d(snap["total_sell"])) == (Decimal("11.00"), Decimal("13.20"))
    with app.extensions["handoff"].sessions() as session:
        row = session.execute(
            sa.select(tables.ShipmentQuoteSnapshot).where(
                tables.ShipmentQuoteSnapshot.shipment_id == created["id"]
            )
        ).scalar_one()
        assert (row.total_cost_minor, row.total_sell_minor) == (1100, 1320)
        assert [(line["cost_minor"], line["sell_minor"]) for line in row.lines] == [(1000, 1200), (100, 120)]
    # A later markup change never touches the frozen snapshot.
    _set(client, ops, [])
    again = client.post(
        f"/v1/shipments/{created['id']}/rate", json={"rate_id": rate["id"]}, headers=ops.headers
    )
    assert _d(again.get_json()["total_sell"]) == Decimal("13.20")


def test_markup_changes_the_sell_price_of_sample_cards_but_never_their_cost(
    client: Any, make_tenant: Any
) -> None:
    plain = make_tenant(("platform",))
    marked = make_tenant(("platform", "ops"))
    rules = [{"percent": "10"}, {"carrier": "ups", "fixed": {"amount": "1.50", "currency": "USD"}}]
    assert _set(client, marked, rules).status_code == 200
    before = client.post("/v1/rates", json=rate_body(), headers=plain.headers).get_json()["rates"]
    after = client.post("/v1/rates", json=rate_body(), headers=marked.headers).get_json()["rates"]
    key = {(r["carrier"], r["service_code"]): r for r in before}
    assert len(after) == len(before) >= 2
    for rate in after:
        plain_rate = key[(rate["carrier"], rate["service_code"])]
        assert [line["cost"] for line in rate["lines"]] == [line["cost"] for line in plain_rate["lines"]]
        assert rate["total_cost"] == plain_rate["total_cost"]
        assert _d(rate["total_sell"]) > _d(rate["total_cost"])
        assert sum(_d(line["sell"]) for line in rate["lines"]) == _d(rate["total_sell"])
        if rate["carrier"] == "ups":
            first, *rest = rate["lines"]
            assert _d(first["sell"]) == _d(first["cost"]) + Decimal("1.50")
            assert all(line["sell"] == line["cost"] for line in rest)
            assert _d(rate["total_sell"]) - _d(rate["total_cost"]) == Decimal("1.50")


def test_markups_are_read_back_and_every_change_is_audited(app: Any, client: Any, ops: Any) -> None:
    assert client.get("/v1/markups", headers=ops.headers).get_json() == {
        "rules": [],
        "updated_at": None,
        "updated_by": None,
    }
    rules = [
        {"carrier": "ups", "service_code": "03", "percent": "7.25"},
        {"percent": "5", "fixed": {"amount": "0.50", "currency": "USD"}},
    ]
    resp = _set(client, ops, rules)
    assert resp.status_code == 200, resp.get_json()
    read = client.get("/v1/markups", headers=ops.headers).get_json()
    assert read == resp.get_json()
    assert read["updated_by"] == ops.key_id and read["updated_at"]
    assert {(r["carrier"], r["service_code"], r["percent"]) for r in read["rules"]} == {
        ("ups", "03", "7.25"),
        (None, None, "5"),
    }
    _set(client, ops, [])
    from gateway.rates import ops_tables as rating_ops

    with app.extensions["handoff"].sessions() as session:
        entries = (
            session.execute(
                sa.select(rating_ops.RatingAuditEntry)
                .where(rating_ops.RatingAuditEntry.tenant_id == ops.tenant_id)
                .order_by(rating_ops.RatingAuditEntry.id)
            )
            .scalars()
            .all()
        )
    assert [(e.action, e.actor_key_id) for e in entries] == [("markup.set", ops.key_id)] * 2
    assert entries[1].detail["after"] == [] and len(entries[1].detail["before"]) == 2


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ([{"service_code": "03", "percent": "5"}], "rules.0.carrier"),
        ([{"carrier": "ups"}, {"carrier": "ups"}], "rules.1"),
        ([{"fixed": {"amount": "1.005", "currency": "USD"}}], "rules.0.fixed.amount"),
        ([{"percent": "-1"}], "rules.0.percent"),
        ([{"percent": "1001"}], "rules.0.percent"),
        ([{"percent": "1.00001"}], "rules.0.percent"),
        ([{"fixed": {"amount": "1", "currency": "XXX"}}], "rules.0.fixed.currency"),
    ],
)
def test_a_bad_markup_is_a_422_naming_the_rule(client: Any, ops: Any, rules: Any, field: str) -> None:
    resp = _set(client, ops, rules)
    assert resp.status_code == 422
    assert resp.content_type == "application/problem+json"
    assert field in resp.get_json()["errors"]
    assert client.get("/v1/markups", headers=ops.headers).get_json()["rules"] == []


def test_only_ops_sets_markups(client: Any, make_tenant: Any) -> None:
    for roles in (("platform",), ("finance",)):
        tenant = make_tenant(roles)
        assert _set(client, tenant, [{"percent": "5"}]).status_code == 403
    assert client.get("/v1/markups", headers=make_tenant(("platform",)).headers).status_code == 403


@pytest.fixture
def live_client(settings: dict[str, Any]) -> Any:
    class Flat(ExampleAdapter):
        def _rate(self, request: carrier.RateRequest, timeout: float) -> list[carrier.RateResult]:
            (result,) = super()._rate(request, timeout)
            return [
                carrier.RateResult(
                    carrier="example",
                    service_code=result.service_code,
                    service_name=result.service_name,
                    total=result.total,
                    transit_days=2,
                )
            ]

    application = create_app({**settings, "CARRIERS": json.dumps([]), "RATE_CACHE_TTL_SECONDS": 0})
    application.extensions["handoff"]._carriers = registry.Registry(
        {
            f"flat-{uuid.uuid4().hex[:8]}": Flat(
                {"api_key": "k", "price_per_parcel": "8.00", "currency": "USD"}
            )
        }
    )
    with application.extensions["handoff"].sessions() as session:
        slug = f"t-{uuid.uuid4().hex[:10]}"
        tenant = models.Tenant(name=slug, slug=slug)
        session.add(tenant)
        session.flush()
        _row, key = auth.create_key(
            session, tenant.id, ("platform", "ops"), pepper=application.config["SECRET_PEPPER"]
        )
        session.commit()
    yield application.test_client(), {"Authorization": f"Bearer {key}"}
    application.extensions["handoff"].dispose()


def test_a_live_carrier_rate_is_marked_up_as_well(live_client: Any) -> None:
    client, headers = live_client
    resp = client.put(
        "/v1/markups", json={"rules": [{"carrier": "example", "percent": "15"}]}, headers=headers
    )
    assert resp.status_code == 200, resp.get_json()
    body = client.post("/v1/rates", json=rate_body(), headers=headers).get_json()
    (live,) = [r for r in body["rates"] if r["source"] == "live"]
    # 8.00 x 1.15 = 9.20.
    assert (_d(live["total_cost"]), _d(live["total_sell"])) == (Decimal("8.00"), Decimal("9.20"))
