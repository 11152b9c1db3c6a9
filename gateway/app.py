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
from werkzeug.routing import IntegerConverter, ValidationError

from gateway import wiring
from gateway.exchanges import service as exchanges
from gateway.kernel import auth, config, docs_ui, errors, logs, web
from gateway.kernel import container as bootstrap
from gateway.kernel.http import Api

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
_JSON_TYPES = ("application/json",)
_PUBLIC_PREFIXES = ("/healthz", "/readyz", "/openapi.json", "/docs", "/v1/callbacks/")
# OAuth 2 token endpoints take application/x-www-form-urlencoded (RFC 6749), not JSON.
# Invoice uploads are multipart/form-data files, read as a stream by the view.
_FORM_PATHS = ("/v1/invoices",)
_CSV_PATHS = ("/v1/shipments/bulk",)  # JSON, or a CSV upload read by the view (docs/BULK.md)
_OAUTH_FORM_RULE = "/v1/callbacks/<string:carrier>/token"  # OAuth 2 token requests are form-encoded


# Limits on what a JSON body may hold (docs/PROBLEMS.md); beyond them it is a 400 malformed-json.
MAX_JSON_DEPTH = 64  # nested objects/arrays, the outermost one counting as 1
MAX_NUMBER_DIGITS = 40  # digits of a number before its exponent
MAX_EXPONENT_DIGITS = 3  # digits of a number's exponent (so within ±999)
# U+0000 and lone surrogates (an unpaired \ud800 to \udfff escape) are not text any database stores.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_NUMBER_LIMIT = (
    f"a number has more than {MAX_NUMBER_DIGITS} digits or an exponent of more than "
    f"{MAX_EXPONENT_DIGITS} digits"
)
_DEPTH_LIMIT = f"the body is nested more than {MAX_JSON_DEPTH} levels deep"


class _LimitError(ValueError):
    pass


def _parse_int(text: str) -> int:
    if len(text) - text.startswith("-") > MAX_NUMBER_DIGITS:
        raise _LimitError(_NUMBER_LIMIT)
    return int(text)


def _parse_decimal(text: str) -> Decimal:
    mantissa, _, exponent = text.lower().partition("e")
    digits = sum(c.isdigit() for c in mantissa)
    if digits > MAX_NUMBER_DIGITS or len(exponent.lstrip("+-").lstrip("0")) > MAX_EXPONENT_DIGITS:
        raise _LimitError(_NUMBER_LIMIT)
    return Decimal(text)


def _refuse_constant(name: str) -> Any:
    raise _LimitError(f"{name} is not a JSON number")


def _refusal(value: Any) -> str | None:
    """Why a parsed body is refused (too deep, or text no database stores), or None; no recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            found = _UNSTORABLE.search(node)
            if found:
                return _text_refusal(found.group())
            continue
        if not isinstance(node, (dict, list)):
            continue  # a number, true, false or null
        if depth > MAX_JSON_DEPTH:
            return _DEPTH_LIMIT
        if isinstance(node, dict):
            for key, item in node.items():
                stack.append((key, depth))
                if isinstance(item, (dict, list, str)):
                    stack.append((item, depth + 1))
        else:
            stack.extend((item, depth + 1) for item in node if isinstance(item, (dict, list, str)))
    return None


def _text_refusal(char: str) -> str:
    if char == "\x00":
        return "a string holds U+0000, which cannot be stored"
    return f"a string holds a lone surrogate (\\u{ord(char):04x}), which is not text"


class ExactJSONProvider(DefaultJSONProvider):
    """Parse JSON numbers with a fraction as Decimal, so money and weights stay exact.

    Within limits every backend and every later step can handle: nesting at most
    ``MAX_JSON_DEPTH`` levels, numbers of at most ``MAX_NUMBER_DIGITS`` digits (exponent at most
    ``MAX_EXPONENT_DIGITS``; no ``NaN`` or ``Infinity``, which Python's decoder would otherwise
    accept), and strings (keys too) that are text a database stores: no U+0000
    (PostgreSQL rejects it) and no lone surrogate (no encoder accepts it). Anything else raises
    ``json.JSONDecodeError``, answered 400 malformed-json, instead of failing further down.
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_float", _parse_decimal)
        kwargs.setdefault("parse_int", _parse_int)
        kwargs.setdefault("parse_constant", _refuse_constant)
        try:
            value = json.loads(s, **kwargs)
        except _LimitError as exc:
            reason = str(exc)
        except RecursionError:  # the decoder's own guard, far beyond MAX_JSON_DEPTH
            reason = _DEPTH_LIMIT
        else:
            refusal = _refusal(value)
            if refusal is None:
                return value
            reason = refusal
        text = s if isinstance(s, str) else s.decode("utf-8", "replace")
        raise json.JSONDecodeError(reason, text, 0)


