"""Carrier callbacks: authenticate each sender its own way, persist the raw push, queue normalisation.

How a carrier authenticates its pushes is the adapter's to say (``adapters.base.CallbackSpec``, found
with ``adapters.registry.receiver``); nothing here knows a carrier by name. Two schemes exist:

* ``credential``: the push carries an opaque credential header, compared in constant time with
  ``CALLBACK_SECRETS[carrier]``, or one of the carrier's enabled accounts vouches for it
  (``Adapter.authenticate_push``: e.g. UPS Track Alert v1's ``webhook_credential``, or v2's bearer
  token, which that account issued at our token endpoint, ``issue_token``, against client credentials
  sent with HTTP Basic).
* ``hmac``: the sender signs ``"<unix timestamp>." + raw body`` with HMAC-SHA256 and
  ``CALLBACK_SECRETS[carrier]``; the timestamp must be within the tolerance and each signature is
  accepted once (remembered in Redis for twice the tolerance). A push that is not stored (a body that
  does not parse, a failed commit) gives its signature back, so the sender's retry is answered on its
  merits, not refused as a replay.

Failed authentications are counted in Redis (``Throttle``), per public client address and per
carrier, in windows of ``CALLBACK_FAILURE_WINDOW_SECONDS``. Once a source has failed
``CALLBACK_FAILURES_PER_SOURCE`` times, its credential pushes and token requests (guessable secrets)
are answered 429 ``callback-throttled`` with ``Retry-After`` before any credential is looked at; past
either limit, a failed attempt is answered 429 instead of 401. A correct signature or credential
is never counted, and a correctly signed push is always checked and accepted, so nobody else's
failures can lock a carrier out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from adapters import registry as adapter_registry
from adapters.base import Adapter, AdapterError, CallbackSpec, CarrierRejected, PushScheme
from gateway.kernel import config
from gateway.kernel.container import Container
from gateway.kernel.errors import Problem
from gateway.tracking import jobs as tracking_jobs
from gateway.tracking import push_subscriptions, tables

log = logging.getLogger(__name__)

# Headers worth keeping for debugging (with the sender's timestamp headers); everything else
# (credentials, signatures, cookies) is dropped.
KEPT_HEADERS = ("Content-Type", "User-Agent", "X-Request-Id")
DRAIN_FLAG = "handoff:tracking:drain-queued"
_REPLAY_PREFIX = "handoff:callback:seen:"
_FAILURES_PREFIX = "handoff:callback:failures:"


def secrets_for(settings: Mapping[str, Any]) -> dict[str, str]:
    """Return the configured callback secrets by carrier (``CALLBACK_SECRETS`` is a JSON object)."""
    raw = settings["CALLBACK_SECRETS"]
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except ValueError:
            log.error("CALLBACK_SECRETS is not a JSON object; every callback will be refused")
            return {}
    return {str(k): str(v) for k, v in raw.items() if v} if isinstance(raw, dict) else {}


def _refuse(detail: str) -> Problem:
    return Problem("callback-unauthenticated", detail)


class Replayed(Problem):
    """A correctly signed push seen before: refused, but not a failed authentication."""

    def __init__(self) -> None:
        super().__init__("callback-unauthenticated", "This signed callback was already received (replay).")


# -- throttling failed authentications ---------------------------------------------------------------


def source_of(remote_addr: str | None) -> str | None:
    """Return what failures from a client address are counted under, or None if not counted.

    A public address counts as itself, an IPv6 one by its /64 (what one subscriber holds). A
    private or loopback peer is a proxy, a load balancer or this machine: its address does not
    tell one sender from another, so only the carrier's count applies.
    """
    try:
        address = ipaddress.ip_address((remote_addr or "").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_global:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _int_setting(settings: Mapping[str, Any], name: str) -> int:
    return max(0, int(config.read(settings, name)))


@dataclass(frozen=True)
class Throttle:
    """Failed-authentication counters for one request: its source (if counted) and its carrier."""

    container: Container  # its Redis is reached only inside the fail-open blocks
    carrier: str
    source: str | None
    window: int
    per_source: int
    per_carrier: int

    @classmethod
    def for_request(cls, container: Container, carrier: str, remote_addr: str | None) -> Throttle:
        settings = container.settings
        return cls(
            container=container,
            carrier=carrier,
            source=source_of(remote_addr),
            window=max(1, _int_setting(settings, "CALLBACK_FAILURE_WINDOW_SECONDS")),
            per_source=_int_setting(settings, "CALLBACK_FAILURES_PER_SOURCE"),
            per_carrier=_int_setting(settings, "CALLBACK_FAILURES_PER_CARRIER"),
        )

    def _counters(self) -> list[tuple[str, str, int]]:
        """(scope, Redis key, limit) for each counter that is on."""
        found = []
        if self.source is not None and self.per_source:
            found.append(("source", f"{_FAILURES_PREFIX}source:{self.source}", self.per_source))
        if self.per_carrier:
            found.append(("carrier", f"{_FAILURES_PREFIX}carrier:{self.carrier}", self.per_carrier))
        return found

    def _problem(self, scope: str, retry_after: int) -> Problem:
        who = "this address" if scope == "source" else f"carrier {self.carrier!r}"
        return Problem(
            "callback-throttled",
            f"Too many failed authentications from {who}; retry after {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )

    def check_source(self) -> None:
        """Raise 429 if this source is already over its limit (before its credential is checked)."""
        counters = [c for c in self._counters() if c[0] == "source"]
        if not counters:
            return
        _scope, key, limit = counters[0]
        try:
            pipe = self.container.redis.pipeline()
            pipe.get(key)
            pipe.ttl(key)
            count, ttl = pipe.execute()
            if count is None or int(count) < limit:
                return
            if ttl < 0:  # never lock a source out for good
                self.container.redis.expire(key, self.window)
                ttl = self.window
        except Exception:  # fail open: a Redis hiccup must not turn carriers away
            log.warning("callback throttle unavailable", exc_info=True)
            return
        raise self._problem("source", max(1, int(ttl)))

    def failed(self) -> Problem | None:
        """Count one failed authentication; return the 429 to answer instead if a limit is passed."""
        over: list[tuple[str, int, int]] = []
        try:
            for scope, key, limit in self._counters():
                pipe = self.container.redis.pipeline()
                pipe.set(key, 0, ex=self.window, nx=True)  # the window starts at the first failure
                pipe.incr(key)
                pipe.ttl(key)
                _, count, ttl = pipe.execute()
                if ttl < 0:  # expired between SET and INCR, so INCR made a key without one
                    self.container.redis.expire(key, self.window)
                    ttl = self.window
                if count > limit:
                    over.append((scope, max(1, int(ttl)), count - limit))
        except Exception:  # fail open, as above
            log.warning("callback throttle unavailable", exc_info=True)
            return None
        if not over:
            return None
        scope, retry_after, excess = max(over, key=lambda item: item[1])
        if excess == 1:  # log once per window and counter, not once per refused attempt
            log.warning(
                "callback authentication throttled",
                extra={"carrier": self.carrier, "scope": scope, "source": self.source},
            )
        return self._problem(scope, retry_after)


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


def spec_for(carrier: str) -> CallbackSpec:
    """Return how this carrier's pushes authenticate, or raise 404 when nothing receives its pushes."""
    receiver = adapter_registry.receiver(carrier)
    if receiver is None or receiver.callback is None:
        raise Problem("not-found", f"No callback endpoint for carrier {carrier!r}.")
    return receiver.callback


