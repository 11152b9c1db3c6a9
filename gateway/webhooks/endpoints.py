"""Webhook endpoints (subscriptions) and what a tenant can do with them: the use cases behind the API.

Functions take the request session and the tenant id, ``flush()`` and never commit (the view's
unit of work commits). Another tenant's endpoint or event is a 404.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway import webhooks
from gateway.kernel.errors import Problem
from gateway.kernel.paging import decode_cursor, encode_cursor
from gateway.kernel.types import utcnow
from gateway.webhooks import signing, urls
from gateway.webhooks.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

MAX_GRACE = timedelta(days=7)
DEFAULT_GRACE = timedelta(hours=24)
REPLAY_LIMIT = 10_000  # events one range replay may queue


def check_url(settings: Mapping[str, Any], url: str) -> None:
    """Refuse a destination the policy does not allow (422 webhook-url-refused)."""
    try:
        urls.check(url, urls.Policy.from_settings(settings))
    except urls.UnsafeDestination as exc:
        raise Problem("webhook-url-refused", exc.detail, errors={"url": [exc.detail]}) from exc


def create_endpoint(
    session: Session,
    settings: Mapping[str, Any],
    tenant_id: str,
    *,
    url: str,
    event_types: list[str],
    description: str = "",
    enabled: bool = True,
) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint; return it and its secret (shown this once)."""
    check_url(settings, url)
    now = utcnow()
    secret = signing.new_secret()
    endpoint = WebhookEndpoint(
        tenant_id=tenant_id,
        url=url,
        description=description or "",
        event_types=sorted(set(event_types)),
        enabled=enabled,
        secret=secret,
        consecutive_failures=0,
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    session.flush()
    webhooks.forget_listeners(session)
    return endpoint, secret


def get_endpoint(session: Session, tenant_id: str, endpoint_id: str) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.tenant_id != tenant_id:
        raise Problem("not-found", f"No webhook endpoint {endpoint_id!r}.")
    return endpoint


def list_endpoints(session: Session, tenant_id: str) -> list[WebhookEndpoint]:
    return list(
        session.scalars(
            sa.select(WebhookEndpoint)
            .where(WebhookEndpoint.tenant_id == tenant_id)
            .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        )
    )


def update_endpoint(
    session: Session,
    settings: Mapping[str, Any],
    tenant_id: str,
    endpoint_id: str,
    changes: Mapping[str, Any],
) -> WebhookEndpoint:
    """Change URL, types, description or enabled. Re-enabling clears the gateway's disablement."""
    endpoint = get_endpoint(session, tenant_id, endpoint_id)
    if "url" in changes and changes["url"] != endpoint.url:
        check_url(settings, changes["url"])
        endpoint.url = changes["url"]
    if "event_types" in changes:
        endpoint.event_types = sorted(set(changes["event_types"]))
    if "description" in changes:
        endpoint.description = changes["description"] or ""
    if "enabled" in changes:
        if changes["enabled"] and not endpoint.enabled:
            endpoint.disabled_reason = endpoint.disabled_detail = None
            endpoint.disabled_at = None
            endpoint.consecutive_failures = 0
            endpoint.failing_since = None
        endpoint.enabled = bool(changes["enabled"])
    endpoint.updated_at = utcnow()
    session.flush()
    webhooks.forget_listeners(session)
    return endpoint


def delete_endpoint(session: Session, tenant_id: str, endpoint_id: str) -> None:
    endpoint = get_endpoint(session, tenant_id, endpoint_id)
    session.delete(endpoint)
    session.flush()
    webhooks.forget_listeners(session)


def rotate_secret(
    session: Session, tenant_id: str, endpoint_id: str, grace: timedelta | None = None
) -> tuple[WebhookEndpoint, str]:
    """Give the endpoint a new secret; the old one keeps signing beside it for ``grace``."""
    endpoint = get_endpoint(session, tenant_id, endpoint_id)
    grace = DEFAULT_GRACE if grace is None else grace
    if grace < timedelta(0) or grace > MAX_GRACE:
        raise Problem(
            "validation-error",
            "The grace period is 0 to 7 days.",
            errors={"grace_period_seconds": ["out of range"]},
        )
    now = utcnow()
    secret = signing.new_secret()
    if grace > timedelta(0):
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + grace
    else:
        endpoint.previous_secret = endpoint.previous_secret_expires_at = None
    endpoint.secret = secret
    endpoint.updated_at = now
    session.flush()
    return endpoint, secret


def test_send(session: Session, tenant_id: str, endpoint_id: str) -> tuple[str, str]:
    """Queue a signed ``webhook.test`` event to this endpoint only; return (event id, delivery id)."""
    endpoint = get_endpoint(session, tenant_id, endpoint_id)
    event_id = webhooks.record(
        session,
        tenant_id,
        webhooks.TEST_EVENT_TYPE,
        {"endpoint_id": endpoint.id, "message": "Test event from Handoff"},
        [endpoint.id],
        kind="test",
    )
    delivery_id = session.execute(
        sa.select(WebhookDelivery.id).where(WebhookDelivery.event_id == event_id)
    ).scalar_one()
    return event_id, delivery_id


def get_event(session: Session, tenant_id: str, event_id: str) -> WebhookEvent:
    event = session.get(WebhookEvent, event_id)
    if event is None or event.tenant_id != tenant_id:
        raise Problem("not-found", f"No webhook event {event_id!r}.")
    return event


def replay_event(
    session: Session, tenant_id: str, event_id: str, endpoint_id: str | None = None
) -> list[str]:
    """Send an event again (same ``webhook-id``) to one endpoint, or to every enabled subscriber."""
    event = get_event(session, tenant_id, event_id)
    if event.type == webhooks.TEST_EVENT_TYPE:
        raise Problem("conflict", "Test events are not replayed; send a new test instead.")
    if endpoint_id is not None:
        endpoint = get_endpoint(session, tenant_id, endpoint_id)
        if not endpoint.enabled:
            raise Problem("conflict", "The endpoint is disabled; enable it before replaying to it.")
        targets = [endpoint.id]
    else:
        targets = [eid for eid, types in webhooks._listeners(session, tenant_id) if event.type in types]
    before = set(session.scalars(sa.select(WebhookDelivery.id).where(WebhookDelivery.event_id == event.id)))
    webhooks.record(session, tenant_id, event.type, event.data, targets, kind="replay", event_id=event.id)
    after = set(session.scalars(sa.select(WebhookDelivery.id).where(WebhookDelivery.event_id == event.id)))
    return sorted(after - before)


def replay_range(
    session: Session,
    tenant_id: str,
    endpoint_id: str,
    *,
    since: datetime,
    until: datetime | None = None,
    only_failed: bool = False,
) -> int:
    """Send again every subscribed event that occurred in [since, until) to one endpoint; return how many."""
    endpoint = get_endpoint(session, tenant_id, endpoint_id)
    if not endpoint.enabled:
        raise Problem("conflict", "The endpoint is disabled; enable it before replaying to it.")
    until = until or utcnow()
    if until <= since:
        raise Problem(
            "validation-error", "until must be after since.", errors={"until": ["must be after since"]}
        )
    ev = WebhookEvent
    query = sa.select(ev.id, ev.type, ev.data).where(
        ev.tenant_id == tenant_id,
        ev.occurred_at >= since,
        ev.occurred_at < until,
        ev.type.in_(list(endpoint.event_types or [])),
    )
    if only_failed:
        delivered = sa.select(WebhookDelivery.event_id).where(
            WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.state == "succeeded"
        )
        query = query.where(ev.id.not_in(delivered))
    rows = session.execute(query.order_by(ev.occurred_at, ev.id).limit(REPLAY_LIMIT + 1)).all()
    if len(rows) > REPLAY_LIMIT:
        raise Problem(
            "validation-error",
            f"More than {REPLAY_LIMIT} events in that range; replay a shorter range.",
            errors={"until": ["range too large"]},
        )
    for row in rows:
        webhooks.record(session, tenant_id, row.type, row.data, [endpoint.id], kind="replay", event_id=row.id)
    return len(rows)


def list_events(
    session: Session,
    tenant_id: str,
    *,
    limit: int,
    cursor: str | None = None,
    type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[WebhookEvent], str | None]:
    ev = WebhookEvent
    query = sa.select(ev).where(ev.tenant_id == tenant_id)
    if type:
        query = query.where(ev.type == type)
    if since:
        query = query.where(ev.occurred_at >= since)
    if until:
        query = query.where(ev.occurred_at < until)
    if cursor:
        when, row_id = decode_cursor(cursor)
        query = query.where(sa.or_(ev.occurred_at < when, sa.and_(ev.occurred_at == when, ev.id < row_id)))
    rows = list(session.scalars(query.order_by(ev.occurred_at.desc(), ev.id.desc()).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].occurred_at, rows[-1].id)
    return rows, next_cursor


def list_deliveries(
    session: Session,
    tenant_id: str,
    endpoint_id: str | None = None,
    *,
    limit: int,
    cursor: str | None = None,
    state: str | None = None,
    event_id: str | None = None,
) -> tuple[list[tuple[WebhookDelivery, str]], str | None]:
    """A page of deliveries (newest first) with their event type."""
    d = WebhookDelivery
    query = sa.select(d, WebhookEvent.type).join(WebhookEvent, WebhookEvent.id == d.event_id)
    query = query.where(d.tenant_id == tenant_id)
    if endpoint_id is not None:
        get_endpoint(session, tenant_id, endpoint_id)
        query = query.where(d.endpoint_id == endpoint_id)
    if state:
        query = query.where(d.state == state)
    if event_id:
        query = query.where(d.event_id == event_id)
    if cursor:
        when, row_id = decode_cursor(cursor)
        query = query.where(sa.or_(d.created_at < when, sa.and_(d.created_at == when, d.id < row_id)))
    rows = [
        (r[0], r[1])
        for r in session.execute(query.order_by(d.created_at.desc(), d.id.desc()).limit(limit + 1))
    ]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1][0].created_at, rows[-1][0].id)
    return rows, next_cursor


