"""A shipment as a manifest lists it: what the document prints, copied when it joins the manifest."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gateway.kernel import models
from gateway.manifests.tables import ManifestShipment
from schemas import units

_PLACES = Decimal("0.0001")


def weight(shipment: models.Shipment) -> tuple[Decimal | None, str | None]:
    """The shipment's total weight: in its parcels' unit when they share one, else in kg."""
    parcels = list(shipment.parcels)
    if not parcels:
        return None, None
    unit = parcels[0].weight_unit
    if all(p.weight_unit == unit for p in parcels):
        return sum((p.weight for p in parcels), start=Decimal(0)).quantize(_PLACES), unit
    total = sum((units.to_kg(p.weight, p.weight_unit) for p in parcels), start=Decimal(0))
    return total.quantize(_PLACES), "kg"


def member(
    tenant_id: str,
    manifest_id: str,
    position: int,
    shipment: models.Shipment,
    *,
    tracking_number: str | None,
    service: str | None,
    cost_minor: int | None,
    currency: str | None,
    stop: dict[str, Any] | None = None,
) -> ManifestShipment:
    value, unit = weight(shipment)
    destination = shipment.destination
    return ManifestShipment(
        shipment_id=shipment.id,
        manifest_id=manifest_id,
        tenant_id=tenant_id,
        position=position,
        tracking_number=tracking_number,
        reference=shipment.reference,
        service=service,
        city=destination.city,
        postal_code=destination.postal_code or "",
        country_code=destination.country_code,
        weight=value,
        weight_unit=unit,
        cost_minor=cost_minor,
        currency=currency,
        stop=stop,
    )


def totals(members: list[ManifestShipment]) -> dict[str, Any]:
    """Count, weight per unit and cost per currency (minor units), as stored on the manifest."""
    weights: dict[str, Decimal] = {}
    costs: dict[str, int] = {}
    for m in members:
        if m.weight is not None and m.weight_unit:
            weights[m.weight_unit] = weights.get(m.weight_unit, Decimal(0)) + Decimal(m.weight)
        if m.cost_minor is not None and m.currency:
            costs[m.currency] = costs.get(m.currency, 0) + m.cost_minor
    return {
        "count": len(members),
        "weight": [
            {"value": format(v.quantize(_PLACES).normalize(), "f"), "unit": u}
            for u, v in sorted(weights.items())
        ],
        "cost": [{"amount_minor": v, "currency": c} for c, v in sorted(costs.items())],
    }
