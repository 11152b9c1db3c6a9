"""Standard Webhooks 1.0 signatures: ``v1,`` + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}")).

The secret is ``whsec_`` + base64 of random bytes; the HMAC key is those bytes. Several
signatures are sent space-separated while a rotated-out secret is still in its grace period.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """Return a fresh ``whsec_`` secret (32 random bytes)."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def key_bytes(secret: str) -> bytes:
    """Return the HMAC key of a ``whsec_`` secret."""
    if not secret.startswith(PREFIX):
        raise ValueError("webhook secrets start with whsec_")
    return base64.b64decode(secret[len(PREFIX) :], validate=True)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return one ``v1,<base64>`` signature of ``id.timestamp.body``."""
    to_sign = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key_bytes(secret), to_sign, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(secrets_: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``webhook-signature`` value: one signature per secret, space-separated."""
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets_)


def headers(secrets_: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Return the three Standard Webhooks headers plus the content type."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets_, msg_id, timestamp, body),
        "content-type": "application/json",
    }
