"""The automatic actions of a playbook entry, run when an exception opens, and the ones ops take by hand.

Each action is recorded on the exception with its outcome, including when it could not be done:

- ``notify_recipient``: a ``recipient.notify`` webhook to the platform, which tells its customer (the
  gateway holds no customer contact channel of its own); "no endpoint" when none listens.
- ``move_to_partner``: an own-fleet parcel is tagged ``move_to_partner``; the next allocation day
  gives it to a partner (``allocation.rules.MOVED_TO_PARTNER``, built into every active rule set,
  forbids the fleet for it). Other carriers' parcels: not applicable.
- ``return_to_sender``: an own-fleet parcel gets a manual ``returning`` event on its timeline (the
  platform hears it as ``tracking.updated``; the van brings it back to the depot) and the
  ``return_to_sender`` tag, so no later allocation plans it for delivery
  (``gateway.allocation.day_input``). A carrier's parcel: ``manual``, as below.
- ``request_reattempt``, ``hold_at_location``, ``open_claim`` (and ``return_to_sender`` for a carrier's
  parcel): none of the carrier APIs Handoff speaks offers these operations for a parcel already moving
  (see docs/EXCEPTIONS.md), so the action is recorded as ``manual`` with what to do at the carrier, and
  the exception stays with its owner. The carrier's own return scan then moves the timeline.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from allocation import rules as allocation_rules
from gateway import webhooks
from gateway.exceptions import playbooks, store
from gateway.exceptions.tables import ShipmentException
from gateway.kernel import models
from gateway.tracking import ingest
from schemas import events, taxonomy

FLEET = "fleet"
PARTNER_TAG = allocation_rules.MOVE_TO_PARTNER_TAG
RETURN_TAG = allocation_rules.RETURN_TO_SENDER_TAG  # on its way back: no allocation plans it again
RETURN_CODE = "return_to_sender"  # the raw code of the manual ``returning`` event the action stores
_MESSAGES = {
    playbooks.AT_RISK: "Your parcel may arrive later than promised; we are on it.",
    "recipient_unavailable": "We missed you; the carrier will try again or leave a notice.",
    "business_closed": "The business was closed when the carrier came; it will try again.",
    "address_issue": "We need a correction to your address to deliver your parcel.",
    "payment_required": "A payment is due before your parcel can be delivered.",
    "duties_unpaid": "Duties or taxes are due before your parcel can be delivered.",
    "unclaimed_at_pickup": "Your parcel is waiting for you at the pickup point.",
}
_MANUAL = {
    "request_reattempt": "ask the carrier for another delivery attempt",
    "hold_at_location": "ask the carrier to hold the parcel at a location",
    "open_claim": "file a claim with the carrier for the parcel",
    "return_to_sender": "ask the carrier to return the parcel to the sender",
}


def _tag(shipment: models.Shipment, tag: str) -> None:
    meta = dict(shipment.metadata_ or {})
    tags = [t.strip() for t in str(meta.get("tags", "")).split(",") if t.strip()]
    if tag not in tags:
        tags.append(tag)
    meta["tags"] = ",".join(tags)
    shipment.metadata_ = meta


def _return_fleet_parcel(
    session: Session, shipment: models.Shipment, exc: ShipmentException, by: str, now: datetime, note: str
) -> tuple[str, str]:
    """Send an own-fleet parcel back: a manual ``returning`` event, and the tag that keeps it off plans."""
    _tag(shipment, RETURN_TAG)
    if not shipment.tracking_number:
        return "done", "no later allocation plans it; it has no tracking number, so no event was added"
    try:
        reason: taxonomy.ExceptionReason | None = taxonomy.ExceptionReason(exc.reason)
    except ValueError:  # at_risk and other playbook-only reasons are not carrier reasons
        reason = taxonomy.ExceptionReason.UNDELIVERABLE
    ingest.ingest(
        session,
        [
            events.CanonicalEvent(
                tracking_number=shipment.tracking_number,
                carrier=FLEET,
                occurred_at=now,
                raw_code=RETURN_CODE,
                raw_subcode=exc.id,
                raw_message=f"return to sender by {by}" + (f": {note}" if note else ""),
                milestone=taxonomy.Milestone.RETURNING,
                detail="return_requested",
                reason=reason,
                source=events.EventSource.MANUAL,
                source_event_id=f"{RETURN_CODE}:{exc.id}",
            )
        ],
    )
    return "done", "the parcel is returning to the depot; no later allocation plans it"


def run(session: Session, exc: ShipmentException, book: playbooks.Playbook, now: datetime) -> None:
    """Run the automatic actions of the entry that opened ``exc``."""
    entry = book.entry_for(exc.reason, exc.milestone)
    for action in entry.actions:
        take(session, exc, action, "system", now)


def take(
    session: Session, exc: ShipmentException, action: str, by: str, now: datetime, note: str = ""
) -> str:
    """Take one action on an exception and record it; return its outcome."""
    shipment = session.get(models.Shipment, exc.shipment_id)
    assert shipment is not None  # the exception's foreign key
    if action == "notify_recipient":
        message = note or _MESSAGES.get(exc.reason, "There is news about your parcel.")
        sent = webhooks.emit(
            session,
            exc.tenant_id,
            "recipient.notify",
            {
                "shipment_id": exc.shipment_id,
                "exception_id": exc.id,
                "reference": shipment.reference,
                "reason": exc.reason,
                "message": message,
            },
            occurred_at=now,
        )
        outcome, detail = (
            ("sent", message) if sent else ("no endpoint", "no webhook endpoint listens for recipient.notify")
        )
    elif action == "move_to_partner":
        if (shipment.carrier or "") != FLEET:
            outcome, detail = (
                "not applicable",
                f"the parcel is with {shipment.carrier or 'no carrier'}, not the fleet",
            )
        else:
            _tag(shipment, PARTNER_TAG)
            outcome, detail = "done", "the next allocation gives it to a partner"
    elif action == "return_to_sender" and (shipment.carrier or "") == FLEET:
        outcome, detail = _return_fleet_parcel(session, shipment, exc, by, now, note)
    elif action in _MANUAL:
        outcome, detail = "manual", f"{_MANUAL[action]}: its API offers no such operation"
    elif action == "note":
        outcome, detail = "done", note
    else:
        raise ValueError(f"unknown action {action!r}")
    store.record(exc, now, action, by, outcome, detail)
    return outcome
