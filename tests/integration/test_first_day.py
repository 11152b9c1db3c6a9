"""Issue 15, items 8-10: the own fleet has one name, nothing recommended is unbuyable, one rate per service.

- A shipment booked on the own fleet's rate is carrier ``fleet``, as the driver app reports, so
  the driver's events land on its timeline instead of being parked.
- A rate no enabled adapter can sell is listed as not purchasable with the reason, gets no tag
  and is never allocated.
- Card and live answers for one carrier service are one rate with a stated source and one
  delivery estimate (price: contract card, else live, else sample card; estimate: live, else card).
- Migration 0012 turns stored ``own_fleet`` into ``fleet``.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import responses
import sqlalchemy as sa
from rq import SimpleWorker

from gateway import create_app
from gateway.jobs import outbox, worker
from gateway.kernel import auth, migrate, models
from gateway.kernel import container as bootstrap
from gateway.tracking import callbacks
from tests.conftest import _postgres_admin_url
from tests.helpers import label_sellers, shipment_body, ups_enabled_settings
from tests.integration.test_allocation_plans import PHILADELPHIA, book, local_day, plan_day, setup_fleet

FLEET_SECRET = "fleet-hmac-key"
# Secaucus to Midtown Manhattan: inside the fleet card's distance bands.
SECAUCUS = {"latitude": "40.7895", "longitude": "-74.0565"}
MIDTOWN = {"latitude": "40.7606", "longitude": "-73.9790"}


def _rated_body(reference: str | None = None) -> dict[str, Any]:
    body = shipment_body(reference or f"ORD-{uuid.uuid4().hex[:8]}")
    body["origin"].update(SECAUCUS)
    body["destination"].update(MIDTOWN)
    return body


def _run_jobs(app: Any, done: Any, rounds: int = 50) -> None:
    """Relay the outbox and drain RQ until ``done()`` holds (what the scheduler and workers do)."""
    container = app.extensions["handoff"]
    for _ in range(rounds):
        outbox.relay(container)
        worker.run(app, burst=True, worker_class=SimpleWorker)
        if done():
            return
        time.sleep(0.1)
    raise AssertionError("the jobs did not finish")


def _post_driver_batch(client: Any, batch: dict[str, Any]) -> Any:
    body = json.dumps(batch, separators=(",", ":")).encode()
    stamp = str(int(time.time()))
    headers = {"X-Handoff-Timestamp": stamp, "X-Handoff-Signature": callbacks.sign(FLEET_SECRET, stamp, body)}
    return client.post("/v1/callbacks/fleet", data=body, headers=headers, content_type="application/json")


# --- item 8: one name for the own fleet -----------------------------------------------------------


def test_a_shipment_booked_on_the_fleet_rate_gets_the_driver_apps_events_on_its_timeline(
    app: Any, client: Any, make_tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "CALLBACK_SECRETS", json.dumps({"fleet": FLEET_SECRET}))
    tenant = make_tenant(("platform", "ops"))
    created = client.post("/v1/shipments", json=_rated_body(), headers=tenant.headers)
    assert created.status_code == 201, created.get_json()
    shipment = created.get_json()
    [fleet_rate] = [r for r in shipment["rates"]["rates"] if r["service_code"] == "SDV"]
    assert fleet_rate["carrier"] == "fleet"
    assert fleet_rate["purchasable"] is True and fleet_rate["not_purchasable_reason"] is None

    selected = client.post(
        f"/v1/shipments/{shipment['id']}/rate", json={"rate_id": fleet_rate["id"]}, headers=tenant.headers
    )
    assert selected.status_code == 200, selected.get_json()
    requested = client.post(
        f"/v1/shipments/{shipment['id']}/label", json={"label_format": "pdf"}, headers=tenant.headers
    )
    assert requested.status_code == 202, requested.get_json()

    def read() -> dict[str, Any]:
        return client.get(f"/v1/shipments/{shipment['id']}", headers=tenant.headers).get_json()

    _run_jobs(app, lambda: read()["status"] not in ("label_requested", "purchasing"))
    booked = read()
    assert (booked["status"], booked["carrier"]) == ("purchased", "fleet")
    number = booked["tracking_number"]

    batch = {
        "schema_version": "1",
        "device_id": "android-first-day",
        "events": [
            {
                "event_id": str(uuid.uuid4()),
                "type": kind,
                "tracking_number": number,
                "occurred_at": at,
                "driver_id": "drv-1",
                "vehicle_id": "van-1",
            }
            for kind, at in (
                ("loaded", "2026-11-20T07:05:00-05:00"),
                ("out_for_delivery", "2026-11-20T08:00:00-05:00"),
            )
        ],
    }
    assert _post_driver_batch(client, batch).status_code == 202
    worker.run(app, burst=True, worker_class=SimpleWorker)

    timeline = client.get(f"/v1/shipments/{shipment['id']}/events", headers=tenant.headers).get_json()
    assert [e["raw"]["code"] for e in timeline["events"]] == ["loaded", "out_for_delivery"]
    assert timeline["milestone"] == "out_for_delivery"


# --- item 9: nothing recommended or allocated is unbuyable ----------------------------------------


def test_a_rate_no_adapter_can_sell_is_not_purchasable_untagged_and_listed_last(
    app: Any, client: Any, make_tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # UPS and DHL Express labels can be bought here; nobody sells the Empire Courier's.
    monkeypatch.setattr(app.extensions["handoff"], "_carriers", label_sellers("ups", "dhl_express"))
    tenant = make_tenant(("platform",))
    body = shipment_body()
    del body["reference"]
    resp = client.post("/v1/rates", json=body, headers=tenant.headers)
    assert resp.status_code == 200, resp.get_json()
    rates = resp.get_json()["rates"]

    [empire] = [r for r in rates if r["carrier"] == "empire"]
    assert empire["purchasable"] is False
    assert empire["labels"] == []
    assert "empire" in empire["not_purchasable_reason"]
    assert "carrier_not_configured" in empire["not_purchasable_reason"]
    # Empire is the cheapest and among the fastest, yet the tags go to rates that can be bought.
    buyable = [r for r in rates if r["purchasable"]]
    assert Decimal(empire["total_sell"]["amount"]) < min(Decimal(r["total_sell"]["amount"]) for r in buyable)
    assert rates[: len(buyable)] == buyable  # what can be bought comes first
    assert {r["carrier"] for r in buyable} == {"ups", "dhl_express"}
    assert all(r["not_purchasable_reason"] is None for r in buyable)
    tags = {label: r["carrier"] for r in buyable for label in r["labels"]}
    assert set(tags) == {"cheapest", "fastest", "best_value"}
    assert "cheapest" in rates[0]["labels"]


def test_with_no_adapter_only_the_fleet_is_purchasable_and_tagged(client: Any, make_tenant: Any) -> None:
    tenant = make_tenant(("platform",))
    body = _rated_body()
    del body["reference"]
    rates = client.post("/v1/rates", json=body, headers=tenant.headers).get_json()["rates"]
    assert {r["carrier"]: r["purchasable"] for r in rates} == {
        "fleet": True,
        "ups": False,
        "dhl_express": False,
        "empire": False,
    }
    assert rates[0]["carrier"] == "fleet"
    assert sorted(rates[0]["labels"]) == ["best_value", "cheapest", "fastest"]
    assert all(r["labels"] == [] for r in rates[1:])


def test_a_label_for_a_carrier_no_adapter_sells_is_refused_before_anything_is_queued(
    client: Any, make_tenant: Any
) -> None:
    tenant = make_tenant(("platform",))
    created = client.post("/v1/shipments", json=_rated_body(), headers=tenant.headers)
    assert created.status_code == 201, created.get_json()
    shipment = created.get_json()
    [empire] = [r for r in shipment["rates"]["rates"] if r["carrier"] == "empire"]
    assert empire["purchasable"] is False
    url = f"/v1/shipments/{shipment['id']}"
    chosen = client.post(f"{url}/rate", json={"rate_id": empire["id"]}, headers=tenant.headers)
    assert chosen.status_code == 200, chosen.get_json()

    refused = client.post(f"{url}/label", json={}, headers=tenant.headers)

    assert refused.status_code == 422
    problem = refused.get_json()
    assert problem["type"].endswith("/carrier-not-configured") and problem["carrier"] == "empire"
    shown = client.get(url, headers=tenant.headers).get_json()
    assert shown["status"] == "draft"  # nothing queued, so nothing fails later with carrier_not_configured
    batch = client.post("/v1/batches", json={"shipment_ids": [shipment["id"]]}, headers=tenant.headers)
    assert batch.status_code == 422
    assert [p["code"] for p in batch.get_json()["problems"]] == ["carrier-not-configured"]


def test_allocation_never_hands_a_package_to_a_carrier_no_adapter_can_sell(
    app: Any, client: Any, make_tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.extensions["handoff"], "_carriers", label_sellers("ups", "dhl_express"))
    tenant = make_tenant(("platform", "ops"))
    shipments = [book(client, tenant, where, f"PHL-{i}") for i, where in enumerate(PHILADELPHIA)]
    # Empire is the cheapest offer for Philadelphia: exactly what allocation would pick if it could.
    for s in shipments:
        cheapest = min(s["rates"]["rates"], key=lambda r: Decimal(r["total_cost"]["amount"]))
        assert (cheapest["carrier"], cheapest["purchasable"]) == ("empire", False)
    setup_fleet(client, tenant)

    plan = plan_day(client, app, tenant, local_day(shipments[0]))

    partners = [p for p in plan["result"]["packages"] if p["assignee"] == "partner"]
    assert {p["shipment_id"] for p in partners} == {s["id"] for s in shipments}
    assert {p["carrier"] for p in partners} == {"ups"}


# --- item 10: one rate per carrier service -------------------------------------------------------

LIVE_ARRIVAL = date.today() + timedelta(days=30)  # later than any card's estimate


def ups_ground_reply(negotiated_total: str, arrival: date) -> dict[str, Any]:
    """A UPS Rating (Shop) reply for Ground, shaped after the UPS OpenAPI spec (Rating.yaml)."""
    return {
        "RateResponse": {
            "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
            "RatedShipment": [
                {
                    "Service": {"Code": "03", "Description": "Ground"},
                    "BillingWeight": {
                        "UnitOfMeasurement": {"Code": "LBS", "Description": "Pounds"},
                        "Weight": "3.0",
                    },
                    "TransportationCharges": {"CurrencyCode": "USD", "MonetaryValue": "13.05"},
                    "ServiceOptionsCharges": {"CurrencyCode": "USD", "MonetaryValue": "0.00"},
                    "TotalCharges": {"CurrencyCode": "USD", "MonetaryValue": "13.05"},
                    "NegotiatedRateCharges": {
                        "TotalCharge": {"CurrencyCode": "USD", "MonetaryValue": negotiated_total}
                    },
                    "GuaranteedDelivery": {"ScheduledDeliveryDate": arrival.strftime("%Y%m%d")},
                    "RatedPackage": [{"Weight": "2.5"}],
                }
            ],
        }
    }


TOKEN_REPLY = {
    "token_type": "Bearer",
    "issued_at": "1700000000000",
    "client_id": "cid",
    "access_token": "eyJ-first-day",
    "scope": "",
    "expires_in": "14399",
    "refresh_count": "0",
    "status": "approved",
}


@pytest.fixture(scope="module")
def ups_app(settings: dict[str, Any]) -> Iterator[Any]:
    """The gateway with UPS enabled (its HTTP mocked per test) beside the sample cards."""
    application = create_app(ups_enabled_settings(settings, "F1R5TD"))
    yield application
    application.extensions["handoff"].dispose()


@pytest.fixture
def ups_live() -> Iterator[None]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, "https://ups.invalid/security/v1/oauth/token", json=TOKEN_REPLY)
        mock.add(
            responses.POST,
            re.compile(r"https://ups\.invalid/api/rating/.*"),
            json=ups_ground_reply("11.69", LIVE_ARRIVAL),
        )
        yield


def _headers(application: Any) -> dict[str, str]:
    with application.extensions["handoff"].sessions() as session:
        slug = f"t-{uuid.uuid4().hex[:10]}"
        tenant = models.Tenant(name=slug, slug=slug)
        session.add(tenant)
        session.flush()
        _row, key = auth.create_key(
            session, tenant.id, ("platform", "ops"), pepper=application.config["SECRET_PEPPER"]
        )
        session.commit()
    return {"Authorization": f"Bearer {key}"}


def _rate(application: Any, headers: dict[str, str], **extra: Any) -> dict[str, Any]:
    body = shipment_body()
    del body["reference"]
    body.update(extra)
    resp = application.test_client().post("/v1/rates", json=body, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _ground(shop: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in shop["rates"] if (r["carrier"], r["service_code"]) == ("ups", "03")]


def test_a_live_answer_and_a_sample_card_for_one_service_are_one_live_rate(
    ups_app: Any, ups_live: None
) -> None:
    shop = _rate(ups_app, _headers(ups_app))
    [ground] = _ground(shop)
    assert ground["source"] == "live"
    assert ground["total_cost"] == {"amount": "11.69", "currency": "USD"}
    assert ground["estimated_delivery"] == LIVE_ARRIVAL.isoformat()
    assert ground["card_id"] is None
    assert ground["purchasable"] is True
    keys = [(r["carrier"], r["service_code"]) for r in shop["rates"]]
    assert len(keys) == len(set(keys))


def test_a_contract_card_prices_the_service_and_the_live_answer_gives_its_estimate(
    ups_app: Any, ups_live: None
) -> None:
    headers = _headers(ups_app)
    client = ups_app.test_client()
    doc = json.loads((Path(__file__).parents[2] / "rating" / "cards" / "ups_ground.json").read_text())
    doc["id"] = f"ups-ground-contract-{uuid.uuid4().hex[:6]}"
    uploaded = client.post("/v1/rate-cards", json=doc, headers=headers)
    assert uploaded.status_code == 201, uploaded.get_json()
    activated = client.post(
        f"/v1/rate-cards/{doc['id']}/versions/{doc['version']}/activate", json={}, headers=headers
    )
    assert activated.status_code == 200, activated.get_json()

    shop = _rate(ups_app, headers)
    [ground] = _ground(shop)
    assert ground["source"] == "contract"
    assert ground["card_id"] == doc["id"]
    assert ground["total_cost"] != {"amount": "11.69", "currency": "USD"}  # the contract's price, not live
    assert ground["estimated_delivery"] == LIVE_ARRIVAL.isoformat()  # the carrier's own estimate


def test_one_service_cannot_both_meet_and_miss_a_promise(ups_app: Any, ups_live: None) -> None:
    # The sample card estimates Ground within days, so it alone would meet a promise ten days out;
    # the carrier says it arrives later. One estimate, one verdict: too slow, and no Ground rate.
    shop = _rate(ups_app, _headers(ups_app), promise_date=(LIVE_ARRIVAL - timedelta(days=20)).isoformat())
    assert _ground(shop) == []
    refused = [i for i in shop["ineligible"] if (i["carrier"], i["service_code"]) == ("ups", "03")]
    assert [(i["reason"], i["estimated_delivery"]) for i in refused] == [
        ("too_slow", LIVE_ARRIVAL.isoformat())
    ]


# --- the migration ----------------------------------------------------------------------------------


@pytest.fixture
def scratch_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of the suite's backend, dropped afterwards."""
    import os

    given = os.environ.get("DATABASE_URL", "")
    if not given:
        yield f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
        return
    admin = _postgres_admin_url(given)
    name = f"handoff_first_day_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(
                sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        engine.dispose()


