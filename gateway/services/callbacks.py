"""Carrier callbacks: authenticate each sender its own way, persist the raw push, queue normalisation.

UPS Track Alert does not sign its pushes. Version 1 echoes the opaque ``credential`` header given in
the subscription (``CALLBACK_SECRETS["ups"]``, or an enabled UPS adapter's ``webhook_credential``),
compared in constant time. Version 2 (the current spec: ``webhooks.TrackingEvent`` with the
``clientOauth2`` scheme) has UPS fetch a bearer token from a token URL *we* provide, with the client
id and secret registered in the UPS portal (HTTP Basic, ``grant_type=client_credentials``), then send
``Authorization: Bearer <token>`` and ``x-api-key: <client id>``. ``issue_ups_token`` is that token
endpoint; the UPS adapter (``webhook_client_id``/``webhook_client_secret``) issues and verifies the
tokens. The DHL callback and the own fleet's driver app sign ``"<unix timestamp>." + raw body`` with
HMAC-SHA256; the timestamp must be within the tolerance and each signature is accepted once
(remembered in Redis for twice the tolerance).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from adapters.base import AdapterError, CarrierRejected
from gateway.bootstrap import Container
from gateway.db import tracking as tables
from gateway.errors import Problem

log = logging.getLogger(__name__)

CREDENTIAL = "credential"
SIGNED = "hmac"
# carrier -> how it authenticates its pushes
SCHEMES: dict[str, str] = {"ups": CREDENTIAL, "dhl_express": SIGNED, "fleet": SIGNED}
SIGNATURE_HEADERS = ("X-Handoff-Signature", "X-Sim-Signature")
TIMESTAMP_HEADERS = ("X-Handoff-Timestamp", "X-Sim-Timestamp")
# Headers worth keeping for debugging; everything else (credentials, signatures, cookies) is dropped.
KEPT_HEADERS = ("Content-Type", "User-Agent", "X-Request-Id", *TIMESTAMP_HEADERS)
DRAIN_FLAG = "handoff:tracking:drain-queued"
DRAIN_JOB = "gateway.jobs_tracking.drain_inbox"
_REPLAY_PREFIX = "handoff:callback:seen:"


def secrets_for(settings: Mapping[str, Any]) -> dict[str, str]:
    """Return the configured callback secrets by carrier (``CALLBACK_SECRETS`` is a JSON object)."""
    raw = settings.get("CALLBACK_SECRETS") or {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except ValueError:
            log.error("CALLBACK_SECRETS is not a JSON object; every callback will be refused")
            return {}
    return {str(k): str(v) for k, v in raw.items() if v} if isinstance(raw, dict) else {}


def _refuse(detail: str) -> Problem:
    return Problem("callback-unauthenticated", detail)


def _header(headers: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = headers.get(name)
        if value:
            return value.strip()
    return None


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the signature a signing sender puts in its header: ``sha256=<hex>``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def ups_adapters(registry: Any) -> list[Any]:
    """Return the enabled UPS adapters that can authenticate Track Alert pushes (v1 credential or v2)."""
    found = []
    try:
        for key in registry or ():
            adapter = registry.get(key)
            if adapter.name == "ups" and hasattr(adapter, "authenticate_push"):
                found.append(adapter)
    except AdapterError:
        log.error("carrier registry unusable; UPS pushes fall back to CALLBACK_SECRETS", exc_info=True)
    return found


def _authenticate_ups(headers: Mapping[str, str], secret: str | None, adapters: list[Any]) -> None:
    lowered = {k.lower(): v for k, v in headers.items()}
    given = lowered.get("credential")
    if given is not None and secret and hmac.compare_digest(given.encode(), secret.encode()):
        return  # v1, credential from CALLBACK_SECRETS
    if given is None and not lowered.get("authorization"):
        raise _refuse("Neither a credential header (Track Alert v1) nor a bearer token (v2) was sent.")
    for adapter in adapters:
        try:
            adapter.authenticate_push(headers)  # v1 webhook_credential or v2 bearer token, constant-time
            return
        except CarrierRejected:
            continue
    if given is not None:
        raise _refuse("The credential header is wrong.")
    raise _refuse("The bearer token is missing, expired, not ours, or its x-api-key is another client's.")


def authenticate(
    carrier: str,
    headers: Mapping[str, str],
    body: bytes,
    settings: Mapping[str, Any],
    redis: Any,
    now: float | None = None,
    registry: Any = None,
) -> str | None:
    """Raise a 401 Problem unless the push is genuine; return the replay key it reserved, if any."""
    scheme = SCHEMES.get(carrier)
    if scheme is None:
        raise Problem("not-found", f"No callback endpoint for carrier {carrier!r}.")
    secret = secrets_for(settings).get(carrier)
    if scheme == CREDENTIAL:
        adapters = ups_adapters(registry)
        if not secret and not adapters:
            raise _refuse(f"No callback credential is configured for {carrier!r}.")
        _authenticate_ups(headers, secret, adapters)
        return None
    if not secret:
        raise _refuse(f"No callback secret is configured for {carrier!r}.")
    signature = _header(headers, SIGNATURE_HEADERS) or ""
    stamp = _header(headers, TIMESTAMP_HEADERS) or ""
    if not stamp.isdigit():
        raise _refuse("The timestamp header is missing or not unix seconds.")
    tolerance = int(settings.get("CALLBACK_TOLERANCE_SECONDS") or 300)
    current = time.time() if now is None else now
    if abs(current - int(stamp)) > tolerance:
        raise _refuse(f"The timestamp is more than {tolerance} seconds away from our clock.")
    if not hmac.compare_digest(signature.encode(), sign(secret, stamp, body).encode()):
        raise _refuse("The signature does not match the body.")
    replay_key = f"{_REPLAY_PREFIX}{carrier}:{signature.removeprefix('sha256=')}"
    if not redis.set(replay_key, stamp, nx=True, ex=2 * tolerance):
        raise _refuse("This signed callback was already received (replay).")
    return replay_key


def store(session: Session, carrier: str, headers: Mapping[str, str], body: bytes) -> tables.CallbackInbox:
    """Persist the raw push to the inbox (the caller commits before answering)."""
    kept = {name: headers[name] for name in KEPT_HEADERS if headers.get(name)}
    row = tables.CallbackInbox(carrier=carrier, headers=kept, body=body, state="pending", attempts=0)
    session.add(row)
    session.flush()
    return row


def drain_jobs(settings: Mapping[str, Any]) -> int:
    """Return how many drain jobs to queue at once (``TRACKING_DRAIN_JOBS``, default 1).

    Each drains every pending row, in batches taken with ``FOR UPDATE SKIP LOCKED``, so with as many
    RQ workers they normalise side by side (``docs/benchmarks/ingest.md`` measures two).
    """
    try:
        return max(1, min(int(settings.get("TRACKING_DRAIN_JOBS") or 1), 16))
    except (TypeError, ValueError):
        return 1


def schedule_drain(container: Container) -> bool:
    """Queue the normalisation job(s) unless they are already waiting; they drain every pending row."""
    try:
        if container.redis.set(DRAIN_FLAG, "1", nx=True, ex=60):
            queue = container.queue("tracking")
            for _ in range(drain_jobs(container.settings)):
                queue.enqueue(DRAIN_JOB)
            return True
    except Exception:  # the row is safe in the inbox; the next callback or the sweep queues the drain
        log.warning("could not queue the tracking drain", exc_info=True)
    return False


def receive(
    session: Session, container: Container, carrier: str, headers: Mapping[str, str], body: bytes
) -> tables.CallbackInbox:
    """Authenticate, persist and commit one push, then queue its normalisation."""
    registry = _registry(container) if SCHEMES.get(carrier) == CREDENTIAL else None
    replay_key = authenticate(carrier, headers, body, container.settings, container.redis, registry=registry)
    try:
        json.loads(body)
    except ValueError:
        if replay_key:
            container.redis.delete(replay_key)
        raise Problem("malformed-json", "The callback body is not valid JSON.") from None
    try:
        row = store(session, carrier, headers, body)
        session.commit()
    except BaseException:
        session.rollback()
        if replay_key:  # not stored, so a resend must not be refused as a replay
            container.redis.delete(replay_key)
        raise
    schedule_drain(container)
    return row


def issue_ups_token(container: Container, authorization: str, grant_type: str | None) -> dict[str, Any]:
    """Our Track Alert v2 token endpoint: UPS asks for a bearer token with client credentials (Basic)."""
    if grant_type != "client_credentials":
        raise Problem(
            "bad-request",
            "Only grant_type=client_credentials is supported (OAuth 2 unsupported_grant_type).",
        )
    adapters = [a for a in ups_adapters(_registry(container)) if hasattr(a, "issue_webhook_token")]
    for adapter in adapters:
        try:
            return dict(adapter.issue_webhook_token(authorization))
        except CarrierRejected:
            continue
    raise Problem(
        "callback-unauthenticated",
        "Unknown client or wrong secret for the Track Alert token endpoint (OAuth 2 invalid_client).",
        headers={"WWW-Authenticate": 'Basic realm="ups-track-alert"'},
    )


def _registry(container: Container) -> Any:
    try:
        return container.carriers
    except (AdapterError, ValueError):
        log.error("carrier registry unusable; no Track Alert token issued", exc_info=True)
        return None
