"""What a USPS label needs, as data: everything ``mapping.label_request`` refuses about a shipment.

Pure: ``check`` reads only the canonical spec and the service code (``MAIL_CLASS`` or
``MAIL_CLASS/RATE_INDICATOR/PROCESSING_CATEGORY``), so the gateway can ask before buying and
``mapping.label_request`` refuses with exactly these problems (the two cannot drift).

Customs (labels_update_1.yaml ``customsForm``): a domestic label to or from an APO/FPO/DPO address or a
US territory outside the US customs territory carries USPS's customs form, built from the shipment's
declaration; ``customs`` says what that form needs before anything is bought.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from adapters import checks
from adapters.base import Requirement
from schemas import countries, types, units

CARRIER = "usps"
CURRENCY = "USD"
DOMESTIC_COUNTRIES = frozenset({"US", "PR", "VI", "GU", "AS", "MP", "FM", "MH", "PW"})
MAX_LABEL_WEIGHT_LB = Decimal(70)

# labels_update_1.yaml ``customsForm``: "required when creating shipments originating from or destinating to
# MPOs, APOs, FPOs, or DPOs ... and some ... U.S. Possessions, Territories, and Freely Associated States
# (PTFAS)". APO/FPO/DPO addresses use the State codes AA, AE and AP (Armed Forces Americas, Europe, Pacific).
MILITARY_STATES = frozenset({"AA", "AE", "AP"})
# The PTFAS among the spec's State codes, less Puerto Rico: it is inside the US customs territory (as in
# ``checks.CUSTOMS_UNIONS``), and the spec itself treats it apart ("APO/FPO/DPO and PTFAS (except Puerto
# Rico)"). The USVI, Guam and the others are outside it.
CUSTOMS_TERRITORIES = frozenset({"AS", "FM", "GU", "MH", "MP", "PW", "VI"})
# DomesticCustomsForm.contents: 1 to 30 items; ShippingContents field limits.
CUSTOMS_ITEMS_MAX = 30
ITEM_DESCRIPTION_MAX = 30
ITEM_QUANTITY_MAX = 9999
ITEM_VALUE_MAX = Decimal("999999.99")
ITEM_VALUE_MIN = Decimal("0.01")
# ShippingContents.itemDescription: "the following descriptions, regardless of case sensitivity, are not
# considered valid: None, Not Applicable, N/A, Null, Gift, and Merchandise".
REFUSED_DESCRIPTIONS = frozenset({"none", "not applicable", "n/a", "null", "gift", "merchandise"})
# ShippingContents.HSTariffNumber: 6 to 14 letters or digits, dots allowed between them.
_HS_TARIFF = re.compile(r"^\.*(?:[A-Za-z\d]\.*){6,14}$")
# CustomsForm.AESITN: "NO EEI 30.37(a)" is the exemption legend for "Shipments valued at $2,500 or less";
# above that an ITN is required, which a declaration here does not carry.
NO_EEI_LIMIT = Decimal(2500)
# importersReference / exportersReference (a tax code, importer code or VAT number): at most 40 characters.
TAX_REFERENCE_MAX = 40

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


def customs_form_end(address: types.Address) -> str | None:
    """The code (AE, GU ...) that makes USPS want a customs form for mail to or from ``address``, else None."""
    country = address.country_code.strip().upper()
    state = (address.state or "").strip().upper()
    if country == "US" and state in MILITARY_STATES:
        return state
    if country in CUSTOMS_TERRITORIES:
        return country
    if country == "US" and state in CUSTOMS_TERRITORIES:
        return state
    return None


def needs_customs_form(spec: types.ShipmentSpec) -> bool:
    """Return whether a label for ``spec`` carries USPS's customs form (either end military or a territory)."""
    return any(customs_form_end(address) for _, address in checks.parties(spec))


def item_value_usd(item: types.CustomsItem) -> Decimal:
    """ShippingContents.itemTotalValue: the line's value (unit value times quantity) in USD, to the cent."""
    return item.value.amount.quantize(ITEM_VALUE_MIN, rounding=ROUND_HALF_UP)


def item_weight_lb(item: types.CustomsItem) -> Decimal:
    """ShippingContents.itemTotalWeight: the line's weight in lb, rounded up to 0.0001 (the spec's own
    example is 1.0001) so that it stays above zero and the lines add up close to the package."""
    return units.from_kg(item.weight_kg, "lb").quantize(Decimal("0.0001"), rounding=ROUND_CEILING)


