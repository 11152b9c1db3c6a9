"""Shipment specs for rating: the canonical spec (kg, cm) of a request body or a stored shipment, and its hash.

The hash covers what determines a price (addresses and normalised parcels), so a stored rate can
be checked against the shipment it is selected for.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from gateway.customs import declaration
from gateway.kernel import models
from schemas import money, types, units


def _address(data: dict[str, Any]) -> types.Address:
    return types.Address(
        country_code=data["country_code"],
        postal_code=(data.get("postal_code") or "").strip(),
        city=data["city"],
        street_lines=tuple(data.get("street_lines") or ()),
        state=data.get("state"),
        residential=data.get("residential"),
        latitude=_dec(data.get("latitude")),
        longitude=_dec(data.get("longitude")),
    )


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def spec_from_body(data: dict[str, Any]) -> types.ShipmentSpec:
    """Build the canonical shipment spec (kg, cm) from a validated request body."""
    parcels = []
    for p in data["parcels"]:
        dims = p["dimensions"]
        declared = p.get("declared_value")
        parcels.append(
            types.Parcel(
                weight_kg=units.to_kg(Decimal(p["weight"]["value"]), p["weight"]["unit"]),
                length_cm=units.to_cm(Decimal(dims["length"]), dims["unit"]),
                width_cm=units.to_cm(Decimal(dims["width"]), dims["unit"]),
                height_cm=units.to_cm(Decimal(dims["height"]), dims["unit"]),
                declared_value=money.Money(Decimal(declared["amount"]), declared["currency"])
                if declared
                else None,
            )
        )
    return types.ShipmentSpec(
        origin=_address(data["origin"]),
        destination=_address(data["destination"]),
        parcels=tuple(parcels),
        reference=data.get("reference"),
        service_level=data.get("service_level"),
        customs=declaration.canonical(data.get("customs")),
    )


def _row_address(a: models.Address) -> dict[str, Any]:
    return {
        "country_code": a.country_code,
        "postal_code": a.postal_code,
        "city": a.city,
        "street_lines": [x for x in (a.street1, a.street2, a.street3) if x],
        "state": a.state,
        "residential": a.residential,
        "latitude": a.latitude,
        "longitude": a.longitude,
    }


def spec_from_shipment(s: models.Shipment) -> types.ShipmentSpec:
    """Build the canonical shipment spec of a stored shipment."""
    parcels = []
    for p in s.parcels:
        declared = None
        if p.declared_value_minor is not None and p.declared_value_currency:
            value = money.Money.from_minor(p.declared_value_minor, p.declared_value_currency)
            declared = {"amount": value.amount, "currency": value.currency}
        parcels.append(
            {
                "weight": {"value": p.weight, "unit": p.weight_unit},
                "dimensions": {
                    "length": p.length,
                    "width": p.width,
                    "height": p.height,
                    "unit": p.dimension_unit,
                },
                "declared_value": declared,
            }
        )
    return spec_from_body(
        {
            "origin": _row_address(s.origin),
            "destination": _row_address(s.destination),
            "parcels": parcels,
            "reference": s.reference,
            "service_level": s.service_level,
            "customs": declaration.body(s.customs),
        }
    )


def spec_hash(spec: types.ShipmentSpec) -> str:
    """Hash what determines a price (addresses and normalised parcels), not references."""

    def norm(d: Decimal) -> str:
        return format(d.normalize(), "f")

    def addr(a: types.Address) -> list[Any]:
        coords = [None if c is None else norm(c) for c in (a.latitude, a.longitude)]
        return [a.country_code, a.postal_code, a.city, a.residential, *coords]

    parcels = [
        [
            norm(p.weight_kg),
            norm(p.length_cm),
            norm(p.width_cm),
            norm(p.height_cm),
            None if p.declared_value is None else [norm(p.declared_value.amount), p.declared_value.currency],
        ]
        for p in spec.parcels
    ]
    raw = json.dumps([addr(spec.origin), addr(spec.destination), parcels, sorted(spec.options)])
    return hashlib.sha256(raw.encode()).hexdigest()
