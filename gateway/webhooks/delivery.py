"""Delivering one webhook: sign, POST, read a capped answer, log the attempt, decide what next.

``deliver(container, delivery_id)`` is run by ``gateway.webhooks.jobs.deliver`` through the
outbox, so it may run more than once for the same delivery (a worker killed mid-request, a
flushed Redis): consumers deduplicate on ``webhook-id``. It never holds a database transaction
while the HTTP request is in flight.

Outcomes: a 2xx succeeds; 410 Gone fails the delivery and disables the endpoint; 429 and 503
wait for ``Retry-After`` (seconds or an HTTP date) when given; anything else (other statuses,
redirects, which are never followed, timeouts, refused destinations) is retried with exponential
backoff and jitter until ``WEBHOOK_RETRY_WINDOW_SECONDS`` (3 days) after the first attempt. An
endpoint failing without a single success for ``WEBHOOK_DISABLE_AFTER_SECONDS`` (5 days), or for
``WEBHOOK_DISABLE_AFTER_FAILURES`` consecutive attempts when that is set, is disabled and the
tenant told (the API shows it; ``gateway.webhooks.notify`` sends the e-mail hook).
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests
import sqlalchemy as sa

from gateway.jobs import outbox
from gateway.kernel import config
from gateway.kernel.types import utcnow
from gateway.webhooks import notify, signing, urls
from gateway.webhooks.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

if TYPE_CHECKING:
    from gateway.kernel.container import Container

log = logging.getLogger(__name__)

USER_AGENT = "Handoff-Webhooks/1.0"


def setting(settings: Mapping[str, Any], name: str) -> float:
    """Return a numeric ``WEBHOOK_*`` setting (declared in ``gateway/kernel/config.py``; may be partial)."""
    return float(config.read(settings, name))


# -- scheduling -----------------------------------------------------------------------------------


def backoff_seconds(failures: int, settings: Mapping[str, Any], rng: random.Random | None = None) -> float:
    """Delay before the next attempt after ``failures`` failed ones: base * 2^(n-1), capped, jittered."""
    base = setting(settings, "WEBHOOK_RETRY_BASE_SECONDS")
    cap = setting(settings, "WEBHOOK_RETRY_CAP_SECONDS")
    step = min(cap, base * (2 ** min(max(0, failures - 1), 40)))
    return step * (rng or random).uniform(0.75, 1.0)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Return the seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), else None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or utcnow())).total_seconds())


# -- the HTTP exchange ----------------------------------------------------------------------------


@dataclass
class Answer:
    status: int | None
    body: str | None
    error: str | None
    latency_ms: int
    retry_after: str | None
    refused: bool = False


_local = threading.local()


def _http(policy: urls.Policy) -> requests.Session:
    """One HTTP session per process and policy, with connections guarded by the policy."""
    sessions: dict[urls.Policy, requests.Session] = _local.__dict__.setdefault("sessions", {})
    session = sessions.get(policy)
    if session is None:
        session = requests.Session()
        session.trust_env = False  # no proxies from the environment: the guard checks the real peer
        adapter = urls.GuardedAdapter(policy)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        sessions[policy] = session
    return session


def post(settings: Mapping[str, Any], url: str, headers: dict[str, str], body: bytes) -> Answer:
    """POST once: no redirects, bounded time, at most WEBHOOK_RESPONSE_BYTES of the answer read."""
    policy = urls.Policy.from_settings(settings)
    connect = setting(settings, "WEBHOOK_CONNECT_TIMEOUT_SECONDS")
    total = setting(settings, "WEBHOOK_TIMEOUT_SECONDS")
    cap = int(setting(settings, "WEBHOOK_RESPONSE_BYTES"))
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        urls.check_url(url, policy)
        response = _http(policy).post(
            url,
            data=body,
            headers={**headers, "user-agent": USER_AGENT, "accept-encoding": "identity"},
            timeout=(connect, total),
            allow_redirects=False,
            stream=True,
        )
    except urls.UnsafeDestination as exc:
        return Answer(None, None, f"refused: {exc.detail}", elapsed(), None, refused=True)
    except requests.Timeout:
        return Answer(None, None, "timeout", elapsed(), None)
    except requests.RequestException as exc:
        return Answer(None, None, f"connection error: {type(exc).__name__}", elapsed(), None)
    chunks: list[bytes] = []
    size = 0
    error = None
    try:
        for chunk in response.iter_content(1024):
            chunks.append(chunk)
            size += len(chunk)
            if size >= cap:
                break
            if time.monotonic() - started > total:
                error = "response body too slow; stopped reading"
                break
    except requests.RequestException as exc:
        error = f"error reading the response: {type(exc).__name__}"
    finally:
        response.close()
    text = b"".join(chunks)[:cap].decode("utf-8", errors="replace")
    return Answer(response.status_code, text, error, elapsed(), response.headers.get("retry-after"))


def body_of(event: WebhookEvent) -> bytes:
    """The JSON body sent for an event (Standard Webhooks payload shape: type, timestamp, data)."""
    payload = {
        "id": event.id,
        "type": event.type,
        "timestamp": event.occurred_at.astimezone(UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "data": event.data,
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


def active_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret, plus the previous one while its grace period lasts."""
    found = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        found.append(endpoint.previous_secret)
    return found


