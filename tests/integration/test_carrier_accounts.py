"""Carrier accounts per tenant: secrets in, never out; the tenant's own account rates, buys and voids."""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from datetime import timedelta
from typing import Any

import pytest
import responses
import sqlalchemy as sa
from cryptography.fernet import Fernet
from rq import SimpleWorker

from gateway import create_app
from gateway.accounts import _crypto, connections
from gateway.accounts.tables import CarrierAccount
from gateway.jobs import outbox, worker
from gateway.kernel import auth, models
from gateway.kernel.types import utcnow
from gateway.tracking import jobs as tracking_jobs
from gateway.tracking.tables import ShipmentTracking
from tests.helpers import shipment_body
from tests.unit.adapters import ups_fixtures as ups

pytestmark = pytest.mark.integration

OPERATOR_HOST = "https://ups-operator.test"
TENANT_HOST = "https://ups-tenant.test"
KEY_1 = Fernet.generate_key().decode()
KEY_2 = Fernet.generate_key().decode()


def _account_number() -> str:
    return "T" + secrets.token_hex(3).upper()[:5]


@pytest.fixture(scope="module")
def acc_app(settings: dict[str, Any]) -> Any:
    operator = {
        "adapter": "ups",
        "id": f"ups-op-{secrets.token_hex(3)}",
        "config": {
            **ups.CONFIG,
            "account_number": "OPR" + secrets.token_hex(2).upper()[:3],
            "base_url": OPERATOR_HOST,
        },
    }
    app = create_app(
        {
            **settings,
            "CARRIERS": json.dumps([operator]),
            "CREDENTIALS_KEYS": KEY_1,
            "RATE_CACHE_TTL_SECONDS": 0,
            "LABEL_LOOKUP_SETTLE_SECONDS": 0,
            "LABEL_RETRY_BASE_SECONDS": 0.05,
            "LABEL_RETRY_CAP_SECONDS": 0.2,
            "LABEL_BUSY_RETRY_SECONDS": 0.05,
        }
    )
    yield app
    app.extensions["handoff"].exchange_recorder.close()
    app.extensions["handoff"].dispose()


@pytest.fixture
def c(acc_app: Any) -> Any:
    return acc_app.test_client()


def _tenant(app: Any, roles: tuple[str, ...] = ("admin", "platform", "ops")) -> dict[str, Any]:
    with app.extensions["handoff"].sessions() as session:
        slug = f"t-{secrets.token_hex(5)}"
        tenant = models.Tenant(name=slug, slug=slug)
        session.add(tenant)
        session.flush()
        _row, key = auth.create_key(session, tenant.id, roles, pepper=app.config["SECRET_PEPPER"])
        session.commit()
    return {"id": tenant.id, "headers": {"Authorization": f"Bearer {key}"}}


def _secrets() -> dict[str, str]:
    return {
        "client_id": f"tenant-client-{secrets.token_hex(4)}",
        "client_secret": f"tenant-secret-{secrets.token_hex(12)}",
        "webhook_credential": f"tenant-whcred-{secrets.token_hex(12)}",
    }


