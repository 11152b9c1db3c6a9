"""The canonical tracking taxonomy: milestones, detail codes and exception reasons.

Every carrier event is translated into this one vocabulary (see ``adapters.codes``). The
taxonomy is data: ``describe()`` returns it as plain dicts for the API documentation.
Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

TAXONOMY_VERSION = "1.0"


class Milestone(StrEnum):
    """Where a shipment is in its life, as a platform or an ops user sees it."""

    PENDING = "pending"
    INFO_RECEIVED = "info_received"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    ATTEMPT_FAILED = "attempt_failed"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNING = "returning"
    RETURNED = "returned"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def terminal(self) -> bool:
        """Return whether the shipment's life normally ends here."""
        return self in TERMINAL_MILESTONES

    @property
    def rank(self) -> int:
        """Return the progress rank used so that a status never moves backwards."""
        return MILESTONE_RANK[self]

    @property
    def description(self) -> str:
        """Return a one-line human description."""
        return _MILESTONE_DESCRIPTIONS[self]


TERMINAL_MILESTONES: frozenset[Milestone] = frozenset(
    {Milestone.DELIVERED, Milestone.RETURNED, Milestone.FAILED, Milestone.CANCELLED, Milestone.EXPIRED}
)

# Progress order. EXCEPTION and ATTEMPT_FAILED "float": they can be entered from any
# non-terminal state and left for any state at or after in_transit (see gateway.tracking.timeline).
# Terminal milestones share the top rank so that any of them wins over a non-terminal one.
MILESTONE_RANK: dict[Milestone, int] = {
    Milestone.PENDING: 0,
    Milestone.INFO_RECEIVED: 10,
    Milestone.IN_TRANSIT: 20,
    Milestone.EXCEPTION: 20,
    Milestone.OUT_FOR_DELIVERY: 30,
    Milestone.ATTEMPT_FAILED: 30,
    Milestone.AVAILABLE_FOR_PICKUP: 40,
    Milestone.RETURNING: 50,
    Milestone.DELIVERED: 60,
    Milestone.RETURNED: 60,
    Milestone.FAILED: 60,
    Milestone.CANCELLED: 60,
    Milestone.EXPIRED: 60,
}

FLOATING_MILESTONES: frozenset[Milestone] = frozenset({Milestone.EXCEPTION, Milestone.ATTEMPT_FAILED})

# Which later milestones may leave a terminal state. Anything else needs an explicit correction
# event (detail CORRECTION_DETAIL). EXPIRED is the gateway's own verdict on silence, so any real
# carrier news overrides it.
REOPENED_BY: dict[Milestone, frozenset[Milestone]] = {
    Milestone.DELIVERED: frozenset({Milestone.RETURNING, Milestone.RETURNED}),
    Milestone.RETURNED: frozenset(),
    Milestone.FAILED: frozenset({Milestone.DELIVERED, Milestone.RETURNING, Milestone.RETURNED}),
    Milestone.CANCELLED: frozenset(),
    Milestone.EXPIRED: frozenset(m for m in Milestone if m is not Milestone.EXPIRED),
}

CORRECTION_DETAIL = "status_corrected"

# A reason that reopens a terminal state: a delivery whose proof fails its checks is not a delivery
# anyone should trust until ops has looked at it.
REOPENING_REASONS: dict[Milestone, frozenset[ExceptionReason]] = {}

_MILESTONE_DESCRIPTIONS: dict[Milestone, str] = {
    Milestone.PENDING: "Registered with the gateway; no carrier information yet.",
    Milestone.INFO_RECEIVED: "The carrier has the shipment data but not the parcel.",
    Milestone.IN_TRANSIT: "The carrier has the parcel and it is moving through the network.",
    Milestone.OUT_FOR_DELIVERY: "On the vehicle for final delivery.",
    Milestone.AVAILABLE_FOR_PICKUP: "Waiting for the recipient at a pickup point, locker or counter.",
    Milestone.ATTEMPT_FAILED: "A delivery attempt was made and did not succeed; another may follow.",
    Milestone.DELIVERED: "Handed over to the recipient or left as instructed.",
    Milestone.EXCEPTION: "Something unusual happened; the reason says who must act.",
    Milestone.RETURNING: "On its way back to the sender.",
    Milestone.RETURNED: "Back with the sender.",
    Milestone.FAILED: "Will not be delivered: lost, destroyed or undeliverable.",
    Milestone.CANCELLED: "The label or shipment was voided before it moved.",
    Milestone.EXPIRED: "No carrier information for too long; tracking gave up.",
}


