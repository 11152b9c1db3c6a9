"""Canonical charge classes and the carrier code tables that map invoice charges onto them.

Classes that a rate card can price carry the card's surcharge ``kind`` as their name (see
``rating.surcharges``), plus ``base`` for the transportation line (card code ``BASE``), so an
invoice line finds its quote line through the card version of the shipment's snapshot.
"""

from __future__ import annotations

BASE = "base"
FUEL = "fuel"
RESIDENTIAL = "residential"
REMOTE_AREA = "remote_area"
ADDITIONAL_HANDLING = "additional_handling"
OVERSIZE = "oversize"
SIGNATURE = "signature"
SATURDAY = "saturday"
DECLARED_VALUE = "declared_value"
ADDRESS_CORRECTION = "address_correction"
CHARGE_CORRECTION = "charge_correction"  # carrier re-measure adjustment (UPS SCC)
REFUND = "refund"  # guaranteed-service refund or other credit the carrier grants
TAX = "tax"
INFORMATIONAL = "informational"
OTHER = "other"

# Classes a rate card prices (their names are the card's surcharge kinds, plus base).
CARD_CLASSES = frozenset(
    {
        BASE,
        FUEL,
        RESIDENTIAL,
        REMOTE_AREA,
        ADDITIONAL_HANDLING,
        OVERSIZE,
        SIGNATURE,
        SATURDAY,
        DECLARED_VALUE,
    }
)
# Charges a shipper did not order are disputed when the quote does not have them.
SURCHARGE_CLASSES = frozenset(
    {
        RESIDENTIAL,
        REMOTE_AREA,
        ADDITIONAL_HANDLING,
        OVERSIZE,
        SIGNATURE,
        SATURDAY,
        DECLARED_VALUE,
        ADDRESS_CORRECTION,
        OTHER,
    }
)
# Lines that carry the billed weight and dimensions of the package.
MEASURED_CLASSES = frozenset({BASE, CHARGE_CORRECTION})
CLASSES = tuple(sorted(CARD_CLASSES | SURCHARGE_CLASSES | {CHARGE_CORRECTION, REFUND, TAX, INFORMATIONAL}))

# Codes carriers (and finance teams' own files) commonly use; a generic mapping may add its own.
COMMON_CODES: dict[str, str] = {
    "BASE": BASE,
    "FRT": BASE,
    "FREIGHT": BASE,
    "TRANSPORTATION": BASE,
    "FSC": FUEL,
    "FUEL": FUEL,
    "RES": RESIDENTIAL,
    "RESI": RESIDENTIAL,
    "DAS": REMOTE_AREA,
    "EDAS": REMOTE_AREA,
    "RDC": REMOTE_AREA,
    "RDR": REMOTE_AREA,
    "EDC": REMOTE_AREA,
    "EDR": REMOTE_AREA,
    "AHS": ADDITIONAL_HANDLING,
    "AHG": ADDITIONAL_HANDLING,
    "AHW": ADDITIONAL_HANDLING,
    "AHD": ADDITIONAL_HANDLING,
    "AHL": ADDITIONAL_HANDLING,
    "LPS": OVERSIZE,
    "OVS": OVERSIZE,
    "SIG": SIGNATURE,
    "DCS": SIGNATURE,
    "DCA": SIGNATURE,
    "ADS": SIGNATURE,
    "SAT": SATURDAY,
    "DV": DECLARED_VALUE,
    "DVL": DECLARED_VALUE,
    "ADC": ADDRESS_CORRECTION,
    "SCC": CHARGE_CORRECTION,
    "GSR": REFUND,
    "AGSR": REFUND,
    "CADJ": REFUND,
    "TAX": TAX,
    "GOV": TAX,
    "VAT": TAX,
    "INF": INFORMATIONAL,
}

# UPS "Charge Category Detail Code" values that decide the class whatever the charge is.
UPS_DETAIL_CODES: dict[str, str] = {
    "ADC": ADDRESS_CORRECTION,
    "SCC": CHARGE_CORRECTION,
    "GSR": REFUND,
    "AGSR": REFUND,
    "CADJ": REFUND,
    "VOID": REFUND,
    "RADJ": RESIDENTIAL,
}
# UPS "Charge Classification Code" values.
UPS_CLASSIFICATION: dict[str, str] = {
    "FRT": BASE,
    "FSC": FUEL,
    "GOV": TAX,
    "TAX": TAX,
    "BRK": TAX,
    "INF": INFORMATIONAL,
    "EXM": INFORMATIONAL,
}


def ups_class(category: str, detail: str, classification: str, description_code: str) -> str:
    """Classify one UPS Billing Data charge line from its four code columns."""
    detail = detail.strip().upper()
    classification = classification.strip().upper()
    code = description_code.strip().upper()
    if detail in UPS_DETAIL_CODES:
        return UPS_DETAIL_CODES[detail]
    if classification in UPS_CLASSIFICATION:
        return UPS_CLASSIFICATION[classification]
    if code in COMMON_CODES:
        return COMMON_CODES[code]
    return OTHER


# FedEx writes charges as descriptions ("Tracking ID Charge Description"); matched on lowercase prefixes.
_FEDEX_DESCRIPTIONS: tuple[tuple[str, str], ...] = (
    ("fuel surcharge", FUEL),
    ("residential", RESIDENTIAL),
    ("delivery area surcharge", REMOTE_AREA),
    ("das ", REMOTE_AREA),
    ("das extended", REMOTE_AREA),
    ("address correction", ADDRESS_CORRECTION),
    ("additional handling", ADDITIONAL_HANDLING),
    ("oversize", OVERSIZE),
    ("large package", OVERSIZE),
    ("direct signature", SIGNATURE),
    ("indirect signature", SIGNATURE),
    ("adult signature", SIGNATURE),
    ("saturday", SATURDAY),
    ("declared value", DECLARED_VALUE),
    ("guaranteed service refund", REFUND),
    ("money-back guarantee", REFUND),
    ("tax", TAX),
    ("gst", TAX),
    ("hst", TAX),
    ("vat", TAX),
    ("duty", TAX),
)
# Price reductions FedEx lists as separate charge pairs; folded into the transportation line.
FEDEX_DISCOUNTS = ("earned discount", "grace discount", "performance pricing", "discount")


def fedex_class(description: str) -> str:
    """Classify one FedEx charge pair from its description."""
    text = description.strip().lower()
    for prefix, cls in _FEDEX_DESCRIPTIONS:
        if text.startswith(prefix):
            return cls
    return OTHER


def fedex_is_discount(description: str) -> bool:
    """Return whether a FedEx charge pair is a price reduction on the transportation charge."""
    text = description.strip().lower()
    return any(text.startswith(d) for d in FEDEX_DISCOUNTS)


def fedex_code(description: str) -> str:
    """A short stable code for a FedEx charge description (FedEx files carry no codes)."""
    words = "".join(ch if ch.isalnum() else " " for ch in description.upper()).split()
    return ("_".join(words) or "CHARGE")[:32]