def _create(c: Any, tenant: dict[str, Any], **over: Any) -> tuple[dict[str, Any], dict[str, str], str]:
    given = _secrets()
    number = over.pop("account_number", None) or _account_number()
    body = {
        "carrier": "ups",
        "label": "Our UPS",
        "config": {**given, "account_number": number, "base_url": TENANT_HOST},
        **over,
    }
    # With an Idempotency-Key: its stored answer is scanned for secrets too.
    headers = {**tenant["headers"], "Idempotency-Key": secrets.token_hex(8)}
    resp = c.post("/v1/carrier-accounts", json=body, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json(), given, number


def _mock_ups(host: str, *, label: bool = False) -> None:
    responses.add(responses.POST, f"{host}/security/v1/oauth/token", json=ups.TOKEN_REPLY)
    responses.add(responses.POST, re.compile(rf"{re.escape(host)}/api/rating/.*"), json=ups.RATE_REPLY)
    if label:
        number = "1Z" + secrets.token_hex(8).upper()
        reply = json.loads(json.dumps(ups.SHIP_REPLY).replace("1Z12345E0205271688", number))
        responses.add(responses.POST, re.compile(rf"{re.escape(host)}/api/shipments/.*/ship"), json=reply)
        responses.add(
            responses.DELETE,
            re.compile(rf"{re.escape(host)}/api/shipments/.*/void/cancel/.*"),
            json=ups.VOID_REPLY,
        )


def _calls(host: str, path: str = "") -> list[Any]:
    return [call for call in responses.calls if call.request.url.startswith(host + path)]


def _run_jobs(app: Any, until: Any, timeout: float = 20.0) -> None:
    container = app.extensions["handoff"]
    deadline = time.monotonic() + timeout
    while True:
        outbox.relay(container)
        worker.run(app, burst=True, worker_class=SimpleWorker)
        if until():
            return
        if time.monotonic() > deadline:
            raise AssertionError("jobs did not settle in time")
        time.sleep(0.05)


def _status(c: Any, tenant: dict[str, Any], shipment_id: str) -> str:
    return str(c.get(f"/v1/shipments/{shipment_id}", headers=tenant["headers"]).get_json()["status"])


def _shipment_with_ups_rate(c: Any, tenant: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    created = c.post(
        "/v1/shipments",
        json=shipment_body(reference=f"ORD-{secrets.token_hex(4)}"),
        headers=tenant["headers"],
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    ups_rates = [r for r in body["rates"]["rates"] if r["carrier"] == "ups" and r["purchasable"]]
    rate = next(r for r in ups_rates if r["source"] == "live")  # quoted by the carrier on the account
    return body["id"], rate


def _buy(app: Any, c: Any, tenant: dict[str, Any]) -> str:
    shipment_id, rate = _shipment_with_ups_rate(c, tenant)
    selected = c.post(
        f"/v1/shipments/{shipment_id}/rate", json={"rate_id": rate["id"]}, headers=tenant["headers"]
    )
    assert selected.status_code == 200, selected.get_json()
    resp = c.post(
        f"/v1/shipments/{shipment_id}/label", json={"label_format": "zpl"}, headers=tenant["headers"]
    )
    assert resp.status_code == 202, resp.get_json()
    _run_jobs(app, lambda: _status(c, tenant, shipment_id) not in ("label_requested", "purchasing"))
    assert _status(c, tenant, shipment_id) == "purchased"
    return shipment_id


# --- CRUD ---------------------------------------------------------------------------------------------


def test_an_account_is_created_listed_read_updated_and_deleted_and_its_secrets_never_come_back(
    acc_app: Any, c: Any
) -> None:
    tenant = _tenant(acc_app)
    account, given, number = _create(c, tenant)

    assert account["id"].startswith("cac_") and account["carrier"] == "ups"
    assert (
        account["account_number"] == number and account["is_default"] is True and account["enabled"] is True
    )
    assert (
        account["config"]["client_secret"] == "********"
        and account["config"]["webhook_credential"] == "********"
    )
    assert account["config"]["client_id"] == given["client_id"]  # not a secret: shown
    assert set(account["secret_fields"]) == {"client_secret", "webhook_credential"}
    listed = c.get("/v1/carrier-accounts", headers=tenant["headers"])
    one = c.get(f"/v1/carrier-accounts/{account['id']}", headers=tenant["headers"])
    assert [a["id"] for a in listed.get_json()["data"]] == [account["id"]]
    assert one.status_code == 200 and one.headers["ETag"] == 'W/"1"'

    stale = c.patch(
        f"/v1/carrier-accounts/{account['id']}",
        json={"label": "x"},
        headers={**tenant["headers"], "If-Match": 'W/"7"'},
    )
    assert stale.status_code == 412
    new_secret = f"rotated-secret-{secrets.token_hex(10)}"
    patched = c.patch(
        f"/v1/carrier-accounts/{account['id']}",
        json={"label": "Main", "config": {"client_secret": new_secret}},
        headers={**tenant["headers"], "If-Match": 'W/"1"'},
    )
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["label"] == "Main" and patched.get_json()["version"] == 2
    for resp in (listed, one, patched):
        text = resp.get_data(as_text=True)
        assert (
            given["client_secret"] not in text
            and new_secret not in text
            and given["webhook_credential"] not in text
        )
    with acc_app.extensions["handoff"].sessions() as session:
        row = session.get(CarrierAccount, account["id"])
        assert (
            connections.full_config(acc_app.extensions["handoff"].settings, row)["client_secret"]
            == new_secret
        )

    second, _, _ = _create(c, tenant, is_default=True)
    assert second["is_default"] is True
    first = c.get(f"/v1/carrier-accounts/{account['id']}", headers=tenant["headers"]).get_json()
    assert first["is_default"] is False  # one default per carrier

    assert c.delete(f"/v1/carrier-accounts/{account['id']}", headers=tenant["headers"]).status_code == 204
    assert c.get(f"/v1/carrier-accounts/{account['id']}", headers=tenant["headers"]).status_code == 404


def test_a_configuration_the_adapter_refuses_is_a_validation_error_and_ops_cannot_manage_accounts(
    acc_app: Any, c: Any
) -> None:
    tenant = _tenant(acc_app)
    missing = c.post(
        "/v1/carrier-accounts",
        json={"carrier": "ups", "config": {"client_id": "x", "account_number": "ABC123"}},
        headers=tenant["headers"],
    )
    unknown = c.post(
        "/v1/carrier-accounts", json={"carrier": "nope", "config": {}}, headers=tenant["headers"]
    )
    fleet = c.post("/v1/carrier-accounts", json={"carrier": "fleet", "config": {}}, headers=tenant["headers"])
    assert missing.status_code == 422 and missing.get_json()["type"].endswith("/validation-error")
    assert unknown.status_code == 422 and fleet.status_code == 422
    ops = _tenant(acc_app, ("ops",))
    assert c.get("/v1/carrier-accounts", headers=ops["headers"]).status_code == 403


def test_another_tenant_can_neither_see_nor_use_an_account(acc_app: Any, c: Any) -> None:
    owner, other = _tenant(acc_app), _tenant(acc_app)
    account, _, _ = _create(c, owner)
    path = f"/v1/carrier-accounts/{account['id']}"
    assert c.get("/v1/carrier-accounts", headers=other["headers"]).get_json()["data"] == []
    assert c.get(path, headers=other["headers"]).status_code == 404
    assert c.patch(path, json={"label": "mine"}, headers=other["headers"]).status_code == 404
    assert c.post(f"{path}/test", headers=other["headers"]).status_code == 404
    assert c.delete(path, headers=other["headers"]).status_code == 404
    assert c.get(path, headers=owner["headers"]).status_code == 200


# --- test connection ---------------------------------------------------------------------------------


@responses.activate
def test_testing_the_connection_reports_what_the_carrier_said(acc_app: Any, c: Any) -> None:
    tenant = _tenant(acc_app)
    account, given, _ = _create(c, tenant)
    responses.add(responses.POST, f"{TENANT_HOST}/security/v1/oauth/token", json=ups.TOKEN_REPLY)

    ok = c.post(f"/v1/carrier-accounts/{account['id']}/test", headers=tenant["headers"])

    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["ok"] is True and ok.get_json()["outcome"] == "authenticated"
    token_call = _calls(TENANT_HOST, "/security")[0]
    assert token_call.request.headers["Authorization"].startswith("Basic ")

    responses.replace(
        responses.POST,
        f"{TENANT_HOST}/security/v1/oauth/token",
        status=401,
        json={"response": {"errors": [{"code": "250002", "message": "Invalid Authentication Information."}]}},
    )
    failed = c.post(f"/v1/carrier-accounts/{account['id']}/test", headers=tenant["headers"])

    assert failed.status_code == 200, failed.get_json()
    report = failed.get_json()
    assert report["ok"] is False and report["outcome"] == "rejected"
    assert "Invalid Authentication" in report["message"]
    assert given["client_secret"] not in failed.get_data(as_text=True)


# --- rating, labels and voids on the tenant's account ------------------------------------------------


@responses.activate
def test_a_tenant_rates_buys_and_voids_on_its_own_account_while_another_uses_the_operators(
    acc_app: Any, c: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _mock_ups(TENANT_HOST, label=True)
    _mock_ups(OPERATOR_HOST)
    own, plain = _tenant(acc_app), _tenant(acc_app)
    account, given, number = _create(c, own)

    shipment_id = _buy(acc_app, c, own)

    rating = _calls(TENANT_HOST, "/api/rating")
    ship = _calls(TENANT_HOST, "/api/shipments")
    assert rating and number in rating[-1].request.body.decode()
    assert ship and number in ship[-1].request.body.decode()
    assert not _calls(OPERATOR_HOST)
    with acc_app.extensions["handoff"].sessions() as session:
        assert session.get(models.Shipment, shipment_id).carrier_account_id == account["id"]
    voided = c.post(f"/v1/shipments/{shipment_id}/void", json={}, headers=own["headers"])
    assert voided.status_code == 200, voided.get_json()
    assert [call.request.method for call in _calls(TENANT_HOST, "/api/shipments")] == ["POST", "DELETE"]

    _shipment_with_ups_rate(c, plain)  # a tenant without accounts still rates on the operator's
    assert _calls(OPERATOR_HOST, "/api/rating")

    # No plaintext secret anywhere: every text column of every table, the logs, the stored exchanges.
    container = acc_app.extensions["handoff"]
    container.exchange_recorder.flush()
    secret_values = [given["client_secret"], given["webhook_credential"], ups.TOKEN_REPLY["access_token"]]
    with container.engine.connect() as conn:
        for table in models.Base.metadata.sorted_tables:
            columns = [
                col for col in table.columns if not isinstance(col.type, sa.Numeric | sa.Integer | sa.Boolean)
            ]
            for row in conn.execute(sa.select(*columns)):
                dumped = json.dumps([str(v) for v in row])
                for secret in secret_values:
                    assert secret not in dumped, f"plaintext secret in {table.name}"
        exchanges = conn.execute(
            sa.text("SELECT count(*) FROM carrier_exchanges WHERE tenant_id = :t"), {"t": own["id"]}
        ).scalar_one()
    assert exchanges > 0  # the exchanges were stored, and scanned above
    logged = caplog.text + json.dumps([r.__dict__ for r in caplog.records], default=str)
    for secret in secret_values:
        assert secret not in logged


@responses.activate
def test_a_tenant_forbidden_the_operators_accounts_rates_only_on_its_own(acc_app: Any, c: Any) -> None:
    _mock_ups(TENANT_HOST)
    _mock_ups(OPERATOR_HOST)
    tenant = _tenant(acc_app)
    container = acc_app.extensions["handoff"]
    with container.sessions() as session:
        connections.set_operator_accounts(session, tenant["id"], False)
        session.commit()

    created = c.post("/v1/shipments", json=shipment_body(reference="ORD-1"), headers=tenant["headers"])
    assert created.status_code == 201, created.get_json()
    assert not [r for r in created.get_json()["rates"]["rates"] if r["carrier"] == "ups" and r["purchasable"]]
    assert not _calls(OPERATOR_HOST)

    _, _, number = _create(c, tenant)
    _shipment_with_ups_rate(c, tenant)
    assert number in _calls(TENANT_HOST, "/api/rating")[-1].request.body.decode()
    assert not _calls(OPERATOR_HOST)


# --- key rotation --------------------------------------------------------------------------------------


@responses.activate
def test_rotating_the_key_keeps_accounts_usable(acc_app: Any, c: Any) -> None:
    tenant = _tenant(acc_app)
    account, given, _ = _create(c, tenant)
    container = acc_app.extensions["handoff"]
    old_keys = container.settings["CREDENTIALS_KEYS"]
    try:
        container.settings["CREDENTIALS_KEYS"] = Fernet.generate_key().decode()  # a key nobody keeps
        stray, _, _ = _create(c, _tenant(acc_app))
        container.settings["CREDENTIALS_KEYS"] = f"{KEY_2},{KEY_1}"
        unreadable: list[str] = []
        with container.sessions() as session:
            assert connections.rotate_keys(session, container.settings, unreadable) >= 1
            session.commit()
        assert stray["id"] in unreadable  # left as it was; the others were rotated all the same
        container.settings["CREDENTIALS_KEYS"] = KEY_2  # the old key is gone
        with container.sessions() as session:
            row = session.get(CarrierAccount, account["id"])
            assert row.key_id == _crypto.key_id(KEY_2.encode())
            assert connections.full_config(container.settings, row)["client_secret"] == given["client_secret"]
        # A new version of the account (not a cached adapter) is built from the re-wrapped secrets.
        bumped = c.patch(
            f"/v1/carrier-accounts/{account['id']}", json={"label": "after"}, headers=tenant["headers"]
        )
        assert bumped.status_code == 200
        responses.add(responses.POST, f"{TENANT_HOST}/security/v1/oauth/token", json=ups.TOKEN_REPLY)
        tested = c.post(f"/v1/carrier-accounts/{account['id']}/test", headers=tenant["headers"])
        assert tested.status_code == 200 and tested.get_json()["ok"] is True
    finally:
        container.settings["CREDENTIALS_KEYS"] = old_keys
        with container.sessions() as session:
            connections.rotate_keys(session, {**container.settings, "CREDENTIALS_KEYS": f"{KEY_1},{KEY_2}"})
            session.commit()


def test_without_a_key_production_refuses_to_store_credentials_and_dev_derives_one(tmp_path: Any) -> None:
    from gateway.kernel.errors import Problem

    with pytest.raises(Problem) as refused:
        _crypto.seal({"ENV": "production", "CREDENTIALS_KEYS": ""}, {"client_secret": "x"})
    assert refused.value.slug == "credentials-key-missing" and refused.value.status == 503
    dev = {"ENV": "test", "CREDENTIALS_KEYS": "", "DATA_DIR": str(tmp_path)}
    sealed, wrapped, _kid = _crypto.seal(dev, {"client_secret": "very-secret-value"})
    assert "very-secret-value" not in sealed + wrapped
    assert _crypto.open_sealed(dev, sealed, wrapped) == {"client_secret": "very-secret-value"}


def test_the_operator_allows_or_forbids_a_tenant_the_operators_accounts_and_rotates_keys_from_the_cli(
    acc_app: Any, c: Any
) -> None:
    tenant = _tenant(acc_app)
    _create(c, tenant)
    runner = acc_app.test_cli_runner()

    forbidden = runner.invoke(args=["tenants", "operator-accounts", tenant["id"], "forbid"])
    shown = runner.invoke(args=["tenants", "operator-accounts", tenant["id"], "show"])
    rotated = runner.invoke(args=["carrier-accounts", "rotate-keys"])

    assert forbidden.exit_code == 0 and "forbidden" in forbidden.output
    assert "forbidden" in shown.output
    assert rotated.exit_code == 0 and "re-encrypted" in rotated.output
    with acc_app.extensions["handoff"].sessions() as session:
        assert connections.operator_accounts_allowed(session, tenant["id"]) is False
    allowed = runner.invoke(args=["tenants", "operator-accounts", tenant["id"], "allow"])
    assert allowed.exit_code == 0 and "allowed" in allowed.output


@responses.activate
def test_an_edit_takes_effect_at_once_a_disabled_account_is_not_used(acc_app: Any, c: Any) -> None:
    _mock_ups(TENANT_HOST)
    _mock_ups(OPERATOR_HOST)
    tenant = _tenant(acc_app)
    account, _, number = _create(c, tenant)
    _shipment_with_ups_rate(c, tenant)
    assert number in _calls(TENANT_HOST, "/api/rating")[-1].request.body.decode()
    new_number = _account_number()
    moved = c.patch(
        f"/v1/carrier-accounts/{account['id']}",
        json={"config": {"account_number": new_number}},
        headers=tenant["headers"],
    )
    assert moved.status_code == 200 and moved.get_json()["account_number"] == new_number

    _shipment_with_ups_rate(c, tenant)
    assert new_number in _calls(TENANT_HOST, "/api/rating")[-1].request.body.decode()
    assert not _calls(OPERATOR_HOST)

    off = c.patch(f"/v1/carrier-accounts/{account['id']}", json={"enabled": False}, headers=tenant["headers"])
    assert off.status_code == 200 and off.get_json()["enabled"] is False
    rated_on_tenant = len(_calls(TENANT_HOST, "/api/rating"))
    _shipment_with_ups_rate(c, tenant)
    assert len(_calls(TENANT_HOST, "/api/rating")) == rated_on_tenant
    assert _calls(OPERATOR_HOST, "/api/rating")  # back on the operator's account (allowed)


def _poll_until_asked(app: Any, shipment_id: str, rounds: int = 20) -> list[Any]:
    """Run the periodic poll job until it has handled this shipment; return the jobs run.

    One run takes the 200 most overdue shipments of the database, which holds other tests' too.
    """
    container = app.extensions["handoff"]
    jobs = []
    for _ in range(rounds):
        jobs.append(container.queue("tracking").enqueue(tracking_jobs.poll_carriers))
        worker.run(app, burst=True, worker_class=SimpleWorker)
        with container.sessions() as session:
            row = session.get(ShipmentTracking, shipment_id)
            if row is not None and row.next_poll_at is not None and row.next_poll_at > utcnow():
                return jobs
    raise AssertionError(f"the poll never reached {shipment_id}")


def _echo_subscription(request: Any) -> tuple[int, dict[str, str], str]:
    """UPS Track Alert's answer: every number asked for is subscribed."""
    numbers = json.loads(request.body)["trackingNumberList"]
    return 200, {}, json.dumps({"validTrackingNumbers": numbers, "invalidTrackingNumbers": []})


@responses.activate
def test_a_shipment_bought_on_the_tenants_own_account_is_tracked_through_that_account(
    acc_app: Any, c: Any
) -> None:
    _mock_ups(TENANT_HOST, label=True)
    _mock_ups(OPERATOR_HOST)
    for host in (TENANT_HOST, OPERATOR_HOST):
        responses.add_callback(
            responses.POST, re.compile(rf"{re.escape(host)}/api/track/.*/subscription/.*"), _echo_subscription
        )
        responses.add(
            responses.GET, re.compile(rf"{re.escape(host)}/api/track/v1/details/.*"), json=ups.TRACK_REPLY
        )
    own = _tenant(acc_app)
    _create(c, own)
    shipment_id = _buy(acc_app, c, own)
    container = acc_app.extensions["handoff"]

    def tracking() -> ShipmentTracking | None:
        with container.sessions() as session:
            row = session.get(ShipmentTracking, shipment_id)
            return None if row is None or row.last_polled_at is None else row

    _run_jobs(acc_app, lambda: tracking() is not None)  # the purchase's start_tracking job
    started = len(_calls(TENANT_HOST, "/api/track"))
    # The subscription is due for renewal: the periodic poll renews it on the same account.
    with container.sessions() as session:
        session.get(ShipmentTracking, shipment_id).next_poll_at = utcnow() - timedelta(minutes=1)
        session.commit()
    _poll_until_asked(acc_app, shipment_id)

    with container.sessions() as session:
        number = session.get(models.Shipment, shipment_id).tracking_number

    def subscribed(host: str) -> int:  # other tests' due shipments may be renewed in the same run
        return sum(
            1
            for call in _calls(host, "/api/track")
            if call.request.method == "POST" and number in json.loads(call.request.body)["trackingNumberList"]
        )

    assert started >= 1 and subscribed(TENANT_HOST) == 2, [call.request.url for call in responses.calls]
    assert subscribed(OPERATOR_HOST) == 0
    assert tracking().next_poll_at > utcnow()  # scheduled again, not left due


@responses.activate
def test_a_label_is_voided_on_the_account_it_was_bought_on_even_once_disabled_and_never_on_another(
    acc_app: Any, c: Any
) -> None:
    _mock_ups(TENANT_HOST, label=True)
    _mock_ups(OPERATOR_HOST, label=True)
    tenant = _tenant(acc_app)
    account, _, _ = _create(c, tenant)
    disabled_first, deleted_later = _buy(acc_app, c, tenant), _buy(acc_app, c, tenant)
    etag = c.get(f"/v1/carrier-accounts/{account['id']}", headers=tenant["headers"]).headers["ETag"]
    off = c.patch(
        f"/v1/carrier-accounts/{account['id']}",
        json={"enabled": False},
        headers={**tenant["headers"], "If-Match": etag},
    )
    assert off.status_code == 200, off.get_json()

    voided = c.post(f"/v1/shipments/{disabled_first}/void", json={}, headers=tenant["headers"])

    assert voided.status_code == 200, voided.get_json()
    assert [call.request.method for call in _calls(TENANT_HOST, "/api/shipments")][-1] == "DELETE"
    assert not [call for call in _calls(OPERATOR_HOST, "/api/shipments") if call.request.method == "DELETE"]

    etag = c.get(f"/v1/carrier-accounts/{account['id']}", headers=tenant["headers"]).headers["ETag"]
    gone = c.delete(f"/v1/carrier-accounts/{account['id']}", headers={**tenant["headers"], "If-Match": etag})
    assert gone.status_code == 204, gone.get_json()

    refused = c.post(f"/v1/shipments/{deleted_later}/void", json={}, headers=tenant["headers"])

    assert refused.status_code == 409
    problem = refused.get_json()
    assert problem["type"].endswith("/label-account-gone") and problem["carrier"] == "ups"
    assert not [call for call in _calls(OPERATOR_HOST, "/api/shipments") if call.request.method == "DELETE"]
    assert (
        c.get(f"/v1/shipments/{deleted_later}", headers=tenant["headers"]).get_json()["status"] == "purchased"
    )


@responses.activate
def test_an_account_whose_secrets_no_longer_open_delays_its_shipments_tracking_not_everyones(
    acc_app: Any, c: Any
) -> None:
    _mock_ups(TENANT_HOST, label=True)
    tenant = _tenant(acc_app)
    _create(c, tenant)
    shipment_id = _buy(acc_app, c, tenant)
    container = acc_app.extensions["handoff"]
    with container.sessions() as session:
        row = session.get(ShipmentTracking, shipment_id) or ShipmentTracking(
            shipment_id=shipment_id, tenant_id=tenant["id"]
        )
        row.milestone, row.next_poll_at = "in_transit", utcnow() - timedelta(minutes=1)
        session.merge(row)
        session.commit()
    old_keys = container.settings["CREDENTIALS_KEYS"]
    try:
        container.settings["CREDENTIALS_KEYS"] = Fernet.generate_key().decode()  # the account's key is gone
        connections._CACHE.clear()  # as in a fresh worker process: nothing built from the old key
        jobs = _poll_until_asked(acc_app, shipment_id)
    finally:
        container.settings["CREDENTIALS_KEYS"] = old_keys

    assert {job.get_status(refresh=True) for job in jobs} == {"finished"}, jobs[-1].latest_result()
    with container.sessions() as session:
        waiting = session.get(ShipmentTracking, shipment_id).next_poll_at
    assert waiting > utcnow() + timedelta(hours=5)  # asked again later, when the key may be back
