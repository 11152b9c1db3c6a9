"""Every error is RFC 9457 problem+json with a stable type, and none leaks internals."""

from __future__ import annotations

from typing import Any

import pytest

from gateway import create_app
from tests.helpers import shipment_body

PROBLEM_FIELDS = {"type", "title", "status", "detail", "request_id", "error_source"}


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert set(body) >= PROBLEM_FIELDS, body
    assert body["status"] == status
    assert body["type"] == f"https://handoff.dev/problems/{slug}"
    assert body["request_id"] == response.headers["X-Request-Id"]
    assert body["error_source"] == "gateway"
    return body


def test_malformed_json_is_400(client, platform):
    response = client.post(
        "/v1/shipments", data="{not json", headers={**platform.headers, "Content-Type": "application/json"}
    )
    assert_problem(response, 400, "malformed-json")


def test_a_json_string_holding_nul_is_400_not_a_database_error(client, platform):
    for body in ('{"shipment_ids": ["shp_\\u0000x"]}', '{"label_format": "pdf", "\\u0000": 1}'):
        response = client.post(
            "/v1/batches", data=body, headers={**platform.headers, "Content-Type": "application/json"}
        )
        assert_problem(response, 400, "malformed-json")


def test_unknown_route_is_404_for_a_caller_with_a_key(client, platform):
    assert_problem(client.get("/v1/nowhere", headers=platform.headers), 404, "not-found")
    assert_problem(client.get("/nowhere"), 404, "not-found")


def test_wrong_method_is_405_and_keeps_the_allow_header(client, platform):
    response = client.delete("/v1/shipments", headers=platform.headers)
    assert_problem(response, 405, "method-not-allowed")
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}


def test_a_body_over_the_limit_is_413(settings, platform):
    app = create_app({**settings, "MAX_CONTENT_LENGTH": 1000})
    client = app.test_client()
    headers = {**platform.headers, "Content-Type": "application/json"}
    response = client.post("/v1/shipments", data="x" * 5000, headers=headers)
    assert_problem(response, 413, "payload-too-large")


def test_a_non_json_body_is_415(client, platform):
    response = client.post(
        "/v1/shipments", data="a=b", headers={**platform.headers, "Content-Type": "text/plain"}
    )
    assert_problem(response, 415, "unsupported-media-type")


def test_validation_errors_are_422_with_field_errors(client, platform):
    body = assert_problem(
        client.post("/v1/shipments", json={"reference": 5}, headers=platform.headers), 422, "validation-error"
    )
    assert {"reference", "origin", "destination", "parcels"} <= set(body["errors"])


def test_too_many_requests_is_429_with_retry_after(settings, make_tenant):
    app = create_app({**settings, "RATE_LIMIT_PER_MINUTE": 3})
    client = app.test_client()
    tenant = make_tenant(("platform",))
    statuses = [client.get("/v1/shipments", headers=tenant.headers).status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200]
    response = client.get("/v1/shipments", headers=tenant.headers)
    assert_problem(response, 429, "rate-limited")
    assert 0 < int(response.headers["Retry-After"]) <= 60


def test_an_unexpected_error_is_500_without_a_stack_trace_or_secret(
    settings, make_tenant, monkeypatch, caplog
):
    app = create_app(settings)
    tenant = make_tenant(("platform",))
    from gateway.shipments import booking as shipments

    def explode(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("db password is hunter2 at /srv/secret/path.py line 3")

    monkeypatch.setattr(shipments, "create_shipment", explode)
    response = app.test_client().post("/v1/shipments", json=shipment_body(), headers=tenant.headers)
    body = assert_problem(response, 500, "internal-error")
    text = response.get_data(as_text=True)
    for leak in ("hunter2", "Traceback", "RuntimeError", "/srv/secret"):
        assert leak not in text
    assert "quote the request_id" in body["detail"].lower()


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json"])
def test_public_endpoints_need_no_key(client, path):
    assert client.get(path).status_code == 200


def test_request_id_is_echoed_when_sane_and_replaced_when_not(client):
    assert client.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["X-Request-Id"] == "abc-123"
    replaced = client.get("/healthz", headers={"X-Request-Id": "bad id; drop"}).headers["X-Request-Id"]
    assert replaced != "bad id; drop" and len(replaced) == 32
