"""Editing and cancelling a shipment before its label is bought (``PATCH``/``DELETE /v1/shipments/{id}``).

A shipment is edited only while it is ``draft`` or ``failed`` (no label bought or being bought),
and only at the version the caller names in ``If-Match`` (its ETag, ``W/"<version>"``): two
editors cannot overwrite each other's change unseen. The patch is merged into the shipment as
booked (addresses member by member, anything else replaced whole), the result is validated by
the very schema that validates a booking (``ShipmentCreateSchema``), and the shipment is rated
again as booking rates it (``book.quote``): the rate chosen earlier no longer applies and is
cleared. The version goes up by one.

Cancelling keeps the shipment (status ``cancelled``, ``cancelled_at``; never deleted): it can no
longer be edited, rated or labelled. Cancelling again answers the same. After a purchase, the
label is voided instead (``POST /v1/shipments/{id}/void``).

Both work in the caller's transaction (flush, never commit), with a conditional UPDATE on the
version and status, so a concurrent edit, cancel or label request cannot slip in between.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from gateway.customs import declaration
from gateway.kernel import models
from gateway.kernel.container import Container
from gateway.kernel.errors import Problem
from gateway.kernel.types import rowcount, utcnow
from gateway.rates import tables as rate_tables
from gateway.shipments import book, booking
from gateway.shipments import schemas as schema
from schemas import money

# No label bought and none being bought: the booking may still change or be called off.
EDITABLE = ("draft", "failed")
IN_FLIGHT = ("label_requested", "purchasing", "needs_review")
BOUGHT = ("purchased", "voided")
CANCELLED = "cancelled"

_ENTITY_TAG = re.compile(r'\s*(?:W/)?"([^"]*)"\s*')


def etag(shipment: models.Shipment) -> str:
    """The shipment's entity tag: weak, its version (a change the caller makes changes it)."""
    return f'W/"{shipment.version}"'


def _matches(if_match: str, shipment: models.Shipment) -> bool:
    """Whether an If-Match value names the shipment's current version (``*`` names any).

    Tags compare by their opaque value, weak or not: the version is what is compared. A value
    that is not a list of entity tags matches nothing.
    """
    if if_match.strip() == "*":
        return True
    current = str(shipment.version)
    for part in if_match.split(","):
        found = _ENTITY_TAG.fullmatch(part)
        if found and found.group(1) == current:
            return True
    return False


def _check_precondition(shipment: models.Shipment, if_match: str | None, *, required: bool) -> None:
    if if_match is None:
        if required:
            raise Problem(
                "precondition-required",
                f"Send If-Match: {etag(shipment)} (the ETag of GET /v1/shipments/{shipment.id}) so "
                "that an edit cannot overwrite a change you have not seen.",
                extra={"shipment_status": shipment.status},
            )
        return
    if not _matches(if_match, shipment):
        raise Problem(
            "precondition-failed",
            f"Shipment {shipment.id} is at version {shipment.version} ({etag(shipment)}), not the one "
            "If-Match names; read it again and apply your change to what it is now.",
            headers={"ETag": etag(shipment)},
            extra={"shipment_status": shipment.status},
        )


def refusal(shipment: models.Shipment, action: str) -> Problem | None:
    """Why this shipment cannot be edited or cancelled (``action``) now, or None."""
    status = shipment.status
    void = f"POST /v1/shipments/{shipment.id}/void"
    if status == CANCELLED:
        return Problem(
            "shipment-cancelled",
            f"Shipment {shipment.id} was cancelled; it cannot be {action}. Book a new one instead.",
            extra={"shipment_status": status},
        )
    if status in BOUGHT:
        what = "its label was voided" if status == "voided" else f"its label is bought; void it with {void}"
        return Problem(
            "label-already-purchased",
            f"Shipment {shipment.id} is {status}: it cannot be {action}, {what}.",
            extra={"shipment_status": status, "tracking_number": shipment.tracking_number},
        )
    if status in IN_FLIGHT:
        return Problem(
            "label-in-progress",
            f"Shipment {shipment.id} is {status}: its label purchase is under way or awaits review, so it "
            f"cannot be {action}. Once bought, void it with {void}.",
            extra={"shipment_status": status},
        )
    if status not in EDITABLE:
        return Problem(
            "conflict",
            f"Shipment {shipment.id} is {status}; it cannot be {action}.",
            extra={"shipment_status": status},
        )
    return None


