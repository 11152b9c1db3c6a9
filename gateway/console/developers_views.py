"""The console's developer settings: API keys, webhook endpoints and their delivery log, carrier accounts.

Keys go through ``gateway.kernel.auth`` (``create_key``, ``revoke_key``: what ``handoff keys`` uses),
webhooks through ``gateway.webhooks.endpoints`` (what ``/v1/webhook-endpoints`` uses) and carrier
accounts through ``gateway.accounts.connections.list_accounts``. Secrets are returned only by the
calls that make them, for the one response that shows them. Endpoints are created and changed with
the API's own schemas (``WebhookEndpointCreateSchema``, ``WebhookEndpointUpdateSchema``) and use cases
(``create_endpoint``, ``update_endpoint``: the same SSRF guard on the URL), and each change is written
to the console audit log with the user's id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from gateway.accounts import connections
from gateway.console import people
from gateway.console.tables import ConsoleUser
from gateway.kernel import auth, models
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow
from gateway.webhooks import endpoints as hooks
from gateway.webhooks import schemas as hook_schemas
from gateway.webhooks.tables import WebhookDelivery, WebhookEndpoint

DELIVERIES_PAGE = 25
EVENT_TYPES = hook_schemas.EVENT_TYPES


class EndpointRefused(ValueError):
    """The endpoint cannot be saved as given: the sentence says why (each field's problem, or the URL's)."""


@dataclass
class KeyRow:
    id: str
    name: str
    roles: str
    mode: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _twin_id(session: Session, tenant_id: str) -> str | None:
    twin: str | None = session.execute(
        sa.select(models.Tenant.id).where(models.Tenant.live_tenant_id == tenant_id)
    ).scalar_one_or_none()
    return twin


def keys(session: Session, tenant_id: str) -> list[KeyRow]:
    """The tenant's API keys and its test twin's (never a secret: only hashes are stored)."""
    twin = _twin_id(session, tenant_id)
    owners = [tenant_id] + ([twin] if twin else [])
    rows = session.execute(
        sa.select(models.ApiKey)
        .where(models.ApiKey.tenant_id.in_(owners))
        .order_by(models.ApiKey.revoked_at.is_not(None), models.ApiKey.created_at.desc(), models.ApiKey.id)
    ).scalars()
    return [
        KeyRow(
            k.id,
            k.name,
            k.roles,
            "test" if twin and k.tenant_id == twin else "live",
            k.created_at,
            k.last_used_at,
            k.revoked_at,
        )
        for k in rows
    ]


def create_key(
    session: Session, tenant_id: str, roles: list[str], name: str, mode: str, pepper: str
) -> tuple[models.ApiKey, str]:
    """Make a key as ``handoff keys create`` does; raises ValueError with a sentence when refused."""
    return auth.create_key(session, tenant_id, roles, name=name.strip()[:200], pepper=pepper, mode=mode)


def revoke_key(session: Session, tenant_id: str, key_id: str) -> bool | None:
    """Revoke one of the tenant's keys: None when it is not the tenant's, False when already revoked."""
    row = session.get(models.ApiKey, key_id)
    if row is None or row.tenant_id not in (tenant_id, _twin_id(session, tenant_id)):
        return None
    return auth.revoke_key(session, key_id)


def endpoints(session: Session, tenant_id: str) -> list[WebhookEndpoint]:
    return hooks.list_endpoints(session, tenant_id)


def endpoint(session: Session, tenant_id: str, endpoint_id: str) -> WebhookEndpoint:
    """The tenant's endpoint; raises Problem (404) otherwise."""
    return hooks.get_endpoint(session, tenant_id, endpoint_id)


