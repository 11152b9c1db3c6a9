"""Outbound webhooks, signed to the Standard Webhooks 1.0 spec.

``emit(session, tenant_id, "label.purchased", data)`` records an event in the caller's
transaction, with one delivery row per enabled endpoint of the tenant subscribed to that type,
and an outbox row per delivery (queue ``webhooks``). Nothing is written when no endpoint
listens, so emitting is cheap for tenants without webhooks. The payload is validated against
``schemas/json/webhooks/<type>.json`` first: a payload that breaks its published schema is a
bug in the caller and raises ``ValueError``.

Delivery (``gateway.webhooks.delivery``), signing (``gateway.webhooks.signing``) and URL safety
(``gateway.webhooks.urls``) live beside this module; ``gateway.webhooks.jobs`` holds the jobs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from gateway.jobs import outbox
from gateway.kernel.types import new_id, utcnow
from gateway.trackpage import links
from gateway.webhooks import jobs as webhook_jobs
from gateway.webhooks.tables import WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = ["EVENT_TYPES", "TEST_EVENT_TYPE", "emit", "payload_schema", "validate"]

EVENT_TYPES: tuple[str, ...] = (
    "shipment.allocated",
    "label.purchased",
    "label.failed",
    "tracking.updated",
    "tracking.exception",
    "shipment.delivered",
    "reconciliation.completed",
    "shipment.at_risk",
    "exception.escalated",
    "recipient.notify",
)
TEST_EVENT_TYPE = "webhook.test"  # sent by the test-send action only; nobody subscribes to it
QUEUE = "webhooks"

_SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "json" / "webhooks"
_CACHE_KEY = "handoff_webhook_endpoints"


@cache
def payload_schema(event_type: str) -> dict[str, Any]:
    """Return the published JSON Schema of an event type's ``data`` payload."""
    if event_type not in EVENT_TYPES and event_type != TEST_EVENT_TYPE:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    return json.loads((_SCHEMA_DIR / f"{event_type}.json").read_text(encoding="utf-8"))


@cache
def _validator(event_type: str) -> Any:
    import jsonschema

    schema = payload_schema(event_type)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime in a webhook payload")
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not allowed in a webhook payload")


def _iso(value: datetime) -> str:
    text = value.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def validate(event_type: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``data`` as plain JSON (Decimals as strings, times as UTC ISO 8601) once it fits its schema."""
    plain = json.loads(json.dumps(dict(data), default=_jsonable))
    errors = sorted(_validator(event_type).iter_errors(plain), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        raise ValueError(f"{event_type} payload does not match its schema at {where}: {first.message}")
    return plain


def _listeners(session: Session, tenant_id: str) -> list[tuple[str, frozenset[str]]]:
    """The tenant's enabled endpoints and their types, read once per transaction."""
    holder = session.info.get(_CACHE_KEY)
    if holder is not None and holder[0] is session.get_transaction():
        found = holder[1].get(tenant_id)
        if found is not None:
            return found
    rows = session.execute(
        sa.select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(
            WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.enabled.is_(True)
        )
    ).all()
    found = [(row.id, frozenset(row.event_types or ())) for row in rows]
    transaction = session.get_transaction()  # begun by the query above if it was not already
    if holder is None or holder[0] is not transaction:
        by_tenant: dict[str, list[tuple[str, frozenset[str]]]] = {}
        holder = (transaction, by_tenant)
        session.info[_CACHE_KEY] = holder
    holder[1][tenant_id] = found
    return found


def forget_listeners(session: Session) -> None:
    """Drop the per-transaction endpoint cache (called when endpoints change in this session)."""
    session.info.pop(_CACHE_KEY, None)


def record(
    session: Session,
    tenant_id: str,
    event_type: str,
    data: Mapping[str, Any],
    endpoint_ids: list[str],
    *,
    occurred_at: datetime | None = None,
    kind: str = "event",
    event_id: str | None = None,
) -> str:
    """Write (or reuse) an event and queue one delivery per endpoint; return the event id."""
    if event_id is None:
        when = occurred_at or utcnow()
        if when.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")
        event_id = new_id("msg")
        session.add(
            WebhookEvent(
                id=event_id,
                tenant_id=tenant_id,
                type=event_type,
                data=validate(event_type, data),
                occurred_at=when,
            )
        )
        session.flush()  # the event row first: deliveries reference it (no ORM relationship orders them)
    for endpoint_id in endpoint_ids:
        delivery_id = new_id("whd")
        session.add(
            WebhookDelivery(
                id=delivery_id,
                tenant_id=tenant_id,
                event_id=event_id,
                endpoint_id=endpoint_id,
                kind=kind,
                state="pending",
                attempts=0,
            )
        )
        outbox.add(session, webhook_jobs.deliver, delivery_id, queue=QUEUE)  # flushes the rows above
    return event_id


def emit(
    session: Session,
    tenant_id: str,
    event_type: str,
    data: Mapping[str, Any],
    occurred_at: datetime | None = None,
) -> str | None:
    """Record an event for the tenant's subscribed endpoints in the caller's transaction.

    Returns the event id (``msg_…``), or None when no enabled endpoint listens for this type (then
    nothing is written). The payload is validated against its published JSON Schema either way.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    if occurred_at is not None and occurred_at.tzinfo is None:
        raise ValueError("occurred_at must be timezone-aware")
    targets = [eid for eid, types in _listeners(session, tenant_id) if event_type in types]
    if not targets:
        validate(event_type, data)  # a broken payload is a bug even when nobody listens
        return None
    if "tracking_url" in payload_schema(event_type).get("properties", {}) and "shipment_id" in data:
        # shipment.* events carry the shipment's public tracking page (docs/TRACKING_PAGE.md)
        settings = current_app.config if has_app_context() else {}
        data = {**data, "tracking_url": links.url(session, settings, tenant_id, data["shipment_id"])}
    return record(session, tenant_id, event_type, data, targets, occurred_at=occurred_at)
