"""HTTP plumbing for REST adapters: timeouts, retries for idempotent calls, circuit breakers, recording."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from adapters import base

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
USER_AGENT = "Handoff/0.1 (+https://github.com/handoff)"
_MAX_RECORDED_BODY = (
    256 * 1024
)  # labels are large; a dispute needs the request and status more than the image

# HTTP statuses that say "the carrier is struggling, try later" rather than "your request is wrong".
RETRYABLE_STATUSES: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})


class TimeoutSession(requests.Session):
    """A Session that never waits forever: every request gets a timeout unless one is given."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__()
        self.default_timeout = timeout
        self.headers["User-Agent"] = USER_AGENT

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.default_timeout)
        if kwargs["timeout"] is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(method, url, *args, **kwargs)


def make_session(timeout: float = DEFAULT_TIMEOUT) -> TimeoutSession:
    """Return a requests Session with a default timeout and no hidden urllib3 retries."""
    return TimeoutSession(timeout)


class CircuitBreaker:
    """Open after repeated failures so a dead carrier answers "unavailable" at once; probe after a pause."""

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        """Return "closed", "open" or "half_open"."""
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.reset_after:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        """Return whether a call may go out now (one probe is let through when half open)."""
        with self._lock:
            state = self._state()
            if state == "open":
                return False
            if state == "half_open":
                # Re-arm immediately so concurrent callers keep failing fast while the probe runs.
                self._opened_at = self._clock()
            return True

    def record_success(self) -> None:
        """Close the circuit."""
        with self._lock:
            self._failures = 0
            self._opened_at = None

    def record_failure(self) -> None:
        """Count a failure; open the circuit at the threshold."""
        with self._lock:
            self._failures += 1
            if self._failures >= self.failure_threshold:
                self._opened_at = self._clock()


class BreakerBook:
    """One circuit breaker per (carrier, account), shared by every adapter instance of that account."""

    def __init__(self, failure_threshold: int = 5, reset_after: float = 30.0) -> None:
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self._breakers: dict[tuple[str, str], CircuitBreaker] = {}
        self._lock = threading.Lock()

    def get(self, carrier_name: str, account: str) -> CircuitBreaker:
        """Return the breaker of one carrier account, creating it on first use."""
        with self._lock:
            key = (carrier_name, account)
            if key not in self._breakers:
                self._breakers[key] = CircuitBreaker(self.failure_threshold, self.reset_after)
            return self._breakers[key]

    def clear(self) -> None:
        """Forget every breaker (all circuits start closed again); for tests and process restarts."""
        with self._lock:
            self._breakers.clear()


BREAKERS = BreakerBook()