class Int32Converter(IntegerConverter):
    """``<int:…>`` path segments up to 2^31-1, what an ``Integer`` column (versions) holds.

    Beyond the bound the route does not match (404) instead of failing in the database: PostgreSQL
    refuses to cast a larger number to ``integer``, SQLite cannot bind one of 2^63 or more. A path
    naming a ``BigInteger`` id uses ``<int64:…>``. The bound is the parameter's OpenAPI ``maximum``.
    """

    MAX = 2**31 - 1

    def __init__(self, map: Any, fixed_digits: int = 0, signed: bool = False, **bounds: Any) -> None:
        bounds.setdefault("max", self.MAX)
        super().__init__(map, fixed_digits=fixed_digits, signed=signed, **bounds)

    def to_python(self, value: str) -> Any:
        if len(value) > 20:  # beyond any 64-bit integer: refuse before converting thousands of digits
            raise ValidationError()
        return super().to_python(value)


class Int64Converter(Int32Converter):
    """``<int64:…>``: up to 2^63-1, what a ``BigInteger`` id column holds."""

    MAX = 2**63 - 1


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the gateway: settings, dependencies, API, error handlers and CLI."""
    settings = config.load(overrides=overrides)
    app = Flask(__name__)
    app.json = ExactJSONProvider(app)
    app.url_map.converters.update(int=Int32Converter, int64=Int64Converter)  # before any route
    app.config.update(settings)
    app.config.update(
        API_TITLE="Handoff",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        # Served by the gateway itself (gateway/kernel/docs_ui): the docs page works offline.
        OPENAPI_SWAGGER_UI_URL=docs_ui.ASSETS_URL,
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
    wiring.load_all()
    app.extensions["handoff"] = bootstrap.build(app.config, wiring.SESSION_HOOKS)

    api = Api(app)
    for module in wiring.BLUEPRINT_MODULES:
        api.register_blueprint(module.blp)
    errors.register(app)
    docs_ui.register(app)
    app.before_request(_start_request)
    app.after_request(_finish_request)
    exchanges.install(app)  # before close_session: teardowns run in reverse, so it flushes after it
    app.teardown_appcontext(web.close_session)

    from gateway import cli

    cli.register(app)
    return app


def _start_request() -> None:
    g.started = time.perf_counter()
    incoming = request.headers.get("X-Request-Id", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    if _holds_nul_outside_body():
        raise errors.Problem("bad-request", "The path, query or a header holds U+0000.")
    json_body = False
    # Only a body is checked: a request with neither Content-Length nor Transfer-Encoding has none
    # (RFC 9112 §6.3). Only a routed request: an unknown route or method answers 404/405 first.
    has_body = (
        bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    )
    if request.method in {"POST", "PUT", "PATCH"} and has_body and request.url_rule is not None:
        mimetype = request.mimetype
        form = (
            request.path in _FORM_PATHS
            or request.url_rule.rule == _OAUTH_FORM_RULE
            or (mimetype == "text/csv" and request.path in _CSV_PATHS)
        )
        if request.path.startswith("/v1/") and not form:
            if not (mimetype in _JSON_TYPES or mimetype.endswith("+json")):
                raise errors.Problem(
                    "unsupported-media-type",
                    f"Send the body as application/json (got {mimetype or 'no Content-Type'}).",
                )
            json_body = True
    if request.path.startswith("/v1/") and not request.path.startswith(_PUBLIC_PREFIXES):
        g.principal = auth.authenticate(web.db())
        _rate_limit(g.principal)
    if json_body:
        _read_json_body()


def _holds_nul_outside_body() -> bool:
    """True if U+0000, which no database stores or compares, is in the path, query or a header."""
    query = request.query_string
    return (
        "\x00" in request.path
        or b"\x00" in query
        or b"%00" in query
        or any("\x00" in value for _, value in request.headers.items())
    )


def _read_json_body() -> None:
    """Parse a JSON body once, before any view or the idempotency fingerprint reads it.

    Every JSON body passes the limits of ``ExactJSONProvider`` here, in one place, so nothing later
    (webargs, the fingerprint, a callback's own parse) meets a body too deep or too odd for it. The
    parsed value is kept in ``g.json_body`` for the webargs parser (``gateway.kernel.http.ExactParser``).
    """
    from flask import current_app

    data = request.get_data(cache=True)
    if not data:
        return
    try:
        g.json_body = current_app.json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise errors.Problem("malformed-json", f"The request body is not UTF-8: {exc.reason}.") from None
    except json.JSONDecodeError as exc:
        raise errors.Problem("malformed-json", f"The request body is not valid JSON: {exc.msg}.") from None


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