def deliveries(
    session: Session, tenant_id: str, endpoint_id: str, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the endpoint's deliveries, newest first, as the API presents them."""
    rows, next_cursor = hooks.list_deliveries(
        session, tenant_id, endpoint_id, limit=DELIVERIES_PAGE, cursor=cursor or None
    )
    return [hooks.present_delivery(d, t) for d, t in rows], next_cursor


def replay(session: Session, tenant_id: str, endpoint_id: str, delivery_id: str) -> list[str] | None:
    """Send a delivery's event again to its endpoint (same webhook-id); None when no such delivery."""
    hooks.get_endpoint(session, tenant_id, endpoint_id)
    row = session.get(WebhookDelivery, delivery_id)
    if row is None or row.tenant_id != tenant_id or row.endpoint_id != endpoint_id:
        return None
    return hooks.replay_event(session, tenant_id, row.event_id, endpoint_id)


def rotate(
    session: Session, tenant_id: str, endpoint_id: str, grace_hours: int
) -> tuple[WebhookEndpoint, str]:
    """A new signing secret (returned this once); the old one keeps signing for ``grace_hours``."""
    return hooks.rotate_secret(session, tenant_id, endpoint_id, timedelta(hours=grace_hours))


def _messages(exc: ValidationError) -> str:
    """A schema's refusal as one sentence per field, in the form's words."""
    names = {"url": "URL", "event_types": "Events", "description": "Description", "enabled": "State"}
    found = exc.messages if isinstance(exc.messages, dict) else {"_": exc.messages}
    parts = []
    for field, said in sorted(found.items()):
        if isinstance(said, dict):  # a list field: {index: [messages]}
            said = [m for ms in said.values() for m in (ms if isinstance(ms, list) else [ms])]
        text = " ".join(str(m) for m in (said if isinstance(said, list) else [said]))
        parts.append(f"{names.get(str(field), str(field))}: {text}")
    return " ".join(parts)


def _endpoint_form(form: Mapping[str, Any], event_types: list[str], editing: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "url": str(form.get("url", "")).strip(),
        "event_types": event_types,
        "description": str(form.get("description", "")).strip(),
    }
    if editing:
        state = str(form.get("enabled", "true"))
        if state not in ("true", "false"):
            raise EndpointRefused("State: choose enabled or disabled.")
        data["enabled"] = state == "true"
    schema = (
        hook_schemas.WebhookEndpointUpdateSchema() if editing else hook_schemas.WebhookEndpointCreateSchema()
    )
    if editing and not event_types:
        raise EndpointRefused("Events: choose at least one event type.")
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        raise EndpointRefused(_messages(exc)) from None
    return loaded


def create_endpoint(
    session: Session,
    settings: Mapping[str, Any],
    user: ConsoleUser,
    form: Mapping[str, Any],
    event_types: list[str],
) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint as ``POST /v1/webhook-endpoints`` does; return it and its secret (shown once).

    Raises EndpointRefused with the reason (a field's, or the URL guard's) and saves nothing then.
    """
    data = _endpoint_form(form, event_types, editing=False)
    try:
        endpoint, secret = hooks.create_endpoint(session, settings, user.tenant_id, **data)
    except Problem as exc:
        raise EndpointRefused(f"URL: {exc.detail}") from None
    people.record(
        session, user, "webhook.create", endpoint.id, utcnow(), url=endpoint.url, events=endpoint.event_types
    )
    return endpoint, secret


def _facts(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "url": endpoint.url,
        "events": list(endpoint.event_types or []),
        "description": endpoint.description,
        "enabled": endpoint.enabled,
    }


def update_endpoint(
    session: Session,
    settings: Mapping[str, Any],
    user: ConsoleUser,
    endpoint_id: str,
    form: Mapping[str, Any],
    event_types: list[str],
) -> WebhookEndpoint:
    """Change URL, events, description and state as ``PATCH /v1/webhook-endpoints/{id}`` does.

    The endpoint must be the tenant's (Problem 404 otherwise); a refusal raises EndpointRefused.
    """
    endpoint = hooks.get_endpoint(session, user.tenant_id, endpoint_id)
    data = _endpoint_form(form, event_types, editing=True)
    before = _facts(endpoint)
    try:
        endpoint = hooks.update_endpoint(session, settings, user.tenant_id, endpoint.id, data)
    except Problem as exc:
        if exc.status == 404:
            raise
        raise EndpointRefused(f"URL: {exc.detail}") from None
    after = _facts(endpoint)
    changed = {k: after[k] for k in after if after[k] != before[k]}
    people.record(session, user, "webhook.update", endpoint.id, utcnow(), **changed)
    return endpoint


@dataclass
class AccountRow:
    id: str
    carrier: str
    name: str
    environment: str
    enabled: bool
    is_default: bool


def carrier_accounts(session: Session, tenant_id: str) -> list[AccountRow]:
    """The tenant's carrier accounts: no credential, no option but the environment."""
    return [
        AccountRow(
            a.id,
            a.carrier,
            a.label,
            str((a.options or {}).get("environment") or ""),
            a.enabled,
            a.is_default,
        )
        for a in connections.list_accounts(session, tenant_id)
    ]