@dataclass(frozen=True, slots=True)
class Detail:
    """A detail code: a finer meaning within one milestone."""

    milestone: Milestone
    code: str
    description: str


def _details(milestone: Milestone, *pairs: tuple[str, str]) -> tuple[Detail, ...]:
    return tuple(Detail(milestone, code, text) for code, text in pairs)


_CORRECTED = (CORRECTION_DETAIL, "The carrier corrected an earlier, wrong status.")

DETAILS: dict[Milestone, tuple[Detail, ...]] = {
    Milestone.PENDING: _details(
        Milestone.PENDING,
        ("tracking_registered", "Tracking number registered; waiting for the carrier's first event."),
        ("not_yet_in_carrier_system", "The carrier does not know the tracking number yet."),
    ),
    Milestone.INFO_RECEIVED: _details(
        Milestone.INFO_RECEIVED,
        ("label_created", "Label created; shipment data sent to the carrier."),
        ("electronic_advice_received", "The carrier confirmed receipt of the shipment data."),
        ("pickup_scheduled", "A carrier pickup is booked."),
        ("awaiting_dropoff", "Waiting for the sender to drop the parcel off."),
    ),
    Milestone.IN_TRANSIT: _details(
        Milestone.IN_TRANSIT,
        ("picked_up", "Collected from the sender."),
        ("dropped_off", "Dropped off by the sender at a carrier location."),
        ("in_transit", "Moving through the network."),
        ("arrived_at_facility", "Arrived at a carrier facility."),
        ("departed_facility", "Departed a carrier facility."),
        ("processed_at_facility", "Processed or sorted at a facility."),
        ("arrived_at_destination_facility", "Arrived at the delivering facility."),
        ("arrived_destination_country", "Arrived in the destination country."),
        ("customs_processing", "In customs clearance."),
        ("customs_cleared", "Released by customs."),
        ("handed_to_partner", "Handed to another carrier or a delivery partner."),
        ("rerouted", "Forwarded or redirected to another address or facility."),
        ("problem_resolved", "An earlier problem was resolved; moving again."),
        ("preparing_for_delivery", "At the delivering facility, preparing for delivery."),
        ("loaded_on_vehicle", "Loaded on a delivery vehicle at the depot."),
        ("returned_to_depot", "Back at the own fleet's depot after a delivery run."),
        _CORRECTED,
    ),
    Milestone.OUT_FOR_DELIVERY: _details(
        Milestone.OUT_FOR_DELIVERY,
        ("out_for_delivery", "On the vehicle for delivery today."),
        ("delivery_scheduled", "A delivery date or window was agreed."),
        ("recipient_contacted", "The carrier contacted the recipient."),
        ("arrived_at_address", "The driver is at the delivery address."),
    ),
    Milestone.AVAILABLE_FOR_PICKUP: _details(
        Milestone.AVAILABLE_FOR_PICKUP,
        ("at_pickup_point", "Waiting at a pickup point or access point."),
        ("at_locker", "Waiting in a parcel locker."),
        ("at_carrier_counter", "Waiting at a carrier counter or post office."),
    ),
    Milestone.ATTEMPT_FAILED: _details(
        Milestone.ATTEMPT_FAILED,
        ("attempt_failed", "Delivery attempted without success."),
        ("notice_left", "Attempted; a notice was left for the recipient."),
        ("redelivery_scheduled", "Attempted; another attempt is scheduled."),
    ),
    Milestone.DELIVERED: _details(
        Milestone.DELIVERED,
        ("delivered", "Delivered."),
        ("signed", "Delivered and signed for."),
        ("picked_up_by_recipient", "Collected by the recipient from a pickup point or counter."),
        ("delivered_to_neighbor", "Delivered to a neighbour."),
        ("delivered_safe_place", "Left in a safe place as instructed."),
        ("delivered_alt_location", "Delivered to an alternative location."),
        ("delivered_to_locker", "Delivered into a locker or PO box."),
        ("delivered_partial", "Part of a multi-piece shipment was delivered."),
        ("delivered_damaged", "Delivered, with damage noted."),
        ("cod_collected", "Delivered and cash on delivery collected."),
    ),
    Milestone.EXCEPTION: _details(
        Milestone.EXCEPTION,
        ("exception", "A problem was reported; the reason says what."),
        ("delayed", "Delayed; still expected to arrive."),
        ("held", "Held by the carrier or an authority."),
        ("action_required", "Held until someone acts (see the reason's party)."),
        ("under_investigation", "The carrier is tracing the parcel."),
        ("proof_flagged", "The proof of delivery failed a plausibility check."),
        _CORRECTED,
    ),
    Milestone.RETURNING: _details(
        Milestone.RETURNING,
        ("return_requested", "A return to the sender was requested or started."),
        ("return_in_transit", "Moving back to the sender."),
    ),
    Milestone.RETURNED: _details(
        Milestone.RETURNED,
        ("returned_to_sender", "Delivered back to the sender."),
    ),
    Milestone.FAILED: _details(
        Milestone.FAILED,
        ("lost", "The carrier declared the parcel lost."),
        ("destroyed", "Destroyed or disposed of."),
        ("undeliverable", "Cannot be delivered or returned."),
    ),
    Milestone.CANCELLED: _details(
        Milestone.CANCELLED,
        ("label_voided", "The label was voided by the sender."),
        ("cancelled_by_carrier", "The carrier cancelled the shipment."),
    ),
    Milestone.EXPIRED: _details(
        Milestone.EXPIRED,
        ("no_updates", "No carrier information within the tracking window."),
    ),
}

