"""What a FedEx label needs, as data: what ``mapping.ship_request`` refuses and what Ship API documents.

Pure: ``check`` reads only the canonical spec and the service type, so the gateway can ask before buying
and ``mapping.ship_request`` refuses with exactly these problems (the two cannot drift).
"""

from __future__ import annotations

from decimal import Decimal

from adapters import checks
from adapters.base import Requirement
from schemas import types, units

CARRIER = "fedex"
# Shipment-Resource.json Commodity description: at most 450 characters.
ITEM_DESCRIPTION_MAX = 450
MAX_PACKAGES = 999

_NANP = frozenset({"US", "CA", "PR"})
_US = frozenset({"US", "PR"})
# Ground services sold within the US only.
US_ONLY_SERVICES = frozenset({"GROUND_HOME_DELIVERY", "SMART_POST", "FEDEX_GROUND_ECONOMY"})

# FedEx's package limits (Express and Ground): 150 lb, 108 in long, 165 in length plus girth.
_MAX_KG = units.to_kg(Decimal(150), "lb")
_MAX_LENGTH_CM = units.to_cm(Decimal(108), "in")
_MAX_LENGTH_GIRTH_CM = units.to_cm(Decimal(165), "in")


def phone_digits(address: types.Address) -> str:
    """The phone as FedEx gets it: digits, North American numbers without the country code 1, at most 15."""
    number = checks.digits(address.phone)
    if address.country_code.upper() in _NANP and len(number) == 11 and number.startswith("1"):
        number = number[1:]
    return number[:15]


def _party(address: types.Address, role: str) -> list[Requirement]:
    found = checks.name_or_company(address, role, f"{role} needs a name or company for FedEx")
    phone = phone_digits(address)
    if not phone:
        found.append(
            Requirement(f"{role}.phone", checks.REQUIRED, f"{role} needs a phone number for a FedEx label")
        )
    elif address.country_code.upper() in _NANP and len(phone) != 10:
        found.append(
            Requirement(
                f"{role}.phone", checks.INVALID_FORMAT, f"{role} needs a 10-digit North American phone number"
            )
        )
    found += checks.street(address, role, f"{role} needs a street address for a FedEx label")
    return found


def check(spec: types.ShipmentSpec, service: str) -> list[Requirement]:
    """Return every reason FedEx service type ``service`` would refuse a label for ``spec``."""
    found = checks.parcel_count(spec, CARRIER, MAX_PACKAGES)
    found += checks.positive(spec)
    found += checks.weight_limit(spec, _MAX_KG, "150 lb")
    found += checks.size_limit(
        spec,
        length_cm=_MAX_LENGTH_CM,
        length_girth_cm=_MAX_LENGTH_GIRTH_CM,
        text="FedEx takes (108 in long, 165 in length plus girth)",
    )
    found += checks.customs(spec, CARRIER, ITEM_DESCRIPTION_MAX)
    for role, address in checks.parties(spec):
        found += _party(address, role)
    countries = (spec.origin.country_code.upper(), spec.destination.country_code.upper())
    if service.startswith("INTERNATIONAL_") and not checks.international(spec):
        found.append(Requirement("service", checks.ROUTE, f"FedEx {service} is for international shipments"))
    if service in US_ONLY_SERVICES and not set(countries) <= _US:
        found.append(Requirement("service", checks.ROUTE, f"FedEx {service} runs within the US only"))
    return checks.unique(found)