def test_the_migration_turns_own_fleet_rows_into_fleet(scratch_url: str) -> None:
    migrate.upgrade(scratch_url, "0011")
    now = datetime.now(UTC).replace(tzinfo=None)
    engine = bootstrap.make_engine(scratch_url)
    md = sa.MetaData()
    try:
        with engine.begin() as conn:
            t = {
                n: sa.Table(n, md, autoload_with=conn)
                for n in (
                    "tenants",
                    "addresses",
                    "shipments",
                    "labels",
                    "rate_card_versions",
                    "tenant_markups",
                    "shipment_rate_results",
                )
            }
            conn.execute(
                sa.insert(t["tenants"]), [{"id": "ten_1", "name": "a", "slug": "a", "created_at": now}]
            )
            conn.execute(
                sa.insert(t["addresses"]),
                [
                    {
                        "id": a,
                        "tenant_id": "ten_1",
                        "street1": "1 Main St",
                        "city": "X",
                        "postal_code": "07094",
                        "country_code": "US",
                    }
                    for a in ("adr_1", "adr_2")
                ],
            )
            conn.execute(
                sa.insert(t["shipments"]),
                [
                    {
                        "id": sid,
                        "tenant_id": "ten_1",
                        "reference": sid,
                        "status": "purchased",
                        "origin_id": "adr_1",
                        "destination_id": "adr_2",
                        "metadata": {},
                        "created_at": now,
                        "updated_at": now,
                        "carrier": carrier,
                        "tracking_number": f"HF{sid}",
                    }
                    for sid, carrier in (("shp_1", "own_fleet"), ("shp_2", "ups"))
                ],
            )
            conn.execute(
                sa.insert(t["labels"]),
                [
                    {
                        "id": "lbl_1",
                        "tenant_id": "ten_1",
                        "shipment_id": "shp_1",
                        "carrier": "own_fleet",
                        "tracking_number": "HFshp_1",
                        "status": "purchased",
                        "purchased_at": now,
                        "tracking_numbers": ["HFshp_1"],
                        "source": "local",
                    }
                ],
            )
            conn.execute(
                sa.insert(t["rate_card_versions"]),
                [
                    {
                        "id": "rcv_1",
                        "tenant_id": "ten_1",
                        "card_id": "metro",
                        "carrier": "own_fleet",
                        "service_code": "SDV",
                        "service_name": "Van",
                        "version": 1,
                        "currency": "USD",
                        "effective_from": date(2026, 1, 1),
                        "status": "active",
                        "document": {"id": "metro", "carrier": "own_fleet", "service": {"code": "SDV"}},
                        "created_at": now,
                    }
                ],
            )
            conn.execute(
                sa.insert(t["tenant_markups"]),
                [
                    {
                        "id": i,
                        "tenant_id": "ten_1",
                        "carrier": c,
                        "service_code": s,
                        "percent": Decimal(p),
                        "created_at": now,
                    }
                    for i, c, s, p in (
                        (1, "own_fleet", "SDV", "5"),
                        (2, "own_fleet", "*", "7"),
                        (3, "fleet", "*", "9"),
                    )
                ],
            )
            conn.execute(
                sa.insert(t["shipment_rate_results"]),
                [
                    {
                        "shipment_id": "shp_1",
                        "tenant_id": "ten_1",
                        "created_at": now,
                        "result": {
                            "rates": [
                                {"carrier": "own_fleet", "service_code": "SDV"},
                                {"carrier": "ups", "service_code": "03"},
                            ],
                            "ineligible": [],
                            "errors": [],
                        },
                    }
                ],
            )

        migrate.upgrade(scratch_url, "0012")

        with engine.connect() as conn:
            carriers = dict(conn.execute(sa.text("SELECT id, carrier FROM shipments")).all())
            assert carriers == {"shp_1": "fleet", "shp_2": "ups"}
            assert conn.execute(sa.text("SELECT carrier FROM labels")).scalar_one() == "fleet"
            card = t["rate_card_versions"]
            carrier, document = conn.execute(sa.select(card.c.carrier, card.c.document)).one()
            assert carrier == "fleet" and document["carrier"] == "fleet"
            markups = conn.execute(sa.text("SELECT carrier, service_code, percent FROM tenant_markups")).all()
            # The own_fleet markup whose scope a fleet markup already held gives way to it.
            assert sorted((c, s, Decimal(p)) for c, s, p in markups) == [
                ("fleet", "*", Decimal("9")),
                ("fleet", "SDV", Decimal("5")),
            ]
            result = conn.execute(sa.select(t["shipment_rate_results"].c.result)).scalar_one()
            assert [r["carrier"] for r in result["rates"]] == ["fleet", "ups"]
    finally:
        engine.dispose()
