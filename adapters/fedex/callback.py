"""FedEx Advanced Integrated Visibility (tracking webhook) pushes: ``fdx-signature`` and the payload.

FedEx signs each push with header ``fdx-signature`` = Base64(HMAC-SHA256(key = the security token we
registered in the Developer Portal, message = the raw request body)). There is no timestamp, so a replay
is caught by remembering the body's hash, not by a clock window.

FedEx publishes no schema for the pushed body; third parties say it mirrors the Track API's
``trackResults``. ``parse`` therefore accepts one track result, a list of them under ``trackResults``, a
``completeTrackResults`` list or a whole Track reply (``output.completeTrackResults``), and reads each with
the Track mapping, so a pushed scan gets the same event id as the same scan polled. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from adapters import base, codes
from adapters.fedex import mapping
from schemas import carrier, events

SIGNATURE_HEADER = "fdx-signature"


def sign(security_token: str, body: bytes) -> str:
    """Return the ``fdx-signature`` value FedEx sends for body."""
    digest = hmac.new(security_token.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(security_token: str, signature: str | None, body: bytes) -> bool:
    """Return whether signature is FedEx's HMAC of the exact body bytes (constant-time comparison)."""
    if not security_token or not signature:
        return False
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(security_token.encode("utf-8"), body, hashlib.sha256).digest()
    return hmac.compare_digest(given, expected)


def replay_key(body: bytes) -> str:
    """Return the de-duplication key of a push (FedEx documents no event id)."""
    return hashlib.sha256(body).hexdigest()


def authenticate(security_token: str | None, headers: Mapping[str, str], body: bytes) -> None:
    """Raise CarrierRejected unless the push carries a valid ``fdx-signature``."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if not security_token:
        raise _unauthenticated("no webhook security token configured")
    signature = lowered.get(SIGNATURE_HEADER)
    if not signature:
        raise _unauthenticated(f"no {SIGNATURE_HEADER} header")
    if not verify(security_token, signature, body):
        raise _unauthenticated(f"{SIGNATURE_HEADER} does not match the body")


def _unauthenticated(reason: str) -> base.CarrierRejected:
    return base.CarrierRejected(
        mapping.CARRIER, f"FedEx push rejected: {reason}", code="push_unauthenticated"
    )


def _track_results(payload: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """Return (tracking number, track result) pairs from any of the accepted payload shapes."""
    output = payload.get("output")
    if isinstance(output, Mapping) and "completeTrackResults" in output:
        payload = output
    pairs: list[tuple[str, Mapping[str, Any]]] = []
    if isinstance(payload.get("completeTrackResults"), list):
        for complete in payload["completeTrackResults"]:
            if not isinstance(complete, Mapping):
                continue
            number = str(complete.get("trackingNumber") or "")
            results = complete.get("trackResults")
            for result in results if isinstance(results, list) else []:
                if isinstance(result, Mapping):
                    pairs.append((number, result))
        return pairs
    if isinstance(payload.get("trackResults"), list):
        number = str(payload.get("trackingNumber") or "")
        return [(number, r) for r in payload["trackResults"] if isinstance(r, Mapping)]
    if "scanEvents" in payload or "trackingNumberInfo" in payload:
        return [(str(payload.get("trackingNumber") or ""), payload)]
    return []


def parse_raw(payload: Mapping[str, Any]) -> tuple[list[carrier.RawTrackingEvent], list[str]]:
    """Return the raw events and warnings of one push body; ``PushPayloadError`` when it holds none."""
    pairs = _track_results(payload)
    if not pairs:
        raise base.PushPayloadError("FedEx push without trackResults/scanEvents")
    raw: list[carrier.RawTrackingEvent] = []
    warnings: list[str] = []
    for number, result in pairs:
        info = result.get("trackingNumberInfo")
        has_number = bool(number) or (isinstance(info, Mapping) and bool(info.get("trackingNumber")))
        if not has_number:
            raise base.PushPayloadError("FedEx push without a tracking number")
        found, _ = mapping.track_result_events(result, number, warnings)
        raw.extend(found)
    if not raw:
        detail = "; ".join(warnings) or "no scan events"
        raise base.PushPayloadError(f"FedEx push without a readable scan event ({detail})")
    raw.sort(key=lambda e: e.occurred_at)
    return raw, warnings


def parse(payload: Mapping[str, Any], table: codes.CodeTable) -> list[base.PushedEvent]:
    """Translate one authenticated push body with the FedEx code table."""
    raw, _ = parse_raw(payload)
    return [base.PushedEvent(base.canonical_event(table, r, events.EventSource.WEBHOOK)) for r in raw]