def list_attempts(
    session: Session,
    tenant_id: str,
    endpoint_id: str,
    *,
    limit: int,
    cursor: str | None = None,
    delivery_id: str | None = None,
) -> tuple[list[WebhookAttempt], str | None]:
    """The endpoint's delivery log: attempts, newest first."""
    get_endpoint(session, tenant_id, endpoint_id)
    a = WebhookAttempt
    query = sa.select(a).where(a.endpoint_id == endpoint_id, a.tenant_id == tenant_id)
    if delivery_id:
        query = query.where(a.delivery_id == delivery_id)
    if cursor:
        if not re.fullmatch(r"[0-9]{1,18}", cursor):  # schemas.ATTEMPT_CURSOR_PATTERN
            raise Problem("bad-request", "The cursor is not valid.", errors={"cursor": ["invalid"]})
        query = query.where(a.id < int(cursor))
    rows = list(session.scalars(query.order_by(a.id.desc()).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = str(rows[-1].id)
    return rows, next_cursor


def present_endpoint(endpoint: WebhookEndpoint, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types or []),
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "disabled_detail": endpoint.disabled_detail,
        "disabled_at": endpoint.disabled_at,
        "consecutive_failures": endpoint.consecutive_failures,
        "failing_since": endpoint.failing_since,
        "last_success_at": endpoint.last_success_at,
        "previous_secret_expires_at": endpoint.previous_secret_expires_at
        if endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > utcnow()
        else None,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    }
    if secret is not None:
        body["secret"] = secret
    return body


def present_event(event: WebhookEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "occurred_at": event.occurred_at,
        "created_at": event.created_at,
        "data": event.data,
    }


def present_delivery(delivery: WebhookDelivery, event_type: str) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "event_type": event_type,
        "endpoint_id": delivery.endpoint_id,
        "kind": delivery.kind,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at if delivery.state == "pending" else None,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": delivery.created_at,
        "first_attempt_at": delivery.first_attempt_at,
        "completed_at": delivery.completed_at,
    }


def present_attempt(attempt: WebhookAttempt) -> dict[str, Any]:
    return {
        "id": attempt.id,
        "delivery_id": attempt.delivery_id,
        "event_id": attempt.event_id,
        "number": attempt.number,
        "attempted_at": attempt.attempted_at,
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "outcome": attempt.outcome,
        "error": attempt.error,
        "response_body": attempt.response_body,
        "next_attempt_at": attempt.next_attempt_at,
    }
