"""Idempotency-Key: replays, conflicting reuse, and truly concurrent duplicates."""

from __future__ import annotations

import threading
from typing import Any

import requests
import sqlalchemy as sa
from werkzeug.serving import make_server

from gateway.kernel import models
from tests.helpers import shipment_body


def count_shipments(app: Any, tenant_id: str, reference: str) -> int:
    with app.extensions["handoff"].sessions() as session:
        return session.execute(
            sa.select(sa.func.count())
            .select_from(models.Shipment)
            .where(models.Shipment.tenant_id == tenant_id, models.Shipment.reference == reference)
        ).scalar_one()


def test_a_retry_replays_the_stored_response_and_creates_nothing(app, client, platform):
    headers = {**platform.headers, "Idempotency-Key": "order-7-create"}
    first = client.post("/v1/shipments", json=shipment_body("ORDER-7"), headers=headers)
    again = client.post("/v1/shipments", json=shipment_body("ORDER-7"), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count_shipments(app, platform.tenant_id, "ORDER-7") == 1


def test_key_order_in_the_json_body_does_not_matter(client, platform):
    headers = {**platform.headers, "Idempotency-Key": "reordered", "Content-Type": "application/json"}
    import json

    body = shipment_body("REORDER")
    first = client.post("/v1/shipments", data=json.dumps(body), headers=headers)
    second = client.post(
        "/v1/shipments", data=json.dumps(dict(reversed(list(body.items())))), headers=headers
    )
    assert second.status_code == 201 and second.get_json()["id"] == first.get_json()["id"]


def test_the_same_key_with_a_different_body_is_422(app, client, platform):
    headers = {**platform.headers, "Idempotency-Key": "reused"}
    assert client.post("/v1/shipments", json=shipment_body("R-1"), headers=headers).status_code == 201
    response = client.post("/v1/shipments", json=shipment_body("R-2"), headers=headers)
    assert response.status_code == 422
    assert response.get_json()["type"].endswith("/idempotency-key-reused")
    assert count_shipments(app, platform.tenant_id, "R-2") == 0


def test_a_validation_failure_is_replayed_too(client, platform):
    headers = {**platform.headers, "Idempotency-Key": "invalid-once"}
    first = client.post("/v1/shipments", json={"reference": "x"}, headers=headers)
    second = client.post("/v1/shipments", json={"reference": "x"}, headers=headers)
    assert first.status_code == second.status_code == 422
    assert second.headers["Idempotent-Replayed"] == "true"


def test_a_server_error_releases_the_key_so_a_retry_can_succeed(app, client, platform, monkeypatch):
    from gateway.shipments import booking as shipments

    original = shipments.create_shipment
    monkeypatch.setattr(shipments, "create_shipment", lambda *a, **k: 1 / 0)
    headers = {**platform.headers, "Idempotency-Key": "retry-after-500"}
    assert client.post("/v1/shipments", json=shipment_body("AFTER-500"), headers=headers).status_code == 500
    monkeypatch.setattr(shipments, "create_shipment", original)
    assert client.post("/v1/shipments", json=shipment_body("AFTER-500"), headers=headers).status_code == 201
    assert count_shipments(app, platform.tenant_id, "AFTER-500") == 1


def test_an_invalid_key_header_is_400(client, platform):
    response = client.post(
        "/v1/shipments", json=shipment_body(), headers={**platform.headers, "Idempotency-Key": "x" * 256}
    )
    assert response.status_code == 400


def test_a_concurrent_duplicate_gets_409_while_the_first_is_running(app, platform, monkeypatch):
    """Two real HTTP requests overlap: the second arrives while the first is inside the view."""
    from gateway.shipments import booking as shipments

    inside = threading.Event()
    release = threading.Event()
    original = shipments.create_shipment

    def slow_create(*args: Any, **kwargs: Any) -> Any:
        inside.set()
        assert release.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(shipments, "create_shipment", slow_create)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/v1/shipments"
    headers = {**platform.headers, "Idempotency-Key": "concurrent-1"}
    results: dict[str, requests.Response] = {}
    try:
        first = threading.Thread(
            target=lambda: results.setdefault(
                "first", requests.post(url, json=shipment_body("CONC"), headers=headers, timeout=20)
            )
        )
        first.start()
        assert inside.wait(10)
        second = requests.post(url, json=shipment_body("CONC"), headers=headers, timeout=20)
        assert second.status_code == 409
        assert second.headers["Content-Type"] == "application/problem+json"
        assert second.json()["type"].endswith("/idempotency-in-progress")
        assert second.headers["Retry-After"] == "1"
        release.set()
        first.join(20)
        assert results["first"].status_code == 201
        third = requests.post(url, json=shipment_body("CONC"), headers=headers, timeout=20)
        assert third.status_code == 201 and third.json()["id"] == results["first"].json()["id"]
    finally:
        release.set()
        server.shutdown()
    assert count_shipments(app, platform.tenant_id, "CONC") == 1


def test_a_burst_of_simultaneous_duplicates_creates_exactly_one_shipment(app, platform):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/v1/shipments"
    headers = {**platform.headers, "Idempotency-Key": "burst-1"}
    barrier = threading.Barrier(8)
    statuses: list[tuple[int, str | None]] = []

    def post() -> None:
        barrier.wait()
        r = requests.post(url, json=shipment_body("BURST"), headers=headers, timeout=30)
        statuses.append((r.status_code, r.json().get("id")))

    threads = [threading.Thread(target=post) for _ in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        server.shutdown()
    assert len(statuses) == 8
    assert {code for code, _ in statuses} <= {201, 409}
    created_ids = {sid for code, sid in statuses if code == 201}
    assert len(created_ids) == 1
    assert count_shipments(app, platform.tenant_id, "BURST") == 1
