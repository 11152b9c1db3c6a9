"""Webhook destinations: internal IPv4 addresses hidden in IPv6 forms, and local receivers for ``make serve``.

Every check runs in production mode (the default ``ENV``), when an endpoint is saved (``urls.check``)
and on the connection a delivery makes (``delivery.post`` through the guarded adapter). No test
touches the network: names are answered by a patched resolver, and the socket layer under the guard
refuses to connect anywhere, so a destination that got past the guard shows as a connection error
instead of a refusal.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from gateway.webhooks import delivery, urls
from tests.unit.webhooks.receiver import Receiver

PRODUCTION = {"ENV": "production"}
LOCAL_HTTP = {"ENV": "production", "WEBHOOK_ALLOW_LOCAL_HTTP": True}

# (IPv6 address, the internal IPv4 address it carries, the form)
HIDDEN_IPV4 = [
    ("64:ff9b::a9fe:a9fe", "169.254.169.254", "NAT64 /96 (cloud metadata)"),
    ("64:ff9b::7f00:1", "127.0.0.1", "NAT64 /96"),
    ("64:ff9b::a00:5", "10.0.0.5", "NAT64 /96"),
    ("64:ff9b:1::7f00:1", "127.0.0.1", "local-use NAT64 64:ff9b:1::/48, /96 layout"),
    ("64:ff9b:1:a9fe:a9:fe00::", "169.254.169.254", "local-use NAT64 64:ff9b:1::/48, /48 layout"),
    ("2002:7f00:1::", "127.0.0.1", "6to4"),
    ("2002:a9fe:a9fe::", "169.254.169.254", "6to4"),
    ("2002:c0a8:101::1", "192.168.1.1", "6to4"),
    ("2001:0:4136:e378:8000:63bf:f5ff:fffa", "10.0.0.5", "Teredo (client)"),
    ("2001:0:a00:5:8000:63bf:3fd4:2ef1", "10.0.0.5", "Teredo (server)"),
    ("::127.0.0.1", "127.0.0.1", "IPv4-compatible"),
    ("::169.254.169.254", "169.254.169.254", "IPv4-compatible"),
    ("::ffff:127.0.0.1", "127.0.0.1", "IPv4-mapped"),
    ("::ffff:169.254.169.254", "169.254.169.254", "IPv4-mapped"),
    ("::ffff:0:7f00:1", "127.0.0.1", "IPv4-translated"),
]
IDS = [f"{form}: {v6}" for v6, _v4, form in HIDDEN_IPV4]


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Connections the guard lets through are recorded and fail, instead of reaching anything."""
    tried: list[Any] = []

    def refuse(address: Any, *args: Any, **kwargs: Any) -> Any:
        tried.append(address)
        raise ConnectionRefusedError("no network in unit tests")

    monkeypatch.setattr(urls, "create_connection", refuse)
    return tried


def resolving(monkeypatch: pytest.MonkeyPatch, host: str, address: str) -> None:
    """Make ``host`` resolve to ``address`` (and nothing else resolve at all)."""

    def getaddrinfo(name: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if name != host:
            raise socket.gaierror(f"unexpected lookup of {name}")
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port or 443))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def post(settings: dict[str, Any], url: str) -> delivery.Answer:
    return delivery.post(settings, url, {"content-type": "application/json"}, b"{}")


@pytest.mark.parametrize(("v6", "v4", "form"), HIDDEN_IPV4, ids=IDS)
def test_an_ipv6_address_hiding_an_internal_ipv4_address_is_refused_like_the_ipv4_address(v6, v4, form):
    assert not urls.is_public(ipaddress.ip_address(v4))
    assert not urls.is_public(ipaddress.ip_address(v6))
    with pytest.raises(urls.UnsafeDestination) as refused:
        urls.check(f"https://[{v6}]/hooks", urls.Policy.from_settings(PRODUCTION))
    assert refused.value.reason == "private_address"


@pytest.mark.parametrize(("v6", "v4", "form"), HIDDEN_IPV4, ids=IDS)
def test_a_delivery_to_an_ipv6_literal_hiding_an_internal_ipv4_address_is_refused_on_connecting(
    no_sockets, v6, v4, form
):
    answer = post(PRODUCTION, f"https://[{v6}]/hooks")
    assert answer.refused, answer.error
    assert answer.status is None and "private" in (answer.error or "")
    assert no_sockets == []