def address_body(a: models.Address) -> dict[str, Any]:
    """A stored address as a validated booking address (as the API shows it, as a booking takes it)."""
    return {
        "name": a.name,
        "company": a.company,
        "street_lines": [line for line in (a.street1, a.street2, a.street3) if line],
        "city": a.city,
        "state": a.state,
        "postal_code": a.postal_code,
        "country_code": a.country_code,
        "phone": a.phone,
        "email": a.email,
        "residential": a.residential,
        "latitude": a.latitude,
        "longitude": a.longitude,
    }


def parcel_body(p: models.Parcel) -> dict[str, Any]:
    """A stored parcel as a validated booking parcel."""
    declared = None
    if p.declared_value_minor is not None and p.declared_value_currency:
        value = money.Money.from_minor(p.declared_value_minor, p.declared_value_currency)
        declared = {"amount": value.amount, "currency": value.currency}
    return {
        "weight": {"value": p.weight, "unit": p.weight_unit},
        "dimensions": {"length": p.length, "width": p.width, "height": p.height, "unit": p.dimension_unit},
        "declared_value": declared,
    }


def booking_body(shipment: models.Shipment) -> dict[str, Any]:
    """The shipment as a booking body (JSON-shaped, as ``POST /v1/shipments`` would be sent it)."""
    dumped: dict[str, Any] = schema.ShipmentCreateSchema().dump(
        {
            "reference": shipment.reference,
            "origin": address_body(shipment.origin),
            "destination": address_body(shipment.destination),
            "parcels": [parcel_body(p) for p in shipment.parcels],
            "service_level": shipment.service_level,
            "promise_date": shipment.promise_date,
            "customs": declaration.body(shipment.customs),
            "metadata": dict(shipment.metadata_ or {}),
        }
    )
    return dumped