_DETAIL_INDEX: dict[tuple[Milestone, str], Detail] = {
    (d.milestone, d.code): d for details in DETAILS.values() for d in details
}


class Party(StrEnum):
    """Who must act to move a shipment out of an exception."""

    SHIPPER = "shipper"
    RECIPIENT = "recipient"
    CARRIER = "carrier"
    CUSTOMS = "customs"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class ReasonInfo:
    """What an exception reason means and who has to do something about it."""

    party: Party
    action_required: bool
    description: str


class ExceptionReason(StrEnum):
    """Why a shipment is in exception, attempt_failed, returning or failed."""

    ADDRESS_ISSUE = "address_issue"
    RECIPIENT_UNAVAILABLE = "recipient_unavailable"
    BUSINESS_CLOSED = "business_closed"
    LOCATION_INACCESSIBLE = "location_inaccessible"
    REFUSED = "refused"
    RECIPIENT_MOVED = "recipient_moved"
    RECIPIENT_DECEASED = "recipient_deceased"
    PAYMENT_REQUIRED = "payment_required"
    ID_VERIFICATION_FAILED = "id_verification_failed"
    UNCLAIMED_AT_PICKUP = "unclaimed_at_pickup"
    CUSTOMS_HOLD = "customs_hold"
    CUSTOMS_DOCUMENTS = "customs_documents"
    DUTIES_UNPAID = "duties_unpaid"
    DENIED_PARTY = "denied_party"
    REJECTED_BY_CARRIER = "rejected_by_carrier"
    PACKAGING_ISSUE = "packaging_issue"
    SHIPPER_NOT_READY = "shipper_not_ready"
    CARRIER_PICKUP_FAILED = "carrier_pickup_failed"
    DAMAGED = "damaged"
    LOST = "lost"
    DISPOSED = "disposed"
    MISSORTED = "missorted"
    CARRIER_DELAY = "carrier_delay"
    WEATHER_DELAY = "weather_delay"
    EXTERNAL_DELAY = "external_delay"
    HELD_BY_CARRIER = "held_by_carrier"
    SECURITY_HOLD = "security_hold"
    UNDER_INVESTIGATION = "under_investigation"
    DELIVERY_RESCHEDULED = "delivery_rescheduled"
    UNDELIVERABLE = "undeliverable"
    VOIDED = "voided"
    NO_UPDATES = "no_updates"
    POD_SUSPICIOUS = "pod_suspicious"

    @property
    def party(self) -> Party:
        """Return the party that must act."""
        return REASONS[self].party

    @property
    def action_required(self) -> bool:
        """Return whether the shipment stays stuck until that party acts."""
        return REASONS[self].action_required

    @property
    def description(self) -> str:
        """Return a one-line human description."""
        return REASONS[self].description


