"""Test mode: one tenant holds live and test keys; each sees only its own data and buys from its own carriers.

Live keys (``hk_live_…``) use ``CARRIERS``; test keys (``hk_test_…``) use ``TEST_CARRIERS`` (a
carrier's sandbox, mocked here with ``responses`` on a host of its own) and the tenant's test twin,
so shipments, carrier accounts, webhooks and KPIs of one mode never show in the other.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

import pytest
import responses

from gateway import create_app
from gateway.kernel import auth, logs, models
from tests.helpers import shipment_body
from tests.integration.test_carrier_accounts import KEY_1, _buy, _calls, _mock_ups
from tests.unit.adapters import ups_fixtures as ups

pytestmark = pytest.mark.integration

LIVE_HOST = "https://ups-live-mode.test"
SANDBOX_HOST = "https://ups-sandbox-mode.test"


def _ups(host: str, key: str) -> dict[str, Any]:
    return {
        "adapter": "ups",
        "id": key,
        "config": {**ups.CONFIG, "account_number": "M0DE" + secrets.token_hex(1).upper(), "base_url": host},
    }


@pytest.fixture(scope="module")
def mode_app(settings: dict[str, Any]) -> Any:
    app = create_app(
        {
            **settings,
            # Ids of this module's own: live rates are cached by account id and shipment, and another
            # module's "ups" account may have cached an answer for the same shipment.
            "CARRIERS": json.dumps([_ups(LIVE_HOST, f"ups-live-{secrets.token_hex(3)}")]),
            "TEST_CARRIERS": json.dumps([_ups(SANDBOX_HOST, f"ups-sandbox-{secrets.token_hex(3)}")]),
            # The carrier-accounts module's key: its key rotation re-wraps every account of the database.
            "CREDENTIALS_KEYS": KEY_1,
            "RATE_CACHE_TTL_SECONDS": 0,
            "LABEL_LOOKUP_SETTLE_SECONDS": 0,
            "LABEL_RETRY_BASE_SECONDS": 0.05,
            "LABEL_RETRY_CAP_SECONDS": 0.2,
        }
    )
    yield app
    app.extensions["handoff"].exchange_recorder.close()
    app.extensions["handoff"].dispose()


@pytest.fixture
def c(mode_app: Any) -> Any:
    return mode_app.test_client()


def _keys(app: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """One tenant's live and test keys, as the tenant dicts the account tests use."""
    pepper = app.config["SECRET_PEPPER"]
    with app.extensions["handoff"].sessions() as session:
        slug = f"m-{secrets.token_hex(5)}"
        tenant = models.Tenant(name=slug, slug=slug)
        session.add(tenant)
        session.flush()
        roles = ("admin",)
        live_row, live = auth.create_key(session, tenant.id, roles, pepper=pepper)
        test_row, test = auth.create_key(session, tenant.id, roles, pepper=pepper, mode="test")
        session.commit()
        return (
            {"id": live_row.tenant_id, "key": live, "headers": {"Authorization": f"Bearer {live}"}},
            {"id": test_row.tenant_id, "key": test, "headers": {"Authorization": f"Bearer {test}"}},
        )


def test_a_tenant_holds_both_keys_and_each_sees_only_its_own_modes_data(mode_app, c):
    live, test = _keys(mode_app)
    assert live["key"].startswith("hk_live_") and test["key"].startswith("hk_test_")

    made = {}
    for name, who in (("live", live), ("test", test)):
        resp = c.post("/v1/shipments", json=shipment_body(reference=f"ORD-{name}"), headers=who["headers"])
        assert resp.status_code == 201, resp.get_json()
        made[name] = resp.get_json()["id"]
        hook = c.post(
            "/v1/webhook-endpoints",
            json={"url": f"https://hooks.example.com/{name}", "event_types": ["label.purchased"]},
            headers=who["headers"],
        )
        assert hook.status_code == 201, hook.get_json()

    for name, who, other in (("live", live, "test"), ("test", test, "live")):
        listed = c.get("/v1/shipments", headers=who["headers"]).get_json()["data"]
        assert [s["id"] for s in listed] == [made[name]]
        assert c.get(f"/v1/shipments/{made[other]}", headers=who["headers"]).status_code == 404
        hooks = c.get("/v1/webhook-endpoints", headers=who["headers"]).get_json()["data"]
        assert [h["url"] for h in hooks] == [f"https://hooks.example.com/{name}"]
        kpis = c.get("/v1/kpis", headers=who["headers"])
        assert kpis.status_code == 200, kpis.get_json()


