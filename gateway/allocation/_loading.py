"""Batched reads that day building, plans and online decisions share.

What shipments were quoted (``shipment_rate_results``, else their ``rate_quotes``), their
frozen rates (``shipment_quote_snapshots``), and a depot's active vans as the engine sees them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from allocation import model
from gateway.allocation import fleet, tables
from gateway.rates import tables as rating_tables
from schemas import money


def chunks(ids: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def rates_for(session: Session, shipment_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for chunk in chunks(shipment_ids):
        for row in session.execute(
            sa.select(rating_tables.ShipmentRateResult).where(
                rating_tables.ShipmentRateResult.shipment_id.in_(chunk)
            )
        ).scalars():
            out[row.shipment_id] = list((row.result or {}).get("rates") or [])
    missing = [i for i in shipment_ids if i not in out]
    for chunk in chunks(missing):
        for q in session.execute(
            sa.select(rating_tables.RateQuote)
            .where(rating_tables.RateQuote.shipment_id.in_(chunk))
            .order_by(rating_tables.RateQuote.created_at)
        ).scalars():
            out.setdefault(q.shipment_id or "", []).append(
                {
                    "id": q.id,
                    "carrier": q.carrier,
                    "service_code": q.service_code,
                    "total_cost": {
                        "amount": str(money.Money.from_minor(q.total_cost_minor, q.currency).amount),
                        "currency": q.currency,
                    },
                    "estimated_delivery": q.estimated_delivery.isoformat() if q.estimated_delivery else None,
                    "purchasable": (q.snapshot or {}).get("purchasable", True),
                }
            )
    return out


def snapshots_for(
    session: Session, shipment_ids: Sequence[str]
) -> dict[str, rating_tables.ShipmentQuoteSnapshot]:
    out: dict[str, rating_tables.ShipmentQuoteSnapshot] = {}
    for chunk in chunks(shipment_ids):
        for row in session.execute(
            sa.select(rating_tables.ShipmentQuoteSnapshot).where(
                rating_tables.ShipmentQuoteSnapshot.shipment_id.in_(chunk)
            )
        ).scalars():
            out[row.shipment_id] = row
    return out


def vehicles(session: Session, tenant_id: str, depot: tables.Depot) -> list[model.Vehicle]:
    return [fleet.model_vehicle(v) for v in fleet.list_vehicles(session, tenant_id, depot_id=depot.id)]


def fleet_snapshot(session: Session, tenant_id: str, depot: tables.Depot) -> dict[str, Any]:
    vans = fleet.list_vehicles(session, tenant_id, depot_id=depot.id)
    return {
        "depot": {"id": depot.id, "version": depot.version, "name": depot.name},
        "vehicles": [{"id": v.id, "name": v.name, "version": v.version} for v in vans],
    }