_R = ExceptionReason
_P = Party

REASONS: dict[ExceptionReason, ReasonInfo] = {
    _R.ADDRESS_ISSUE: ReasonInfo(_P.SHIPPER, True, "Address incomplete or wrong; needs a correction."),
    _R.RECIPIENT_UNAVAILABLE: ReasonInfo(_P.RECIPIENT, True, "Nobody available to receive the parcel."),
    _R.BUSINESS_CLOSED: ReasonInfo(_P.RECIPIENT, True, "The receiving business was closed."),
    _R.LOCATION_INACCESSIBLE: ReasonInfo(_P.RECIPIENT, True, "No access to the delivery location."),
    _R.REFUSED: ReasonInfo(_P.SHIPPER, True, "The recipient refused the parcel."),
    _R.RECIPIENT_MOVED: ReasonInfo(_P.SHIPPER, True, "The recipient moved away."),
    _R.RECIPIENT_DECEASED: ReasonInfo(_P.SHIPPER, True, "The addressee is deceased."),
    _R.PAYMENT_REQUIRED: ReasonInfo(_P.RECIPIENT, True, "Held until cash on delivery or a fee is paid."),
    _R.ID_VERIFICATION_FAILED: ReasonInfo(
        _P.RECIPIENT, True, "The recipient could not prove identity or age."
    ),
    _R.UNCLAIMED_AT_PICKUP: ReasonInfo(_P.RECIPIENT, True, "Not collected from the pickup point in time."),
    _R.CUSTOMS_HOLD: ReasonInfo(_P.CUSTOMS, False, "Held by customs for clearance or inspection."),
    _R.CUSTOMS_DOCUMENTS: ReasonInfo(_P.SHIPPER, True, "Customs documents missing or incorrect."),
    _R.DUTIES_UNPAID: ReasonInfo(_P.RECIPIENT, True, "Duties or taxes are unpaid."),
    _R.DENIED_PARTY: ReasonInfo(_P.SHIPPER, True, "A party matched a denied-party screening list."),
    _R.REJECTED_BY_CARRIER: ReasonInfo(_P.SHIPPER, True, "Prohibited or outside the carrier's service."),
    _R.PACKAGING_ISSUE: ReasonInfo(_P.SHIPPER, True, "Packaging, dimensions or contents do not match."),
    _R.SHIPPER_NOT_READY: ReasonInfo(_P.SHIPPER, True, "The parcel was not ready when the carrier came."),
    _R.CARRIER_PICKUP_FAILED: ReasonInfo(_P.SHIPPER, True, "The booked pickup did not happen."),
    _R.DAMAGED: ReasonInfo(_P.SHIPPER, True, "Damaged in transit; a claim may be due."),
    _R.LOST: ReasonInfo(_P.SHIPPER, True, "Lost by the carrier; a claim may be due."),
    _R.DISPOSED: ReasonInfo(_P.SHIPPER, False, "Destroyed or disposed of."),
    _R.MISSORTED: ReasonInfo(_P.CARRIER, False, "Missorted or misrouted; the carrier corrects it."),
    _R.CARRIER_DELAY: ReasonInfo(_P.CARRIER, False, "Delayed by the carrier (capacity, vehicle, flight)."),
    _R.WEATHER_DELAY: ReasonInfo(_P.NONE, False, "Delayed by weather or a natural event."),
    _R.EXTERNAL_DELAY: ReasonInfo(_P.NONE, False, "Delayed by something outside the carrier's control."),
    _R.HELD_BY_CARRIER: ReasonInfo(_P.CARRIER, False, "Held by the carrier pending its own processing."),
    _R.SECURITY_HOLD: ReasonInfo(_P.CARRIER, False, "Held for a security or regulatory inspection."),
    _R.UNDER_INVESTIGATION: ReasonInfo(_P.CARRIER, False, "The carrier is tracing the parcel."),
    _R.DELIVERY_RESCHEDULED: ReasonInfo(_P.NONE, False, "Delivery moved to another day or window."),
    _R.UNDELIVERABLE: ReasonInfo(_P.SHIPPER, True, "Could not be delivered for another reason."),
    _R.VOIDED: ReasonInfo(_P.NONE, False, "Voided or cancelled by the sender or carrier."),
    _R.NO_UPDATES: ReasonInfo(_P.CARRIER, True, "No carrier updates for too long; ask the carrier."),
    _R.POD_SUSPICIOUS: ReasonInfo(_P.CARRIER, True, "The proof of delivery failed a plausibility check."),
}