def accounts(registry: Any, carrier: str) -> list[Adapter]:
    """Return the carrier's enabled accounts, whose own push credentials may vouch for a push."""
    found = []
    try:
        for key in registry or ():
            adapter = registry.get(key)
            if adapter.name == carrier:
                found.append(adapter)
    except AdapterError:
        log.error("carrier registry unusable; pushes fall back to CALLBACK_SECRETS", exc_info=True)
    return found


def _authenticate_credential(
    spec: CallbackSpec, headers: Mapping[str, str], secret: str | None, adapters: list[Adapter]
) -> None:
    lowered = {k.lower(): v for k, v in headers.items()}
    given = lowered.get(spec.credential_header.lower())
    if given is not None and secret and hmac.compare_digest(given.encode(), secret.encode()):
        return  # the shared credential from CALLBACK_SECRETS
    if given is None and not lowered.get("authorization"):
        raise _refuse(f"Neither a {spec.credential_header} header nor a bearer token was sent.")
    for adapter in adapters:
        try:
            adapter.authenticate_push(headers)  # the account's own credential or token, constant-time
            return
        except CarrierRejected:
            continue
    if given is not None:
        raise _refuse(f"The {spec.credential_header} header is wrong.")
    raise _refuse("The bearer token is missing, expired, not one we issued, or sent by another client.")


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
    spec = spec_for(carrier)
    secret = secrets_for(settings).get(carrier)
    if spec.scheme is PushScheme.CREDENTIAL:
        adapters = accounts(registry, carrier)
        if not secret and not adapters:
            raise _refuse(f"No callback credential is configured for {carrier!r}.")
        _authenticate_credential(spec, headers, secret, adapters)
        return None
    if spec.scheme is PushScheme.ADAPTER:
        _verify_with_adapter(carrier, headers, body, secret, accounts(registry, carrier))
        return _reserve_body(carrier, body, redis)
    if not secret:
        raise _refuse(f"No callback secret is configured for {carrier!r}.")
    if spec.scheme is PushScheme.SIGNED_BODY:
        _check_body_signature(spec, headers, body, secret)
        return _reserve_body(carrier, body, redis)
    signature = _header(headers, spec.signature_headers) or ""
    stamp = _header(headers, spec.timestamp_headers) or ""
    if not stamp.isdigit():
        raise _refuse("The timestamp header is missing or not unix seconds.")
    tolerance = int(config.read(settings, "CALLBACK_TOLERANCE_SECONDS"))
    current = time.time() if now is None else now
    if abs(current - int(stamp)) > tolerance:
        raise _refuse(f"The timestamp is more than {tolerance} seconds away from our clock.")
    if not hmac.compare_digest(signature.encode(), sign(secret, stamp, body).encode()):
        raise _refuse("The signature does not match the body.")
    replay_key = f"{_REPLAY_PREFIX}{carrier}:{signature.removeprefix('sha256=')}"
    if not redis.set(replay_key, stamp, nx=True, ex=2 * tolerance):
        raise Replayed()
    return replay_key


