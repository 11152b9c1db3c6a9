"""The return use case: a bought shipment's return, booked and rated as a shipment of its own.

``create_return`` is everything ``POST /v1/shipments/{id}/return`` does between parsing the body and
rendering the answer, in the caller's transaction (it flushes, never commits). The return goes from
the original's destination (the customer) back to its origin, or to the ``return_to`` address given;
it carries the same parcels unless others are given. It is rated like any booking, then the rate of
the return's carrier (the original's unless one is named) is selected, so that ``POST
/v1/shipments/{return id}/label`` buys the print-at-home return label at once.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from gateway.customs import declaration
from gateway.kernel import models
from gateway.kernel.container import Container
from gateway.kernel.errors import Problem
from gateway.rates import quotes, selection, specs
from gateway.rates import schemas as rate_schemas
from gateway.returns import carriers
from gateway.shipments import book, booking, editing


def _return_customs(original: models.Shipment) -> dict[str, Any] | None:
    """The original's customs declaration turned for the way back (None without one).

    The same goods, declared as a ``return``; who exported them imports them now, and the other way
    round; the invoice number is the return's own (its shipment id, by default).
    """
    declared = declaration.body(original.customs)
    if declared is None:
        return None
    return {
        **declared,
        "content_type": "return",
        "exporter_tax_ids": declared["importer_tax_ids"],
        "importer_tax_ids": declared["exporter_tax_ids"],
        "invoice_number": None,
    }


def refusal(original: models.Shipment) -> Problem | None:
    """Why this shipment cannot be returned, or None: only a shipment with a bought label goes back."""
    if original.is_return:
        return Problem(
            "return-not-allowed",
            f"Shipment {original.id} is itself a return; book the next shipment as a new one.",
            extra={"shipment_status": original.status},
        )
    if original.status != "purchased":
        why = {
            "cancelled": "it was cancelled",
            "voided": "its label was voided",
        }.get(original.status, "it has no bought label")
        return Problem(
            "return-not-allowed",
            f"Shipment {original.id} cannot be returned: {why} (status {original.status}).",
            extra={"shipment_status": original.status},
        )
    return None


def _choose_rate(
    rates: dict[str, Any] | None, carrier: str, service: str | None, preferred: str | None
) -> dict[str, Any] | None:
    """The carrier's purchasable rate for ``service`` (else ``preferred``'s, else its cheapest)."""
    offered = [
        r for r in (rates or {}).get("rates", []) if r["carrier"] == carrier and r.get("purchasable", True)
    ]
    if service is not None:
        offered = [r for r in offered if r["service_code"] == service]
    elif preferred is not None:
        offered = [r for r in offered if r["service_code"] == preferred] or offered
    if not offered:
        return None
    return min(offered, key=lambda r: (Decimal(r["total_sell"]["amount"]), r["service_code"]))


def create_return(
    session: Session, tenant_id: str, shipment_id: str, data: dict[str, Any] | None, *, container: Container
) -> book.Booking:
    """Book the return of a tenant's bought shipment: swapped addresses, rated, its carrier's rate selected."""
    data = data or {}
    original = booking.get_shipment(session, tenant_id, shipment_id)
    problem = refusal(original)
    if problem is not None:
        raise problem
    carrier = data.get("carrier") or original.carrier or ""
    if not carriers.supports_returns(carrier, container):
        raise carriers.not_supported(carrier)
    if data.get("qr_code") and not carriers.supports_qr(carrier, container):
        raise Problem(
            "validation-error",
            f"{carrier} return labels come without a QR code here; those of "
            f"{', '.join(carriers.qr_carriers()) or 'no carrier'} can have one.",
            errors={"qr_code": [f"{carrier} gives no QR code"]},
        )
    body: dict[str, Any] = {
        "reference": data.get("reference") or original.reference,
        "origin": editing.address_body(original.destination),
        "destination": data.get("return_to") or editing.address_body(original.origin),
        "parcels": data.get("parcels") or [editing.parcel_body(p) for p in original.parcels],
        "service_level": None,
        "promise_date": None,
        "metadata": data.get("metadata") or {},
        "customs": _return_customs(original),
    }
    shipment = booking.create_shipment(session, tenant_id, body)
    shipment.is_return = True
    shipment.return_of_id = original.id
    shipment.return_qr = bool(data.get("qr_code"))
    session.flush()
    # Rated and remembered as a booking is (``book.quote``), with no allocation decision: a return
    # starts at the customer, so it is no package of the fleet's routes.
    outcome = quotes.shop_rates(
        session, container, tenant_id, specs.spec_from_body(body), shipment_id=shipment.id
    )
    rates = rate_schemas.RateShopSchema().dump(quotes.present_outcome(outcome))
    selection.remember_for_shipment(session, tenant_id, shipment.id, rates)
    booked = book.Booking(shipment, rates)
    service = data.get("service")
    preferred = original.service if carrier == original.carrier else None
    chosen = _choose_rate(booked.rates, carrier, service, preferred)
    if chosen is None:
        if "carrier" in data or service is not None:
            named = f"{carrier} {service}" if service else carrier
            raise Problem(
                "validation-error",
                f"No purchasable {named} rate for this return; the rates it got are: "
                + (
                    ", ".join(sorted({f"{r['carrier']} {r['service_code']}" for r in booked.rates["rates"]}))
                    if booked.rates and booked.rates.get("rates")
                    else "none"
                )
                + ".",
                errors={"service" if service is not None else "carrier": ["no purchasable rate"]},
            )
        # The original's carrier has no rate for the way back: the return stays a draft to choose a rate for.
        return booked
    selection.select_rate(session, tenant_id, shipment.id, chosen["id"])
    session.refresh(shipment)
    return book.Booking(shipment, booked.rates)
