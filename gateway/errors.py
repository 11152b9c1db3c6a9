"""RFC 9457 problem details: every error the gateway returns, with a stable ``type``.

Raise ``Problem`` (or a subclass helper) anywhere below a view; the handlers registered by
``register`` turn it, any werkzeug HTTP error, a validation error and any unexpected
exception into ``application/problem+json``. Stable ``type`` URIs are listed in
``docs/PROBLEMS.md``; clients should switch on ``type``, never on ``title`` or ``detail``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, g, json, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

# slug -> (status, title). The slug is the stable part of the type URI.
TYPES: dict[str, tuple[int, str]] = {
    "bad-request": (400, "Bad request"),
    "malformed-json": (400, "Malformed JSON body"),
    "unauthenticated": (401, "Authentication required"),
    "callback-unauthenticated": (401, "Callback sender not authenticated"),
    "forbidden": (403, "Forbidden"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "not-acceptable": (406, "Not acceptable"),
    "conflict": (409, "Conflict"),
    "idempotency-in-progress": (409, "A request with this Idempotency-Key is still in progress"),
    "gone": (410, "Gone"),
    "payload-too-large": (413, "Request body too large"),
    "unsupported-media-type": (415, "Unsupported media type"),
    "validation-error": (422, "Validation failed"),
    "idempotency-key-reused": (422, "Idempotency-Key reused with a different request"),
    "rate-limited": (429, "Too many requests"),
    "internal-error": (500, "Internal server error"),
    "carrier-unavailable": (503, "Carrier unavailable"),
    "service-unavailable": (503, "Service unavailable"),
    "carrier-rejected": (422, "Carrier rejected the request"),
    "rate-expired": (422, "The selected rate has expired"),
    "label-already-purchased": (409, "The shipment already has a label"),
    "label-in-progress": (409, "The shipment's label purchase is under way or awaits review"),
    "shipment-not-rated": (409, "Select a rate before buying a label"),
    "label-not-purchased": (409, "The shipment has no label"),
    "job-not-actionable": (409, "The job is not in a state this action applies to"),
    "batch-not-done": (409, "The batch is still running"),
    "label-format-unavailable": (406, "The label cannot be converted to that format"),
    "label-document-unavailable": (404, "The label document is not available"),
    "label-void-unsupported": (422, "The carrier cannot void labels"),
    "invoice-unreadable": (422, "The invoice file cannot be read"),
    "invoice-malformed": (422, "Rows of the invoice file are malformed"),
    "invoice-duplicate": (409, "This invoice was already uploaded"),
    "webhook-url-refused": (422, "The webhook URL is not allowed"),
}

_BY_STATUS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    410: "gone",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "rate-limited",
    500: "internal-error",
    503: "service-unavailable",
}


class Problem(Exception):
    """An error to answer with: ``Problem("not-found", "No shipment shp_…")``."""

    def __init__(
        self,
        slug: str,
        detail: str | None = None,
        *,
        status: int | None = None,
        errors: dict[str, Any] | list[Any] | None = None,
        error_source: str = "gateway",
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        default_status, title = TYPES[slug]
        super().__init__(detail or title)
        self.slug = slug
        self.status = status or default_status
        self.title = title
        self.detail = detail or title
        self.errors = errors
        self.error_source = error_source
        self.headers = headers or {}
        self.extra = extra or {}


def type_uri(slug: str) -> str:
    """Return the stable type URI for a problem slug."""
    base = current_app.config.get("PROBLEM_TYPE_BASE", "https://handoff.dev/problems/")
    return f"{base}{slug}"


def problem_response(problem: Problem) -> Any:
    """Serialise a Problem into a Flask response."""
    body: dict[str, Any] = {
        "type": type_uri(problem.slug),
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.path if request else None,
        "request_id": getattr(g, "request_id", None),
        "error_source": problem.error_source,
    }
    if problem.errors is not None:
        body["errors"] = problem.errors
    body.update(problem.extra)
    response = current_app.response_class(json.dumps(body), status=problem.status, mimetype=PROBLEM_JSON)
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response


def from_http_exception(exc: HTTPException) -> Problem:
    """Translate a werkzeug/flask-smorest HTTP error into a Problem, keeping its headers."""
    status = exc.code or 500
    slug = _BY_STATUS.get(status, "bad-request" if status < 500 else "internal-error")
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    errors = None
    data = getattr(exc, "data", None)  # webargs/flask-smorest put validation messages here
    if isinstance(data, dict):
        messages = data.get("messages") or data.get("errors")
        if messages:
            errors = _flatten_messages(messages)
    detail = exc.description if isinstance(exc.description, str) else None
    if status == 400 and errors and any("Invalid JSON" in m for msgs in errors.values() for m in msgs):
        slug, detail, errors = "malformed-json", "The request body is not valid JSON.", None
    if slug == "validation-error" and errors:
        detail = "The request has invalid fields; see errors."
    if status >= 500:
        detail = None  # never leak internals
    return Problem(slug, detail, status=status, errors=errors, headers=headers)


def _flatten_messages(messages: Any) -> dict[str, list[str]]:
    """Turn webargs' ``{"json": {"a": {"b": ["msg"]}}}`` into ``{"a.b": ["msg"]}``."""
    flat: dict[str, list[str]] = {}

    def walk(node: Any, path: list[str]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, [*path, str(key)])
        elif isinstance(node, list) and all(isinstance(m, str) for m in node):
            flat[".".join(path) or "_schema"] = list(node)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, [*path, str(i)])
        else:
            flat[".".join(path) or "_schema"] = [str(node)]

    # The first level is the request location (json, query, headers): keep it only if not json.
    if isinstance(messages, dict):
        for location, inner in messages.items():
            walk(inner, [] if location == "json" else [str(location)])
    else:
        walk(messages, [])
    return flat


def register(app: Flask) -> None:
    """Install the problem+json handlers on an app."""

    @app.errorhandler(Problem)
    def _problem(exc: Problem) -> Any:
        return problem_response(exc)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        return problem_response(from_http_exception(exc))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        if isinstance(exc, HTTPException):
            return problem_response(from_http_exception(exc))
        log.exception("unhandled error", extra={"path": request.path})
        return problem_response(
            Problem("internal-error", "An unexpected error occurred. Quote the request_id to support.")
        )
