"""Standing USPS tracking subscriptions: one per account, checked, replaced when USPS suspends it, and
the pushes it brings verified with that account's own secret.

USPS is mocked with ``responses`` in the shapes of subscriptions-tracking-v3r2 (201 and GET return a
``TrackingSubscription``; DELETE answers 204; an unknown id 404 in the ``ErrorMessage`` envelope).
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

import pytest
import responses
import sqlalchemy as sa

from adapters.usps import callback as usps_callback
from gateway import create_app
from gateway.tracking import push_subscriptions
from gateway.tracking.tables import PushSubscription
from tests.integration.test_callbacks import event_count, new_number, run_worker, shipment_with_number
from tests.integration.test_carrier_accounts import KEY_1, _tenant
from tests.unit.adapters_usps import usps_fixtures as usps

pytestmark = pytest.mark.integration

OPERATOR_HOST = "https://usps-operator.test"
PUBLIC = "https://gateway.example"
LISTENER = f"{PUBLIC}/v1/callbacks/usps"
SUBSCRIPTIONS = "/subscriptions-tracking/v3r2/subscriptions"


def _usps_config(host: str, mid: str, secret: str) -> dict[str, Any]:
    return {
        **usps.CONFIG,
        "mid": mid,
        "base_url": host,
        "webhook_secret": secret,
        "admin_emails": ["ops@example.com"],
    }


OPERATOR_SECRET = secrets.token_hex(16)
OPERATOR_MID = str(secrets.randbelow(9 * 10**8) + 10**8)


@pytest.fixture(scope="module")
def sub_app(settings: dict[str, Any]) -> Any:
    operator = {
        "adapter": "usps",
        "id": f"usps-op-{secrets.token_hex(3)}",
        "config": _usps_config(OPERATOR_HOST, OPERATOR_MID, OPERATOR_SECRET),
    }
    app = create_app(
        {
            **settings,
            "CARRIERS": json.dumps([operator]),
            # The carrier-accounts module's key: its key rotation re-wraps every account of the database.
            "CREDENTIALS_KEYS": KEY_1,
            "PUBLIC_BASE_URL": PUBLIC + "/",
            "CALLBACK_SECRETS": json.dumps({}),
        }
    )
    yield app
    app.extensions["handoff"].exchange_recorder.close()
    app.extensions["handoff"].dispose()


@pytest.fixture
def c(sub_app: Any) -> Any:
    return sub_app.test_client()


class FakeUsps:
    """Subscriptions - Tracking on one host, as ``responses`` callbacks: what USPS would keep."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.down = False
        responses.add(responses.POST, f"{host}/oauth2/v3/token", json=usps.TOKEN_REPLY)
        responses.add_callback(responses.POST, f"{host}{SUBSCRIPTIONS}", callback=self._create)
        one = re.compile(rf"{re.escape(host + SUBSCRIPTIONS)}/[^/]+$")
        responses.add_callback(responses.GET, one, callback=self._read)
        responses.add_callback(responses.DELETE, one, callback=self._delete)

    def _unavailable(self) -> tuple[int, dict[str, str], str]:
        return 503, {}, json.dumps({"error": {"code": "503", "message": "Service Unavailable"}})

    def _create(self, request: Any) -> tuple[int, dict[str, str], str]:
        if self.down:
            return self._unavailable()
        body = json.loads(request.body)
        subscription = {k: v for k, v in body.items() if k != "secret"}
        subscription["subscriptionId"] = secrets.token_hex(6)
        subscription["_secret"] = body["secret"]
        self.subscriptions[subscription["subscriptionId"]] = subscription
        return 201, {}, json.dumps({k: v for k, v in subscription.items() if not k.startswith("_")})

    def _found(self, request: Any) -> dict[str, Any] | None:
        return self.subscriptions.get(request.url.rsplit("/", 1)[1])

    def _read(self, request: Any) -> tuple[int, dict[str, str], str]:
        if self.down:
            return self._unavailable()
        found = self._found(request)
        if found is None:
            return 404, {}, json.dumps({"error": {"code": "404", "message": "Not Found"}})
        etag = {"ETag": f'"{found["subscriptionId"]}-{found.get("status", "ENABLED")}"'}
        return 200, etag, json.dumps({k: v for k, v in found.items() if not k.startswith("_")})

    def _delete(self, request: Any) -> tuple[int, dict[str, str], str]:
        if self.down:
            return self._unavailable()
        found = self._found(request)
        if found is None:
            return 404, {}, json.dumps({"error": {"code": "404", "message": "Not Found"}})
        if request.headers.get("If-Match") != f'"{found["subscriptionId"]}-{found.get("status", "ENABLED")}"':
            return 412, {}, json.dumps({"error": {"code": "412", "message": "Precondition Failed"}})
        del self.subscriptions[found["subscriptionId"]]
        return 204, {}, ""

    def calls(self, method: str) -> int:
        return sum(
            1
            for call in responses.calls
            if call.request.method == method and call.request.url.startswith(self.host + SUBSCRIPTIONS)
        )


