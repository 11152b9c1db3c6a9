"""Building blocks for the adapters' ``check``: pure rules over a canonical spec, each returning Requirements.

Paths are in booking-body terms, the names a client sent: ``origin.phone``, ``destination.street_lines.1``,
``parcels.0.weight``, ``parcels.0.dimensions``, ``parcels.0.declared_value``, ``service``. Codes are
stable and shared by every carrier, so a client can switch on them whichever carrier refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from decimal import Decimal

from adapters.base import Requirement
from schemas import countries, types

Check = list[Requirement]

# Codes (stable: documented in docs/VALIDATION.md).
REQUIRED = "required"  # a field the carrier needs is missing or blank
TOO_LONG = "too_long"  # longer than the carrier's field
INVALID_FORMAT = "invalid_format"  # present, but not in the form the carrier takes
TOO_MANY = "too_many"  # more items (parcels, street lines) than the carrier takes
NOT_POSITIVE = "not_positive"  # a weight or dimension of zero or less
OVER_LIMIT = "over_limit"  # a weight, size or value over the service's limit
CURRENCY = "currency_mismatch"  # declared values in mixed or unsupported currencies
ROUTE = "route_not_served"  # the service does not run between these countries
SERVICE = "service_unknown"  # not a service code of this carrier
TAX_ID = "tax_id_required"  # the destination needs a tax id of the importer for this incoterm

ROLES = ("origin", "destination")

# The EU customs union (with Monaco): shipments inside it need no customs declaration.
EU_CUSTOMS_UNION: frozenset[str] = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MC",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    ]
)


def collapsed(text: str | None) -> str:
    """Return text with runs of whitespace as one space, trimmed (how carriers compare lengths)."""
    return " ".join((text or "").split())


def digits(text: str | None) -> str:
    """Return only the digits of text (phones, ZIP Codes)."""
    return "".join(ch for ch in (text or "") if ch.isdigit())


def international(spec: types.ShipmentSpec) -> bool:
    """Return whether origin and destination are in different countries."""
    return spec.origin.country_code.upper() != spec.destination.country_code.upper()


# Customs territories a shipment moves within without a declaration (docs/CUSTOMS.md): the EU union, and
# the US with Puerto Rico (inside the US customs territory; the USVI, Guam and the other territories are not).
CUSTOMS_UNIONS: tuple[frozenset[str], ...] = (EU_CUSTOMS_UNION, frozenset({"US", "PR"}))


def needs_customs(spec: types.ShipmentSpec) -> bool:
    """Return whether the shipment crosses a customs border (international and not inside one union)."""
    countries = {spec.origin.country_code.upper(), spec.destination.country_code.upper()}
    return len(countries) > 1 and not any(countries <= union for union in CUSTOMS_UNIONS)


def is_documents(spec: types.ShipmentSpec) -> bool:
    """Return whether the shipment carries documents only (no dutiable goods)."""
    if spec.customs is not None:
        return spec.customs.is_documents
    return "documents" in spec.options


def incoterm(spec: types.ShipmentSpec) -> str:
    """Return DDP (the shipper pays duties and taxes) or DAP (the recipient does)."""
    if spec.customs is not None:
        return spec.customs.incoterm
    return "DDP" if "ddp" in spec.options else "DAP"


def parties(spec: types.ShipmentSpec) -> Iterable[tuple[str, types.Address]]:
    """Yield (role, address) for origin then destination."""
    yield "origin", spec.origin
    yield "destination", spec.destination


def carrier_name(carrier: str) -> str:
    """Return a carrier's display name for messages."""
    return {"ups": "UPS", "dhl_express": "DHL Express", "fedex": "FedEx", "usps": "USPS"}.get(
        carrier, carrier
    )


# -- parcels ----------------------------------------------------------------------------------------------


def parcel_count(spec: types.ShipmentSpec, carrier: str, maximum: int) -> Check:
    """At least one parcel and at most ``maximum``."""
    if not spec.parcels:
        return [Requirement("parcels", REQUIRED, "a shipment needs at least one parcel")]
    if len(spec.parcels) > maximum:
        what = "package per label; split the shipment" if maximum == 1 else "pieces per shipment"
        return [Requirement("parcels", TOO_MANY, f"{carrier_name(carrier)} takes at most {maximum} {what}")]
    return []


def positive(spec: types.ShipmentSpec) -> Check:
    """Every parcel weighs something and has three positive dimensions."""
    found: Check = []
    for n, parcel in enumerate(spec.parcels):
        if parcel.weight_kg <= 0:
            found.append(Requirement(f"parcels.{n}.weight", NOT_POSITIVE, "parcel weight must be positive"))
        if min(parcel.length_cm, parcel.width_cm, parcel.height_cm) <= 0:
            found.append(
                Requirement(f"parcels.{n}.dimensions", NOT_POSITIVE, "parcel dimensions must be positive")
            )
    return found


