"""USPS Subscriptions - Tracking v3r2 pushes: ``X-HMAC`` verification and parsing. Pure: no I/O.

USPS POSTs ``{subscriptionId, subscriptionType, timestamp, payload}`` where ``payload`` is a *JSON
string* holding a v3r2 ``TrackingDetail`` (``trackingEvents[]``) or, for SCAN_EVENT_EXTRACT
subscriptions, a detailed scan event (``trackingEvent``). When the subscription has a secret, the
``X-HMAC`` header (formerly ``hmac-header``) carries Base64(HMAC-SHA256(secret, timestamp + payload)):
the two field *values* concatenated, not the raw body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from adapters import base
from adapters.usps import mapping
from schemas import carrier

SIGNATURE_HEADERS: tuple[str, ...] = ("X-HMAC", "hmac-header")


def signature(secret: str, timestamp: str, payload: str) -> str:
    """Return the Base64 HMAC-SHA256 USPS sends for a push (``X-HMAC``)."""
    digest = hmac.new(secret.encode(), (timestamp + payload).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _fields(envelope: Any) -> tuple[str, str]:
    if not isinstance(envelope, Mapping):
        raise base.PushPayloadError("USPS push is not a JSON object")
    timestamp, payload = envelope.get("timestamp"), envelope.get("payload")
    if not isinstance(timestamp, str) or not isinstance(payload, str):
        raise base.PushPayloadError("USPS push without string timestamp and payload fields")
    return timestamp, payload


def verify(secret: str, headers: Mapping[str, str], body: bytes) -> None:
    """Raise CarrierRejected unless ``X-HMAC`` (or the deprecated ``hmac-header``) signs this push.

    The comparison is constant-time and over the decoded digests, so Base64 padding or line breaks in
    the header do not matter.
    """
    if not secret:
        raise _unauthenticated("no webhook secret configured")
    lowered = {k.lower(): v for k, v in headers.items()}
    given = next((lowered[h.lower()].strip() for h in SIGNATURE_HEADERS if lowered.get(h.lower())), None)
    if given is None:
        raise _unauthenticated("no X-HMAC header")
    try:
        envelope = json.loads(body)
        timestamp, payload = _fields(envelope)
    except (ValueError, base.PushPayloadError) as exc:
        raise _unauthenticated("body is not a USPS push envelope") from exc
    try:
        given_digest = base64.b64decode("".join(given.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _unauthenticated("X-HMAC is not Base64") from exc
    expected = hmac.new(secret.encode(), (timestamp + payload).encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(given_digest, expected):
        raise _unauthenticated("X-HMAC does not match timestamp + payload")


def subscription_id(body: bytes) -> str | None:
    """Return the push envelope's ``subscriptionId`` (None: not a JSON object, or it names none)."""
    try:
        envelope = json.loads(body)
    except (ValueError, RecursionError):
        return None
    found = envelope.get("subscriptionId") if isinstance(envelope, Mapping) else None
    return str(found).strip() or None if isinstance(found, str | int) else None


def parse(envelope: Mapping[str, Any]) -> list[carrier.RawTrackingEvent]:
    """Return every event of one push (``PushPayloadError`` when it is not a readable USPS push)."""
    _, payload = _fields(envelope)
    detail = _payload(payload)
    if not isinstance(detail, Mapping):
        raise base.PushPayloadError("USPS push payload is not a JSON object")
    number = str(detail.get("trackingNumber") or "").strip()
    if not number:
        raise base.PushPayloadError("USPS push payload without trackingNumber")
    try:
        return mapping.detail_events(detail, number)
    except base.CarrierUnavailable as exc:  # an event without a readable time
        raise base.PushPayloadError(exc.message) from exc


def _payload(text: str) -> Any:
    """Parse the payload string; USPS's own examples escape its quotes once more (``{\\"trackingNumber\\"...``)."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return json.loads(json.loads(f'"{text.strip()}"'))
    except ValueError as exc:
        raise base.PushPayloadError("USPS push payload is not a JSON string") from exc


def _unauthenticated(reason: str) -> base.CarrierRejected:
    return base.CarrierRejected(mapping.CARRIER, f"USPS push rejected: {reason}", code="push_unauthenticated")
