"""A shipment's rates: the rate shop answer kept at creation, and the selected rate frozen onto it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.accounts import connections as accounts
from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow
from gateway.rates import tables
from gateway.rates.specs import spec_from_shipment, spec_hash
from schemas import money


def select_rate(
    session: Session, tenant_id: str, shipment_id: str, rate_id: str
) -> tuple[models.Shipment, tables.ShipmentQuoteSnapshot]:
    """Freeze a returned rate onto a draft shipment; the same rate again is a no-op."""
    from gateway.shipments import booking as shipments

    shipment = shipments.get_shipment(session, tenant_id, shipment_id)
    existing = session.execute(
        sa.select(tables.ShipmentQuoteSnapshot).where(tables.ShipmentQuoteSnapshot.shipment_id == shipment.id)
    ).scalar_one_or_none()
    if shipment.status == "cancelled":
        raise Problem("shipment-cancelled", f"Shipment {shipment.id} is cancelled; book a new one.")
    if existing is not None and existing.rate_id == rate_id:
        return shipment, existing
    if shipment.status != "draft":
        raise Problem(
            "conflict",
            f"Shipment {shipment.id} is {shipment.status}; its rate is frozen and cannot change.",
        )
    rate = session.execute(
        sa.select(tables.RateQuote).where(
            tables.RateQuote.id == rate_id, tables.RateQuote.tenant_id == tenant_id
        )
    ).scalar_one_or_none()
    if rate is None:
        raise Problem("not-found", f"No rate {rate_id!r}.", errors={"rate_id": ["not found"]})
    if rate.expires_at <= utcnow():
        raise Problem("rate-expired", f"Rate {rate_id} expired at {rate.expires_at.isoformat()}; rate again.")
    if rate.spec_hash != spec_hash(spec_from_shipment(shipment)):
        raise Problem(
            "validation-error",
            "This rate was quoted for different addresses or parcels than this shipment has.",
            errors={"rate_id": ["quoted for another shipment"]},
        )
    if existing is not None:
        # Still a draft: the earlier choice was never booked, so it is replaced, not edited.
        session.delete(existing)
        session.flush()
    snap = rate.snapshot
    snapshot = tables.ShipmentQuoteSnapshot(
        tenant_id=tenant_id,
        shipment_id=shipment.id,
        rate_id=rate.id,
        source=rate.source,
        carrier=rate.carrier,
        service_code=rate.service_code,
        service_name=rate.service_name,
        card_id=rate.card_id,
        card_version=rate.card_version,
        currency=rate.currency,
        lines=list(snap["lines"]),
        total_cost_minor=rate.total_cost_minor,
        total_sell_minor=rate.total_sell_minor,
        estimated_delivery=rate.estimated_delivery,
    )
    session.add(snapshot)
    shipment.carrier = rate.carrier
    shipment.service = rate.service_code
    # A live rate names the adapter that quoted it: a tenant's own account is kept for the label.
    quoted_on = str((snap or {}).get("card_id") or rate.card_id or "")
    shipment.carrier_account_id = (
        accounts.account_of_key(quoted_on.removeprefix("live:")) if quoted_on.startswith("live:") else None
    )
    session.flush()
    return shipment, snapshot


def remember_for_shipment(session: Session, tenant_id: str, shipment_id: str, dumped: dict[str, Any]) -> None:
    """Keep the rate shop answer given at shipment creation, already dumped for the API."""
    session.add(tables.ShipmentRateResult(shipment_id=shipment_id, tenant_id=tenant_id, result=dumped))
    session.flush()


def rates_at_creation(session: Session, shipment_id: str) -> dict[str, Any] | None:
    """Return the dumped rate shop answer given when the shipment was created, if any."""
    row = session.get(tables.ShipmentRateResult, shipment_id)
    return None if row is None else row.result


def present_money(minor: int, currency: str) -> dict[str, Any]:
    """Shape integer minor units as an API money object."""
    value = money.Money.from_minor(minor, currency)
    return {"amount": value.amount, "currency": value.currency}


def present_snapshot(shipment: models.Shipment, s: tables.ShipmentQuoteSnapshot) -> dict[str, Any]:
    """Shape a frozen quote snapshot as the API returns it."""
    return {
        "shipment_id": shipment.id,
        "status": shipment.status,
        "carrier": shipment.carrier,
        "service": shipment.service,
        "rate_id": s.rate_id,
        "source": s.source,
        "service_name": s.service_name,
        "card_id": s.card_id,
        "card_version": s.card_version,
        "currency": s.currency,
        "estimated_delivery": s.estimated_delivery,
        "total_cost": present_money(s.total_cost_minor, s.currency),
        "total_sell": present_money(s.total_sell_minor, s.currency),
        "lines": [
            {
                "code": line["code"],
                "description": line["description"],
                "cost": present_money(line["cost_minor"], s.currency),
                "sell": present_money(line["sell_minor"], s.currency),
            }
            for line in s.lines
        ],
        "selected_at": s.created_at,
    }
