"""What a UPS label needs, as data: what ``mapping.ship_request`` refuses and what Shipping.yaml requires.

Pure: ``check`` reads only the canonical spec and the service code, so the gateway can ask before buying
and ``mapping.ship_request`` refuses with exactly these problems (the two cannot drift).
"""

from __future__ import annotations

import re
from decimal import Decimal

from adapters import checks
from adapters.base import Requirement
from schemas import types, units

CARRIER = "ups"
# Shipping.yaml InternationalForms Product Description: 35 characters a line (we send one line).
ITEM_DESCRIPTION_MAX = 35
MAX_PACKAGES = 200

# Services sold within the US (and Puerto Rico) only.
US_DOMESTIC_SERVICES = frozenset({"01", "02", "03", "12", "13", "14", "59", "93"})
_US = frozenset({"US", "PR"})
NEXT_DAY_AIR_EARLY = "14"
# Shipping.yaml: StateProvinceCode "Required for US, Canada, and Vietnam".
_STATE_REQUIRED = frozenset({"US", "CA", "VN"})
_CA_POSTAL = re.compile(r"[A-Z]\d[A-Z]\d[A-Z]\d")

# UPS's package limits: 150 lb / 70 kg, 108 in / 274 cm long, 165 in / 400 cm length plus girth.
_MAX_LB = units.to_kg(Decimal(150), "lb")
_MAX_KG = Decimal(70)
_MAX_LENGTH_CM = Decimal(274)
_MAX_LENGTH_GIRTH_IN_CM = units.to_cm(Decimal(165), "in")
_MAX_LENGTH_GIRTH_CM = Decimal(400)


def _postal(address: types.Address, role: str) -> list[Requirement]:
    country = address.country_code.upper()
    code = (address.postal_code or "").replace(" ", "")
    path = f"{role}.postal_code"
    if country in _US:
        if len(checks.digits(code)) not in (5, 9) or not re.fullmatch(r"\d{5}(-?\d{4})?", code):
            return [
                Requirement(path, checks.INVALID_FORMAT, f"{role} needs a 5- or 9-digit ZIP Code for UPS")
            ]
    elif country == "CA" and not _CA_POSTAL.fullmatch(code):
        return [Requirement(path, checks.INVALID_FORMAT, f"{role} needs a Canadian postal code like A1A1A1")]
    return []


def _party(address: types.Address, role: str) -> list[Requirement]:
    found = checks.name_or_company(address, role, f"{role} needs a name or company for UPS")
    if address.country_code.upper() in _STATE_REQUIRED and not (address.state or "").strip():
        found.append(
            Requirement(f"{role}.state", checks.REQUIRED, f"{role} needs a state or province for UPS")
        )
    return found + _postal(address, role)


def check(spec: types.ShipmentSpec, service: str) -> list[Requirement]:
    """Return every reason UPS service ``service`` would refuse a label for ``spec``."""
    found = checks.parcel_count(spec, CARRIER, MAX_PACKAGES)
    imperial = spec.origin.country_code.upper() in _US
    found += checks.positive(spec)
    found += checks.weight_limit(spec, _MAX_LB if imperial else _MAX_KG, "150 lb" if imperial else "70 kg")
    found += checks.size_limit(
        spec,
        length_cm=_MAX_LENGTH_CM,
        length_girth_cm=_MAX_LENGTH_GIRTH_IN_CM if imperial else _MAX_LENGTH_GIRTH_CM,
        text="UPS takes (108 in / 274 cm long, 165 in / 400 cm length plus girth)",
    )
    found += checks.customs(spec, CARRIER, ITEM_DESCRIPTION_MAX)
    for role, address in checks.parties(spec):
        found += _party(address, role)
    # Shipping.yaml: ShipTo Phone is "Required for: UPS Next Day Air Early service, and when Ship To country
    # or territory is different than the ShipFrom country or territory". Only the first half is checked
    # for now: see docs/VALIDATION.md (the request conformance fixtures ship abroad without one).
    if service == NEXT_DAY_AIR_EARLY and not checks.digits(spec.destination.phone):
        found.append(
            Requirement(
                "destination.phone",
                checks.REQUIRED,
                "destination needs a phone number for UPS Next Day Air Early",
            )
        )
    if service in US_DOMESTIC_SERVICES and not (
        spec.origin.country_code.upper() in _US and spec.destination.country_code.upper() in _US
    ):
        found.append(
            Requirement(
                "service", checks.ROUTE, f"UPS service {service} runs within the US and Puerto Rico only"
            )
        )
    return checks.unique(found)