def _echo_subscription(request: Any) -> tuple[int, dict[str, str], str]:
    numbers = json.loads(request.body)["trackingNumberList"]
    return 200, {}, json.dumps({"validTrackingNumbers": numbers, "invalidTrackingNumbers": []})


@responses.activate
def test_test_keys_rate_and_buy_from_the_test_carriers_and_live_keys_from_the_live_ones(mode_app, c):
    for host in (LIVE_HOST, SANDBOX_HOST):
        _mock_ups(host, label=True)
        # The labels' tracking starts (and any job queued before this test) find UPS answering.
        responses.add_callback(
            responses.POST, re.compile(rf"{re.escape(host)}/api/track/.*/subscription/.*"), _echo_subscription
        )
        responses.add(
            responses.GET, re.compile(rf"{re.escape(host)}/api/track/v1/details/.*"), json=ups.TRACK_REPLY
        )
    live, test = _keys(mode_app)

    _buy(mode_app, c, test)

    assert _calls(SANDBOX_HOST, "/api/rating") and _calls(SANDBOX_HOST, "/api/shipments")
    # (Other modules' left-over tracking jobs may call this app's live account: only rating and
    # labels are this tenant's.)
    assert not _calls(LIVE_HOST, "/api/rating") and not _calls(LIVE_HOST, "/api/shipments")

    _buy(mode_app, c, live)

    assert _calls(LIVE_HOST, "/api/shipments")
    assert len(_calls(SANDBOX_HOST, "/api/shipments")) == 1


def test_a_test_key_cannot_connect_an_account_to_the_carriers_live_environment(mode_app, c):
    live, test = _keys(mode_app)
    config = {
        "client_id": "usps-test-client",
        "client_secret": "usps-test-secret",
        "crid": "56982563",
        "mid": "904128936",
        "account_number": "1000405525",
        "environment": "live",
    }

    refused = c.post(
        "/v1/carrier-accounts", json={"carrier": "usps", "config": config}, headers=test["headers"]
    )
    sandboxed = c.post(
        "/v1/carrier-accounts",
        json={"carrier": "usps", "config": {**config, "environment": "sandbox"}},
        headers=test["headers"],
    )
    live_account = c.post(
        "/v1/carrier-accounts", json={"carrier": "usps", "config": config}, headers=live["headers"]
    )

    assert refused.status_code == 422
    assert refused.get_json()["errors"] == {
        "config.environment": ["must be the carrier's sandbox in test mode"]
    }
    assert sandboxed.status_code == 201 and live_account.status_code == 201
    assert [a["id"] for a in c.get("/v1/carrier-accounts", headers=live["headers"]).get_json()["data"]] == [
        live_account.get_json()["id"]
    ]


def test_a_key_presented_under_the_other_modes_prefix_is_refused(mode_app, c):
    live, test = _keys(mode_app)
    swapped = [
        "hk_test_" + live["key"].removeprefix("hk_live_"),
        "hk_live_" + test["key"].removeprefix("hk_test_"),
    ]

    for key in swapped:
        resp = c.get("/v1/shipments", headers={"Authorization": f"Bearer {key}"})
        assert resp.status_code == 401, key[:8]
    for who in (live, test):
        assert c.get("/v1/shipments", headers=who["headers"]).status_code == 200
        assert who["key"] not in logs.redact(f"key={who['key']}")


def test_the_cli_makes_a_test_key_beside_a_live_one_and_lists_both_with_their_mode(mode_app, c):
    runner = mode_app.test_cli_runner()
    slug = f"cli-{secrets.token_hex(4)}"
    assert runner.invoke(args=["tenants", "create", "Test Mode Shop", "--slug", slug]).exit_code == 0
    made = {}
    for mode in ("live", "test"):
        result = runner.invoke(
            args=["keys", "create", "--tenant", slug, "--roles", "platform", "--mode", mode]
        )
        assert result.exit_code == 0, result.output
        made[mode] = result.stdout.strip().splitlines()[-1]

    listed = runner.invoke(args=["keys", "list", "--tenant", slug])

    assert made["live"].startswith("hk_live_") and made["test"].startswith("hk_test_")
    assert sorted(line.split("\t")[1] for line in listed.stdout.strip().splitlines()) == ["live", "test"]
    for key in made.values():
        assert c.get("/v1/shipments", headers={"Authorization": f"Bearer {key}"}).status_code == 200
        assert key not in listed.output