# -- one delivery ---------------------------------------------------------------------------------


@dataclass
class _Snapshot:
    tenant_id: str
    endpoint_id: str
    event_id: str
    kind: str
    url: str
    attempts: int
    first_attempt_at: datetime | None
    headers: dict[str, str]
    body: bytes


def _load(container: Container, delivery_id: str) -> _Snapshot | str:
    now = utcnow()
    with container.sessions() as session:
        row = session.execute(
            sa.select(WebhookDelivery, WebhookEvent, WebhookEndpoint)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookDelivery.id == delivery_id)
        ).first()
        if row is None:
            return "missing"
        delivery, event, endpoint = row
        if delivery.state != "pending":
            return "skipped"
        if not endpoint.enabled and delivery.kind != "test":
            delivery.state, delivery.completed_at = "cancelled", now
            delivery.last_error = "endpoint disabled"
            session.commit()
            return "cancelled"
        body = body_of(event)
        timestamp = int(time.time())
        return _Snapshot(
            tenant_id=delivery.tenant_id,
            endpoint_id=endpoint.id,
            event_id=event.id,
            kind=delivery.kind,
            url=endpoint.url,
            attempts=delivery.attempts,
            first_attempt_at=delivery.first_attempt_at,
            headers=signing.headers(active_secrets(endpoint, now), event.id, timestamp, body),
            body=body,
        )


def _decide(
    settings: Mapping[str, Any], snap: _Snapshot, answer: Answer, now: datetime
) -> tuple[str, float | None]:
    """Return (outcome, retry delay): succeeded | gone | retry | failed."""
    if answer.status is not None and 200 <= answer.status < 300:
        return "succeeded", None
    if answer.status == 410:
        return "gone", None
    if snap.kind == "test":
        return "failed", None
    delay: float | None = None
    if answer.status in (429, 503):
        asked = parse_retry_after(answer.retry_after, now)
        if asked is not None:
            delay = min(asked, setting(settings, "WEBHOOK_RETRY_AFTER_MAX_SECONDS"))
    if delay is None:
        delay = backoff_seconds(snap.attempts + 1, settings)
    first = snap.first_attempt_at or now
    window = timedelta(seconds=setting(settings, "WEBHOOK_RETRY_WINDOW_SECONDS"))
    if now + timedelta(seconds=delay) > first + window:
        return "failed", None
    return "retry", delay


def _error_text(answer: Answer) -> str | None:
    if answer.error:
        return answer.error[:500]
    if answer.status is not None and 300 <= answer.status < 400:
        return f"HTTP {answer.status}: redirects are not followed"
    if answer.status is not None and not 200 <= answer.status < 300:
        return f"HTTP {answer.status}"
    return None


def _disable(
    session: Any, endpoint_id: str, reason: str, detail: str, now: datetime
) -> WebhookEndpoint | None:
    """Switch an endpoint off (once) and cancel its pending deliveries; return it if this call did it."""
    done = session.execute(
        sa.update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled.is_(True))
        .values(
            enabled=False,
            disabled_reason=reason,
            disabled_detail=detail[:500],
            disabled_at=now,
            updated_at=now,
        )
    ).rowcount
    if done != 1:
        return None
    session.execute(
        sa.update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.state == "pending",
            WebhookDelivery.kind != "test",
        )
        .values(state="cancelled", completed_at=now, last_error=f"endpoint disabled: {reason}")
    )
    return session.get(WebhookEndpoint, endpoint_id)


