"""Retry schedule, Retry-After parsing and the destination policy, without a network."""

from __future__ import annotations

import ipaddress
import random
from datetime import UTC, datetime, timedelta

import pytest

from gateway.webhooks import delivery, urls

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_backoff_doubles_is_jittered_and_capped():
    rng = random.Random(7)
    settings = {"WEBHOOK_RETRY_BASE_SECONDS": 10, "WEBHOOK_RETRY_CAP_SECONDS": 100}
    delays = [delivery.backoff_seconds(n, settings, rng) for n in range(1, 9)]
    for n, d in enumerate(delays, start=1):
        step = min(100, 10 * 2 ** (n - 1))
        assert 0.75 * step <= d <= step
    assert len({round(d, 6) for d in delays}) == len(delays)  # jitter: no two alike
    assert max(delays) <= 100


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("Fri, 20 Nov 2026 12:05:00 GMT", 300.0),
        ("Fri, 20 Nov 2026 11:00:00 GMT", 0.0),  # a date in the past: now
        ("soon", None),
        ("", None),
        (None, None),
        ("-5", None),
    ],
)
def test_retry_after_accepts_seconds_and_http_dates(header, seconds):
    assert delivery.parse_retry_after(header, NOW) == seconds


def test_environment_strings_are_read_as_numbers():
    assert delivery.setting({"WEBHOOK_RETRY_BASE_SECONDS": "0.5"}, "WEBHOOK_RETRY_BASE_SECONDS") == 0.5
    assert delivery.setting({}, "WEBHOOK_RETRY_WINDOW_SECONDS") == 3 * 86400


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.0.1",
        "169.254.169.254",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:10.0.0.1",
        "100.64.0.1",
        "224.0.0.1",
    ],
)
def test_non_public_addresses_are_not_public(address):
    assert not urls.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_public(address):
    assert urls.is_public(ipaddress.ip_address(address))


def test_production_refuses_loopback_but_test_mode_and_the_allowlist_allow_it():
    production = urls.Policy.from_settings({"ENV": "production"})
    with pytest.raises(urls.UnsafeDestination) as refused:
        urls.check("https://127.0.0.1/hooks", production)
    assert refused.value.reason == "private_address"
    with pytest.raises(urls.UnsafeDestination) as insecure:
        urls.check("http://127.0.0.1/hooks", production)
    assert insecure.value.reason == "insecure"

    urls.check("http://127.0.0.1/hooks", urls.Policy.from_settings({"ENV": "test"}))
    urls.check("http://127.0.0.1/hooks", urls.Policy.from_settings({"ENV": "development"}))
    allowlisted = urls.Policy.from_settings(
        {"ENV": "production", "WEBHOOK_ALLOWLIST": "127.0.0.0/8, hooks.local"}
    )
    urls.check("http://127.0.0.1:9000/hooks", allowlisted)
    assert allowlisted.address_allowed("hooks.local", ipaddress.ip_address("10.0.0.1"))
    assert not allowlisted.address_allowed("other.local", ipaddress.ip_address("10.0.0.1"))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/x", "invalid"),
        ("/relative", "invalid"),
        ("https://user:pass@example.com/", "credentials"),
        ("https://example.com:99999/", "invalid"),
    ],
)
def test_malformed_urls_are_refused_in_every_mode(url, reason):
    with pytest.raises(urls.UnsafeDestination) as refused:
        urls.check(url, urls.Policy.from_settings({"ENV": "test"}))
    assert refused.value.reason == reason


def test_the_retry_after_cap_bounds_a_huge_wait():
    assert delivery.parse_retry_after("999999999", NOW) == 999999999.0
    assert delivery.setting({}, "WEBHOOK_RETRY_AFTER_MAX_SECONDS") == timedelta(days=1).total_seconds()
