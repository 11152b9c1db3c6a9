"""Validate and classify an address through a carrier, cached per tenant.

The cache key is the tenant, the carrier account asked and the SHA-256 of the normalised address
(country, postal code, state, city and street lines, upper case with single spaces; names and
contact details do not change where a parcel goes). An answer is reused for
``ADDRESS_CACHE_TTL_SECONDS``; 0 asks the carrier every time. A carrier that cannot answer is a
503 ``carrier-unavailable``; one that refuses the request is a 422 ``carrier-rejected``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapters import base
from gateway.addresses import carriers, geocoding
from gateway.addresses.tables import AddressValidation
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow
from schemas import carrier, types

log = logging.getLogger(__name__)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Outcome:
    """The rendered answer and whether it came from the cache."""

    result: dict[str, Any]
    cached: bool


def _norm(text: str | None) -> str:
    return _SPACES.sub(" ", (text or "").strip()).upper()


def normalised(address: types.Address) -> dict[str, Any]:
    """The parts of an address that say where it is, in one spelling."""
    return {
        "country_code": _norm(address.country_code),
        "postal_code": _norm(address.postal_code).replace(" ", ""),
        "state": _norm(address.state),
        "city": _norm(address.city),
        "street_lines": [_norm(line) for line in address.street_lines if line.strip()],
    }


def address_hash(address: types.Address) -> str:
    """SHA-256 of the normalised address: the cache key within a tenant and carrier."""
    text = json.dumps(normalised(address), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def from_body(data: Mapping[str, Any]) -> types.Address:
    """The canonical address of a validated request body (``AddressSchema``)."""
    return types.Address(
        country_code=data["country_code"],
        postal_code=(data.get("postal_code") or "").strip(),
        city=data["city"],
        street_lines=tuple(data.get("street_lines") or ()),
        state=data.get("state"),
        name=data.get("name"),
        company=data.get("company"),
        residential=data.get("residential"),
    )


def render_address(address: types.Address) -> dict[str, Any]:
    return {
        "street_lines": list(address.street_lines),
        "city": address.city,
        "state": address.state,
        "postal_code": address.postal_code,
        "country_code": address.country_code,
        "residential": address.residential,
    }


def render(found: carrier.AddressValidation, carrier_id: str) -> dict[str, Any]:
    """The stored and returned form of a carrier's answer."""
    return {
        "carrier": carrier_id,
        "adapter": found.carrier,
        "address": render_address(found.address),
        "classification": found.classification.value,
        "valid": found.valid,
        "candidates": [render_address(c) for c in found.candidates],
        "messages": list(found.messages),
    }


def choose(registry: Any, wanted: str | None) -> tuple[str, base.Adapter]:
    """The carrier account to ask: the one named (by id or adapter name), else the first that can."""
    capable = list(carriers.enabled(registry))
    if wanted:
        for key, adapter in capable:
            if wanted in (key, adapter.name):
                return key, adapter
        raise Problem(
            "not-found",
            f"No enabled carrier {wanted!r} validates addresses; "
            f"enabled: {', '.join(k for k, _ in capable) or 'none'}.",
        )
    if not capable:
        # Configuration, not an outage: nothing here validates addresses (a 5xx would invite retries).
        raise Problem(
            "not-found", "No enabled carrier validates addresses (none declares address_validation)."
        )
    return capable[0]


def _cached(session: Session, tenant_id: str, digest: str, carrier_id: str) -> AddressValidation | None:
    return session.execute(
        sa.select(AddressValidation).where(
            AddressValidation.tenant_id == tenant_id,
            AddressValidation.address_hash == digest,
            AddressValidation.carrier == carrier_id,
        )
    ).scalar_one_or_none()


def _ask(adapter: base.Adapter, carrier_id: str, address: types.Address) -> carrier.AddressValidation:
    try:
        return carriers.validate(adapter, address)
    except base.CarrierRejected as exc:
        if exc.http_status == 404:  # USPS: "There is no match for the address requested."
            return carrier.AddressValidation(adapter.name, address, valid=False, messages=(exc.message,))
        raise Problem(
            "carrier-rejected", f"{carrier_id} refused to validate the address: {exc.message}"
        ) from exc
    except base.CarrierError as exc:
        log.warning("address validation: %s unavailable (%s)", carrier_id, exc.code)
        raise Problem(
            "carrier-unavailable", f"{carrier_id} could not validate the address now; try again later."
        ) from exc


def _store(
    session: Session,
    row: AddressValidation | None,
    tenant_id: str,
    digest: str,
    carrier_id: str,
    result: dict[str, Any],
    expires_at: datetime,
) -> None:
    if row is not None:
        row.result, row.classification = result, result["classification"]
        row.created_at, row.expires_at = utcnow(), expires_at
        session.flush()
        return
    try:
        with session.begin_nested():  # a concurrent request may have stored the same key first
            session.add(
                AddressValidation(
                    tenant_id=tenant_id,
                    address_hash=digest,
                    carrier=carrier_id,
                    classification=result["classification"],
                    result=result,
                    expires_at=expires_at,
                )
            )
    except IntegrityError:
        log.info("address validation already cached by a concurrent request")


def locate(geocoder: geocoding.Geocoder, address: types.Address) -> dict[str, Any] | None:
    point = geocoder.locate(address)
    if point is None:
        return None
    return {
        "latitude": point.latitude,
        "longitude": point.longitude,
        "approximate": point.approximate,
        "source": point.source,
    }


def validate(
    session: Session,
    settings: Mapping[str, Any],
    registry: Any,
    tenant_id: str,
    address: types.Address,
    *,
    carrier_id: str | None = None,
    geocoder: geocoding.Geocoder | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Validate an address with a carrier (cached per tenant), and place it with the geocoder."""
    now = now or utcnow()
    key, adapter = choose(registry, carrier_id)
    digest = address_hash(address)
    ttl = int(settings["ADDRESS_CACHE_TTL_SECONDS"])
    row = _cached(session, tenant_id, digest, key) if ttl > 0 else None
    if row is not None and row.expires_at > now:
        result, cached = dict(row.result), True
    else:
        result, cached = render(_ask(adapter, key, address), key), False
        if ttl > 0:
            _store(session, row, tenant_id, digest, key, result, now + timedelta(seconds=ttl))
    result = dict(result)  # the stored answer stays as the carrier gave it
    place = from_body(result["address"]) if result.get("valid") is not False else address
    result["location"] = locate(geocoder or geocoding.from_settings(settings), place)
    result["cached"] = cached
    return Outcome(result, cached)
