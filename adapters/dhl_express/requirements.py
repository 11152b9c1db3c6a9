"""What a DHL Express label needs, as data: everything ``mapping.label_request`` refuses about a shipment.

Pure: ``check`` reads only the canonical spec and the product code, so the gateway can ask before buying
and ``mapping.label_request`` refuses with exactly these problems (the two cannot drift).
"""

from __future__ import annotations

from adapters import checks
from adapters.base import Requirement
from schemas import types

CARRIER = "dhl_express"
# expressRateBook.wsdl ExportLineItem/ItemDescription: at most 170 characters.
ITEM_DESCRIPTION_MAX = 170
MAX_PIECES = 99

# createShipmentRequest field lengths (expressRateBook.wsdl).
_LIMITS = {"person": 45, "company": 35, "phone": 25, "email": 50, "street": 35, "city": 35, "postal_code": 12}


def _party(address: types.Address, role: str) -> list[Requirement]:
    found = checks.name_or_company(
        address, role, f"{role} address needs a name or a company for the DHL label"
    )
    person = address.name or address.company
    if person:
        found += checks.text_field(
            person,
            f"{role}.name" if address.name else f"{role}.company",
            _LIMITS["person"],
            f"{role} name",
            required=True,
            carrier=CARRIER,
        )
        company = address.company or address.name
        found += checks.text_field(
            company,
            f"{role}.company" if address.company else f"{role}.name",
            _LIMITS["company"],
            f"{role} company",
            required=True,
            carrier=CARRIER,
        )
    if not address.phone:
        found.append(
            Requirement(
                f"{role}.phone", checks.REQUIRED, f"{role} address needs a phone number for DHL Express"
            )
        )
    else:
        found += checks.text_field(
            address.phone, f"{role}.phone", _LIMITS["phone"], f"{role} phone", required=True, carrier=CARRIER
        )
    if address.email:
        found += checks.text_field(
            address.email, f"{role}.email", _LIMITS["email"], f"{role} email", required=True, carrier=CARRIER
        )
    return found + _address(address, role)


def _address(address: types.Address, role: str) -> list[Requirement]:
    found: list[Requirement] = []
    lines = [checks.collapsed(line) for line in address.street_lines if line and line.strip()]
    if not lines:
        found.append(
            Requirement(
                f"{role}.street_lines", checks.REQUIRED, f"address in {address.city} needs a street line"
            )
        )
    elif len(lines) > 3:
        found.append(
            Requirement(f"{role}.street_lines", checks.TOO_MANY, "DHL takes at most three street lines")
        )
    else:
        for n, line in enumerate(lines):
            found += checks.text_field(
                line,
                f"{role}.street_lines.{n}",
                _LIMITS["street"],
                "street line",
                required=True,
                carrier=CARRIER,
            )
    if len(address.country_code) != 2:
        found.append(
            Requirement(
                f"{role}.country_code", checks.INVALID_FORMAT, "country code must be ISO 3166-1 alpha-2"
            )
        )
    found += checks.text_field(
        address.city, f"{role}.city", _LIMITS["city"], "city", required=True, carrier=CARRIER
    )
    if address.postal_code:
        found += checks.text_field(
            address.postal_code,
            f"{role}.postal_code",
            _LIMITS["postal_code"],
            "postal code",
            required=True,
            carrier=CARRIER,
        )
    return found


def check(spec: types.ShipmentSpec, service: str) -> list[Requirement]:
    """Return every reason DHL Express product ``service`` would refuse a label for ``spec``."""
    found: list[Requirement] = []
    if not service or len(service) > 3:
        found.append(
            Requirement(
                "service", checks.SERVICE, "service_code must be a DHL global product code such as 'P'"
            )
        )
    found += checks.parcel_count(spec, CARRIER, MAX_PIECES)
    found += checks.positive(spec)
    found += checks.one_currency(spec)
    found += checks.customs(spec, CARRIER, ITEM_DESCRIPTION_MAX)
    for role, address in checks.parties(spec):
        found += _party(address, role)
    return checks.unique(found)
