"""The booking use case: a draft shipment, the rates it can ship at, and its allocation decision.

``book`` is everything ``POST /v1/shipments`` does between parsing the body and rendering the
answer. It works in the caller's transaction: it flushes, never commits, so the shipment, the
rates remembered for it and its allocation decision are committed together with the stored
idempotent response (``idempotency.write_endpoint``), or not at all.

A separate module from ``booking`` (shipment rows, reads, cursors): allocation's decisions read
shipments through ``booking``, and booking a shipment calls those decisions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from gateway.addresses import at_booking
from gateway.allocation import decisions
from gateway.kernel import models
from gateway.kernel.container import Container
from gateway.rates import quotes, selection, specs
from gateway.rates import schemas as rate_schemas
from gateway.shipments import booking


@dataclass(frozen=True)
class Booking:
    """A shipment and the rates it was quoted at creation.

    ``rates`` is the rate shop answer as stored (``RateShopSchema``'s dump: JSON-shaped); None for a
    shipment created without one.
    """

    shipment: models.Shipment
    rates: dict[str, Any] | None


def book(session: Session, tenant_id: str, data: dict[str, Any], *, container: Container) -> Booking:
    """Book a shipment from a validated ``ShipmentCreateSchema`` body.

    Classifies the destination when the operator asks for it (``ADDRESS_CLASSIFY_AT_BOOKING``),
    creates the draft shipment with its addresses and parcels, shops its rates (cards and live
    carriers, within the deadline) and remembers the answer for the shipment, then gives it the
    instant allocation decision when the tenant runs a fleet (which never fails the booking).
    """
    at_booking.classify_destination(container, tenant_id, data)
    shipment = booking.create_shipment(session, tenant_id, data)
    return quote(session, tenant_id, shipment, data, container=container)


def quote(
    session: Session, tenant_id: str, shipment: models.Shipment, data: dict[str, Any], *, container: Container
) -> Booking:
    """Shop a shipment's rates from its validated body, remember them, and decide its allocation.

    What booking does once the shipment exists, and what an edit does again (``editing``).
    """
    outcome = quotes.shop_rates(
        session,
        container,
        tenant_id,
        specs.spec_from_body(data),
        promise_date=data.get("promise_date"),
        shipment_id=shipment.id,
    )
    rates = rate_schemas.RateShopSchema().dump(quotes.present_outcome(outcome))
    selection.remember_for_shipment(session, tenant_id, shipment.id, rates)
    decisions.decide_at_booking(session, tenant_id, shipment)
    return Booking(shipment, rates)


def get_booking(session: Session, tenant_id: str, shipment_id: str) -> Booking:
    """A tenant's shipment with the rates quoted at its creation (another tenant's id is not found)."""
    shipment = booking.get_shipment(session, tenant_id, shipment_id)
    return Booking(shipment, selection.rates_at_creation(session, shipment.id))
