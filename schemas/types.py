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


@dataclass(frozen=True, slots=True)
class ShipmentSpec:
    """What is to be shipped: enough to rate, allocate and book it."""

    origin: Address
    destination: Address
    parcels: tuple[Parcel, ...]
    reference: str | None = None
    service_level: str | None = None
    options: frozenset[str] = field(default_factory=frozenset)  # e.g. {"signature", "saturday"}
