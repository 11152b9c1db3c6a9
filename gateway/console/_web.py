"""The console's request plumbing: cookies, the signed-in user, CSRF, roles, security headers, rendering."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import quote

import flask
from flask import current_app, g, render_template, request
from redis.exceptions import RedisError
from werkzeug.wrappers import Response as WebResponse

from gateway.console import _maps, sessions
from gateway.console.tables import ConsoleSession, ConsoleUser
from gateway.kernel import web
from gateway.kernel.types import utcnow

SESSION_COOKIE = "handoff_console"
PRE_COOKIE = (
    "handoff_console_pre"  # before sign-in: what the login and invitation forms' CSRF token is made from
)
COOKIE_PATH = "/console"
CSRF_FIELD = "csrf_token"
CSRF_KEY = "handoff:console:csrf-key"  # in Redis: the HMAC key of the CSRF tokens (``csrf_key``)
# No inline script or style anywhere: every asset comes from the gateway (docs/CONSOLE.md).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

F = TypeVar("F", bound=Callable[..., Any])


class ConsoleError(Exception):
    """Answer with the console's error page (HTML, not problem+json): status and a sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def secure_cookies() -> bool:
    mode = str(current_app.config["CONSOLE_COOKIE_SECURE"]).strip().lower()
    if mode == "always":
        return True
    if mode == "never":
        return False
    return request.is_secure


def set_cookie(response: WebResponse, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        secure=secure_cookies(),
        httponly=True,
        samesite="Lax",
    )


def drop_cookie(response: WebResponse, name: str) -> None:
    response.delete_cookie(name, path=COOKIE_PATH, secure=secure_cookies(), httponly=True, samesite="Lax")


def content_security_policy() -> str:
    """``CSP``, with the configured map tile server's origin (``CONSOLE_MAP_TILES``) added to ``img-src``."""
    origin = _maps.tile_origin(str(current_app.config["CONSOLE_MAP_TILES"] or ""))
    return CSP if origin is None else CSP.replace("img-src 'self'", f"img-src 'self' {origin}")


def security_headers(response: WebResponse) -> WebResponse:
    """Every console response: the CSP, no framing, no referrer beyond the origin, no sniffing, no caching."""
    response.headers["Content-Security-Policy"] = content_security_policy()
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


def idle_timeout() -> timedelta:
    """How long a session may go unused (``CONSOLE_IDLE_MINUTES``) before it is refused."""
    return timedelta(minutes=int(current_app.config["CONSOLE_IDLE_MINUTES"]))


def load_user() -> ConsoleUser | None:
    """The signed-in user of this request (cached on ``g``), or None."""
    user: ConsoleUser | None
    if "console_user" in g:
        user = g.console_user
        return user
    token = request.cookies.get(SESSION_COOKIE, "")
    found = sessions.find(web.db(), token, utcnow(), idle_timeout()) if token else None
    g.console_session, g.console_user = found if found else (None, None)
    if found:
        g.console_cookie = token
        web.db().commit()  # last_seen_at, when touched
    user = g.console_user
    return user


def current_session() -> ConsoleSession | None:
    row: ConsoleSession | None = g.get("console_session")
    return row


def pre_token() -> str:
    """This browser's pre-session token (made on first use; the response sets its cookie)."""
    token = request.cookies.get(PRE_COOKIE, "")
    if not token or len(token) > 128:
        token = g.get("console_new_pre") or secrets.token_urlsafe(32)
        g.console_new_pre = token
    return token


def whole(raw: str | None, digits: int = 9) -> int | None:
    """A whole number written in ASCII digits, at most ``digits`` of them; None for anything else.

    ``str.isdigit`` alone is not enough: it is true for "²" and other digits ``int`` refuses.
    """
    text = (raw or "").strip()
    if not text or len(text) > digits or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def csrf_key() -> bytes:
    """The gateway's CSRF key: random, made once and shared by every process through Redis.

    Without it a token would be a function of the cookie alone, and whoever can plant a cookie for
    the console (a sibling subdomain) could make the token that goes with it. Should Redis lose the
    key, a new one is made and open forms ask to be reloaded. While Redis cannot be reached the key
    is derived from ``SECRET_PEPPER`` (the same in every process), so the console still works.
    """
    key = g.get("console_csrf_key")
    if key is None:
        try:
            redis = web.container().redis
            redis.set(CSRF_KEY, secrets.token_hex(32), nx=True)
            stored = redis.get(CSRF_KEY)
        except RedisError:
            stored = None
        if isinstance(stored, bytes | str) and stored:
            key = stored if isinstance(stored, bytes) else stored.encode()
        else:
            pepper = str(current_app.config["SECRET_PEPPER"] or "")
            key = hashlib.sha256(b"handoff-console-csrf-fallback\0" + pepper.encode()).digest()
        g.console_csrf_key = key
    return bytes(key)


def csrf() -> str:
    """The CSRF token of this page's forms."""
    cookie = g.get("console_cookie") or pre_token()
    return sessions.csrf_token(cookie, csrf_key())


def check_csrf(cookie: str) -> None:
    if not sessions.csrf_ok(cookie, request.form.get(CSRF_FIELD, ""), csrf_key()):
        raise ConsoleError(
            403,
            "This form was not sent from a console page you opened, or it expired. Reload the page and try again.",
        )


def signed_in(*roles: str) -> Callable[[F], F]:
    """Decorate a page: sign-in required (else to the login page), one of ``roles`` (admin passes), CSRF on POST."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = load_user()
            if user is None:
                target = request.full_path if request.method == "GET" else "/console/"
                # A cookie that opens nothing any more: its session expired, idled out or was revoked.
                ended = "&m=expired" if request.cookies.get(SESSION_COOKIE) else ""
                response = flask.redirect(
                    f"/console/login?next={quote(target.rstrip('?'), safe='/')}{ended}", 303
                )
                if ended:
                    drop_cookie(response, SESSION_COOKIE)
                return response
            if request.method == "POST":
                check_csrf(g.console_cookie)
            if roles and not any(user.has(role) for role in roles):
                raise ConsoleError(403, f"This page needs one of the roles: {', '.join(sorted(roles))}.")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]  # wraps() types it _Wrapped; it stands in for the view

    return decorator


def navigation(user: ConsoleUser | None) -> list[tuple[str, str]]:
    """The areas' links the user may open, in order (each area module lists its own in ``NAV``)."""
    from gateway.console import (
        pages_allocation,
        pages_carriers,
        pages_developers,
        pages_dispatch,
        pages_finance,
        pages_fleet,
        pages_people,
    )

    if user is None:
        return []
    links = []
    for area in (
        pages_allocation,
        pages_fleet,
        pages_dispatch,
        pages_finance,
        pages_carriers,
        pages_developers,
        pages_people,
    ):
        links += [(path, label) for path, label, roles in area.NAV if any(user.has(r) for r in roles)]
    return links


def render(template: str, http_status: int = 200, **context: Any) -> flask.Response:
    user = g.get("console_user")
    html = render_template(
        f"console/{template}", user=user, csrf_token=csrf(), nav=navigation(user), **context
    )
    response = flask.Response(html, http_status, mimetype="text/html")
    new_pre = g.get("console_new_pre")
    if new_pre and user is None:
        set_cookie(response, PRE_COOKIE, new_pre, None)
    return response


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a console path only (no open redirect)."""
    if value and value.startswith("/console/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/console/"
