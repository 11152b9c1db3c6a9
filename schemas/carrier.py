"""Canonical carrier adapter requests and results, shared by every adapter and the gateway.

Adapters translate between these dataclasses and a carrier's own contract; nothing here knows a carrier.

Tracking codes (``RawTrackingEvent.code`` / ``subcode``): an adapter keeps the carrier's own codes
untouched and the tracking table (``adapters.codes.lookup(carrier, code, subcode)``) maps them onto the
taxonomy. Conventions:

* UPS: ``code`` is the activity status *type* (``M``, ``I``, ``X``, ``D``, ``U``, ``MV``, ...) and
  ``subcode`` is the two-character activity status *code* (``MP``, ``OR``, ``OT``, ``FS``, ...). UPS
  reports "out for delivery" as ``I``/``OT`` and sometimes ``D``/``OT``, so the type alone is not enough
  and the pair is kept. UPS's 3-digit ``statusCode``/``descriptionCode`` (e.g. ``021``) goes to
  ``detail_code`` for diagnostics only.
* DHL Express: ``code`` is the checkpoint code (``PU``, ``OK``, ...) and ``subcode`` is ``None``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from schemas import money, types


class LabelFormat(enum.StrEnum):
    """A label image format; each adapter declares the subset it can produce."""

    PDF = "PDF"
    PNG = "PNG"
    GIF = "GIF"
    ZPL = "ZPL"
    EPL = "EPL"
    SPL = "SPL"


@dataclass(frozen=True, slots=True)
class ChargeLine:
    """One itemised charge on a rate or a label (base freight, fuel surcharge, residential, ...)."""

    code: str
    description: str
    amount: money.Money


@dataclass(frozen=True, slots=True)
class RateRequest:
    """Ask a carrier for prices of a shipment; empty ``services`` means every service it offers (shop)."""

    spec: types.ShipmentSpec
    account: str
    services: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RateResult:
    """One priced service offered by a carrier for a shipment."""

    carrier: str
    service_code: str
    service_name: str
    total: money.Money
    charges: tuple[ChargeLine, ...] = ()
    transit_days: int | None = None
    estimated_delivery: date | None = None
    guaranteed: bool = False
    negotiated: bool = False
    # Set when the carrier prices one service several ways in one reply (UPS: with and without service
    # options): ``(service_code, service_options)`` tells the offers apart. None: one offer per service.
    service_options: str | None = None
    # Duties and taxes the carrier estimated for the destination (FedEx totalDutiesAndTaxes), when it did:
    # what the importer (DAP) or the shipper (DDP) pays customs, apart from the shipping price.
    duties_and_taxes: money.Money | None = None


@dataclass(frozen=True, slots=True)
class LabelRequest:
    """Buy a label; ``reference`` is our shipment id, sent to the carrier so a purchase can be found again."""

    spec: types.ShipmentSpec
    account: str
    service_code: str
    reference: str
    label_format: LabelFormat = LabelFormat.PDF

    def __post_init__(self) -> None:
        if not self.reference:
            raise ValueError("LabelRequest.reference (our shipment id) is required")


@dataclass(frozen=True, slots=True)
class ShippingDocument:
    """A document the carrier returned with a label besides the label itself (its commercial invoice...)."""

    kind: str  # "commercial_invoice" (the carrier's own, paperless trade) or the carrier's document name
    data: bytes
    format: str = "PDF"


@dataclass(frozen=True, slots=True)
class LabelResult:
    """A bought label: tracking numbers (one per parcel), the image and what the carrier charged."""

    carrier: str
    carrier_shipment_id: str
    tracking_numbers: tuple[str, ...]
    label: bytes
    label_format: LabelFormat
    charges: money.Money | None = None
    charge_lines: tuple[ChargeLine, ...] = ()
    labels: tuple[bytes, ...] = ()  # one image per parcel when the carrier returns several
    documents: tuple[ShippingDocument, ...] = ()  # other documents the carrier returned (invoice, QR...)


@dataclass(frozen=True, slots=True)
class VoidRequest:
    """Cancel a bought label before it is used."""

    account: str
    carrier_shipment_id: str
    tracking_numbers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VoidResult:
    """The carrier's answer to a void: per tracking number, whether it is now void."""

    carrier: str
    carrier_shipment_id: str
    voided: bool
    voided_tracking_numbers: tuple[str, ...] = ()
    message: str | None = None


