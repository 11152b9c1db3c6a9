"""What a USPS label needs, as data: everything ``mapping.label_request`` refuses about a shipment.

Pure: ``check`` reads only the canonical spec and the service code (``MAIL_CLASS`` or
``MAIL_CLASS/RATE_INDICATOR/PROCESSING_CATEGORY``), so the gateway can ask before buying and
``mapping.label_request`` refuses with exactly these problems (the two cannot drift).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from adapters import checks
from adapters.base import Requirement
from schemas import types, units

CARRIER = "usps"
CURRENCY = "USD"
DOMESTIC_COUNTRIES = frozenset({"US", "PR", "VI", "GU", "AS", "MP", "FM", "MH", "PW"})
MAX_LABEL_WEIGHT_LB = Decimal(70)

# Length plus girth: 130 in for Ground Advantage and Parcel Select, 108 in for the other mail classes.
_LARGE_CLASSES = frozenset({"USPS_GROUND_ADVANTAGE", "PARCEL_SELECT"})
_MAX_LENGTH_GIRTH_IN = {True: Decimal(130), False: Decimal(108)}


def weight_lb(parcel: types.Parcel) -> Decimal:
    """The weight USPS is sent: pounds rounded up to 0.01 (at least 0.01)."""
    value = units.from_kg(parcel.weight_kg, "lb").quantize(Decimal("0.01"), rounding=ROUND_CEILING)
    return max(value, Decimal("0.01"))


def mail_class(service: str) -> str | None:
    """The mail class of a service code, or None when the code is not of USPS's shape."""
    parts = [p.strip() for p in service.strip().upper().split("/")]
    if not parts[0] or len(parts) > 3 or any(not p for p in parts):
        return None
    return parts[0]


def _party(address: types.Address, role: str) -> list[Requirement]:
    found: list[Requirement] = []
    if address.country_code.upper() not in DOMESTIC_COUNTRIES:
        found.append(
            Requirement(
                f"{role}.country_code",
                checks.ROUTE,
                f"USPS domestic APIs only: {role} is in {address.country_code}",
            )
        )
    found += checks.street(address, role, f"{role} needs a street address")
    if not address.state or len(address.state.strip()) != 2:
        found.append(Requirement(f"{role}.state", checks.REQUIRED, f"{role} needs a 2-letter state"))
    found += checks.name_or_company(address, role, f"{role} needs a name or company for USPS")
    if len(checks.digits(address.postal_code)) not in (5, 9):
        found.append(
            Requirement(
                f"{role}.postal_code", checks.INVALID_FORMAT, f"{role} needs a 5- or 9-digit ZIP Code"
            )
        )
    return found


def check(spec: types.ShipmentSpec, service: str) -> list[Requirement]:
    """Return every reason USPS service ``service`` would refuse a label for ``spec``."""
    found: list[Requirement] = []
    klass = mail_class(service)
    if klass is None:
        found.append(Requirement("service", checks.SERVICE, f"not a USPS service code: {service!r}"))
    if len(spec.parcels) != 1:
        found.append(
            Requirement(
                "parcels",
                checks.REQUIRED if not spec.parcels else checks.TOO_MANY,
                "USPS prices and labels one package per request; split the shipment",
            )
        )
    found += checks.positive(spec)
    for n, parcel in enumerate(spec.parcels):
        if weight_lb(parcel) > MAX_LABEL_WEIGHT_LB:
            found.append(
                Requirement(f"parcels.{n}.weight", checks.OVER_LIMIT, "USPS labels take at most 70 lb")
            )
    limit_in = _MAX_LENGTH_GIRTH_IN[klass in _LARGE_CLASSES]
    found += checks.size_limit(
        spec,
        length_cm=None,
        length_girth_cm=units.to_cm(limit_in, "in"),
        text=f"USPS takes for {klass or 'this service'} ({limit_in} in length plus girth)",
    )
    for n, parcel in enumerate(spec.parcels):
        if parcel.declared_value is not None and parcel.declared_value.currency != CURRENCY:
            found.append(
                Requirement(
                    f"parcels.{n}.declared_value", checks.CURRENCY, "USPS takes declared values in USD"
                )
            )
    for role, address in checks.parties(spec):
        found += _party(address, role)
    return checks.unique(found)
