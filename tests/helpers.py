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
