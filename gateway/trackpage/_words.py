"""Plain words for recipients: a headline per milestone, and per exception reason what happened
and what the recipient can do. Keyed by the canonical taxonomy (schemas/taxonomy.py);
tests/integration/test_trackpage.py checks every milestone and reason has its words."""

from __future__ import annotations

from schemas.taxonomy import ExceptionReason as R
from schemas.taxonomy import Milestone as M

HEADLINES: dict[M, str] = {
    M.PENDING: "Your order is being prepared",
    M.INFO_RECEIVED: "The carrier is expecting your parcel",
    M.IN_TRANSIT: "Your parcel is on its way",
    M.OUT_FOR_DELIVERY: "Out for delivery today",
    M.AVAILABLE_FOR_PICKUP: "Ready for you to collect",
    M.ATTEMPT_FAILED: "We tried to deliver your parcel",
    M.DELIVERED: "Delivered",
    M.EXCEPTION: "There is a problem with your delivery",
    M.RETURNING: "Your parcel is going back to the sender",
    M.RETURNED: "Your parcel went back to the sender",
    M.FAILED: "Your parcel cannot be delivered",
    M.CANCELLED: "This shipment was cancelled",
    M.EXPIRED: "No recent news from the carrier",
}

# Timeline lines for events whose detail says nothing more specific.
STEPS: dict[M, str] = {
    M.PENDING: "Shipment registered",
    M.INFO_RECEIVED: "Label created",
    M.IN_TRANSIT: "In transit",
    M.OUT_FOR_DELIVERY: "Out for delivery",
    M.AVAILABLE_FOR_PICKUP: "Ready to collect",
    M.ATTEMPT_FAILED: "Delivery attempted",
    M.DELIVERED: "Delivered",
    M.EXCEPTION: "Problem reported",
    M.RETURNING: "Returning to sender",
    M.RETURNED: "Returned to sender",
    M.FAILED: "Cannot be delivered",
    M.CANCELLED: "Cancelled",
    M.EXPIRED: "No news from the carrier",
}

_SENDER = "Contact the sender; they can arrange it with the carrier."
_WAIT = "Nothing to do: the carrier is on it. We will update this page."

# reason -> (what happened, what you can do)
REASONS: dict[R, tuple[str, str]] = {
    R.ADDRESS_ISSUE: ("The address looks incomplete or wrong.", "Contact the sender to correct the address."),
    R.RECIPIENT_UNAVAILABLE: (
        "Nobody was available to receive the parcel.",
        "Be available for the next attempt, or follow the carrier's card to rearrange delivery.",
    ),
    R.BUSINESS_CLOSED: (
        "The business at the address was closed.",
        "Make sure someone can receive the parcel during opening hours.",
    ),
    R.LOCATION_INACCESSIBLE: (
        "The driver could not reach the delivery location.",
        "Check access (gate code, entrance) and tell the sender or the carrier.",
    ),
    R.REFUSED: ("The parcel was refused at delivery.", "If this was a mistake, contact the sender."),
    R.RECIPIENT_MOVED: ("The recipient no longer lives at the address.", _SENDER),
    R.RECIPIENT_DECEASED: ("The parcel could not be handed to the addressee.", _SENDER),
    R.PAYMENT_REQUIRED: (
        "A payment is due before delivery.",
        "Pay the amount the carrier asks for; the parcel then continues.",
    ),
    R.ID_VERIFICATION_FAILED: (
        "The recipient's identity or age could not be checked.",
        "Have a valid photo ID ready for the next attempt or at collection.",
    ),
    R.UNCLAIMED_AT_PICKUP: (
        "The parcel was not collected in time.",
        "Contact the sender: it may be on its way back to them.",
    ),
    R.CUSTOMS_HOLD: ("Customs are checking the parcel.", "Nothing to do yet; customs may contact you."),
    R.CUSTOMS_DOCUMENTS: ("Customs need documents from the sender.", "Contact the sender if it takes long."),
    R.DUTIES_UNPAID: (
        "Import duties or taxes are due.",
        "Pay them as the carrier asks; the parcel is released once paid.",
    ),
    R.DENIED_PARTY: ("The shipment is held for a compliance check.", _SENDER),
    R.REJECTED_BY_CARRIER: ("The carrier could not accept the parcel.", _SENDER),
    R.PACKAGING_ISSUE: ("There is a problem with the packaging.", _SENDER),
    R.SHIPPER_NOT_READY: (
        "The parcel was not ready for collection.",
        "Nothing to do: the sender handles it.",
    ),
    R.CARRIER_PICKUP_FAILED: (
        "The carrier's collection did not happen.",
        "Nothing to do: the sender handles it.",
    ),
    R.DAMAGED: ("The parcel was damaged on the way.", "Contact the sender about a replacement or refund."),
    R.LOST: ("The carrier has lost the parcel.", "Contact the sender about a replacement or refund."),
    R.DISPOSED: ("The parcel was disposed of.", "Contact the sender about a replacement or refund."),
    R.MISSORTED: ("The parcel went the wrong way.", _WAIT),
    R.CARRIER_DELAY: ("The carrier is running late.", _WAIT),
    R.WEATHER_DELAY: ("Bad weather is delaying deliveries.", _WAIT),
    R.EXTERNAL_DELAY: ("Something outside the carrier's control is delaying the parcel.", _WAIT),
    R.HELD_BY_CARRIER: ("The carrier is holding the parcel for processing.", _WAIT),
    R.SECURITY_HOLD: ("The parcel is held for a security check.", _WAIT),
    R.UNDER_INVESTIGATION: ("The carrier is looking for the parcel.", _WAIT),
    R.DELIVERY_RESCHEDULED: ("Delivery moved to another day.", "Nothing to do; check the new date here."),
    R.UNDELIVERABLE: ("The parcel could not be delivered.", _SENDER),
    R.VOIDED: ("The shipment was cancelled.", "Contact the sender if you still expect it."),
    R.NO_UPDATES: ("The carrier has not sent news for a while.", "Contact the sender if you are worried."),
    R.POD_SUSPICIOUS: (
        "The delivery is being checked.",
        "If you did not receive the parcel, contact the sender.",
    ),
}
