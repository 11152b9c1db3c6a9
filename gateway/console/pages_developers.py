"""Console pages: developer settings (issue 20 item 9; see docs/CONSOLE.md).

Roles: API keys are ``admin`` only (a key can hold any role, so making one is an admin's act);
webhook endpoints and the carrier accounts list are ``admin`` and ``platform`` (the roles the API
asks for them). Secrets (a new key, a new endpoint's or a rotated webhook secret) are rendered once,
on the response to the POST that made them, and never again. Endpoints are created and changed through
the API's schemas and use cases (``developers_views``): a URL the SSRF guard refuses says why, as text.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import flask
from flask import current_app, request

from gateway.console import _web
from gateway.console import developers_views as views
from gateway.console._web import ConsoleError, WebResponse, render, signed_in
from gateway.console.tables import ConsoleUser
from gateway.kernel import auth, web
from gateway.kernel.errors import Problem
from gateway.webhooks.tables import WebhookEndpoint

Route = Callable[..., None]
KEYS = ("admin",)
HOOKS = ("admin", "platform")
GRACE_HOURS = (0, 1, 24, 72, 168)


def _user() -> ConsoleUser:
    user = _web.load_user()
    assert user is not None  # signed_in
    return user


def _typed() -> dict[str, object]:
    """What the endpoint form was sent with, to show it again as typed when it is refused."""
    return {
        "url": request.form.get("url", "")[:2048],
        "description": request.form.get("description", "")[:500],
        "event_types": request.form.getlist("event_types"),
        "enabled": request.form.get("enabled", "true") != "false",
    }


def _page(http_status: int = 200, error: str = "", typed: dict[str, object] | None = None) -> flask.Response:
    user = _user()
    session = web.db()
    can_keys = user.has("admin")
    return render(
        "developers.html",
        http_status,
        can_keys=can_keys,
        keys=views.keys(session, user.tenant_id) if can_keys else [],
        roles=sorted(auth.ROLES),
        modes=auth.MODES,
        endpoints=views.endpoints(session, user.tenant_id),
        accounts=views.carrier_accounts(session, user.tenant_id),
        event_types=views.EVENT_TYPES,
        typed=typed or {"url": "", "description": "", "event_types": [], "enabled": True},
        done=request.args.get("done", "")[:120],
        error=error,
    )


@signed_in(*HOOKS)
def developers() -> flask.Response:
    """API keys (admins), webhook endpoints and carrier accounts."""
    return _page()


def _done(message: str, where: str = "/console/developers") -> WebResponse:
    return flask.redirect(f"{where}?done={quote(message)}", 303)


@signed_in(*KEYS)
def create_key() -> WebResponse:
    """Make an API key and show it on this response only."""
    user = _user()
    session = web.db()
    try:
        row, secret = views.create_key(
            session,
            user.tenant_id,
            request.form.getlist("roles"),
            request.form.get("name", ""),
            request.form.get("mode", "live"),
            str(current_app.config["SECRET_PEPPER"]),
        )
    except ValueError as exc:
        session.rollback()
        return _page(422, error=str(exc))
    session.commit()
    return render(
        "developers_secret.html",
        title="API key created",
        what=f"API key {row.id} ({row.roles}, {request.form.get('mode', 'live')})",
        secret=secret,
        usage="Send it as: Authorization: Bearer <key>",
    )


@signed_in(*KEYS)
def revoke_key(key_id: str) -> WebResponse:
    """Revoke one of the tenant's keys."""
    user = _user()
    session = web.db()
    outcome = views.revoke_key(session, user.tenant_id, key_id[:64])
    if outcome is None:
        raise ConsoleError(404, "No such API key.")
    session.commit()
    return _done(f"revoked {key_id}" if outcome else f"{key_id} was already revoked")


def _endpoint_or_404(tenant_id: str, endpoint_id: str) -> WebhookEndpoint:
    try:
        return views.endpoint(web.db(), tenant_id, endpoint_id[:64])
    except Problem:
        raise ConsoleError(404, "No such webhook endpoint.") from None


def _signing_secret(endpoint: WebhookEndpoint, secret: str, title: str, what: str) -> flask.Response:
    """The page that shows an endpoint's new signing secret, this once, with a way back to the endpoint."""
    return render(
        "developers_secret.html",
        title=title,
        what=what,
        secret=secret,
        usage="Verify the webhook-signature header with it (Standard Webhooks).",
        back=f"/console/developers/webhooks/{endpoint.id}",
    )


