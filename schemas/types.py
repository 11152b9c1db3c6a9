"""Canonical shipment types shared by rating, allocation, adapters and the gateway."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from schemas import money


@dataclass(frozen=True, slots=True)
class Address:
    """A postal address; coordinates are optional and used by the fleet and POD checks."""

    country_code: str  # ISO 3166-1 alpha-2, upper case
    postal_code: str
    city: str
    street_lines: tuple[str, ...] = ()
    state: str | None = None
    name: str | None = None
    company: str | None = None
    phone: str | None = None
    email: str | None = None
    residential: bool | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Parcel:
    """One physical package in canonical units (kg, cm)."""

    weight_kg: Decimal
    length_cm: Decimal
    width_cm: Decimal
    height_cm: Decimal
    declared_value: money.Money | None = None

    @property
    def volume_cm3(self) -> Decimal:
        return self.length_cm * self.width_cm * self.height_cm

    @property
    def sorted_dims(self) -> tuple[Decimal, Decimal, Decimal]:
        """Return dimensions longest first (length, width, height as carriers measure them)."""
        a, b, c = sorted((self.length_cm, self.width_cm, self.height_cm), reverse=True)
        return a, b, c


# Customs declarations (docs/CUSTOMS.md): what a shipment crossing a customs border declares.
CONTENT_TYPES = ("merchandise", "documents", "gift", "sample", "return")
INCOTERMS = ("DAP", "DDP")
TAX_ID_TYPES = ("EIN", "EORI", "VAT", "IOSS")


@dataclass(frozen=True, slots=True)
class TaxId:
    """A party's tax or customs registration: EIN (US), EORI (EU/GB customs), VAT, IOSS (EU import OSS)."""

    type: str
    number: str


@dataclass(frozen=True, slots=True)
class CustomsItem:
    """One line of a customs declaration; ``weight_kg`` is the whole line's net weight (all units)."""

    description: str
    quantity: int
    unit_value: money.Money
    weight_kg: Decimal
    origin_country: str  # ISO 3166-1 alpha-2, where the goods were made
    hs_code: str | None = None  # Harmonized System code, digits only (6 to 10)

    @property
    def value(self) -> money.Money:
        """The line's declared value: unit value times quantity."""
        return self.unit_value * self.quantity


@dataclass(frozen=True, slots=True)
class Customs:
    """A shipment's customs declaration: content type, incoterm, items and the parties' tax ids."""

    content_type: str  # one of CONTENT_TYPES
    incoterm: str  # one of INCOTERMS: DAP (the recipient pays duties) or DDP (the shipper does)
    items: tuple[CustomsItem, ...] = ()
    exporter_tax_ids: tuple[TaxId, ...] = ()
    importer_tax_ids: tuple[TaxId, ...] = ()
    invoice_number: str | None = None

    @property
    def is_documents(self) -> bool:
        return self.content_type == "documents"

    @property
    def currency(self) -> str | None:
        """The items' currency (the first item's; mixed currencies are a validation problem)."""
        return self.items[0].unit_value.currency if self.items else None

    def total_value(self) -> money.Money | None:
        """The declared total, or None without items (raises money.CurrencyError on mixed currencies)."""
        if not self.items:
            return None
        total = self.items[0].value
        for item in self.items[1:]:
            total = total + item.value
        return total


@dataclass(frozen=True, slots=True)
class ShipmentSpec:
    """What is to be shipped: enough to rate, allocate and book it."""

    origin: Address
    destination: Address
    parcels: tuple[Parcel, ...]
    reference: str | None = None
    service_level: str | None = None
    options: frozenset[str] = field(default_factory=frozenset)  # e.g. {"signature", "saturday"}
    # A return label (gateway.returns): origin is the customer sending it back, destination where it
    # goes back to; adapters set their carrier's return fields (UPS ReturnService, FedEx RETURN_SHIPMENT).
    is_return: bool = False
    # The customs declaration (docs/CUSTOMS.md); None when none was given.
    customs: Customs | None = None
