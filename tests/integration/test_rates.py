"""POST /v1/rates: sample cards on a fresh install, labels, ineligible reasons, and a failing live carrier."""

from __future__ import annotations

import json
import re
import time
import uuid
from decimal import Decimal
from typing import Any

import pytest
import responses

from adapters import registry
from gateway import create_app
from schemas import carrier
from tests.helpers import label_sellers, shipment_body
from tests.plugins.handoff_example_adapter.handoff_example_adapter import ExampleAdapter


def rate_body(**overrides: Any) -> dict[str, Any]:
    body = shipment_body()
    del body["reference"]
    body.update(overrides)
    return body


def test_a_fresh_tenant_is_rated_with_the_sample_cards_sorted_and_labelled(
    app: Any, client: Any, make_tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every sample card's carrier sells labels here, so every rate is purchasable and may be labelled.
    monkeypatch.setattr(app.extensions["handoff"], "_carriers", label_sellers("ups", "dhl_express", "empire"))
    tenant = make_tenant(("platform",))
    resp = client.post("/v1/rates", json=rate_body(), headers=tenant.headers)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["source"] == "sample"
    assert body["errors"] == []
    rates = body["rates"]
    assert len(rates) >= 2
    sells = [Decimal(r["total_sell"]["amount"]) for r in rates]
    assert sells == sorted(sells)
    for r in rates:
        assert r["id"].startswith("rte_")
        assert sum(Decimal(line["sell"]["amount"]) for line in r["lines"]) == Decimal(
            r["total_sell"]["amount"]
        )
    assert all(r["purchasable"] for r in rates)
    labels = [label for r in rates for label in r["labels"]]
    assert sorted(set(labels)) == ["best_value", "cheapest", "fastest"]
    assert "cheapest" in rates[0]["labels"]
    fastest = min(r["estimated_delivery"] for r in rates)
    assert any("fastest" in r["labels"] and r["estimated_delivery"] == fastest for r in rates)
    # The own fleet prices by distance and this body has no coordinates: listed, with its reason.
    reasons = {(i["carrier"], i["reason"]) for i in body["ineligible"]}
    assert ("fleet", "area_not_served") in reasons


def test_a_promise_date_in_the_past_makes_every_service_too_slow(client: Any, make_tenant: Any) -> None:
    tenant = make_tenant(("platform",))
    resp = client.post("/v1/rates", json=rate_body(promise_date="2020-01-01"), headers=tenant.headers)
    body = resp.get_json()
    assert resp.status_code == 200
    assert body["rates"] == []
    assert "too_slow" in {i["reason"] for i in body["ineligible"]}


def test_a_bad_rate_request_is_a_422_naming_the_field(client: Any, make_tenant: Any) -> None:
    tenant = make_tenant(("platform",))
    body = rate_body()
    body["parcels"][0]["weight"]["value"] = "-1"
    resp = client.post("/v1/rates", json=body, headers=tenant.headers)
    assert resp.status_code == 422
    assert resp.content_type == "application/problem+json"
    assert "parcels.0.weight.value" in resp.get_json()["errors"]


def test_rating_needs_the_platform_role(client: Any, make_tenant: Any) -> None:
    tenant = make_tenant(("finance",))
    assert client.post("/v1/rates", json=rate_body(), headers=tenant.headers).status_code == 403


UPS_DOWN = {
    "adapter": "ups",
    "id": "ups-live",
    "config": {
        "client_id": "cid",
        "client_secret": "csecret",
        "account_number": "A1B2C3",
        "base_url": "https://ups.invalid",
    },
}


@pytest.fixture
def live_app(settings: dict[str, Any]) -> Any:
    def build(carriers: list[dict[str, Any]], deadline_ms: int) -> Any:
        application = create_app(
            {**settings, "CARRIERS": json.dumps(carriers), "RATE_DEADLINE_MS": deadline_ms}
        )
        built.append(application)
        return application

    built: list[Any] = []
    yield build
    for application in built:
        application.extensions["handoff"].dispose()


def _tenant(application: Any, roles: tuple[str, ...] = ("platform",)) -> dict[str, str]:
    from gateway.kernel import auth, models

    with application.extensions["handoff"].sessions() as session:
        slug = f"t-{uuid.uuid4().hex[:10]}"
        tenant = models.Tenant(name=slug, slug=slug)
        session.add(tenant)
        session.flush()
        _row, key = auth.create_key(session, tenant.id, roles, pepper=application.config["SECRET_PEPPER"])
        session.commit()
    return {"Authorization": f"Bearer {key}"}


@responses.activate
def test_a_carrier_failing_every_call_is_an_error_beside_the_other_rates(live_app: Any) -> None:
    responses.add(responses.POST, re.compile(r"https://ups\.invalid/.*"), status=503, body="down")
    responses.add(responses.GET, re.compile(r"https://ups\.invalid/.*"), status=503, body="down")
    application = live_app([UPS_DOWN], 1000)
    headers = _tenant(application)
    started = time.monotonic()
    resp = application.test_client().post("/v1/rates", json=rate_body(), headers=headers)
    elapsed = time.monotonic() - started
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert elapsed < 1.0 + 0.5
    assert body["rates"], "the contracted (sample) rates still come back"
    assert [e["carrier"] for e in body["errors"]] == ["ups-live"]
    assert body["errors"][0]["code"] in {"unavailable", "timeout"}
    assert body["errors"][0]["message"]


def test_a_carrier_slower_than_the_deadline_is_a_timeout_and_the_call_returns_on_time(live_app: Any) -> None:
    class Slow(ExampleAdapter):
        def _rate(self, request: carrier.RateRequest, timeout: float) -> list[carrier.RateResult]:
            time.sleep(3)
            return super()._rate(request, timeout)

    application = live_app([], 300)
    application.extensions["handoff"]._carriers = registry.Registry(
        {
            f"slowpoke-{uuid.uuid4().hex[:8]}": Slow(
                {"api_key": "k", "price_per_parcel": "1.00", "currency": "USD"}
            )
        }
    )
    headers = _tenant(application)
    started = time.monotonic()
    resp = application.test_client().post("/v1/rates", json=rate_body(), headers=headers)
    elapsed = time.monotonic() - started
    assert resp.status_code == 200
    assert elapsed < 0.3 + 0.5
    body = resp.get_json()
    assert body["rates"]
    assert [(e["code"], e["message"]) for e in body["errors"]] == [
        ("timeout", "no answer within the 300 ms deadline")
    ]
    assert body["errors"][0]["carrier"].startswith("slowpoke-")


def test_a_live_carrier_answer_is_shopped_with_the_cards_and_cached(live_app: Any) -> None:
    calls: list[int] = []

    class Quick(ExampleAdapter):
        def _rate(self, request: carrier.RateRequest, timeout: float) -> list[carrier.RateResult]:
            calls.append(1)
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

    application = live_app([], 2000)
    application.extensions["handoff"]._carriers = registry.Registry(
        {
            f"quick-{uuid.uuid4().hex[:8]}": Quick(
                {"api_key": "k", "price_per_parcel": "0.99", "currency": "USD"}
            )
        }
    )
    headers = _tenant(application)
    client = application.test_client()
    first = client.post("/v1/rates", json=rate_body(), headers=headers).get_json()
    second = client.post("/v1/rates", json=rate_body(), headers=headers).get_json()
    live = [r for r in first["rates"] if r["source"] == "live"]
    assert len(live) == 1
    assert live[0]["total_sell"] == {"amount": "0.99", "currency": "USD"}
    assert "cheapest" in live[0]["labels"]
    assert [r["source"] for r in second["rates"]].count("live") == 1
    assert len(calls) == 1, "the second identical call is answered from the cache"


UPS_LIVE_HOST = "https://ups-live-rates.invalid"


@responses.activate
def test_ups_twins_are_quoted_at_the_plain_price_and_an_undated_live_price_takes_the_cards_date(
    live_app: Any,
) -> None:
    from tests.unit.adapters import ups_fixtures as ups
    from tests.unit.adapters.test_ups_real_replies import rated, reply, transit, usd

    plain = rated("13", "40.00", TimeInTransit=transit("1", "20240507"))
    # The same service priced with options: dearer published, cheaper negotiated. A label is bought
    # without options, so this is not the price the shipper would pay.
    with_options = rated(
        "13",
        "44.00",
        TransportationCharges=usd("40.00"),
        ServiceOptionsCharges=usd("4.00"),
        NegotiatedRateCharges={"TotalCharge": usd("30.00")},
        TimeInTransit=transit("1", "20240507"),
    )
    ground_undated = rated("03", "9.99")  # no transit block, no guarantee: no date from UPS
    select_undated = rated("12", "19.99")  # no date, and no card to take one from
    responses.add(responses.POST, f"{UPS_LIVE_HOST}/security/v1/oauth/token", json=ups.TOKEN_REPLY)
    responses.add(
        responses.POST,
        re.compile(rf"{re.escape(UPS_LIVE_HOST)}/api/rating/.*"),
        json=reply(with_options, ground_undated, plain, select_undated),
    )
    account = {**UPS_DOWN, "id": f"ups-{uuid.uuid4().hex[:6]}", "config": {**UPS_DOWN["config"]}}
    account["config"]["base_url"] = UPS_LIVE_HOST
    application = live_app([account], 5000)

    body = (
        application.test_client().post("/v1/rates", json=rate_body(), headers=_tenant(application)).get_json()
    )

    ups_rates = {r["service_code"]: r for r in body["rates"] if r["carrier"] == "ups"}
    assert ups_rates["13"]["source"] == "live"
    assert Decimal(ups_rates["13"]["total_cost"]["amount"]) == Decimal("40.00")
    cards = {r["service_code"]: r for r in _sample_rates(application) if r["carrier"] == "ups"}
    assert ups_rates["03"]["source"] == "live"
    assert Decimal(ups_rates["03"]["total_cost"]["amount"]) == Decimal("9.99")
    assert ups_rates["03"]["estimated_delivery"] == cards["03"]["estimated_delivery"]
    assert ups_rates["03"]["guaranteed"] is False
    assert "12" not in ups_rates
    assert [(e["code"], e["message"]) for e in body["errors"]] == [
        ("incomplete", "12: no delivery estimate returned")
    ]


def _sample_rates(application: Any) -> list[dict[str, Any]]:
    """What the sample cards alone say (no live carrier), for the same shipment."""
    application.extensions["handoff"]._carriers = registry.Registry({})
    rates: list[dict[str, Any]] = (
        application.test_client()
        .post("/v1/rates", json=rate_body(), headers=_tenant(application))
        .get_json()["rates"]
    )
    return rates
