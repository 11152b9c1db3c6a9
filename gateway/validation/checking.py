"""The use case: build a shipment's canonical spec (with contacts), ask the carrier's check, answer or refuse."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from adapters import base, registry
from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.rates.specs import spec_from_body, spec_from_shipment
from schemas import types


def _with_contacts(address: types.Address, contact: Any) -> types.Address:
    """The address with the party's name, company, phone and email (rating specs leave them out)."""
    get = contact.get if isinstance(contact, Mapping) else lambda key: getattr(contact, key, None)
    return dataclasses.replace(
        address, name=get("name"), company=get("company"), phone=get("phone"), email=get("email")
    )


def label_spec_of_shipment(shipment: models.Shipment) -> types.ShipmentSpec:
    """The spec a label purchase sends for a stored shipment (as ``gateway.labels.purchasing.label_spec``)."""
    spec = spec_from_shipment(shipment)
    return dataclasses.replace(
        spec,
        origin=_with_contacts(spec.origin, shipment.origin),
        destination=_with_contacts(spec.destination, shipment.destination),
        reference=shipment.reference,
        is_return=bool(shipment.is_return),
        # A return asked with a QR code (gateway.returns): the adapter asks its carrier for one.
        options=spec.options | {"return_qr"} if shipment.return_qr else spec.options,
    )


def label_spec_of_body(data: Mapping[str, Any]) -> types.ShipmentSpec:
    """The spec a label purchase would send for a booking body."""
    spec = spec_from_body(dict(data))
    return dataclasses.replace(
        spec,
        origin=_with_contacts(spec.origin, data["origin"]),
        destination=_with_contacts(spec.destination, data["destination"]),
    )


def problems(spec: types.ShipmentSpec, carrier: str, service: str) -> list[base.Requirement]:
    """What the carrier's check reports (a carrier no adapter implements has no rules here: [])."""
    try:
        adapter_class = registry.adapter_class(carrier)
    except registry.RegistryError:
        return []
    return adapter_class.check(spec, service)


def invalid(carrier: str, service: str, found: list[base.Requirement]) -> Problem:
    """The 422 shipment-invalid answer: messages by dotted path, and each problem with its code."""
    errors: dict[str, list[str]] = {}
    for item in found:
        errors.setdefault(item.path, []).append(item.message)
    return Problem(
        "shipment-invalid",
        f"The shipment cannot be shipped with {carrier} {service} as it is: {len(found)} problem(s).",
        errors=errors,
        extra={
            "carrier": carrier,
            "problems": [{"path": p.path, "code": p.code, "message": p.message} for p in found],
        },
    )


def refuse_if_invalid(spec: types.ShipmentSpec, carrier: str, service: str) -> None:
    """Raise the 422 when the carrier's check finds anything."""
    found = problems(spec, carrier, service)
    if found:
        raise invalid(carrier, service, found)


def refuse_label_if_invalid(shipment: models.Shipment) -> None:
    """What a label request runs before queuing: the 422 when the selected service's check finds anything."""
    if shipment.carrier and shipment.service:
        refuse_if_invalid(label_spec_of_shipment(shipment), shipment.carrier, shipment.service)


def _tenant_shipment(session: Session, tenant_id: str, shipment_id: str) -> models.Shipment:
    shipment = session.execute(
        sa.select(models.Shipment).where(
            models.Shipment.id == shipment_id, models.Shipment.tenant_id == tenant_id
        )
    ).scalar_one_or_none()
    if shipment is None:
        raise Problem("not-found", f"No shipment {shipment_id!r}.")
    return shipment


def _known(carrier: str) -> None:
    try:
        registry.adapter_class(carrier)
    except registry.RegistryError as exc:
        raise Problem(
            "validation-error",
            f"No carrier {carrier!r} to check against.",
            errors={"carrier": [f"unknown carrier; known: {', '.join(sorted(registry.available()))}"]},
        ) from exc


def validate_shipment(
    session: Session,
    tenant_id: str,
    shipment_id: str,
    carrier: str | None = None,
    service: str | None = None,
) -> dict[str, Any]:
    """Check a stored shipment against a carrier's service (default: its selected rate's)."""
    shipment = _tenant_shipment(session, tenant_id, shipment_id)
    carrier = carrier or shipment.carrier
    service = service or (shipment.service if carrier == shipment.carrier else None)
    if not carrier or not service:
        raise Problem(
            "shipment-not-rated",
            f"Name a carrier and service, or select a rate for shipment {shipment_id} first.",
        )
    _known(carrier)
    refuse_if_invalid(label_spec_of_shipment(shipment), carrier, service)
    return {"valid": True, "carrier": carrier, "service": service}


def validate_booking(data: Mapping[str, Any]) -> dict[str, Any]:
    """Check a booking body (not stored) against a carrier's service."""
    carrier, service = data["carrier"], data["service"]
    _known(carrier)
    refuse_if_invalid(label_spec_of_body(data), carrier, service)
    return {"valid": True, "carrier": carrier, "service": service}