class TokenCache:
    """One bearer token, fetched under a lock and reused until shortly before it expires.

    ``fetch()`` returns the token and how many seconds the carrier says it lives; the cache keeps it
    until ``lifetime - margin`` (or half its life, for tokens shorter than twice the margin) so no call
    races the expiry. ``invalidate()`` drops it after the carrier refused it (a 401).
    """

    def __init__(self, clock: Callable[[], float], margin: float = 60.0) -> None:
        self._clock = clock
        self._margin = margin
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    @property
    def value(self) -> str | None:
        """The cached token, for redaction (None when there is none)."""
        return self._token

    def get(self, fetch: Callable[[], tuple[str, float]]) -> str:
        with self._lock:
            if self._token and self._clock() < self._expires_at:
                return self._token
            token, lifetime = fetch()
            self._token = token
            self._expires_at = self._clock() + max(lifetime - self._margin, lifetime / 2)
            return token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None
            self._expires_at = 0.0


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter; applied to idempotent calls only."""

    attempts: int = 3
    base_delay: float = 0.2
    max_delay: float = 2.0
    sleep: Callable[[float], None] = time.sleep
    rng: Callable[[], float] = random.random

    def delay(self, attempt: int) -> float:
        """Return the pause before retry number attempt (1-based)."""
        return self.rng() * min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))


@dataclass
class CarrierHttp:
    """Send one carrier's HTTP calls with a deadline, its breaker, retries and the exchange recorder."""

    carrier: str
    account: str
    session: requests.Session = field(default_factory=make_session)
    breaker: CircuitBreaker | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    recorder: base.Recorder | None = None
    redact: Callable[[Any], Any] = base.redact
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        if self.breaker is None:
            self.breaker = BREAKERS.get(self.carrier, self.account)

    def send(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        timeout: float,
        idempotent: bool,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        data: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> requests.Response:
        """Send a request; return any answered response (even 4xx), raise CarrierUnavailable otherwise."""
        assert self.breaker is not None
        if not self.breaker.allow():
            raise base.CarrierUnavailable(
                self.carrier, "circuit open: carrier failing, not called", code="circuit_open"
            )
        deadline = self.clock() + timeout
        attempts = self.retry.attempts if idempotent else 1
        last_error: base.CarrierUnavailable | None = None
        for attempt in range(1, attempts + 1):
            remaining = deadline - self.clock()
            if remaining <= 0:
                break
            outcome = self._attempt(
                method, url, operation, attempt, remaining, headers, params, json_body, data, auth
            )
            if isinstance(outcome, requests.Response):
                self.breaker.record_success()
                return outcome
            last_error = outcome
            if attempt < attempts:
                pause = self.retry.delay(attempt)
                if self.clock() + pause >= deadline:
                    break
                self.retry.sleep(pause)
        self.breaker.record_failure()
        raise last_error or base.CarrierUnavailable(
            self.carrier, f"{operation}: deadline exceeded", code="timeout"
        )

    def _attempt(
        self,
        method: str,
        url: str,
        operation: str,
        attempt: int,
        timeout: float,
        headers: Mapping[str, str] | None,
        params: Mapping[str, str] | None,
        json_body: Any,
        data: Mapping[str, str] | None,
        auth: tuple[str, str] | None,
    ) -> requests.Response | base.CarrierUnavailable:
        started = self.clock()
        request_record: dict[str, Any] = {
            "method": method,
            "url": url,
            "params": dict(params or {}),
            "headers": dict(headers or {}),
            "body": json_body if json_body is not None else dict(data or {}) or None,
        }
        if auth is not None:
            request_record["headers"]["Authorization"] = "Basic (client credentials)"
        response: requests.Response | None = None
        error: base.CarrierUnavailable | None = None
        try:
            response = self.session.request(
                method,
                url,
                headers=dict(headers or {}),
                params=dict(params or {}),
                json=json_body,
                data=data,
                auth=auth,
                timeout=timeout,
            )
        except requests.Timeout:
            error = base.CarrierUnavailable(
                self.carrier, f"{operation}: timed out after {timeout:.1f}s", code="timeout"
            )
        except requests.RequestException as exc:
            error = base.CarrierUnavailable(
                self.carrier, f"{operation}: connection failed ({type(exc).__name__})", code="connection"
            )
        if response is not None and response.status_code in RETRYABLE_STATUSES:
            retry_after = _retry_after(response)
            error = base.CarrierUnavailable(
                self.carrier,
                f"{operation}: HTTP {response.status_code}",
                code=f"http_{response.status_code}",
                http_status=response.status_code,
                retry_after=retry_after,
            )
        self._record(operation, attempt, started, request_record, response, error)
        # With no error, the request returned: response is set.
        return error if error is not None else response  # type: ignore[return-value]

    def _record(
        self,
        operation: str,
        attempt: int,
        started: float,
        request_record: dict[str, Any],
        response: requests.Response | None,
        error: Exception | None,
    ) -> None:
        if self.recorder is None:
            return
        exchange = {
            "carrier": self.carrier,
            "account": self.account,
            "operation": operation,
            "attempt": attempt,
            "at": datetime.now(UTC).isoformat(),
            "duration_ms": round((self.clock() - started) * 1000),
            "request": request_record,
            "response": None
            if response is None
            else {
                "status": response.status_code,
                "headers": dict(response.headers),
                "body": _body_of(response),
            },
            "error": None if error is None else str(error),
        }
        try:
            self.recorder(self.redact(exchange))
        except Exception:  # noqa: BLE001 - keeping a copy must never fail the carrier call itself
            log.warning("exchange recorder failed", extra={"carrier": self.carrier, "operation": operation})


def _body_of(response: requests.Response) -> Any:
    content = response.content[:_MAX_RECORDED_BODY]
    try:
        return json.loads(content)
    except ValueError:
        return content.decode("utf-8", errors="replace")


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
