"""Signed, expiring label download URLs: a label document fetched without an API key.

A URL names the tenant, the label, the format and the expiry (Unix seconds), and carries
``signature = base64url(HMAC-SHA256(key, "v1\\n{tenant}\\n{label}\\n{format}\\n{expires}"))``.
Changing any of them breaks the signature (403); a valid one past its expiry is 410. The key is
``LABEL_URL_SECRET``; when empty it is derived from ``SECRET_PEPPER`` (domain-separated, so the
pepper itself is never exposed); with neither, ``ENV`` test/development use a fixed, public key and
production issues no URLs at all rather than sign with a guessable key. The key is never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app, has_request_context, url_for
from werkzeug.routing import BuildError

from gateway.kernel import config
from gateway.kernel.errors import Problem

log = logging.getLogger(__name__)

VERSION = "v1"
ENDPOINT = "label_files.LabelFile"
_DEVELOPMENT_ENVS = frozenset({"test", "development"})
_DEVELOPMENT_KEY = b"handoff development label URL key (not a secret)"
_PEPPER_CONTEXT = b"handoff/label-urls/v1"
_warned = False


def signing_key(settings: Mapping[str, Any]) -> bytes | None:
    """The HMAC key of label URLs, or None when none may be used (production without a secret)."""
    global _warned
    secret = config.read(settings, "LABEL_URL_SECRET")
    if secret:
        return str(secret).encode()
    pepper = config.read(settings, "SECRET_PEPPER")
    if pepper:
        return hmac.new(str(pepper).encode(), _PEPPER_CONTEXT, hashlib.sha256).digest()
    if str(config.read(settings, "ENV")).strip().lower() in _DEVELOPMENT_ENVS:
        return _DEVELOPMENT_KEY
    if not _warned:
        _warned = True
        log.error("neither LABEL_URL_SECRET nor SECRET_PEPPER is set: signed label URLs are disabled")
    return None


def _digits(value: str) -> bool:
    return 0 < len(value) <= 12 and value.isascii() and value.isdigit()


def signature(key: bytes, tenant_id: str, label_id: str, fmt: str, expires: int | str) -> str:
    message = "\n".join((VERSION, tenant_id, label_id, fmt, str(expires))).encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Signed:
    label_id: str
    ext: str
    tenant: str
    expires: int
    signature: str

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.expires, UTC)

    def url_values(self) -> dict[str, Any]:
        """What ``url_for(ENDPOINT, …)`` takes."""
        return {
            "label_id": self.label_id,
            "ext": self.ext,
            "tenant": self.tenant,
            "expires": self.expires,
            "signature": self.signature,
        }


def sign(
    settings: Mapping[str, Any], tenant_id: str, label_id: str, fmt: str, *, now: float | None = None
) -> Signed | None:
    """Sign a download of ``label_id`` as ``fmt`` (pdf, png, zpl) for ``LABEL_URL_TTL_SECONDS``."""
    key = signing_key(settings)
    if key is None:
        return None
    fmt = fmt.lower()
    expires = int(time.time() if now is None else now) + int(config.read(settings, "LABEL_URL_TTL_SECONDS"))
    return Signed(label_id, fmt, tenant_id, expires, signature(key, tenant_id, label_id, fmt, expires))


def verify(
    settings: Mapping[str, Any],
    *,
    tenant_id: str | None,
    label_id: str,
    fmt: str,
    expires: str | None,
    given: str | None,
    now: float | None = None,
) -> None:
    """Raise 403 ``forbidden`` for a missing or wrong signature, 410 ``gone`` once expired."""
    key = signing_key(settings)
    refused = Problem("forbidden", "This label link is not valid: its signature does not match.")
    if key is None or not tenant_id or not expires or not given or not _digits(expires):
        raise refused
    expected = signature(key, tenant_id, label_id, fmt, expires)
    if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
        raise refused
    if int(expires) <= (time.time() if now is None else now):
        when = datetime.fromtimestamp(int(expires), UTC).isoformat()
        raise Problem(
            "gone",
            f"This label link expired at {when}; read the label again for a fresh link.",
            extra={"expired_at": when},
        )


def for_label(tenant_id: str, label_id: str, fmt: str | None, document_available: bool) -> dict[str, Any]:
    """``url`` and ``url_expires_at`` of a label representation (both None when there is no link)."""
    none: dict[str, Any] = {"url": None, "url_expires_at": None}
    if not document_available or not fmt or not has_request_context():
        return none
    signed = sign(current_app.config, tenant_id, label_id, fmt)
    if signed is None:
        return none
    try:
        url = url_for(ENDPOINT, _external=True, **signed.url_values())
    except BuildError:  # the label_files blueprint is not registered in this app
        return none
    return {"url": url, "url_expires_at": signed.expires_at}
