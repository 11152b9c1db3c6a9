"""HTTP API: one blueprint per resource. A view loads input, calls one service, dumps output."""

from __future__ import annotations

import datetime
import http
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import flask
import marshmallow as ma
from apispec import APISpec, BasePlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from flask_smorest import Api as _SmorestApi
from flask_smorest import Blueprint as _SmorestBlueprint
from flask_smorest.spec import prepare_response
from webargs import core as webargs_core
from webargs.flaskparser import FlaskParser, is_json_request

from gateway.kernel import errors
from gateway.kernel import schemas as common

PROBLEM_CONTENT_TYPE = errors.PROBLEM_JSON


INT64 = (-(2**63), 2**63 - 1)
_INT64_MESSAGE = "Must fit in a signed 64-bit integer (-2^63 to 2^63-1)."
_INSTANT_MESSAGE = "Must be an instant between years 1 and 9999 in UTC."


def _out_of_range(value: Any) -> Any:
    """Messages for arguments no column or query can hold (nested like ``value``), or None.

    Integers beyond a signed 64 bits, and instants whose offset carries them past year 1 or 9999
    once in UTC (``9999-12-31T23:59:59-23:59``), which every timestamp column converts to.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return None if INT64[0] <= value <= INT64[1] else [_INT64_MESSAGE]
    if isinstance(value, datetime.datetime):
        try:
            value.astimezone(datetime.UTC)
        except OverflowError:
            return [_INSTANT_MESSAGE]
        return None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    found = {key: msg for key, item in items if (msg := _out_of_range(item)) is not None}
    return found or None


class ExactParser(FlaskParser):
    """webargs parser that reads JSON numbers with a fraction as Decimal, never float.

    Any integer argument (path converters aside: see ``gateway.app``) beyond a signed 64-bit
    integer, or instant beyond year 9999 in UTC, is a 422 naming its field, checked here once for
    every schema and location: no column holds one, and SQLite cannot even bind such an integer.
    A query parameter the operation does not declare is a 422 too, like an unknown body member:
    a misspelt filter must not silently list everything.
    """

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": ma.RAISE}

    def _process_location_data(
        self, location_data: Any, schema: Any, req: Any, location: str, *a: Any
    ) -> Any:
        data = super()._process_location_data(location_data, schema, req, location, *a)
        messages = _out_of_range(data)
        if messages:
            raise ma.ValidationError(messages)
        return data

    def _raw_load_json(self, req: flask.Request) -> Any:
        if not is_json_request(req):
            return webargs_core.missing
        if "json_body" in flask.g:  # parsed and checked once by gateway.app before the view
            return flask.g.json_body
        data = req.get_data(cache=True)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise json.JSONDecodeError(f"not UTF-8: {exc.reason}", doc="", pos=exc.start) from exc
        return flask.current_app.json.loads(text)  # the app's ExactJSONProvider: Decimal, no U+0000


_T = TypeVar("_T")
_View = Callable[..., Any]


class Blueprint(_SmorestBlueprint):  # type: ignore[misc]  # flask-smorest ships no types: its classes are Any
    """Blueprint whose request bodies keep decimals exact."""

    ARGUMENTS_PARSER = ExactParser()

    if TYPE_CHECKING:
        # The decorators the capabilities use, typed: route and doc hand back what they decorate;
        # the others wrap the view (load arguments, dump the response).
        def route(self, rule: str, **options: Any) -> Callable[[_T], _T]: ...
        def doc(self, **kwargs: Any) -> Callable[[_T], _T]: ...
        def arguments(self, schema: Any, **kwargs: Any) -> Callable[[_View], _View]: ...
        def response(
            self, status_code: int | str, schema: Any = None, **kwargs: Any
        ) -> Callable[[_View], _View]: ...
        def alt_response(
            self, status_code: int | str, response: Any = None, **kwargs: Any
        ) -> Callable[[_View], _View]: ...


_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9!#$&+.^_`|~-]")


def attachment(filename: str) -> str:
    """A Content-Disposition for a download named ``filename``, whatever it holds (RFC 6266).

    The plain ``filename`` keeps only token characters (others become ``_``), so a quote, a
    line break or non-ASCII from a carrier cannot break the header; ``filename*`` has it all.
    """
    plain = _UNSAFE_IN_FILENAME.sub("_", filename)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


# The Idempotency-Key header as every write documents it: what gateway.kernel.idempotency accepts.
IDEMPOTENCY_HEADER = {
    "in": "header",
    "name": "Idempotency-Key",
    "description": "Makes the write safe to retry: 1 to 255 printable ASCII characters (docs/PROBLEMS.md)",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]([ -~]*[!-~])?$"},
}

# Statuses every /v1/ operation can answer, documented on each one as problem+json (see
# docs/PROBLEMS.md for the types behind them): any request can be malformed (400), name a
# resource that is not in the tenant (404), fail validation (422) or meet a fault (500, 503).
_EVERY_OPERATION = (400, 404, 422, 500, 503)
_AUTHENTICATED = (401, 403, 429)  # the key is missing or bad, lacks the role, or is over its rate
_WITH_BODY = (413, 415)  # the body is too large or not JSON
_IDEMPOTENT = (409,)  # the first request with this Idempotency-Key is still running
_BODY_METHODS = frozenset({"post", "put", "patch"})
_DESCRIPTIONS = {
    400: "Malformed request: invalid JSON, header, cursor or query (bad-request, malformed-json)",
    401: "No API key, or a malformed, unknown or revoked one (unauthenticated)",
    403: "The key lacks the role this operation needs (forbidden)",
    404: "No such resource in your tenant (not-found)",
    405: "The route exists for other methods, listed in Allow (method-not-allowed)",
    409: "The resource's state forbids the action, or the Idempotency-Key's first request still runs",
    413: "The body exceeds the size limit (payload-too-large)",
    415: "The body is not application/json (unsupported-media-type)",
    422: "The request failed validation; see errors (validation-error and more specific types)",
    429: "Too many requests for this API key; retry after Retry-After seconds (rate-limited)",
    500: "A bug: only the request_id is shown (internal-error)",
    503: "A dependency is down or busy; retry later (service-unavailable, database-busy, carrier-unavailable)",
}


class ProblemResponsesPlugin(BasePlugin):
    """Document on every operation the error statuses the gateway can answer it with.

    Runs before the marshmallow plugin, so the Problem schema given here is turned into a
    reference like any other. Besides the statuses every operation shares, an error response a
    view documents with a description only gets the problem+json body it is really sent with.
    """

    def __init__(self, error_schema: type[ma.Schema]) -> None:
        self.error_schema = error_schema
        self.spec: APISpec | None = None

    def init_spec(self, spec: APISpec) -> None:
        self.spec = spec

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        global_security = (self.spec.options.get("security") if self.spec else None) or []
        for method, operation in (operations or {}).items():
            if method not in {"get", "put", "post", "delete", "options", "head", "patch", "trace"}:
                continue
            responses = operation.setdefault("responses", {})
            for code, response in list(responses.items()):
                if (
                    isinstance(response, dict)
                    and "$ref" not in response
                    and "content" not in response
                    and str(code).isdigit()
                    and int(code) >= 400
                ):
                    response["content"] = {PROBLEM_CONTENT_TYPE: {"schema": self.error_schema}}
            if not (path or "").startswith("/v1/"):
                continue
            statuses = list(_EVERY_OPERATION)
            if operation.get("security", global_security):
                statuses += _AUTHENTICATED
            if method in _BODY_METHODS:
                statuses += _WITH_BODY
            if any(
                isinstance(p, dict) and p.get("in") == "header" and p.get("name") == "Idempotency-Key"
                for p in operation.get("parameters", [])
            ):
                statuses += _IDEMPOTENT
            declared = {str(code) for code in responses}
            for status in sorted(statuses):
                if str(status) not in declared:
                    responses[status] = http.HTTPStatus(status).name


class SchemaRulesPlugin(BasePlugin):
    """Add a schema's ``OPENAPI_RULES`` to its component: rules across fields (``anyOf``...).

    marshmallow fields describe one member each; a rule tying members together (a postal code
    required unless the country has none) is declared on the schema class, next to the
    ``validates_schema`` that enforces it, so the document states what the gateway accepts.
    """

    def schema_helper(self, name: str, definition: dict[str, Any], **kwargs: Any) -> dict[str, Any] | None:
        schema = kwargs.get("schema")
        if schema is None:
            return None
        rules = getattr(resolve_schema_cls(schema), "OPENAPI_RULES", None)
        return {**definition, **rules} if rules else None


_ANY_OBJECT_OR_NULL = {"type": "object", "nullable": True}


def _nullable_reference(
    converter: Any, field: ma.fields.Field, ret: dict[str, Any], **_: Any
) -> dict[str, Any]:
    """A nullable nested schema as ``allOf: [$ref]`` + ``nullable``, its reference kept whole.

    For OpenAPI 3.0 apispec writes ``anyOf: [{type: object, nullable: true}, {$ref}]``, whose
    first branch admits any object (``{}`` too) where the gateway requires the nested fields.
    """
    branches = ret.get("anyOf")
    if isinstance(branches, list) and len(branches) == 2 and _ANY_OBJECT_OR_NULL in branches:
        del ret["anyOf"]
        return {"allOf": [b for b in branches if b != _ANY_OBJECT_OR_NULL], "nullable": True}
    return {}


class Api(_SmorestApi):  # type: ignore[misc]  # flask-smorest ships no types: its classes are Any
    """flask-smorest's Api with RFC 9457 errors, documented as application/problem+json."""

    ERROR_SCHEMA = common.ProblemSchema

    def handle_http_exception(self, error: Any) -> Any:
        return errors.problem_response(errors.from_http_exception(error))

    def _init_spec(self, **kwargs: Any) -> None:
        super()._init_spec(**kwargs)
        plugin = ProblemResponsesPlugin(self.ERROR_SCHEMA)
        plugin.init_spec(self.spec)
        self.spec.plugins.insert(self.spec.plugins.index(self.ma_plugin), plugin)
        self.spec.plugins.append(SchemaRulesPlugin())  # after the marshmallow plugin: adds to its output
        self.ma_plugin.converter.add_attribute_function(_nullable_reference)

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": _DESCRIPTIONS.get(status, status.phrase)}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)
