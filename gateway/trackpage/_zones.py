"""The time zone of a destination, when its country has exactly one (else the page shows UTC)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

# Countries with a single IANA zone for (nearly) all addresses. Countries spanning several zones
# (US, CA, AU, BR, RU, MX, ES with the Canaries, PT with the Azores, ...) are left out on purpose.
SINGLE_ZONE: dict[str, str] = {
    "AT": "Europe/Vienna",
    "BE": "Europe/Brussels",
    "CH": "Europe/Zurich",
    "CZ": "Europe/Prague",
    "DE": "Europe/Berlin",
    "DK": "Europe/Copenhagen",
    "FI": "Europe/Helsinki",
    "FR": "Europe/Paris",
    "GB": "Europe/London",
    "GR": "Europe/Athens",
    "HU": "Europe/Budapest",
    "IE": "Europe/Dublin",
    "IL": "Asia/Jerusalem",
    "IN": "Asia/Kolkata",
    "IT": "Europe/Rome",
    "JP": "Asia/Tokyo",
    "KR": "Asia/Seoul",
    "LU": "Europe/Luxembourg",
    "NL": "Europe/Amsterdam",
    "NO": "Europe/Oslo",
    "NZ": "Pacific/Auckland",
    "PL": "Europe/Warsaw",
    "RO": "Europe/Bucharest",
    "SE": "Europe/Stockholm",
    "SG": "Asia/Singapore",
    "SK": "Europe/Bratislava",
    "ZA": "Africa/Johannesburg",
}


def for_country(country_code: str | None) -> ZoneInfo | None:
    """Return the country's one time zone, or None when it has several or is unknown."""
    name = SINGLE_ZONE.get((country_code or "").upper())
    return ZoneInfo(name) if name else None