def merge(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Apply a patch (JSON-shaped): addresses merge member by member, any other field is replaced."""
    merged = dict(current)
    for key, value in patch.items():
        if key in ("origin", "destination") and isinstance(value, dict):
            merged[key] = {**current.get(key, {}), **value}
        else:
            merged[key] = value
    return merged


def _flatten(messages: Any, path: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as the dotted paths every 422 uses (``parcels.0.weight.value``)."""
    if isinstance(messages, dict):
        flat: dict[str, list[str]] = {}
        for key, inner in messages.items():
            flat.update(_flatten(inner, f"{path}.{key}" if path else str(key)))
        return flat
    return {path or "_schema": [str(m) for m in messages] if isinstance(messages, list) else [str(messages)]}


def validated(shipment: models.Shipment, patch: dict[str, Any]) -> dict[str, Any]:
    """The patched booking body, validated exactly as booking validates one (422 naming the fields)."""
    body = merge(booking_body(shipment), schema.ShipmentPatchSchema().dump(patch))
    try:
        data: dict[str, Any] = schema.ShipmentCreateSchema().load(body)
    except ValidationError as exc:
        raise Problem(
            "validation-error",
            "The shipment, once patched, has invalid fields; see errors.",
            errors=_flatten(exc.messages),
        ) from exc
    return data


def _claim(session: Session, shipment: models.Shipment, **values: Any) -> bool:
    """Move the shipment to its next version if it is still at the version and in a state read.

    False when it changed meanwhile (another edit or cancel, or a label request): the shipment
    is then refreshed, for the caller to say why.
    """
    moved = session.execute(
        sa.update(models.Shipment)
        .where(
            models.Shipment.id == shipment.id,
            models.Shipment.tenant_id == shipment.tenant_id,
            models.Shipment.version == shipment.version,
            models.Shipment.status.in_(EDITABLE),
        )
        .values(version=models.Shipment.version + 1, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    session.refresh(shipment)
    return rowcount(moved) == 1


def _changed_meanwhile(shipment: models.Shipment, seen: int, action: str) -> Problem:
    problem = refusal(shipment, action)
    if problem is not None:
        return problem
    return Problem(
        "precondition-failed",
        f"Shipment {shipment.id} changed meanwhile (version {seen} is now {shipment.version}); read it "
        "again and apply your change to what it is now.",
        headers={"ETag": etag(shipment)},
        extra={"shipment_status": shipment.status},
    )


def _set_address(row: models.Address, data: dict[str, Any]) -> None:
    fresh = booking.address_row(row.tenant_id, data)
    for column in models.Address.__table__.columns:
        if column.key not in ("id", "tenant_id"):
            setattr(row, column.key, getattr(fresh, column.key))


def _clear_rates(session: Session, shipment: models.Shipment) -> None:
    """Forget the rates of the earlier version: the chosen one (never booked) and the shop answer."""
    for table in (rate_tables.ShipmentQuoteSnapshot, rate_tables.ShipmentRateResult):
        session.execute(sa.delete(table).where(table.shipment_id == shipment.id))
    shipment.carrier = None
    shipment.service = None
    session.flush()


def edit(
    session: Session,
    tenant_id: str,
    shipment_id: str,
    patch: dict[str, Any],
    *,
    if_match: str | None,
    container: Container,
) -> book.Booking:
    """Apply a validated ``ShipmentPatchSchema`` body to a draft at the version If-Match names.

    404 for another tenant's id; 428 without If-Match, 412 when stale; 409 once a label is
    requested, bought or voided, or the shipment is cancelled; 422 when the patched shipment
    is not a valid booking. A ``failed`` shipment becomes a ``draft`` again.
    """
    shipment = booking.get_shipment(session, tenant_id, shipment_id)
    _check_precondition(shipment, if_match, required=True)
    problem = refusal(shipment, "edited")
    if problem is not None:
        raise problem
    data = validated(shipment, patch)
    seen = shipment.version
    if not _claim(session, shipment, status="draft"):
        raise _changed_meanwhile(shipment, seen, "edited")
    shipment.reference = data["reference"]
    shipment.service_level = data.get("service_level")
    shipment.promise_date = data.get("promise_date")
    shipment.metadata_ = data.get("metadata") or {}
    shipment.customs = declaration.stored(data.get("customs"))
    _set_address(shipment.origin, data["origin"])
    _set_address(shipment.destination, data["destination"])
    shipment.parcels = [booking.parcel_row(i, p) for i, p in enumerate(data["parcels"])]
    session.flush()
    _clear_rates(session, shipment)
    return book.quote(session, tenant_id, shipment, data, container=container)


def cancel(session: Session, tenant_id: str, shipment_id: str, *, if_match: str | None) -> book.Booking:
    """Cancel a draft (kept, status ``cancelled``); an already cancelled one answers as it is.

    If-Match is optional; when sent, it must name the current version (412), except that a
    shipment already cancelled answers the same whatever it names (a retried cancel succeeds).
    409 once a label is requested, bought or voided (void it instead).
    """
    shipment = booking.get_shipment(session, tenant_id, shipment_id)
    if shipment.status != CANCELLED:
        _check_precondition(shipment, if_match, required=False)
        problem = refusal(shipment, "cancelled")
        if problem is not None:
            raise problem
        seen = shipment.version
        claimed = _claim(session, shipment, status=CANCELLED, cancelled_at=utcnow())
        if not claimed and shipment.status != CANCELLED:  # a concurrent cancel answers this one too
            raise _changed_meanwhile(shipment, seen, "cancelled")
    return book.get_booking(session, tenant_id, shipment.id)