@signed_in(*HOOKS)
def create_webhook() -> WebResponse:
    """Subscribe a URL to event types; the signing secret is on this response only."""
    user = _user()
    session = web.db()
    try:
        endpoint, secret = views.create_endpoint(
            session, web.container().settings, user, request.form, request.form.getlist("event_types")
        )
    except views.EndpointRefused as exc:
        session.rollback()
        return _page(422, error=str(exc), typed=_typed())
    session.commit()
    return _signing_secret(
        endpoint, secret, "Webhook endpoint created", f"the signing secret of {endpoint.url}"
    )


@signed_in(*HOOKS)
def webhook(endpoint_id: str) -> WebResponse:
    """One endpoint: its state and its delivery log, newest first, with replay buttons; on POST, edit it."""
    user = _user()
    found = _endpoint_or_404(user.tenant_id, endpoint_id)
    error, typed, status = "", None, 200
    if request.method == "POST":
        session = web.db()
        try:
            views.update_endpoint(
                session,
                web.container().settings,
                user,
                found.id,
                request.form,
                request.form.getlist("event_types"),
            )
        except views.EndpointRefused as exc:
            session.rollback()
            error, typed, status = str(exc), _typed(), 422
            found = _endpoint_or_404(user.tenant_id, endpoint_id)
        else:
            session.commit()
            return _done("saved the endpoint", f"/console/developers/webhooks/{found.id}")
    cursor = request.args.get("cursor", "")[:200]
    try:
        rows, next_cursor = views.deliveries(web.db(), user.tenant_id, found.id, cursor)
    except Problem as exc:
        raise ConsoleError(400, exc.detail) from None
    return render(
        "developers_webhook.html",
        status,
        e=found,
        deliveries=rows,
        next_cursor=next_cursor,
        graces=GRACE_HOURS,
        event_types=views.EVENT_TYPES,
        typed=typed
        or {
            "url": found.url,
            "description": found.description,
            "event_types": list(found.event_types or []),
            "enabled": found.enabled,
        },
        error=error,
        done=request.args.get("done", "")[:120],
    )


@signed_in(*HOOKS)
def replay(endpoint_id: str, delivery_id: str) -> WebResponse:
    """Send a delivery's event again to this endpoint (same webhook-id)."""
    user = _user()
    session = web.db()
    found = _endpoint_or_404(user.tenant_id, endpoint_id)
    try:
        ids = views.replay(session, user.tenant_id, found.id, delivery_id[:64])
    except Problem as exc:
        session.rollback()
        raise ConsoleError(exc.status if exc.status in (404, 409) else 422, exc.detail) from None
    if ids is None:
        raise ConsoleError(404, "No such delivery.")
    session.commit()
    return _done(f"queued {len(ids)} delivery", f"/console/developers/webhooks/{found.id}")


@signed_in(*HOOKS)
def rotate(endpoint_id: str) -> WebResponse:
    """A new signing secret, shown on this response only."""
    user = _user()
    session = web.db()
    found = _endpoint_or_404(user.tenant_id, endpoint_id)
    raw = request.form.get("grace_hours", "24")
    asked = _web.whole(raw, 3)
    hours = asked if asked in GRACE_HOURS else 24
    endpoint, secret = views.rotate(session, user.tenant_id, found.id, hours)
    session.commit()
    old = (
        f"The old secret keeps signing beside it for {hours} hour(s)."
        if hours
        else "The old secret stopped signing."
    )
    return _signing_secret(
        endpoint, secret, "Webhook secret rotated", f"the new signing secret of {endpoint.url}. {old}"
    )


def register(route: Route) -> None:
    """Add this area's pages with ``route(rule, endpoint, view, methods)``."""
    route("/console/developers", "developers", developers)
    route("/console/developers/keys", "developers_create_key", create_key, ("POST",))
    route("/console/developers/keys/<string:key_id>/revoke", "developers_revoke_key", revoke_key, ("POST",))
    route("/console/developers/webhooks", "developers_create_webhook", create_webhook, ("POST",))
    route(
        "/console/developers/webhooks/<string:endpoint_id>",
        "developers_webhook",
        webhook,
        ("GET", "POST"),
    )
    route(
        "/console/developers/webhooks/<string:endpoint_id>/deliveries/<string:delivery_id>/replay",
        "developers_replay",
        replay,
        ("POST",),
    )
    route(
        "/console/developers/webhooks/<string:endpoint_id>/rotate-secret",
        "developers_rotate",
        rotate,
        ("POST",),
    )


NAV: list[tuple[str, str, tuple[str, ...]]] = [
    ("/console/developers", "Developers", HOOKS)
]  # (path, label, roles that see it)
