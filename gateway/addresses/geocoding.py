"""Where an address is: an embedded offline geocoder by default, an HTTP geocoder when configured.

The default needs no network: US ZIP codes (and the territories that use them) resolve to their
centroid from the ``zipcodes`` package, which ships the data compiled into its wheel; the data is
loaded on the first lookup, never at import. A centroid is a postal-code-level location, so every
point it gives is ``approximate``; plans show such packages as ``approximate_location``.

``GEOCODER=http`` adds street-level precision from an outside service (``GEOCODER_URL``, a
Nominatim-style ``/search`` endpoint or any service answering ``{"latitude", "longitude"}``). Its
destination is checked like a webhook's (``gateway/webhooks/urls.py``: public addresses only in
production, checked again on the addresses each connection uses), and when it fails or finds
nothing the offline answer is used instead, so a plan never waits on it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import requests

from gateway.kernel import config
from gateway.webhooks import urls
from schemas import types

log = logging.getLogger(__name__)

# Countries whose mail uses US ZIP codes: the United States and its territories with ZIPs.
ZIP_COUNTRIES = frozenset({"US", "PR", "VI", "GU", "AS", "MP"})
_ZIP = re.compile(r"^(\d{5})(?:-?\d{4})?$")
MAX_REPLY_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Point:
    """A location and how precise it is: ``approximate`` for a postal-code centroid."""

    latitude: float
    longitude: float
    approximate: bool
    source: str  # "zip" (embedded centroid) or "http"


class Geocoder(Protocol):
    """Anything that can place an address; None when it cannot."""

    def locate(self, address: types.Address) -> Point | None: ...


def zip5(country_code: str, postal_code: str) -> str | None:
    """Return the five-digit ZIP of a US-style postal code (``10036``, ``10036-1234``), else None."""
    if country_code.strip().upper() not in ZIP_COUNTRIES:
        return None
    match = _ZIP.match(postal_code.replace(" ", ""))
    return match.group(1) if match else None


def postal_point(country_code: str, postal_code: str) -> Point | None:
    """Look up a postal code's centroid in the embedded data (US ZIPs); None when unknown.

    A pure lookup: the first call loads the package's embedded data, nothing goes over the network.
    """
    code = zip5(country_code, postal_code)
    if code is None:
        return None
    import zipcodes  # lazily: its data loads on the first query

    found = zipcodes.matching(code)
    if not found:
        return None
    try:
        lat, lon = float(found[0]["lat"]), float(found[0]["long"])
    except (KeyError, TypeError, ValueError):
        return None
    return Point(round(lat, 6), round(lon, 6), approximate=True, source="zip")


class OfflineGeocoder:
    """The embedded default: postal-code centroids, always approximate."""

    def locate(self, address: types.Address) -> Point | None:
        return postal_point(address.country_code, address.postal_code)


def _number(value: Any) -> float | None:
    try:
        number = float(Decimal(str(value)))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number


def parse_reply(body: Any) -> tuple[float, float] | None:
    """Read a geocoder's answer: Nominatim's ``[{"lat", "lon"}, ...]`` or ``{"latitude", "longitude"}``."""
    first = body[0] if isinstance(body, list) and body else body
    if not isinstance(first, Mapping):
        return None
    lat = _number(first.get("latitude", first.get("lat")))
    lon = _number(first.get("longitude", first.get("lon")))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


class HttpGeocoder:
    """A street-level geocoder over HTTP, guarded like webhook deliveries, falling back offline."""

    def __init__(
        self,
        url: str,
        policy: urls.Policy,
        *,
        timeout: float = 3.0,
        fallback: Geocoder | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.url = url
        self.policy = policy
        self.timeout = timeout
        self.fallback = fallback if fallback is not None else OfflineGeocoder()
        self._session = session

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            session = requests.Session()
            session.trust_env = False  # no proxy from the environment: the guard checks the real peer
            adapter = urls.GuardedAdapter(self.policy)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._session = session
        return self._session

    def params(self, address: types.Address) -> dict[str, str]:
        params = {
            "street": ", ".join(line for line in address.street_lines if line.strip()),
            "city": address.city,
            "postalcode": address.postal_code,
            "countrycodes": address.country_code.lower(),
            "format": "jsonv2",
            "limit": "1",
        }
        if address.state:
            params["state"] = address.state
        return {k: v for k, v in params.items() if v}

    def _ask(self, address: types.Address) -> tuple[float, float] | None:
        urls.check(self.url, self.policy)  # form, and in production what the name resolves to now
        response = self.session.get(
            self.url,
            params=self.params(address),
            timeout=self.timeout,
            allow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": "handoff-geocoder"},
            stream=True,
        )
        try:
            if response.status_code != 200:
                log.warning("geocoder answered HTTP %s", response.status_code)
                return None
            raw = response.raw.read(MAX_REPLY_BYTES + 1, decode_content=True)
        finally:
            response.close()
        if len(raw) > MAX_REPLY_BYTES:
            log.warning("geocoder reply larger than %s bytes, ignored", MAX_REPLY_BYTES)
            return None
        try:
            return parse_reply(json.loads(raw))
        except ValueError:
            log.warning("geocoder reply is not JSON")
            return None

    def locate(self, address: types.Address) -> Point | None:
        try:
            found = self._ask(address)
        except urls.UnsafeDestination as exc:
            log.warning("geocoder destination refused: %s", exc.reason)
            found = None
        except requests.RequestException as exc:
            log.warning("geocoder unreachable: %s", type(exc).__name__)
            found = None
        if found is None:
            return self.fallback.locate(address)
        return Point(round(found[0], 6), round(found[1], 6), approximate=False, source="http")


def from_settings(settings: Mapping[str, Any]) -> Geocoder:
    """Return the configured geocoder (``GEOCODER``: ``offline`` by default, or ``http``)."""
    kind = str(config.read(settings, "GEOCODER")).strip().lower()
    if kind == "http":
        url = str(config.read(settings, "GEOCODER_URL")).strip()
        if not url:
            raise config.ConfigError("GEOCODER=http needs GEOCODER_URL")
        return HttpGeocoder(
            url,
            urls.Policy.from_settings(settings),
            timeout=float(config.read(settings, "GEOCODER_TIMEOUT_SECONDS")),
        )
    if kind != "offline":
        raise config.ConfigError(f"GEOCODER must be offline or http, not {kind!r}")
    return OfflineGeocoder()
