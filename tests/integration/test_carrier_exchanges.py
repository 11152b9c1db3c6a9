"""Raw carrier exchanges: stored redacted (never a credential), listed for ops, purged after retention."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
import responses
import sqlalchemy as sa

from gateway import create_app
from gateway.exchanges import service as exchanges
from gateway.exchanges import tables
from gateway.jobs import worker
from gateway.kernel import models
from gateway.kernel.types import utcnow
from schemas import carrier
from tests.helpers import shipment_body
from tests.unit.adapters import ups_fixtures as ups

pytestmark = pytest.mark.integration

HOST = "https://ups-exchanges.test"
SECRETS = (
    ups.CONFIG["client_secret"],
    ups.CONFIG["webhook_credential"],
    ups.CONFIG["webhook_client_secret"],
    ups.TOKEN_REPLY["access_token"],
)


@pytest.fixture
def ups_app(settings: dict[str, Any]) -> Any:
    entry = {
        "adapter": "ups",
        "id": f"ups-{uuid.uuid4().hex[:8]}",
        "config": {**ups.CONFIG, "base_url": HOST},
    }
    application = create_app({**settings, "CARRIERS": json.dumps([entry])})
    yield application
    application.extensions["handoff"].exchange_recorder.close()
    application.extensions["handoff"].dispose()


def _tenant(application: Any, roles: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    from gateway.kernel import auth

    with application.extensions["handoff"].sessions() as session:
        slug = f"t-{uuid.uuid4().hex[:10]}"
        tenant = models.Tenant(name=slug, slug=slug)
        session.add(tenant)
        session.flush()
        _row, key = auth.create_key(session, tenant.id, roles, pepper=application.config["SECRET_PEPPER"])
        session.commit()
    return tenant.id, {"Authorization": f"Bearer {key}"}


def _mock_ups(number: str) -> None:
    responses.add(responses.POST, f"{HOST}/security/v1/oauth/token", json=ups.TOKEN_REPLY)
    responses.add(responses.POST, re.compile(rf"{re.escape(HOST)}/api/rating/.*"), json=ups.RATE_REPLY)
    track = json.loads(json.dumps(ups.TRACK_REPLY).replace("1Z12345E0205271688", number))
    responses.add(responses.GET, re.compile(rf"{re.escape(HOST)}/api/track/v1/details/.*"), json=track)


def _stored(application: Any, **where: Any) -> list[tables.CarrierExchange]:
    application.extensions["handoff"].exchange_recorder.flush()
    x = tables.CarrierExchange
    with application.extensions["handoff"].sessions() as session:
        query = sa.select(x).order_by(x.id)
        for name, value in where.items():
            query = query.where(getattr(x, name) == value)
        return list(session.execute(query).scalars())


@responses.activate
def test_a_tracked_shipment_keeps_its_redacted_exchanges_for_ops(ups_app: Any) -> None:
    number = "1Z" + uuid.uuid4().hex[:16].upper()
    _mock_ups(number)
    tenant_id, headers = _tenant(ups_app, ("platform", "ops"))
    client = ups_app.test_client()
    created = client.post("/v1/shipments", json=shipment_body(), headers=headers)
    assert created.status_code == 201
    shipment_id = created.get_json()["id"]
    container = ups_app.extensions["handoff"]
    with container.sessions() as session:
        shipment = session.get(models.Shipment, shipment_id)
        shipment.carrier, shipment.tracking_number, shipment.status = "ups", number, "purchased"
        session.commit()
    adapter = container.carriers.get(next(iter(container.carriers)))
    # What the gateway does around every carrier call it makes for a known shipment.
    with exchanges.scope(tenant_id=tenant_id, shipment_id=shipment_id):
        assert adapter.track(carrier.TrackRequest(tracking_number=number)).events
    container.exchange_recorder.flush()  # the background writer's next round, without waiting for it

    listed = client.get(f"/v1/shipments/{shipment_id}/carrier-exchanges", headers=headers)

    assert listed.status_code == 200
    rows = listed.get_json()["data"]
    assert [r["operation"] for r in rows] == ["track"]  # the token came with the rates at booking
    track = rows[-1]
    assert track["http_status"] == 200
    assert track["method"] == "GET" and number in track["url"]
    assert track["duration_ms"] >= 0
    assert track["request"]["headers"]["Authorization"] == "********"
    assert track["response"]["body"]["trackResponse"]["shipment"]
    stored = _stored(ups_app, shipment_id=shipment_id)
    assert {r.tenant_id for r in stored} == {tenant_id}
    dumped = json.dumps([[r.request, r.response, r.url, r.error] for r in stored])
    for secret in SECRETS:
        assert secret not in dumped
    assert "Bearer eyJ" not in dumped


@responses.activate
def test_rating_exchanges_never_store_the_oauth_secret_or_token(ups_app: Any) -> None:
    _mock_ups("1Z0000000000000000")
    _tenant_id, headers = _tenant(ups_app, ("platform",))
    before = max([r.id for r in _stored(ups_app)] or [0])

    answered = ups_app.test_client().post("/v1/rates", json=_rate_body(), headers=headers)

    assert answered.status_code == 200, answered.get_json()
    new = [r for r in _stored(ups_app) if r.id > before]
    assert {r.operation for r in new} >= {"oauth", "rate"}
    oauth = next(r for r in new if r.operation == "oauth")
    assert oauth.request["headers"]["Authorization"] == "********"
    assert oauth.response["body"]["access_token"] == "********"
    dumped = json.dumps([[r.request, r.response, r.url, r.error] for r in new])
    for secret in SECRETS:
        assert secret not in dumped


def _rate_body() -> dict[str, Any]:
    body = shipment_body()
    return {k: body[k] for k in ("origin", "destination", "parcels")}


def test_another_tenant_cannot_read_a_shipments_exchanges(client: Any, make_tenant: Any) -> None:
    owner = make_tenant(("platform", "ops"))
    other = make_tenant(("ops",))
    shipment_id = client.post("/v1/shipments", json=shipment_body(), headers=owner.headers).get_json()["id"]

    assert (
        client.get(f"/v1/shipments/{shipment_id}/carrier-exchanges", headers=other.headers).status_code == 404
    )
    only_platform = make_tenant(("platform",))
    assert (
        client.get(
            f"/v1/shipments/{shipment_id}/carrier-exchanges", headers=only_platform.headers
        ).status_code
        == 403
    )


def test_the_recorder_redacts_credentials_and_elides_label_images_before_storage() -> None:
    label = "R0lGODlh" + "A" * 5000
    row = exchanges.to_row(
        {
            "carrier": "ups",
            "operation": "label",
            "at": "2026-11-20T10:00:00+00:00",
            "request": {
                "method": "POST",
                "url": "https://x.test/ship?client_secret=abcdef123",
                "headers": {"Authorization": "Bearer abc.def", "credential": "shared-cred", "transId": "t1"},
                "body": {"password": "p@ss", "note": "token=zzz999"},
            },
            "response": {"status": 200, "headers": {"Set-Cookie": "s=1"}, "body": {"GraphicImage": label}},
        },
        {"tenant_id": "ten_1", "shipment_id": "shp_1"},
    )
    dumped = json.dumps(row, default=str)
    for secret in ("abc.def", "shared-cred", "abcdef123", "p@ss", "zzz999", "s=1", label):
        assert secret not in dumped
    assert row["request"]["headers"]["transId"] == "t1"
    assert "5008 base64 characters elided" in row["response"]["body"]["GraphicImage"]
    assert (row["tenant_id"], row["shipment_id"], row["http_status"]) == ("ten_1", "shp_1", 200)


def test_the_retention_job_deletes_only_exchanges_older_than_the_configured_days(app: Any) -> None:
    container = app.extensions["handoff"]
    marker = uuid.uuid4().hex
    now = utcnow()
    with container.sessions() as session:
        for age_days in (45, 31, 29, 1):
            session.add(
                tables.CarrierExchange(
                    carrier="ups",
                    account=marker,
                    operation=f"age-{age_days}",
                    occurred_at=now - timedelta(days=age_days),
                )
            )
        session.commit()
    worker.set_app(app)
    from gateway.exchanges import jobs as jobs_exchanges

    assert jobs_exchanges.purge_expired(chunk=1) >= 2

    with container.sessions() as session:
        left = session.execute(
            sa.select(tables.CarrierExchange.operation).where(tables.CarrierExchange.account == marker)
        ).scalars()
        assert sorted(left) == ["age-1", "age-29"]


def test_the_retention_period_comes_from_the_environment() -> None:
    from gateway.kernel import config

    settings = config.load(environ={"GATEWAY_EXCHANGE_RETENTION_DAYS": "7"})
    assert exchanges.retention_days(settings) == 7
    assert exchanges.retention_days(config.load(environ={})) == 30
