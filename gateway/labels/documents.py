"""Label documents: the own fleet's printed label, and a stored label in the asked format."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.allocation.tables import ShipmentAllocation, Vehicle
from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.labels import _lookups, reads, render, storage
from gateway.labels.states import OWN_FLEET
from gateway.labels.tables import Label

if TYPE_CHECKING:
    from gateway.kernel.container import Container

log = logging.getLogger(__name__)


def _address_lines(a: models.Address) -> list[str]:
    place = " ".join(p for p in (a.city, a.state or "", a.postal_code or "") if p)
    lines = [
        a.name or "",
        a.company or "",
        a.street1,
        a.street2 or "",
        a.street3 or "",
        place,
        a.country_code,
    ]
    return [line for line in lines if line]


def fleet_label(shipment: models.Shipment, stop: str = "") -> render.FleetLabel:
    """The printed content of the own fleet's label for a shipment; ``stop`` from ``fleet_stop``."""
    weight = ""
    if shipment.parcels:
        unit = shipment.parcels[0].weight_unit
        if all(p.weight_unit == unit for p in shipment.parcels):
            total = sum((p.weight for p in shipment.parcels), start=type(shipment.parcels[0].weight)(0))
            weight = f"{format(total.normalize(), 'f')} {unit}"
    return render.FleetLabel(
        tracking_number=render.fleet_tracking_number(shipment.id),
        shipment_id=shipment.id,
        reference=shipment.reference,
        service=shipment.service or "",
        ship_from=_address_lines(shipment.origin),
        ship_to=_address_lines(shipment.destination),
        weight=weight,
        parcel_count=len(shipment.parcels),
        date=shipment.created_at.date().isoformat(),
        stop=stop,
    )


def fleet_stop(session: Session, shipment: models.Shipment) -> str:
    """ "STOP n - <VAN NAME>" when an applied plan put the shipment on a van; "" otherwise.

    A fleet label is bought after its plan is applied (apply changes only shipments not yet bought),
    so the stop the label prints is the one the driver's route sheet shows.
    """
    found = session.execute(
        sa.select(ShipmentAllocation.sequence, Vehicle.name)
        .outerjoin(Vehicle, Vehicle.id == ShipmentAllocation.vehicle_id)
        .where(
            ShipmentAllocation.shipment_id == shipment.id,
            ShipmentAllocation.tenant_id == shipment.tenant_id,
            ShipmentAllocation.assignee == OWN_FLEET,
            ShipmentAllocation.sequence.is_not(None),
        )
    ).first()
    if found is None:
        return ""
    sequence, van = found
    return f"STOP {sequence}" + (f" - {van.upper()}" if van else "")


def label_document(
    container: Container, session: Session, tenant_id: str, shipment_id: str, fmt: str | None
) -> tuple[bytes, str, Label]:
    """Return the label's document in the asked format (converted where possible), and that format."""
    label = reads.get_label(session, tenant_id, shipment_id)
    target = (fmt or label.format or "PDF").upper()
    if label.carrier == OWN_FLEET and target != (label.format or "").upper():
        shipment = _lookups.tenant_shipment(session, tenant_id, shipment_id)
        return (
            render.render_fleet(fleet_label(shipment, fleet_stop(session, shipment)), target),
            target,
            label,
        )
    if label.storage_key is None or label.format is None:
        raise Problem(
            "label-document-unavailable",
            f"The label of shipment {shipment_id} ({label.tracking_number}) was confirmed at {label.carrier} by "
            "reference after its answer was lost, so its document was never received; reprint it from the "
            "carrier.",
            extra={"tracking_number": label.tracking_number, "source": label.source},
        )
    if not render.can_convert(label.format, target):
        available = [f.lower() for f in render.FORMATS if render.can_convert(label.format, f)]
        raise Problem(
            "label-format-unavailable",
            f"This label was bought as {label.format}; it cannot be converted to {target}.",
            extra={"available_formats": available},
        )
    try:
        data = _lookups.label_storage(container).get(label.storage_key, label.checksum)
    except storage.ChecksumMismatch:
        log.error("stored label does not match its checksum", extra={"shipment_id": shipment_id})
        raise
    return render.convert(data, label.format, target), target, label