def weight_limit(spec: types.ShipmentSpec, limit_kg: Decimal, text: str) -> Check:
    """No parcel over ``limit_kg`` (``text`` says the limit as the carrier does, e.g. "150 lb")."""
    return [
        Requirement(f"parcels.{n}.weight", OVER_LIMIT, f"a parcel may weigh at most {text} for this service")
        for n, parcel in enumerate(spec.parcels)
        if parcel.weight_kg > limit_kg
    ]


def size_limit(
    spec: types.ShipmentSpec, *, length_cm: Decimal | None, length_girth_cm: Decimal | None, text: str
) -> Check:
    """No parcel longer than ``length_cm`` or with length + girth over ``length_girth_cm``."""
    found: Check = []
    for n, parcel in enumerate(spec.parcels):
        length, width, height = parcel.sorted_dims
        too_long = length_cm is not None and length > length_cm
        too_big = length_girth_cm is not None and length + 2 * (width + height) > length_girth_cm
        if too_long or too_big:
            found.append(Requirement(f"parcels.{n}.dimensions", OVER_LIMIT, f"parcel is larger than {text}"))
    return found


def one_currency(spec: types.ShipmentSpec, only: str | None = None) -> Check:
    """Declared values share one currency (``only``: and it is that one)."""
    found: Check = []
    first: str | None = None
    for n, parcel in enumerate(spec.parcels):
        value = parcel.declared_value
        if value is None:
            continue
        if only is not None and value.currency != only:
            found.append(
                Requirement(f"parcels.{n}.declared_value", CURRENCY, f"declared values must be in {only}")
            )
        elif only is None and first is not None and value.currency != first:
            found.append(
                Requirement(
                    f"parcels.{n}.declared_value",
                    CURRENCY,
                    "declared values of one shipment must share a currency",
                )
            )
        first = first or value.currency
    return found


# -- parties ----------------------------------------------------------------------------------------------


def name_or_company(address: types.Address, role: str, message: str) -> Check:
    """The party has a name or a company (``message`` in the carrier's words)."""
    if address.name or address.company:
        return []
    return [Requirement(f"{role}.name", REQUIRED, message)]


def text_field(value: str | None, path: str, limit: int, what: str, *, required: bool, carrier: str) -> Check:
    """A field compared after collapsing whitespace: blank when present or required is missing; not too long."""
    if value is None or value == "":
        return [Requirement(path, REQUIRED, f"{what} is required")] if required else []
    text = collapsed(value)
    if not text:
        return [Requirement(path, REQUIRED, f"{what} is required")]
    if len(text) > limit:
        return [
            Requirement(path, TOO_LONG, f"{what} is longer than {carrier_name(carrier)}'s {limit} characters")
        ]
    return []


def street(address: types.Address, role: str, message: str) -> Check:
    """The party has at least one non-blank street line."""
    if any(line.strip() for line in address.street_lines):
        return []
    return [Requirement(f"{role}.street_lines", REQUIRED, message)]


def per_party(spec: types.ShipmentSpec, rule: Callable[[types.Address, str], Check]) -> Check:
    """Apply a party rule to origin and destination."""
    found: Check = []
    for role, address in parties(spec):
        found.extend(rule(address, role))
    return found


def unique(found: Iterable[Requirement]) -> Check:
    """Return found without repeats of one (path, code), first message kept, order kept."""
    seen: set[tuple[str, str]] = set()
    out: Check = []
    for item in found:
        if (item.path, item.code) not in seen:
            seen.add((item.path, item.code))
            out.append(item)
    return out


# -- customs ----------------------------------------------------------------------------------------------

# Destinations whose DDP imports need the importer's (or the seller's import scheme's) tax id, and which
# kinds do (docs/CUSTOMS.md): the EU wants an EORI, or an IOSS number for low-value consignments; the UK
# an EORI or its VAT number; Switzerland and Norway their VAT number.
DDP_TAX_IDS: tuple[tuple[frozenset[str], frozenset[str]], ...] = (
    (EU_CUSTOMS_UNION, frozenset({"EORI", "IOSS"})),
    (frozenset({"GB"}), frozenset({"EORI", "VAT"})),
    (frozenset({"CH", "NO"}), frozenset({"VAT"})),
)

# The forms tax ids take (letters upper case, spaces and dashes removed before matching).
TAX_ID_FORMS: dict[str, re.Pattern[str]] = {
    "EIN": re.compile(r"^[0-9]{9}$"),
    "EORI": re.compile(r"^[A-Z]{2}[A-Z0-9]{1,15}$"),
    "VAT": re.compile(r"^[A-Z]{2}[A-Z0-9]{2,13}$"),
    "IOSS": re.compile(r"^IM[0-9]{10}$"),
}
_HS_CODE = re.compile(r"^[0-9]{6,10}$")


