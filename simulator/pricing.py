"""Deterministic, plausible prices: a base per service plus a rate per billable kilogram."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from schemas import money

CENT = Decimal("0.01")
FUEL_SHARE = Decimal("0.155")


@dataclass(frozen=True)
class Service:
    """A carrier service the simulator quotes."""

    code: str
    name: str
    base: Decimal
    per_kg: Decimal
    transit_days: int


UPS_DOMESTIC_US = (
    Service("03", "UPS Ground", Decimal("9.85"), Decimal("1.10"), 4),
    Service("12", "UPS 3 Day Select", Decimal("14.20"), Decimal("1.90"), 3),
    Service("02", "UPS 2nd Day Air", Decimal("19.75"), Decimal("2.60"), 2),
    Service("13", "UPS Next Day Air Saver", Decimal("31.40"), Decimal("3.90"), 1),
    Service("01", "UPS Next Day Air", Decimal("36.10"), Decimal("4.30"), 1),
)
UPS_DOMESTIC_OTHER = (
    Service("11", "UPS Standard", Decimal("8.90"), Decimal("0.95"), 2),
    Service("65", "UPS Saver", Decimal("17.50"), Decimal("2.10"), 1),
    Service("07", "UPS Express", Decimal("24.30"), Decimal("2.80"), 1),
)
UPS_INTERNATIONAL = (
    Service("11", "UPS Standard", Decimal("21.00"), Decimal("2.40"), 5),
    Service("08", "UPS Worldwide Expedited", Decimal("48.00"), Decimal("6.10"), 4),
    Service("65", "UPS Worldwide Saver", Decimal("61.00"), Decimal("7.70"), 2),
    Service("07", "UPS Worldwide Express", Decimal("68.00"), Decimal("8.20"), 2),
)
DHL_DOMESTIC = (
    Service("N", "EXPRESS DOMESTIC", Decimal("16.90"), Decimal("1.80"), 1),
    Service("1", "EXPRESS DOMESTIC 12:00", Decimal("24.90"), Decimal("2.30"), 1),
)
DHL_INTERNATIONAL = (
    Service("P", "EXPRESS WORLDWIDE", Decimal("52.00"), Decimal("6.90"), 2),
    Service("T", "EXPRESS 12:00", Decimal("64.00"), Decimal("7.80"), 2),
    Service("K", "EXPRESS 9:00", Decimal("79.00"), Decimal("8.90"), 2),
)
FEDEX_DOMESTIC_US = (
    Service("FEDEX_GROUND", "FedEx Ground®", Decimal("10.20"), Decimal("1.05"), 4),
    Service("FEDEX_EXPRESS_SAVER", "FedEx Express Saver®", Decimal("15.10"), Decimal("1.80"), 3),
    Service("FEDEX_2_DAY", "FedEx 2Day®", Decimal("20.40"), Decimal("2.50"), 2),
    Service("STANDARD_OVERNIGHT", "FedEx Standard Overnight®", Decimal("30.90"), Decimal("3.70"), 1),
    Service("PRIORITY_OVERNIGHT", "FedEx Priority Overnight®", Decimal("35.60"), Decimal("4.20"), 1),
)
FEDEX_DOMESTIC_OTHER = (
    Service("FEDEX_REGIONAL_ECONOMY", "FedEx Regional Economy®", Decimal("9.40"), Decimal("0.90"), 2),
    Service("FEDEX_PRIORITY_EXPRESS", "FedEx Priority Express", Decimal("23.80"), Decimal("2.70"), 1),
)
FEDEX_INTERNATIONAL = (
    Service(
        "FEDEX_INTERNATIONAL_CONNECT_PLUS",
        "FedEx International Connect Plus",
        Decimal("22.50"),
        Decimal("2.30"),
        5,
    ),
    Service("INTERNATIONAL_ECONOMY", "FedEx International Economy®", Decimal("46.00"), Decimal("5.90"), 4),
    Service(
        "FEDEX_INTERNATIONAL_PRIORITY", "FedEx International Priority®", Decimal("66.00"), Decimal("8.00"), 2
    ),
)
# USPS domestic mail classes (commercial, single piece, machinable); USPS adds no fuel surcharge on top.
USPS_DOMESTIC = (
    Service("USPS_GROUND_ADVANTAGE", "USPS Ground Advantage", Decimal("4.95"), Decimal("1.05"), 4),
    Service("PRIORITY_MAIL", "Priority Mail", Decimal("6.90"), Decimal("1.80"), 2),
    Service("PRIORITY_MAIL_EXPRESS", "Priority Mail Express", Decimal("24.90"), Decimal("3.90"), 1),
)
DHL_DOCUMENTS = Service("D", "EXPRESS WORLDWIDE", Decimal("44.00"), Decimal("5.20"), 2)

_CURRENCY_BY_COUNTRY = {"US": "USD", "CA": "CAD", "GB": "GBP", "CH": "CHF"}


def currency_for(country: str) -> str:
    """Return the currency a shipper in this country is billed in (EUR when unknown)."""
    return _CURRENCY_BY_COUNTRY.get(country.upper(), "EUR")


def ups_services(origin: str, destination: str) -> tuple[Service, ...]:
    """Return the UPS services offered between two countries."""
    if origin != destination:
        return UPS_INTERNATIONAL
    return UPS_DOMESTIC_US if origin == "US" else UPS_DOMESTIC_OTHER


def fedex_services(origin: str, destination: str) -> tuple[Service, ...]:
    """Return the FedEx services offered between two countries."""
    if origin != destination:
        return FEDEX_INTERNATIONAL
    return FEDEX_DOMESTIC_US if origin == "US" else FEDEX_DOMESTIC_OTHER


def dhl_services(origin: str, destination: str, documents: bool = False) -> tuple[Service, ...]:
    """Return the DHL Express products offered between two countries."""
    if origin == destination:
        return DHL_DOMESTIC
    return (DHL_DOCUMENTS, *DHL_INTERNATIONAL[1:]) if documents else DHL_INTERNATIONAL


def billable_kg(weight_kg: Decimal, dims_cm: tuple[Decimal, Decimal, Decimal] | None) -> Decimal:
    """Return the greater of actual and volumetric weight (divisor 5000), rounded up to 0.5 kg."""
    volumetric = dims_cm[0] * dims_cm[1] * dims_cm[2] / Decimal(5000) if dims_cm else Decimal(0)
    weight = max(weight_kg, volumetric, Decimal("0.5"))
    return (weight * 2).to_integral_value(rounding="ROUND_CEILING") / 2


@dataclass(frozen=True)
class Quote:
    """A priced service: transport, fuel surcharge and total in one currency."""

    service: Service
    currency: str
    transport: Decimal
    fuel: Decimal
    billable_kg: Decimal

    @property
    def total(self) -> Decimal:
        return self.transport + self.fuel


def quote(service: Service, billable: Decimal, currency: str) -> Quote:
    """Price one service for a billable weight, rounded to the currency's minor unit."""
    quantum = Decimal(1).scaleb(-money.exponent(currency))
    transport = (service.base + service.per_kg * billable).quantize(quantum, rounding=ROUND_HALF_UP)
    fuel = (transport * FUEL_SHARE).quantize(quantum, rounding=ROUND_HALF_UP)
    return Quote(service, currency, transport, fuel, billable)