REOPENING_REASONS[Milestone.DELIVERED] = frozenset({ExceptionReason.POD_SUSPICIOUS})

# Milestones that may carry an exception reason; elsewhere a reason is a mapping error.
REASON_MILESTONES: frozenset[Milestone] = frozenset(
    {
        Milestone.EXCEPTION,
        Milestone.ATTEMPT_FAILED,
        Milestone.RETURNING,
        Milestone.RETURNED,
        Milestone.FAILED,
        Milestone.CANCELLED,
        Milestone.EXPIRED,
        Milestone.DELIVERED,  # delivered_damaged / disputed proof
        Milestone.IN_TRANSIT,  # a delay note on a moving parcel (e.g. missort, customs release late)
    }
)


class TaxonomyError(ValueError):
    """A milestone, detail or reason that the taxonomy does not define."""


def milestone(value: str) -> Milestone:
    """Parse a milestone name, raising TaxonomyError if it is unknown."""
    try:
        return Milestone(value)
    except ValueError:
        raise TaxonomyError(f"unknown milestone {value!r}") from None


def reason(value: str) -> ExceptionReason:
    """Parse an exception reason name, raising TaxonomyError if it is unknown."""
    try:
        return ExceptionReason(value)
    except ValueError:
        raise TaxonomyError(f"unknown exception reason {value!r}") from None


def detail(m: Milestone, code: str) -> Detail:
    """Return the detail ``code`` of milestone ``m``, raising TaxonomyError if it is not defined there."""
    try:
        return _DETAIL_INDEX[(m, code)]
    except KeyError:
        raise TaxonomyError(f"detail {code!r} is not defined for milestone {m.value!r}") from None


def is_detail(m: Milestone, code: str) -> bool:
    """Return whether ``code`` is a detail of milestone ``m``."""
    return (m, code) in _DETAIL_INDEX


def validate(m: Milestone, detail_code: str | None, r: ExceptionReason | None) -> None:
    """Raise TaxonomyError unless the milestone, detail and reason form a valid combination."""
    if detail_code is not None:
        detail(m, detail_code)
    if r is not None and m not in REASON_MILESTONES:
        raise TaxonomyError(f"milestone {m.value!r} cannot carry a reason (got {r.value!r})")


def describe() -> dict[str, Any]:
    """Return the whole taxonomy as JSON-ready plain dicts."""
    return {
        "version": TAXONOMY_VERSION,
        "milestones": [
            {
                "code": m.value,
                "terminal": m.terminal,
                "rank": m.rank,
                "floating": m in FLOATING_MILESTONES,
                "reopened_by": sorted(x.value for x in REOPENED_BY.get(m, frozenset())),
                "reopened_by_reasons": sorted(x.value for x in REOPENING_REASONS.get(m, frozenset())),
                "description": m.description,
                "details": [{"code": d.code, "description": d.description} for d in DETAILS[m]],
            }
            for m in Milestone
        ],
        "reasons": [
            {
                "code": r.value,
                "party": r.party.value,
                "action_required": r.action_required,
                "description": r.description,
            }
            for r in ExceptionReason
        ],
        "parties": [p.value for p in Party],
        "correction_detail": CORRECTION_DETAIL,
        "reason_milestones": sorted(m.value for m in REASON_MILESTONES),
    }
