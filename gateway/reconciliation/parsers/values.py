"""Reading the cells of carrier files: amounts, dates, weights, dimensions. Each raises ValueError with a reason."""

from __future__ import annotations

import functools
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from schemas import money

_DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%m/%d/%Y", "%d-%b-%y", "%d-%b-%Y", "%m/%d/%y")
_DIMS = re.compile(
    r"^\s*([0-9]+(?:\.[0-9]+)?)\s*[xX*]\s*([0-9]+(?:\.[0-9]+)?)\s*[xX*]\s*([0-9]+(?:\.[0-9]+)?)\s*$"
)
_WEIGHT_UNITS = {
    "l": "lb",
    "lb": "lb",
    "lbs": "lb",
    "k": "kg",
    "kg": "kg",
    "kgs": "kg",
    "o": "oz",
    "oz": "oz",
}
_LENGTH_UNITS = {"in": "in", "i": "in", "inch": "in", "inches": "in", "cm": "cm", "c": "cm"}


_PLAIN = re.compile(r"-?[0-9]{1,12}(?:\.[0-9]{1,6})?")
_LIMIT = Decimal("1e12")


def amount(text: str, field: str, *, decimal_separator: str = ".") -> Decimal:
    """Read a money amount such as "12.50", "-3.1", "(4.00)" or "1,234.50"."""
    if decimal_separator == "." and _PLAIN.fullmatch(text):
        return Decimal(text)  # the common case, checked by the pattern
    raw = text.strip()
    if not raw:
        raise ValueError(f"{field} is empty")
    negative = raw.startswith("(") and raw.endswith(")")
    if negative:
        raw = raw[1:-1]
    raw = raw.replace("$", "").replace(" ", "")
    raw = raw.replace(".", "").replace(",", ".") if decimal_separator == "," else raw.replace(",", "")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"{field} {text.strip()!r} is not an amount") from None
    if not value.is_finite() or abs(value) >= Decimal("1e12"):
        raise ValueError(f"{field} {text.strip()!r} is not a usable amount")
    return -value if negative else value


def to_minor(value: Decimal, currency: str, field: str) -> int:
    """Convert an exact amount to integer minor units, refusing sub-minor precision."""
    exponent = _exponent(currency)
    # The exponent is an int: parse_amount admits only finite numbers (a str only for NaN/Infinity).
    if value.as_tuple().exponent >= -exponent:  # type: ignore[operator]
        return int(value.scaleb(exponent))
    scaled = value.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{field} {value} has more decimals than {currency} allows")
    return int(scaled)


@functools.lru_cache(maxsize=256)
def _exponent(currency: str) -> int:
    return money.exponent(currency)


@functools.lru_cache(maxsize=256)
def currency(text: str, default: str | None = None) -> str:
    """Read an ISO 4217 code (or fall back to ``default``)."""
    raw = text.strip().upper()
    if not raw:
        if default is None:
            raise ValueError("currency is empty")
        return default
    if raw not in money.CURRENCIES:
        raise ValueError(f"currency {raw!r} is not an ISO 4217 code")
    return raw


_MEASURE = re.compile(r"[0-9]{1,7}(?:\.[0-9]{1,6})?")


def optional_decimal(text: str, field: str) -> Decimal | None:
    """Read an optional non-negative measure."""
    if not text:
        return None
    if _MEASURE.fullmatch(text):
        return Decimal(text)
    raw = text.strip().replace(",", "")
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"{field} {text.strip()!r} is not a number") from None
    if not value.is_finite() or value < 0 or value >= Decimal("1e8"):
        raise ValueError(f"{field} {text.strip()!r} is out of range")
    return value


def parse_date(text: str, field: str, fmt: str | None = None) -> date | None:
    """Read an optional date in one of the layouts carriers use (or in ``fmt``)."""
    raw = text.strip()
    if not raw:
        return None
    found = _date(raw, fmt)
    if found is None:
        raise ValueError(f"{field} {raw!r} is not a date")
    return found


@functools.lru_cache(maxsize=4096)
def _date(raw: str, fmt: str | None) -> date | None:
    # An invoice holds a few dozen distinct dates over a million rows: strptime once per date.
    for candidate in (fmt,) if fmt else _DATE_FORMATS:
        try:
            return datetime.strptime(raw, candidate).date()
        except ValueError:
            continue
    return None


@functools.lru_cache(maxsize=256)
def weight_unit(text: str, default: str | None = None) -> str | None:
    """Normalise a weight unit (UPS writes L, K or O)."""
    raw = text.strip().lower()
    if not raw:
        return default
    unit = _WEIGHT_UNITS.get(raw)
    if unit is None:
        raise ValueError(f"weight unit {text.strip()!r} is not lb, kg or oz")
    return unit


def weight(value: Decimal | None, unit: str | None) -> tuple[Decimal | None, str | None]:
    """Return a weight in lb or kg (ounces become pounds)."""
    if value is None:
        return None, None
    if unit == "oz":
        return value / 16, "lb"
    return value, unit or "lb"


@functools.lru_cache(maxsize=256)
def length_unit(text: str, default: str | None = None) -> str | None:
    """Normalise a length unit."""
    raw = text.strip().lower()
    if not raw:
        return default
    unit = _LENGTH_UNITS.get(raw)
    if unit is None:
        raise ValueError(f"dimension unit {text.strip()!r} is not in or cm")
    return unit


@functools.lru_cache(maxsize=8192)
def dimensions(text: str) -> tuple[Decimal, Decimal, Decimal] | None:
    """Read UPS "Package Dimensions" such as "12.0x  9.0x  4.0" (packages repeat: cached)."""
    if not text.strip():
        return None
    m = _DIMS.match(text)
    if m is None:
        raise ValueError(f"package dimensions {text.strip()!r} are not LxWxH")
    return Decimal(m.group(1)), Decimal(m.group(2)), Decimal(m.group(3))