def _tenant_usps() -> FakeUsps:
    """USPS as one test's tenant account sees it: a host of its own, so no other test's account is on it."""
    return FakeUsps(f"https://usps-{secrets.token_hex(4)}.test")


def _create_account(c: Any, tenant: dict[str, Any], usps_host: FakeUsps, mid: str, secret: str) -> str:
    config = _usps_config(usps_host.host, mid, secret)
    resp = c.post(
        "/v1/carrier-accounts",
        json={"carrier": "usps", "label": "Our USPS", "config": config},
        headers=tenant["headers"],
    )
    assert resp.status_code == 201, resp.get_json()
    return str(resp.get_json()["id"])


def _run(app: Any) -> dict[str, int] | None:
    container = app.extensions["handoff"]
    with container.sessions() as session:
        counts = push_subscriptions.run(session, container)
        session.commit()
        return counts


def _rows(app: Any, *keys: str) -> dict[str, PushSubscription]:
    with app.extensions["handoff"].sessions() as session:
        rows = session.execute(sa.select(PushSubscription).where(PushSubscription.account_key.in_(keys)))
        found = {row.account_key: row for row in rows.scalars()}
        session.expunge_all()
        return found


def _operator_key(app: Any) -> str:
    carriers = app.extensions["handoff"].carriers
    return next(key for key in carriers if carriers.get(key).name == "usps")


@responses.activate
def test_each_account_is_subscribed_once_by_its_own_mid_and_secret_and_then_only_checked(sub_app, c):
    operator, tenant_usps = FakeUsps(OPERATOR_HOST), _tenant_usps()
    tenant = _tenant(sub_app)
    mid, secret = str(secrets.randbelow(9 * 10**8) + 10**8), secrets.token_hex(16)
    account_id = _create_account(c, tenant, tenant_usps, mid, secret)

    _run(sub_app)
    _run(sub_app)

    rows = _rows(sub_app, _operator_key(sub_app), account_id)
    assert {r.status for r in rows.values()} == {"enabled"}
    assert rows[account_id].tenant_id == tenant["id"] and rows[_operator_key(sub_app)].tenant_id is None
    [made] = tenant_usps.subscriptions.values()
    assert made["filterProperties"] == {"MID": mid, "trackingEventTypes": ["ALL_UPDATES"]}
    assert (made["listenerURL"], made["_secret"]) == (LISTENER, secret)
    assert rows[account_id].subscription_id == made["subscriptionId"]
    [theirs] = operator.subscriptions.values()
    assert (theirs["filterProperties"]["MID"], theirs["_secret"]) == (OPERATOR_MID, OPERATOR_SECRET)
    # Made once each; the second run only read them back.
    assert (tenant_usps.calls("POST"), tenant_usps.calls("GET")) == (1, 1)


@responses.activate
def test_a_suspended_subscription_is_replaced_and_usps_reason_is_kept(sub_app, c):
    FakeUsps(OPERATOR_HOST)
    tenant_usps = _tenant_usps()
    account_id = _create_account(c, _tenant(sub_app), tenant_usps, "904128936", secrets.token_hex(16))
    _run(sub_app)
    [first] = list(tenant_usps.subscriptions)
    tenant_usps.subscriptions[first].update(status="SUSPENDED", statusReason="Unable to reach listener")

    _run(sub_app)

    row = _rows(sub_app, account_id)[account_id]
    assert list(tenant_usps.subscriptions) == [row.subscription_id] != [first]
    assert (row.status, row.status_reason) == ("enabled", "Unable to reach listener")
    # Deleted at USPS too, rather than left suspended beside the new one.
    assert tenant_usps.calls("DELETE") == 1


@responses.activate
def test_usps_down_for_one_account_is_kept_on_its_row_and_tried_again_without_stopping_the_others(sub_app, c):
    operator = FakeUsps(OPERATOR_HOST)
    tenant_usps = _tenant_usps()
    tenant_usps.down = True
    account_id = _create_account(c, _tenant(sub_app), tenant_usps, "904128936", secrets.token_hex(16))

    _run(sub_app)

    row = _rows(sub_app, account_id)[account_id]
    assert (row.status, row.subscription_id) == ("failed", None)
    assert "503" in (row.last_error or "") or "unavailable" in (row.last_error or "").lower()
    assert len(operator.subscriptions) == 1

    tenant_usps.down = False
    _run(sub_app)

    row = _rows(sub_app, account_id)[account_id]
    assert (row.status, row.last_error) == ("enabled", None)
    assert list(tenant_usps.subscriptions) == [row.subscription_id]


