"""Fixtures for the rate engine: a small hand-checkable golden card and shipment builders."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from schemas import money, types

# The golden card, in kg/cm and USD, small enough to price by hand:
#   dimensional divisor 5000 cm3/kg, billable weight rounded up to the next 0.5 kg;
#   zone "1" = US postal codes starting "1", zone "2" = US 200-599, zone "3" = all of Canada;
#   minimum transportation charge 8.00; fuel 10 % of BASE and RES.
_GOLDEN: dict[str, Any] = {
    "id": "golden",
    "version": 1,
    "effective_from": "2026-01-01",
    "effective_to": "2026-12-31",
    "carrier": "acme",
    "service": {"code": "G", "name": "Acme Ground"},
    "currency": "USD",
    "units": {"weight": "kg", "length": "cm"},
    "zones": {
        "by": "postal",
        "charts": [
            {
                "origins": [{"country": "US"}],
                "destinations": [
                    {"zone": "1", "areas": [{"country": "US", "postal_prefixes": ["1"]}]},
                    {
                        "zone": "2",
                        "areas": [{"country": "US", "postal_ranges": [{"from": "200", "to": "599"}]}],
                    },
                    {"zone": "3", "areas": [{"country": "CA"}]},
                ],
            }
        ],
    },
    "billable_weight": {"dim_divisor": "5000", "weight_rounding": {"increment": "0.5", "mode": "up"}},
    "rates": {
        "minimum_charge": "8.00",
        "by_zone": {
            "1": {
                "breaks": [
                    {"up_to": "1", "price": "7.50"},
                    {"up_to": "2", "price": "9.00"},
                    {"up_to": "5", "price": "12.00"},
                    {"up_to": "10", "price": "18.00"},
                ],
                "per_unit_over": "1.10",
            },
            "2": {
                "breaks": [
                    {"up_to": "1", "price": "9.00"},
                    {"up_to": "2", "price": "11.00"},
                    {"up_to": "5", "price": "15.00"},
                ]
            },
            "3": {"breaks": [{"up_to": "30", "price": "40.00"}]},
        },
    },
    "surcharges": [
        {
            "code": "FSC",
            "kind": "fuel",
            "description": "Fuel",
            "percent": "10",
            "applies_to": ["BASE", "RES"],
        },
        {"code": "RES", "kind": "residential", "description": "Residential", "amount": "4.00"},
        {
            "code": "DAS",
            "kind": "remote_area",
            "description": "Delivery area",
            "amount": "3.00",
            "areas": [{"country": "US", "postal_prefixes": ["15"]}],
        },
        {
            "code": "AHS",
            "kind": "additional_handling",
            "description": "Additional handling",
            "amount": "12.00",
            "when": {
                "longest_side_exceeds": "100",
                "second_longest_exceeds": "60",
                "length_plus_girth_exceeds": "250",
                "weight_exceeds": "25",
            },
        },
        {
            "code": "LPS",
            "kind": "oversize",
            "description": "Large package",
            "amount": "60.00",
            "when": {"longest_side_exceeds": "150"},
            "supersedes": ["AHS"],
        },
        {"code": "SAT", "kind": "saturday", "description": "Saturday delivery", "amount": "15.00"},
        {"code": "SIG", "kind": "signature", "description": "Signature", "amount": "2.50", "per": "package"},
        {
            "code": "DV",
            "kind": "declared_value",
            "description": "Declared value",
            "free_up_to": "100.00",
            "increment": "100.00",
            "amount": "1.00",
            "minimum": "2.00",
        },
    ],
    "transit": {
        "days_by_zone": {"1": 1, "2": 2, "3": 3},
        "cutoff": "17:00",
        "timezone": "America/New_York",
        "calendar": {
            "business_days": ["mon", "tue", "wed", "thu", "fri"],
            "holidays": ["2026-07-03", "2026-12-25"],
        },
    },
    "limits": {"max_weight": "30", "max_length": "200", "max_length_plus_girth": "400"},
}

# Tuesday 10 March 2026, 10:00 in New York (EDT, UTC-4): before the 17:00 cut-off.
TUESDAY_10AM = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)


@pytest.fixture
def golden_doc() -> dict[str, Any]:
    return copy.deepcopy(_GOLDEN)


@pytest.fixture
def ship_at() -> datetime:
    return TUESDAY_10AM


@pytest.fixture
def make_spec() -> Callable[..., types.ShipmentSpec]:
    def build(
        weight: str = "1",
        dims: tuple[str, str, str] = ("10", "10", "10"),
        *,
        to: str = "10001",
        country: str = "US",
        residential: bool | None = None,
        options: frozenset[str] = frozenset(),
        declared: str | None = None,
        count: int = 1,
    ) -> types.ShipmentSpec:
        value = money.Money(Decimal(declared), "USD") if declared is not None else None
        parcel = types.Parcel(Decimal(weight), *(Decimal(d) for d in dims), declared_value=value)
        return types.ShipmentSpec(
            origin=types.Address("US", "07102", "Newark"),
            destination=types.Address(country, to, "Somewhere", residential=residential),
            parcels=(parcel,) * count,
            options=options,
        )

    return build
