"""Fixtures for the DHL Express adapter tests: a config, a shipment, golden replies, a fast adapter."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters import http as carrier_http
from adapters.dhl_express import client
from schemas import money, types

DATA = Path(__file__).resolve().parent / "data"
PASSWORD = "pw-Sup3r-S3cret"
BASE_URL = "http://dhl.sim.test/sndpt"


NOW = datetime(2024, 5, 6, 9, 30, tzinfo=UTC)


@pytest.fixture
def config() -> dict[str, Any]:
    return {
        "username": "handoff-api",
        "password": PASSWORD,
        "account_number": "123456789",
        "base_url": BASE_URL,
        "timeout_seconds": 5,
    }


@pytest.fixture
def spec() -> types.ShipmentSpec:
    origin = types.Address(
        country_code="DE",
        postal_code="04109",
        city="Leipzig",
        street_lines=("Augustusplatz 1",),
        name="Handoff Test",
        company="Handoff GmbH",
        phone="+49 341 000000",
    )
    destination = types.Address(
        country_code="US",
        postal_code="10001",
        city="New York",
        street_lines=("350 5th Ave", "Floor 3"),
        state="NY",
        name="Jane Doe",
        phone="+1 212 555 0100",
        email="jane@example.com",
    )
    parcel = types.Parcel(
        weight_kg=Decimal("1.2"),
        length_cm=Decimal("20"),
        width_cm=Decimal("30"),
        height_cm=Decimal("10"),
        declared_value=money.Money(Decimal("120.00"), "EUR"),
    )
    return types.ShipmentSpec(origin=origin, destination=destination, parcels=(parcel,))


@pytest.fixture
def reply() -> Callable[[str], str]:
    def load(name: str) -> str:
        return (DATA / name).read_text(encoding="utf-8")

    return load


class Sleeps:
    """Records retry pauses instead of sleeping."""

    def __init__(self) -> None:
        self.pauses: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_adapter(config: dict[str, Any], sleeps: Sleeps) -> Callable[..., client.DhlExpressAdapter]:
    def build(**overrides: Any) -> client.DhlExpressAdapter:
        options: dict[str, Any] = {
            "breaker": carrier_http.CircuitBreaker(failure_threshold=3, reset_after=60),
            "retry": carrier_http.RetryPolicy(attempts=3, base_delay=0.01, sleep=sleeps, rng=lambda: 0.5),
            "now": lambda: NOW,
            "new_reference": lambda: "0123456789abcdef0123456789abcdef",
        }
        cfg = dict(config)
        cfg.update(overrides.pop("config", {}))
        options.update(overrides)
        return client.DhlExpressAdapter(cfg, **options)

    return build