# A body-signed push (no timestamp) is accepted once within this window; later copies are replays.
SIGNED_BODY_REPLAY_SECONDS = 24 * 3600


def _verify_with_adapter(
    carrier: str, headers: Mapping[str, str], body: bytes, secret: str | None, adapters: list[Adapter]
) -> None:
    """A push the adapter verifies: with ``CALLBACK_SECRETS`` (a subscription made outside the gateway),
    else with the own secret of an account the push may be for (the operator's, or the tenant account
    whose subscription the push names)."""
    receiver = adapter_registry.receiver(carrier)
    if receiver is None:
        raise _refuse(f"No adapter receives {carrier!r} pushes.")
    if not secret and not adapters:
        raise _refuse(f"No callback secret is configured for {carrier!r}.")
    refusal: str | None = None
    if secret:
        try:
            receiver.verify_callback(secret, headers, body)
            return
        except CarrierRejected as exc:
            refusal = exc.message
    for adapter in adapters:
        try:
            adapter.verify_push(headers, body)
            return
        except CarrierRejected as exc:
            refusal = refusal or exc.message
    raise _refuse(refusal or "No account's secret signs this push.")


def _check_body_signature(spec: CallbackSpec, headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """Check a base64 HMAC-SHA256 of the raw body (FedEx ``fdx-signature``)."""
    given = (_header(headers, spec.signature_headers) or "").strip()
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise _refuse("The signature does not match the body.")


def _reserve_body(carrier: str, body: bytes, redis: Any) -> str:
    """Accept a push without a signed timestamp once: its body's hash is the replay key."""
    replay_key = f"{_REPLAY_PREFIX}{carrier}:{hashlib.sha256(body).hexdigest()}"
    if not redis.set(replay_key, "1", nx=True, ex=SIGNED_BODY_REPLAY_SECONDS):
        raise Replayed()
    return replay_key


class _Accounts:
    """A registry plus a few more adapters (a tenant's account, the operator's test accounts), iterated
    as ``accounts`` expects."""

    def __init__(self, registry: Any, extra: list[Adapter]) -> None:
        self._adapters: dict[str, Adapter] = {}
        for key in registry or ():
            self._adapters[key] = registry.get(key)
        for index, adapter in enumerate(extra):
            self._adapters[f"extra-{index}"] = adapter

    def __iter__(self) -> Any:
        return iter(self._adapters)

    def get(self, key: str) -> Adapter:
        return self._adapters[key]


def _authenticate_throttled(
    carrier: str,
    headers: Mapping[str, str],
    body: bytes,
    container: Container,
    remote_addr: str | None,
    session: Session | None = None,
) -> str | None:
    """``authenticate`` behind the failure counters: 429 instead of 401 once a limit is passed."""
    spec = spec_for(carrier)
    throttle = Throttle.for_request(container, carrier, remote_addr)
    guessable = spec.scheme is PushScheme.CREDENTIAL
    if guessable:  # a guessable secret: a throttled source does not get to try it
        throttle.check_source()
    registry: Any = None
    if guessable or spec.scheme is PushScheme.ADAPTER:
        registry = _registry(container)
    if spec.scheme is PushScheme.ADAPTER and session is not None:
        # The tenant account whose standing subscription the push names verifies it with its own secret.
        own = push_subscriptions.adapters_for_push(session, container, carrier, body)
        registry = _Accounts(registry, own)
    try:
        return authenticate(carrier, headers, body, container.settings, container.redis, registry=registry)
    except Replayed:
        raise  # correctly signed: not a failed authentication
    except Problem as exc:
        if exc.slug != "callback-unauthenticated":
            raise
        throttled = throttle.failed()
        if throttled is None:
            raise
        raise throttled from None


def store(
    session: Session, carrier: str, headers: Mapping[str, str], body: bytes, keep: tuple[str, ...] = ()
) -> tables.CallbackInbox:
    """Persist the raw push to the inbox with ``KEPT_HEADERS`` and ``keep`` (the caller commits before answering)."""
    kept = {name: headers[name] for name in (*KEPT_HEADERS, *keep) if headers.get(name)}
    row = tables.CallbackInbox(carrier=carrier, headers=kept, body=body, state="pending", attempts=0)
    session.add(row)
    session.flush()
    return row


def drain_jobs(settings: Mapping[str, Any]) -> int:
    """Return how many drain jobs to queue at once (``TRACKING_DRAIN_JOBS``, default 1).

    Each drains every pending row, in batches taken with ``FOR UPDATE SKIP LOCKED``, so with as many
    RQ workers they normalise side by side (``docs/benchmarks/ingest.md`` measures two).
    """
    return max(1, min(int(config.read(settings, "TRACKING_DRAIN_JOBS")), 16))


def schedule_drain(container: Container) -> bool:
    """Queue the normalisation job(s) unless they are already waiting; they drain every pending row."""
    try:
        if container.redis.set(DRAIN_FLAG, "1", nx=True, ex=60):
            queue = container.queue("tracking")
            for _ in range(drain_jobs(container.settings)):
                queue.enqueue(tracking_jobs.drain_inbox)
            return True
    except Exception:  # the row is safe in the inbox; the next callback or the sweep queues the drain
        log.warning("could not queue the tracking drain", exc_info=True)
    return False


def _parse(body: bytes) -> None:
    """Raise 400 malformed-json unless the body is JSON (any failure: bad bytes, too deep, ...)."""
    try:
        json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
        raise Problem("malformed-json", "The callback body is not valid JSON.") from None


def receive(
    session: Session,
    container: Container,
    carrier: str,
    headers: Mapping[str, str],
    body: bytes,
    remote_addr: str | None = None,
) -> tables.CallbackInbox:
    """Authenticate, persist and commit one push, then queue its normalisation."""
    replay_key = _authenticate_throttled(carrier, headers, body, container, remote_addr, session)
    try:
        _parse(body)
        row = store(session, carrier, headers, body, spec_for(carrier).timestamp_headers)
        session.commit()
    except BaseException:
        session.rollback()
        if replay_key:  # not stored, so a resend must not be refused as a replay
            container.redis.delete(replay_key)
        raise
    schedule_drain(container)
    return row


def issue_token(
    container: Container,
    carrier: str,
    authorization: str,
    grant_type: str | None,
    remote_addr: str | None = None,
) -> dict[str, Any]:
    """Our push token endpoint: the carrier asks for a bearer token with client credentials (Basic)."""
    spec = spec_for(carrier)
    if spec.realm is None:
        raise Problem("not-found", f"Carrier {carrier!r} fetches no push tokens from us.")
    throttle = Throttle.for_request(container, carrier, remote_addr)
    throttle.check_source()
    if grant_type != "client_credentials":
        raise Problem(
            "bad-request",
            "Only grant_type=client_credentials is supported (OAuth 2 unsupported_grant_type).",
        )
    for adapter in accounts(_registry(container), carrier):
        try:
            return dict(adapter.issue_webhook_token(authorization))
        except CarrierRejected:
            continue
    throttled = throttle.failed()
    if throttled is not None:
        raise throttled
    raise Problem(
        "callback-unauthenticated",
        "Unknown client or wrong secret for the push token endpoint (OAuth 2 invalid_client).",
        headers={"WWW-Authenticate": f'Basic realm="{spec.realm}"'},
    )


def _registry(container: Container) -> Any:
    try:
        test = container.test_carriers
        if len(test):  # the operator's test accounts (sandboxes, the simulator) push too
            return _Accounts(container.carriers, [test.get(key) for key in test])
        return container.carriers
    except (AdapterError, ValueError):
        log.error("carrier registry unusable; only CALLBACK_SECRETS authenticate pushes", exc_info=True)
        return None
