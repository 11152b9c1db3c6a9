"""Saving a webhook endpoint in production: IPv6 forms hiding internal IPv4 addresses, and local receivers."""

from __future__ import annotations

from typing import Any

import pytest

from gateway import create_app

pytestmark = pytest.mark.integration


def subscribe(client: Any, tenant: Any, url: str) -> Any:
    body = {"url": url, "event_types": ["label.purchased"]}
    return client.post("/v1/webhook-endpoints", json=body, headers=tenant.headers)


@pytest.fixture(scope="module")
def production(settings: dict[str, Any]) -> Any:
    application = create_app({**settings, "ENV": "production"})
    yield application
    application.extensions["handoff"].dispose()


@pytest.fixture(scope="module")
def serve_mode(settings: dict[str, Any]) -> Any:
    """Production rules with the setting ``make serve`` turns on."""
    application = create_app({**settings, "ENV": "production", "WEBHOOK_ALLOW_LOCAL_HTTP": "true"})
    yield application
    application.extensions["handoff"].dispose()


@pytest.mark.parametrize(
    "url",
    [
        "https://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
        "https://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
        "https://[64:ff9b:1::a00:5]/",  # local-use NAT64 prefix
        "https://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
        "https://[2002:a9fe:a9fe::]/",  # 6to4 of 169.254.169.254
        "https://[2001:0:4136:e378:8000:63bf:f5ff:fffa]/",  # Teredo, client 10.0.0.5
        "https://[::127.0.0.1]/",  # IPv4-compatible
        "https://[::ffff:169.254.169.254]/",  # IPv4-mapped
    ],
)
def test_an_endpoint_whose_ipv6_address_hides_an_internal_ipv4_address_is_refused(
    production, make_tenant, url
):
    response = subscribe(production.test_client(), make_tenant(), url)
    assert response.status_code == 422, response.get_json()
    problem = response.get_json()
    assert problem["type"].endswith("/webhook-url-refused")
    assert "private" in problem["detail"] and problem["errors"]["url"]


def test_an_endpoint_on_an_ipv6_address_carrying_a_public_ipv4_address_is_saved(production, make_tenant):
    assert (
        subscribe(production.test_client(), make_tenant(), "https://[64:ff9b::808:808]/").status_code == 201
    )


@pytest.mark.parametrize(
    "url", ["http://localhost:8000/hooks", "http://127.0.0.1:9000/hooks", "http://[::1]:9000/hooks"]
)
def test_the_serve_setting_accepts_a_local_receiver_over_http_and_production_does_not(
    production, serve_mode, make_tenant, url
):
    tenant = make_tenant()
    refused = subscribe(production.test_client(), tenant, url)
    assert refused.status_code == 422 and "https" in refused.get_json()["detail"]
    saved = subscribe(serve_mode.test_client(), tenant, url)
    assert saved.status_code == 201, saved.get_json()
    assert saved.get_json()["url"] == url


@pytest.mark.parametrize(
    "url", ["http://example.com/hooks", "http://10.0.0.5/hooks", "https://[64:ff9b::7f00:1]/hooks"]
)
def test_the_serve_setting_keeps_the_production_rules_for_anything_but_loopback(serve_mode, make_tenant, url):
    response = subscribe(serve_mode.test_client(), make_tenant(), url)
    assert response.status_code == 422
    assert response.get_json()["type"].endswith("/webhook-url-refused")
