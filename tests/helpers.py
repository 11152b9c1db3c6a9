"""Test data builders shared across the suite."""

from __future__ import annotations

from typing import Any


def shipment_body(reference: str = "ORDER-1001", **overrides: Any) -> dict[str, Any]:
    """A valid shipment request, as an e-commerce platform would send it."""
    body: dict[str, Any] = {
        "reference": reference,
        "origin": {
            "name": "Warehouse 1",
            "street_lines": ["500 Industrial Way"],
            "city": "Secaucus",
            "state": "NJ",
            "postal_code": "07094",
            "country_code": "US",
        },
        "destination": {
            "name": "Jane Doe",
            "street_lines": ["21 W 52nd St", "Apt 4"],
            "city": "New York",
            "state": "NY",
            "postal_code": "10019",
            "country_code": "US",
            "residential": True,
        },
        "parcels": [
            {
                "weight": {"value": "2.5", "unit": "lb"},
                "dimensions": {"length": "12", "width": "9", "height": "4", "unit": "in"},
                "declared_value": {"amount": "49.99", "currency": "USD"},
            }
        ],
    }
    body.update(overrides)
    return body


def label_sellers(*carriers: str) -> Any:
    """An adapter registry that sells (placeholder) labels for these carriers and does no live rating.

    For tests that need a partner's rates to be purchasable without a carrier to rate against:
    install it with ``monkeypatch.setattr(container, "_carriers", label_sellers("ups"))``.
    """
    from adapters import base, registry
    from tests.plugins.handoff_example_adapter.handoff_example_adapter import ExampleAdapter

    class LabelsOnly(ExampleAdapter):
        capabilities = frozenset({base.Capability.LABEL})

    config = {"api_key": "k", "price_per_parcel": "1.00", "currency": "USD"}
    return registry.Registry({c: LabelsOnly(config) for c in carriers})


def ups_enabled_settings(settings: dict[str, Any], account_number: str) -> dict[str, Any]:
    """Settings with the UPS adapter enabled at https://ups.invalid (mock it with `responses`),
    live answers never cached, beside the sample cards."""
    import json

    ups = {
        "adapter": "ups",
        "id": "ups",
        "config": {
            "client_id": "cid",
            "client_secret": "csecret",
            "account_number": account_number,
            "base_url": "https://ups.invalid",
        },
    }
    return {**settings, "CARRIERS": json.dumps([ups]), "RATE_CACHE_TTL_SECONDS": 0}
