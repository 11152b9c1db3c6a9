"""API keys, roles and tenant isolation."""

from __future__ import annotations

import sqlalchemy as sa

from gateway.kernel import models
from tests.helpers import shipment_body


def test_a_missing_key_is_401_with_a_challenge(client):
    response = client.get("/v1/shipments")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["type"].endswith("/unauthenticated")


def test_a_wrong_or_malformed_key_is_401(client, platform):
    lookup = platform.key.split("_")[1]
    for key in ("hk_nope", f"hk_{lookup}_wrongsecret", "sk_live_123", platform.key + "x"):
        assert client.get("/v1/shipments", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_the_key_is_stored_only_as_a_hash(app, platform):
    with app.extensions["handoff"].sessions() as session:
        row = session.get(models.ApiKey, platform.key_id)
        secret = platform.key.split("_", 2)[2]
        stored = [str(v) for v in (row.lookup, row.secret_hash, row.name, row.roles)]
        assert not any(secret in v for v in stored)
        assert len(row.secret_hash) == 64


def test_a_revoked_key_stops_working(app, client, make_tenant):
    tenant = make_tenant(("platform",))
    assert client.get("/v1/shipments", headers=tenant.headers).status_code == 200
    result = app.test_cli_runner().invoke(args=["keys", "revoke", tenant.key_id])
    assert result.exit_code == 0, result.output
    assert client.get("/v1/shipments", headers=tenant.headers).status_code == 401


def test_cli_creates_a_tenant_and_a_key_that_works(app, client):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["tenants", "create", "Northwind Traders", "--slug", "northwind-cli"])
    assert result.exit_code == 0, result.output
    created = runner.invoke(args=["keys", "create", "--tenant", "northwind-cli", "--roles", "platform,ops"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("hk_")
    assert client.get("/v1/shipments", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    bad = runner.invoke(args=["keys", "create", "--tenant", "northwind-cli", "--roles", "superuser"])
    assert bad.exit_code != 0


def test_a_key_without_the_platform_role_cannot_book(client, make_tenant):
    finance = make_tenant(("finance",))
    response = client.post("/v1/shipments", json=shipment_body(), headers=finance.headers)
    assert response.status_code == 403
    assert response.get_json()["type"].endswith("/forbidden")


def test_admin_role_may_do_everything_in_its_tenant(client, make_tenant):
    admin = make_tenant(("admin",))
    assert client.post("/v1/shipments", json=shipment_body(), headers=admin.headers).status_code == 201


def test_another_tenants_shipment_is_not_found_and_not_listed(app, client, make_tenant):
    a = make_tenant(("platform",))
    b = make_tenant(("platform",))
    shipment_id = client.post("/v1/shipments", json=shipment_body("A-ONLY"), headers=a.headers).get_json()[
        "id"
    ]
    response = client.get(f"/v1/shipments/{shipment_id}", headers=b.headers)
    assert response.status_code == 404
    assert response.get_json()["type"].endswith("/not-found")
    listed = client.get("/v1/shipments", query_string={"reference": "A-ONLY"}, headers=b.headers).get_json()
    assert listed["data"] == []
    with app.extensions["handoff"].sessions() as session:
        owner = session.execute(
            sa.select(models.Shipment.tenant_id).where(models.Shipment.id == shipment_id)
        ).scalar()
    assert owner == a.tenant_id


def test_idempotency_keys_are_scoped_to_the_tenant(client, make_tenant):
    a = make_tenant(("platform",))
    b = make_tenant(("platform",))
    first = client.post(
        "/v1/shipments", json=shipment_body("SAME"), headers={**a.headers, "Idempotency-Key": "k-1"}
    )
    second = client.post(
        "/v1/shipments", json=shipment_body("SAME"), headers={**b.headers, "Idempotency-Key": "k-1"}
    )
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] != second.get_json()["id"]
