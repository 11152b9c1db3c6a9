"""UPS Address Validation (Street Level, v2) with classification: ``POST /addressvalidation/v2/3``.

Request option 3 asks UPS to validate *and* classify. UPS answers with one of three indicators
(``ValidAddressIndicator``, ``AmbiguousAddressIndicator``, ``NoCandidatesIndicator``), the input's
classification (0 unclassified, 1 commercial, 2 residential) and up to ``maximumcandidatelistsize``
candidates, each with its own classification. UPS validates street level in the US and Puerto Rico
only. Kept apart from ``client.py``: it only builds the call, sends it through the adapter's own
authenticated ``_call`` and reads the reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from adapters import base
from adapters.ups import mapping
from schemas import carrier, types

if TYPE_CHECKING:
    from adapters.ups.client import UpsAdapter

PATH = "/api/addressvalidation/v2/3"  # version v2, request option 3: validation and classification
MAX_CANDIDATES = 5
COUNTRIES = frozenset({"US", "PR"})
_CLASSES = {"1": carrier.AddressClass.COMMERCIAL, "2": carrier.AddressClass.RESIDENTIAL}


def request(address: types.Address, max_candidates: int = MAX_CANDIDATES) -> mapping.HttpCall:
    """Build the XAV request for one address."""
    if address.country_code.upper() not in COUNTRIES:
        raise base.CarrierRejected(
            mapping.CARRIER,
            "UPS validates street addresses in the US and Puerto Rico only",
            code="invalid_request",
        )
    postal = address.postal_code.replace(" ", "")
    primary, _, extended = postal.partition("-")
    node: dict[str, Any] = {
        "AddressLine": [line[:35] for line in address.street_lines[:3] if line.strip()] or [""],
        "PoliticalDivision2": address.city,
        "PostcodePrimaryLow": primary[:5],
        "CountryCode": address.country_code.upper(),
    }
    if address.state:
        node["PoliticalDivision1"] = address.state.strip().upper()
    if extended:
        node["PostcodeExtendedLow"] = extended[:4]
    if address.company or address.name:
        node["ConsigneeName"] = (address.company or address.name or "")[:40]
    return mapping.HttpCall(
        "POST",
        PATH,
        params={"maximumcandidatelistsize": str(max_candidates)},
        json={"XAVRequest": {"AddressKeyFormat": node}},
    )


def _list(node: Any) -> list[Any]:
    if node is None:
        return []
    return list(node) if isinstance(node, list) else [node]


def _class(node: Any) -> carrier.AddressClass:
    code = str(node.get("Code") or "") if isinstance(node, Mapping) else ""
    return _CLASSES.get(code, carrier.AddressClass.UNKNOWN)


def _candidate(node: Mapping[str, Any], given: types.Address) -> types.Address:
    key = node.get("AddressKeyFormat") or {}
    if not isinstance(key, Mapping):
        key = {}
    lines = tuple(str(x).strip() for x in _list(key.get("AddressLine")) if str(x).strip())
    primary = str(key.get("PostcodePrimaryLow") or "").strip()
    extended = str(key.get("PostcodeExtendedLow") or "").strip()
    postal = f"{primary}-{extended}" if primary and extended else primary or given.postal_code
    kind = _class(node.get("AddressClassification"))
    return replace(
        given,
        street_lines=lines or given.street_lines,
        city=str(key.get("PoliticalDivision2") or "").strip() or given.city,
        state=str(key.get("PoliticalDivision1") or "").strip() or given.state,
        postal_code=postal,
        country_code=str(key.get("CountryCode") or given.country_code).upper(),
        residential={
            carrier.AddressClass.RESIDENTIAL: True,
            carrier.AddressClass.COMMERCIAL: False,
        }.get(kind, given.residential),
        latitude=None,
        longitude=None,
    )


def parse(body: Mapping[str, Any], given: types.Address) -> carrier.AddressValidation:
    """Read an XAV reply into the canonical validation of ``given``."""
    root = body.get("XAVResponse")
    if not isinstance(root, Mapping):
        raise mapping.malformed("address validation reply has no XAVResponse")
    envelope = root.get("Response") or {}
    alerts = _list(envelope.get("Alert")) if isinstance(envelope, Mapping) else []
    messages = tuple(
        f"{a.get('Code')}: {a.get('Description')}"
        for a in alerts
        if isinstance(a, Mapping) and a.get("Description")
    )
    nodes = [n for n in _list(root.get("Candidate")) if isinstance(n, Mapping)]
    candidates = tuple(_candidate(n, given) for n in nodes)
    kind = _class(root.get("AddressClassification"))
    if "ValidAddressIndicator" in root and candidates:
        valid: bool | None = True
        chosen = candidates[0]
        if kind is carrier.AddressClass.UNKNOWN:
            kind = _class(nodes[0].get("AddressClassification"))
    elif "NoCandidatesIndicator" in root:
        valid, chosen = False, given
    else:  # ambiguous: the caller picks among the candidates
        valid, chosen = None, given
    if "AmbiguousAddressIndicator" in root:
        messages = (*messages, "ambiguous: UPS offers candidates")
    return carrier.AddressValidation(
        carrier=mapping.CARRIER,
        address=chosen,
        classification=kind,
        valid=valid,
        candidates=candidates,
        messages=messages,
    )


def validate_address(
    adapter: UpsAdapter, address: types.Address, *, timeout: float | None = None
) -> carrier.AddressValidation:
    """Ask UPS to validate and classify one address through the adapter's authenticated session."""
    call = request(address)
    # The same package's authenticated transport (token cache, 401 refresh, retries, recorder).
    body = adapter._call(
        call, operation="address_validation", timeout=adapter._timeout(timeout), idempotent=True
    )
    return parse(body, address)