@dataclass(frozen=True, slots=True)
class TrackRequest:
    """Ask a carrier for the events of one tracking number."""

    tracking_number: str
    account: str | None = None


@dataclass(frozen=True, slots=True)
class EventLocation:
    """Where a tracking event happened, as precisely as the carrier said."""

    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country_code: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class RawTrackingEvent:
    """One carrier tracking event with the carrier's own codes, not yet mapped onto the taxonomy."""

    carrier: str
    tracking_number: str
    code: str
    subcode: str | None
    description: str
    occurred_at: datetime
    location: EventLocation | None = None
    estimated_delivery: date | None = None
    source_event_id: str | None = None
    detail_code: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    # Carrier extras kept on the canonical event (``CanonicalEvent.attributes``): e.g. ``signatory``,
    # ``status_code`` (UPS's 3-digit code), ``local_time_zone_known`` = ``"false"``.
    attributes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        offset = self.occurred_at.utcoffset()
        if offset is None:
            raise ValueError("RawTrackingEvent.occurred_at must be timezone-aware")
        if offset != timedelta(0):
            raise ValueError("RawTrackingEvent.occurred_at must be in UTC")
        if not self.code:
            raise ValueError("RawTrackingEvent.code is required")


@dataclass(frozen=True, slots=True)
class TrackResult:
    """Every event a carrier knows for one tracking number, oldest first."""

    carrier: str
    tracking_number: str
    events: tuple[RawTrackingEvent, ...]
    estimated_delivery: date | None = None
    # The carrier's warnings about this number (e.g. UPS "Tracking Information Not Found"), as "code: text".
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PushSubscription:
    """A carrier's standing order to push every package of one account to our listener (USPS by MID).

    ``status`` is the carrier's word, lower-cased: "enabled" pushes; "suspended" (the carrier could not
    reach the listener) and "disabled" push nothing until replaced. ``reason`` is the carrier's why.
    """

    id: str
    status: str
    listener_url: str | None = None
    reason: str | None = None

    @property
    def active(self) -> bool:
        return self.status == "enabled"


@dataclass(frozen=True, slots=True)
class ShipmentLookup:
    """What a carrier says about a purchase made under our reference (``found`` False: it never happened)."""

    reference: str
    found: bool
    carrier_shipment_id: str | None = None
    tracking_numbers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PickupRequest:
    """Ask a carrier to collect parcels from an address in a time window."""

    account: str
    address: types.Address
    ready_at: datetime
    close_at: datetime
    parcel_count: int
    tracking_numbers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PickupResult:
    """A booked pickup: the carrier's confirmation number.

    ``details`` are what the carrier needs, beside the confirmation, to cancel it later (FedEx: the
    Express ``location`` that dispatches the courier); they are kept with the pickup and handed back
    to ``Adapter.cancel_pickup``.
    """

    carrier: str
    confirmation: str
    ready_at: datetime | None = None
    details: Mapping[str, str] = field(default_factory=dict)


class AddressClass(enum.StrEnum):
    """What a carrier says an address is: a home, a business, or it does not say."""

    RESIDENTIAL = "residential"
    COMMERCIAL = "commercial"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class AddressValidation:
    """A carrier's reading of one address: its normalised form, class, other candidates and messages.

    ``valid`` is True when the carrier matched a deliverable address, False when it found none,
    None when it did not say.
    """

    carrier: str
    address: types.Address
    classification: AddressClass = AddressClass.UNKNOWN
    valid: bool | None = None
    candidates: tuple[types.Address, ...] = ()
    messages: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DayCloseRequest:
    """Close one day of one account with the carrier: its end-of-day manifest.

    ``tracking_numbers`` are the day's labels to list; ``origin`` is where they leave from (the first
    shipment's origin), for carriers whose form names it.
    """

    day: date
    tracking_numbers: tuple[str, ...] = ()
    origin: types.Address | None = None


@dataclass(frozen=True, slots=True)
class DayClose:
    """What the carrier's close answered: its own reference, its alerts and its document (a PDF), if any."""

    reference: str | None = None
    alerts: tuple[str, ...] = ()
    document: bytes | None = None
    document_type: str | None = None