@responses.activate
def test_a_disabled_account_has_its_subscription_deleted_at_usps(sub_app, c):
    FakeUsps(OPERATOR_HOST)
    tenant_usps = _tenant_usps()
    tenant = _tenant(sub_app)
    account_id = _create_account(c, tenant, tenant_usps, "904128936", secrets.token_hex(16))
    _run(sub_app)
    assert len(tenant_usps.subscriptions) == 1
    current = c.get(f"/v1/carrier-accounts/{account_id}", headers=tenant["headers"])
    disabled = c.patch(
        f"/v1/carrier-accounts/{account_id}",
        json={"enabled": False},
        headers={**tenant["headers"], "If-Match": current.headers["ETag"]},
    )
    assert disabled.status_code == 200, disabled.get_json()

    _run(sub_app)

    assert tenant_usps.subscriptions == {}
    assert _rows(sub_app, account_id) == {}


def test_without_a_public_base_url_nothing_is_subscribed(settings):
    app = create_app(
        {
            **settings,
            "CARRIERS": json.dumps(
                [{"adapter": "usps", "config": _usps_config(OPERATOR_HOST, "904128936", "x" * 32)}]
            ),
            "PUBLIC_BASE_URL": "",
        }
    )
    try:
        with responses.RequestsMock() as mocked:  # any call to USPS would fail this test
            assert _run(app) is None
            assert len(mocked.calls) == 0
    finally:
        app.extensions["handoff"].dispose()


def _signed_push(number: str, secret: str, subscription_id: str) -> tuple[bytes, dict[str, str]]:
    detail = {**usps.DETAIL, "trackingNumber": number}
    envelope = {**usps.push_envelope(detail), "subscriptionId": subscription_id}
    signature = usps_callback.signature(secret, envelope["timestamp"], envelope["payload"])
    return json.dumps(envelope).encode(), {"X-HMAC": signature}


class _Tenant:
    def __init__(self, found: dict[str, Any]) -> None:
        self.headers = found["headers"]


@responses.activate
def test_a_push_is_verified_with_the_secret_of_the_account_whose_subscription_it_names(sub_app, c):
    FakeUsps(OPERATOR_HOST)
    tenant_usps = _tenant_usps()
    tenant = _tenant(sub_app)
    secret = secrets.token_hex(16)
    account_id = _create_account(c, tenant, tenant_usps, "904128936", secret)
    _run(sub_app)
    subscription_id = _rows(sub_app, account_id)[account_id].subscription_id
    assert subscription_id
    number = new_number("9205")
    shipment_id = shipment_with_number(sub_app, c, _Tenant(tenant), "usps", number)

    forged_body, forged_headers = _signed_push(number, "f" * 32, subscription_id)
    forged = c.post(
        "/v1/callbacks/usps", data=forged_body, headers=forged_headers, content_type="application/json"
    )
    body, headers = _signed_push(number, secret, subscription_id)
    # The right secret, but naming a subscription that is not this account's: no account vouches.
    other_body, other_headers = _signed_push(number, secret, "not-ours")
    stranger = c.post(
        "/v1/callbacks/usps", data=other_body, headers=other_headers, content_type="application/json"
    )
    genuine = c.post("/v1/callbacks/usps", data=body, headers=headers, content_type="application/json")
    run_worker(sub_app)

    assert forged.status_code == 401 and stranger.status_code == 401
    assert genuine.status_code == 202, genuine.get_json()
    timeline = c.get(f"/v1/shipments/{shipment_id}/events", headers=tenant["headers"]).get_json()
    assert timeline["milestone"] == "delivered"
    assert event_count(sub_app, number) == len(timeline["events"])


def test_a_push_signed_with_the_operator_accounts_secret_is_accepted(sub_app, c):
    tenant = _tenant(sub_app)
    number = new_number("9205")
    shipment_with_number(sub_app, c, _Tenant(tenant), "usps", number)
    body, headers = _signed_push(number, OPERATOR_SECRET, "operator-subscription")

    accepted = c.post("/v1/callbacks/usps", data=body, headers=headers, content_type="application/json")

    assert accepted.status_code == 202, accepted.get_json()