@pytest.mark.parametrize(("v6", "v4", "form"), HIDDEN_IPV4, ids=IDS)
def test_a_name_resolving_to_an_ipv6_address_hiding_an_internal_ipv4_address_is_refused_on_connecting(
    monkeypatch, no_sockets, v6, v4, form
):
    resolving(monkeypatch, "hooks.customer.example", v6)
    answer = post(PRODUCTION, "https://hooks.customer.example/hooks")
    assert answer.refused, answer.error
    assert no_sockets == []


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::808:808",  # NAT64 of 8.8.8.8
        "2002:808:808::1",  # 6to4 of 8.8.8.8
        "::ffff:8.8.8.8",
        "2606:4700:4700::1111",
    ],
)
def test_an_ipv6_address_carrying_a_public_ipv4_address_is_still_allowed(monkeypatch, no_sockets, address):
    assert urls.is_public(ipaddress.ip_address(address))
    resolving(monkeypatch, "hooks.customer.example", address)
    urls.check("https://hooks.customer.example/hooks", urls.Policy.from_settings(PRODUCTION))
    answer = post(PRODUCTION, "https://hooks.customer.example/hooks")
    assert not answer.refused and answer.error == "connection error: ConnectionError"
    assert [host for host, _port in no_sockets] == [address]


# -- WEBHOOK_ALLOW_LOCAL_HTTP ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8000/hooks",
        "http://127.0.0.1:9000/hooks",
        "http://[::1]:9000/hooks",
        "https://localhost/",
    ],
)
def test_the_local_http_setting_allows_a_receiver_on_this_machine(url):
    urls.check(url, urls.Policy.from_settings(LOCAL_HTTP))
    urls.check(url, urls.Policy.from_settings({**PRODUCTION, "WEBHOOK_ALLOW_LOCAL_HTTP": "true"}))  # from env


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://localhost:8000/hooks", "insecure"),
        ("http://127.0.0.1:9000/hooks", "insecure"),
        ("http://[::1]:9000/hooks", "insecure"),
        ("https://127.0.0.1/hooks", "private_address"),
    ],
)
def test_without_the_local_http_setting_production_refuses_a_local_receiver(url, reason):
    for settings in (PRODUCTION, {**PRODUCTION, "WEBHOOK_ALLOW_LOCAL_HTTP": False}):
        with pytest.raises(urls.UnsafeDestination) as refused:
            urls.check(url, urls.Policy.from_settings(settings))
        assert refused.value.reason == reason


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://example.com/hooks", "insecure"),
        ("http://10.0.0.5/hooks", "insecure"),
        ("https://10.0.0.5/hooks", "private_address"),
        ("https://169.254.169.254/latest/meta-data", "private_address"),
        ("https://[64:ff9b::7f00:1]/hooks", "private_address"),
        ("https://[::ffff:127.0.0.1]/hooks", "private_address"),
        ("http://[::ffff:127.0.0.1]/hooks", "insecure"),
    ],
)
def test_the_local_http_setting_allows_nothing_but_loopback(url, reason):
    with pytest.raises(urls.UnsafeDestination) as refused:
        urls.check(url, urls.Policy.from_settings(LOCAL_HTTP))
    assert refused.value.reason == reason


def test_with_the_local_http_setting_localhost_must_still_resolve_to_loopback(monkeypatch, no_sockets):
    resolving(monkeypatch, "localhost", "10.0.0.5")  # a tampered hosts file
    with pytest.raises(urls.UnsafeDestination) as refused:
        urls.check("http://localhost:8000/hooks", urls.Policy.from_settings(LOCAL_HTTP))
    assert refused.value.reason == "private_address"
    assert post(LOCAL_HTTP, "http://localhost:8000/hooks").refused
    assert no_sockets == []


def test_a_delivery_reaches_a_local_http_receiver_only_with_the_setting():
    receiver = Receiver().start()
    try:
        refused = post(PRODUCTION, receiver.url)
        assert refused.refused and receiver.deliveries == []

        answer = post(LOCAL_HTTP, receiver.url)
        assert answer.status == 200 and not answer.refused
        assert len(receiver.deliveries) == 1
    finally:
        receiver.stop()
