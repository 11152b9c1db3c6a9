"""The application factory."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from flask import Flask, g, request
from flask.json.provider import DefaultJSONProvider

from gateway import auth, bootstrap, config, errors, logs, web

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
_JSON_TYPES = ("application/json",)
_PUBLIC_PREFIXES = ("/healthz", "/readyz", "/openapi.json", "/docs", "/v1/callbacks/")
# OAuth 2 token endpoints take application/x-www-form-urlencoded (RFC 6749), not JSON.
# Invoice uploads are multipart/form-data files, read as a stream by the view.
_FORM_PATHS = ("/v1/callbacks/ups/token", "/v1/invoices")


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


class ExactJSONProvider(DefaultJSONProvider):
    """Parse JSON numbers with a fraction as Decimal, so money and weights stay exact.

    A string holding U+0000 is refused as malformed JSON: no text column can store it (PostgreSQL
    rejects it outright), so it is bad input, answered 400 here instead of failing in the database.
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_float", Decimal)
        value = json.loads(s, **kwargs)
        if _holds_nul(value):
            text = s if isinstance(s, str) else s.decode("utf-8", "replace")
            raise json.JSONDecodeError(
                "a string holds U+0000, which cannot be stored", text, text.find("\\u0000")
            )
        return value


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the gateway: settings, dependencies, API, error handlers and CLI."""
    settings = config.load(overrides=overrides)
    app = Flask(__name__)
    app.json = ExactJSONProvider(app)
    app.config.update(settings)
    app.config.update(
        API_TITLE="Handoff",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
        API_SPEC_OPTIONS={
            "info": {
                "description": "One HTTP API in front of many delivery carriers. Errors are RFC 9457 "
                "problem+json. Authenticate with `Authorization: Bearer hk_…`.",
            },
            "components": {
                "securitySchemes": {
                    "apiKey": {"type": "http", "scheme": "bearer", "description": "An API key hk_…"}
                }
            },
            "security": [{"apiKey": []}],
        },
        MAX_CONTENT_LENGTH=settings["MAX_CONTENT_LENGTH"],
    )
    logs.configure(settings["LOG_LEVEL"], settings["LOG_JSON"])
    from gateway import db as db_package

    db_package.load_all()
    app.extensions["handoff"] = bootstrap.build(app.config)

    from gateway.api import Api, register

    api = Api(app)
    register(api)
    errors.register(app)
    app.before_request(_start_request)
    app.after_request(_finish_request)
    from gateway.services import exchanges

    exchanges.install(app)  # before close_session: teardowns run in reverse, so it flushes after it
    app.teardown_appcontext(web.close_session)

    from gateway import cli

    cli.register(app)
    return app


def _start_request() -> None:
    g.started = time.perf_counter()
    incoming = request.headers.get("X-Request-Id", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    if request.method in {"POST", "PUT", "PATCH"} and request.content_length != 0:
        mimetype = request.mimetype
        if (
            request.path.startswith("/v1/")
            and request.path not in _FORM_PATHS
            and not (mimetype in _JSON_TYPES or mimetype.endswith("+json"))
        ):
            raise errors.Problem(
                "unsupported-media-type",
                f"Send the body as application/json (got {mimetype or 'no Content-Type'}).",
            )
    if request.path.startswith("/v1/") and not request.path.startswith(_PUBLIC_PREFIXES):
        g.principal = auth.authenticate(web.db())
        _rate_limit(g.principal)


def _rate_limit(principal: auth.Principal) -> None:
    from flask import current_app

    limit = current_app.config["RATE_LIMIT_PER_MINUTE"]
    if not limit:
        return
    window = int(time.time() // 60)
    key = f"handoff:ratelimit:{principal.key_id}:{window}"
    try:
        r = web.container().redis
        pipe = r.pipeline()
        pipe.incr(key)
        pipe.expire(key, 120)
        count = pipe.execute()[0]
    except Exception:  # fail open: a Redis hiccup must not take the API down
        current_app.logger.warning("rate limiter unavailable", exc_info=True)
        return
    if count > limit:
        retry_after = 60 - int(time.time()) % 60
        raise errors.Problem(
            "rate-limited",
            f"More than {limit} requests a minute for this API key.",
            headers={"Retry-After": str(retry_after)},
        )


def _finish_request(response: Any) -> Any:
    response.headers["X-Request-Id"] = g.get("request_id", "")
    started = g.get("started")
    if started is not None:
        import logging

        logging.getLogger("gateway.access").info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
    return response