def _customs_item(item: types.CustomsItem, n: int) -> list[Requirement]:
    path = f"customs.items.{n}"
    found = checks.text_field(
        item.description,
        f"{path}.description",
        ITEM_DESCRIPTION_MAX,
        "item description",
        required=True,
        carrier=CARRIER,
    )
    if checks.collapsed(item.description).lower() in REFUSED_DESCRIPTIONS:
        found.append(
            Requirement(
                f"{path}.description",
                checks.INVALID_FORMAT,
                f"USPS refuses {checks.collapsed(item.description)!r} as an item description: say what it is",
            )
        )
    if item.quantity < 1:
        found.append(Requirement(f"{path}.quantity", checks.NOT_POSITIVE, "item quantity must be at least 1"))
    elif item.quantity > ITEM_QUANTITY_MAX:
        found.append(
            Requirement(
                f"{path}.quantity", checks.OVER_LIMIT, f"USPS takes at most {ITEM_QUANTITY_MAX} of one item"
            )
        )
    if item.unit_value.currency != CURRENCY:
        found.append(
            Requirement(f"{path}.unit_value", checks.CURRENCY, "USPS customs forms take values in USD")
        )
    elif item_value_usd(item) < ITEM_VALUE_MIN:
        found.append(
            Requirement(
                f"{path}.unit_value", checks.NOT_POSITIVE, "USPS needs each item's value (at least USD 0.01)"
            )
        )
    elif item_value_usd(item) > ITEM_VALUE_MAX:
        found.append(
            Requirement(
                f"{path}.unit_value", checks.OVER_LIMIT, "USPS takes at most USD 999,999.99 for one item"
            )
        )
    if item.weight_kg <= 0:
        found.append(Requirement(f"{path}.weight", checks.NOT_POSITIVE, "item weight must be positive"))
    if item.hs_code and not _HS_TARIFF.match(checks.hs_digits(item.hs_code)):
        found.append(
            Requirement(
                f"{path}.hs_code",
                checks.INVALID_FORMAT,
                "USPS takes an HS tariff number of 6 to 14 characters",
            )
        )
    if item.origin_country.upper() not in countries.ISO_3166_ALPHA2:
        found.append(
            Requirement(
                f"{path}.origin_country", checks.INVALID_FORMAT, "origin country must be ISO 3166-1 alpha-2"
            )
        )
    return found


def customs(spec: types.ShipmentSpec) -> list[Requirement]:
    """What USPS's customs form needs, for a label to or from APO/FPO/DPO or a territory (else nothing).

    The form (DomesticCustomsForm) always lists 1 to 30 items, documents too, each with a description,
    a quantity, a value in USD and a weight; an HS tariff number is optional (USPS looks it up).
    """
    ends = [
        f"{role} is {code}" for role, address in checks.parties(spec) if (code := customs_form_end(address))
    ]
    if not ends:
        return []
    declaration = spec.customs
    if declaration is None:
        return [
            Requirement(
                "customs",
                checks.REQUIRED,
                "USPS needs a customs declaration for mail to or from APO/FPO/DPO addresses and US "
                f"territories other than Puerto Rico ({', '.join(ends)})",
            )
        ]
    found: list[Requirement] = []
    if declaration.content_type not in types.CONTENT_TYPES:
        found.append(
            Requirement(
                "customs.content_type",
                checks.INVALID_FORMAT,
                f"content type must be one of {', '.join(types.CONTENT_TYPES)}",
            )
        )
    if not declaration.items:
        found.append(
            Requirement(
                "customs.items",
                checks.REQUIRED,
                "USPS's customs form lists the items, documents too (1 to 30)",
            )
        )
    elif len(declaration.items) > CUSTOMS_ITEMS_MAX:
        found.append(
            Requirement(
                "customs.items",
                checks.TOO_MANY,
                f"USPS's customs form takes at most {CUSTOMS_ITEMS_MAX} items",
            )
        )
    for n, item in enumerate(declaration.items):
        found += _customs_item(item, n)
    usd = [item_value_usd(i) for i in declaration.items if i.unit_value.currency == CURRENCY]
    if sum(usd, Decimal(0)) > NO_EEI_LIMIT:
        found.append(
            Requirement(
                "customs.items",
                checks.OVER_LIMIT,
                "USPS customs forms here are declared under the NO EEI 30.37(a) exemption (USD 2,500 or "
                "less); a higher value needs an AES ITN, which a declaration cannot carry yet",
            )
        )
    for kind, ids in (("exporter", declaration.exporter_tax_ids), ("importer", declaration.importer_tax_ids)):
        if ids and len(checks.tax_id_number(ids[0].number)) > TAX_REFERENCE_MAX:
            found.append(
                Requirement(
                    f"customs.{kind}_tax_ids.0.number",
                    checks.TOO_LONG,
                    f"USPS takes the {kind}'s reference in at most {TAX_REFERENCE_MAX} characters",
                )
            )
    return found


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
    found += customs(spec)
    return checks.unique(found)
