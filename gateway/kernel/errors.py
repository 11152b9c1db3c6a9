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
    "precondition-failed": (412, "The resource changed since the version named in If-Match"),
    "precondition-required": (428, "This write needs an If-Match header naming the version it changes"),
    "payload-too-large": (413, "Request body too large"),
    "unsupported-media-type": (415, "Unsupported media type"),
    "validation-error": (422, "Validation failed"),
    "idempotency-key-reused": (422, "Idempotency-Key reused with a different request"),
    "rate-limited": (429, "Too many requests"),
    "callback-throttled": (429, "Too many failed callback authentications"),
    "internal-error": (500, "Internal server error"),
    "carrier-unavailable": (503, "Carrier unavailable"),
    "service-unavailable": (503, "Service unavailable"),
    "database-busy": (503, "The database is busy"),
    "carrier-rejected": (422, "Carrier rejected the request"),
    "rate-expired": (422, "The selected rate has expired"),
    "carrier-not-configured": (422, "No enabled carrier adapter sells this carrier's labels"),
    "label-already-purchased": (409, "The shipment already has a label"),
    "label-in-progress": (409, "The shipment's label purchase is under way or awaits review"),
    "shipment-not-rated": (409, "Select a rate before buying a label"),
    "shipment-invalid": (422, "The carrier's service cannot take the shipment as it is"),
    "label-not-purchased": (409, "The shipment has no label"),
    "shipment-cancelled": (409, "The shipment is cancelled"),
    "job-not-actionable": (409, "The job is not in a state this action applies to"),
    "tracking-number-taken": (409, "Another shipment holds this tracking number"),
    "tracking-number-unconfirmed": (422, "The carrier does not confirm this tracking number"),
    "no-proof-in-review": (409, "The shipment has no flagged proof of delivery to review"),
    # Not answered as an error: the type of the number_conflict flag on a shipment's tracking record.
    "tracking-number-reissued": (409, "The carrier issued this tracking number to another shipment too"),
    "batch-not-done": (409, "The batch is still running"),
    "label-format-unavailable": (406, "The label cannot be converted to that format"),
    "label-document-unavailable": (404, "The label document is not available"),
    "label-void-unsupported": (422, "The carrier cannot void labels"),
    "label-account-gone": (409, "The carrier account the label was bought on is no longer connected"),
    "manifest-empty": (409, "No shipment is waiting for a manifest"),
    "manifest-document-unavailable": (404, "The manifest document is not available"),
    "invoice-unreadable": (422, "The invoice file cannot be read"),
    "invoice-malformed": (422, "Rows of the invoice file are malformed"),
    "invoice-duplicate": (409, "This invoice was already uploaded"),
    "webhook-url-refused": (422, "The webhook URL is not allowed"),
    "return-not-allowed": (409, "Only a shipment with a bought label can be returned"),
    "return-not-supported": (422, "The carrier offers no return labels here"),
    "customs-not-declared": (409, "The shipment has no customs declaration"),
    "customs-document-unavailable": (404, "The carrier returned no such customs document"),
    "exception-not-open": (409, "The exception is already resolved"),
    "credentials-key-missing": (503, "No key to encrypt or decrypt carrier account credentials"),
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
    base = current_app.config["PROBLEM_TYPE_BASE"]
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


# Seconds a client should wait after database-busy: the lock holder is another short transaction.
DATABASE_BUSY_RETRY_AFTER = "1"


def database_busy(exc: BaseException) -> bool:
    """Whether an error is another connection's lock outlasting the wait for it.

    SQLite: "database is locked" after the busy timeout (``GATEWAY_SQLITE_BUSY_TIMEOUT_MS``);
    PostgreSQL: lock_not_available (55P03) after ``GATEWAY_POSTGRES_LOCK_TIMEOUT_MS``.
    """
    from sqlalchemy.exc import DBAPIError

    if not isinstance(exc, DBAPIError):
        return False
    if getattr(exc.orig, "sqlstate", None) == "55P03":
        return True
    message = str(exc.orig).lower()
    return "database is locked" in message or "database table is locked" in message


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
        if database_busy(exc):
            # database_busy(exc) is true only for a DBAPIError, which has orig.
            log.warning("database busy", extra={"path": request.path, "error": str(exc.orig)})  # type: ignore[attr-defined]
            return problem_response(
                Problem(
                    "database-busy",
                    "The database is busy with another write; retry shortly.",
                    headers={"Retry-After": DATABASE_BUSY_RETRY_AFTER},
                )
            )
        log.exception("unhandled error", extra={"path": request.path})
        return problem_response(
            Problem("internal-error", "An unexpected error occurred. Quote the request_id to support.")
        )