def hs_digits(code: str | None) -> str:
    """An HS code as carriers take it: the digits, without the dots and spaces people write."""
    return "".join(ch for ch in (code or "") if ch not in ". ")


def tax_id_number(number: str) -> str:
    """A tax id as carriers take it: upper case, without spaces and dashes."""
    return "".join(ch for ch in number.upper() if ch not in " -")


def _tax_ids(ids: Iterable[types.TaxId], path: str) -> Check:
    found: Check = []
    for n, tax_id in enumerate(ids):
        form = TAX_ID_FORMS.get(tax_id.type)
        if form is not None and not form.match(tax_id_number(tax_id.number)):
            found.append(
                Requirement(
                    f"{path}.{n}.number",
                    INVALID_FORMAT,
                    f"{tax_id.number!r} is not the form of a {tax_id.type}",
                )
            )
    return found


def customs(spec: types.ShipmentSpec, carrier: str, description_limit: int) -> Check:
    """Across a customs border: a declaration, and one the destination's customs will take.

    Goods need items, each with a description (at most ``description_limit`` characters, the carrier's),
    an HS code of 6 to 10 digits and an ISO origin country, in one currency, worth more than zero in
    all; a DDP shipment to a destination of ``DDP_TAX_IDS`` needs the importer's tax id of a kind it takes.
    """
    if not needs_customs(spec):
        return []
    declaration = spec.customs
    if declaration is None:
        # Without a declaration, a declared value on every parcel still ships (one commodity line of
        # their total, as before declarations existed); documents need neither.
        if "documents" in spec.options or all(p.declared_value for p in spec.parcels):
            return []
        return [
            Requirement(
                "customs",
                REQUIRED,
                f"{carrier_name(carrier)} needs a customs declaration for a shipment from "
                f"{spec.origin.country_code} to {spec.destination.country_code}",
            )
        ]
    found: Check = []
    goods = not declaration.is_documents
    if goods and not declaration.items:
        found.append(
            Requirement("customs.items", REQUIRED, "goods crossing a customs border need their items")
        )
    currency: str | None = None
    for n, item in enumerate(declaration.items):
        path = f"customs.items.{n}"
        found += text_field(
            item.description,
            f"{path}.description",
            description_limit,
            "item description",
            required=True,
            carrier=carrier,
        )
        if goods:
            if not item.hs_code:
                found.append(
                    Requirement(f"{path}.hs_code", REQUIRED, "goods need an HS code (6 to 10 digits)")
                )
            elif not _HS_CODE.match(hs_digits(item.hs_code)):
                found.append(Requirement(f"{path}.hs_code", INVALID_FORMAT, "an HS code is 6 to 10 digits"))
        elif item.hs_code and not _HS_CODE.match(hs_digits(item.hs_code)):
            found.append(Requirement(f"{path}.hs_code", INVALID_FORMAT, "an HS code is 6 to 10 digits"))
        if item.origin_country.upper() not in countries.ISO_3166_ALPHA2:
            found.append(
                Requirement(
                    f"{path}.origin_country", INVALID_FORMAT, "origin country must be ISO 3166-1 alpha-2"
                )
            )
        if item.weight_kg <= 0:
            found.append(Requirement(f"{path}.weight", NOT_POSITIVE, "item weight must be positive"))
        currency = currency or item.unit_value.currency
        if item.unit_value.currency != currency:
            found.append(
                Requirement(
                    f"{path}.unit_value", CURRENCY, "the items of one declaration must share a currency"
                )
            )
    if goods and declaration.items and currency is not None:
        total = sum(
            (i.value.amount for i in declaration.items if i.unit_value.currency == currency), Decimal(0)
        )
        if total <= 0:
            found.append(
                Requirement(
                    "customs.items", NOT_POSITIVE, "the items' total declared value must be more than zero"
                )
            )
    found += _tax_ids(declaration.exporter_tax_ids, "customs.exporter_tax_ids")
    found += _tax_ids(declaration.importer_tax_ids, "customs.importer_tax_ids")
    destination = spec.destination.country_code.upper()
    if goods and declaration.incoterm == "DDP":
        for where, kinds in DDP_TAX_IDS:
            if destination in where and not any(t.type in kinds for t in declaration.importer_tax_ids):
                found.append(
                    Requirement(
                        "customs.importer_tax_ids",
                        TAX_ID,
                        f"a DDP import into {destination} needs the importer's {' or '.join(sorted(kinds))}",
                    )
                )
    return found