def _record(
    container: Container, snap: _Snapshot, delivery_id: str, answer: Answer, outcome: str, delay: float | None
) -> notify.EndpointDisabled | None:
    settings = container.settings
    now = utcnow()
    next_at = now + timedelta(seconds=delay) if delay is not None else None
    error = _error_text(answer)
    if outcome == "failed" and snap.kind != "test" and answer.status != 410:
        error = f"{error or 'failed'}; retries exhausted"
    state = {"succeeded": "succeeded", "retry": "pending", "gone": "failed", "failed": "failed"}[outcome]
    with container.sessions() as session:
        session.add(
            WebhookAttempt(
                tenant_id=snap.tenant_id,
                delivery_id=delivery_id,
                endpoint_id=snap.endpoint_id,
                event_id=snap.event_id,
                number=snap.attempts + 1,
                attempted_at=now,
                status_code=answer.status,
                latency_ms=answer.latency_ms,
                outcome="refused" if answer.refused else ("retry" if outcome == "retry" else state),
                error=error,
                response_body=answer.body,
                next_attempt_at=next_at,
            )
        )
        d = WebhookDelivery
        session.execute(
            sa.update(d)
            .where(d.id == delivery_id, d.state == "pending")
            .values(
                attempts=d.attempts + 1,
                state=state,
                next_attempt_at=next_at,
                last_status_code=answer.status,
                last_error=error,
                first_attempt_at=sa.func.coalesce(d.first_attempt_at, now),
                completed_at=None if state == "pending" else now,
            )
        )
        e = WebhookEndpoint
        disabled: WebhookEndpoint | None = None
        if outcome == "succeeded":
            session.execute(
                sa.update(e)
                .where(e.id == snap.endpoint_id)
                .values(consecutive_failures=0, failing_since=None, last_success_at=now)
            )
        else:
            session.execute(
                sa.update(e)
                .where(e.id == snap.endpoint_id)
                .values(
                    consecutive_failures=e.consecutive_failures + 1,
                    failing_since=sa.func.coalesce(e.failing_since, now),
                )
            )
            if outcome == "gone":
                disabled = _disable(
                    session, snap.endpoint_id, "gone", "The endpoint answered 410 Gone; it was disabled.", now
                )
            else:
                disabled = _maybe_disable_failing(session, settings, snap.endpoint_id, now)
        session.commit()
        if disabled is None:
            return None
        return notify.EndpointDisabled(
            tenant_id=disabled.tenant_id,
            endpoint_id=disabled.id,
            url=disabled.url,
            reason=disabled.disabled_reason or "",
            detail=disabled.disabled_detail or "",
            disabled_at=now,
        )


def _maybe_disable_failing(
    session: Any, settings: Mapping[str, Any], endpoint_id: str, now: datetime
) -> WebhookEndpoint | None:
    row = session.execute(
        sa.select(
            WebhookEndpoint.enabled, WebhookEndpoint.failing_since, WebhookEndpoint.consecutive_failures
        ).where(WebhookEndpoint.id == endpoint_id)
    ).first()
    if row is None or not row.enabled or row.failing_since is None:
        return None
    after_seconds = setting(settings, "WEBHOOK_DISABLE_AFTER_SECONDS")
    after_failures = int(setting(settings, "WEBHOOK_DISABLE_AFTER_FAILURES"))
    since = row.failing_since if row.failing_since.tzinfo else row.failing_since.replace(tzinfo=UTC)
    too_long = after_seconds > 0 and (now - since).total_seconds() >= after_seconds
    too_many = after_failures > 0 and row.consecutive_failures >= after_failures
    if not (too_long or too_many):
        return None
    detail = (
        f"Every delivery failed since {since.isoformat(timespec='seconds')} "
        f"({row.consecutive_failures} consecutive failed attempts); the endpoint was disabled."
    )
    return _disable(session, endpoint_id, "failing", detail, now)


def deliver(container: Container, delivery_id: str) -> str:
    """Make one attempt at a delivery; raise ``outbox.RetryLater`` to be run again later."""
    snap = _load(container, delivery_id)
    if isinstance(snap, str):
        return snap
    answer = post(container.settings, snap.url, snap.headers, snap.body)
    outcome, delay = _decide(container.settings, snap, answer, utcnow())
    notice = _record(container, snap, delivery_id, answer, outcome, delay)
    log.info(
        "webhook attempt",
        extra={
            "delivery_id": delivery_id,
            "event_id": snap.event_id,
            "endpoint_id": snap.endpoint_id,
            "status_code": answer.status,
            "outcome": outcome,
            "latency_ms": answer.latency_ms,
        },
    )
    if notice is not None:
        notify.notify_disabled(container.settings, notice)
    if outcome == "retry" and delay is not None:
        raise outbox.RetryLater(delay, f"webhook retry in {delay:.0f}s")
    return outcome
