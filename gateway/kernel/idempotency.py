"""Idempotency-Key handling for POSTs that create things or spend money.

The first request with a key inserts an ``in_progress`` record in its own committed
transaction, so a concurrent duplicate sees it and gets 409. The view's work and the stored
response are then committed together in the request's transaction: a crash either loses both
(the retry runs again) or keeps both (the retry replays). Records are scoped to the tenant,
live in the database and expire after ``IDEMPOTENCY_TTL_HOURS`` (24 h by default).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Response, current_app, request
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from gateway.kernel import auth, models
from gateway.kernel.errors import Problem, from_http_exception, problem_response
from gateway.kernel.types import rowcount, utcnow
from gateway.kernel.web import container, db

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
_KEEP_HEADERS = ("Location", "Content-Type")
# Transient outcomes are not stored: retrying them with the same key must be allowed.
_NOT_STORED = {409, 429}

F = TypeVar("F", bound=Callable[..., Any])


def fingerprint() -> str:
    """Hash method, path and body (JSON canonicalised) of the current request."""
    raw = request.get_data(cache=True)
    try:
        body = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        body = raw
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), body):
        digest.update(part)
        digest.update(b"\x00")
    return digest.hexdigest()


def _validate_key(key: str) -> None:
    if not 1 <= len(key) <= 255 or not key.isprintable() or not key.isascii():
        raise Problem(
            "bad-request",
            f"{HEADER} must be 1 to 255 printable ASCII characters.",
            errors={HEADER: ["invalid"]},
        )


def _replay(record: models.IdempotencyRecord) -> Response:
    response = current_app.response_class(record.response_body or "", status=record.response_status or 200)
    for name, value in (record.response_headers or {}).items():
        response.headers[name] = value
    response.headers[REPLAY_HEADER] = "true"
    return response


def _claim(tenant_id: str, key: str, request_hash: str) -> models.IdempotencyRecord | Response:
    """Insert the in-progress record, or return the stored response / raise the conflict."""
    settings = current_app.config
    now = utcnow()
    for _ in range(3):
        with container().sessions() as session:
            record = models.IdempotencyRecord(
                tenant_id=tenant_id,
                key=key,
                method=request.method,
                path=request.path,
                request_hash=request_hash,
                state="in_progress",
                locked_until=now + timedelta(seconds=settings["IDEMPOTENCY_LOCK_SECONDS"]),
                expires_at=now + timedelta(hours=settings["IDEMPOTENCY_TTL_HOURS"]),
            )
            session.add(record)
            try:
                session.commit()
                return record
            except IntegrityError:
                session.rollback()
            existing = session.execute(
                sa.select(models.IdempotencyRecord).where(
                    models.IdempotencyRecord.tenant_id == tenant_id, models.IdempotencyRecord.key == key
                )
            ).scalar_one_or_none()
            if existing is None:
                continue  # deleted in between (expiry); try the insert again
            if existing.expires_at <= now:
                session.delete(existing)
                session.commit()
                continue
            if existing.request_hash != request_hash:
                raise Problem(
                    "idempotency-key-reused",
                    f"This {HEADER} was used for a different request (method, path or body differ).",
                )
            if existing.state == "completed":
                return _replay(existing)
            if existing.locked_until is not None and existing.locked_until > now:
                raise Problem(
                    "idempotency-in-progress",
                    "The first request with this Idempotency-Key has not finished; retry later.",
                    headers={"Retry-After": "1"},
                )
            # The owner died mid-request (its transaction rolled back): take the lock over.
            taken = session.execute(
                sa.update(models.IdempotencyRecord)
                .where(
                    models.IdempotencyRecord.id == existing.id,
                    models.IdempotencyRecord.state == "in_progress",
                    models.IdempotencyRecord.locked_until == existing.locked_until,
                )
                .values(locked_until=now + timedelta(seconds=settings["IDEMPOTENCY_LOCK_SECONDS"]))
            )
            session.commit()
            if rowcount(taken) == 1:
                return existing
    raise Problem("idempotency-in-progress", headers={"Retry-After": "1"})


def _complete_values(response: Response) -> dict[str, Any]:
    return {
        "state": "completed",
        "response_status": response.status_code,
        "response_body": response.get_data(as_text=True),
        "response_headers": {h: response.headers[h] for h in _KEEP_HEADERS if h in response.headers},
        "locked_until": None,
    }


def write_endpoint(view: F) -> F:
    """Run a write view as one transaction, made idempotent by an optional Idempotency-Key.

    The view flushes but never commits; this wrapper commits its work together with the
    stored response, or rolls it back on any error.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        session = db()
        if key is None:
            try:
                result = view(*args, **kwargs)
                session.commit()
                return result
            except BaseException:
                session.rollback()
                raise
        _validate_key(key)
        principal = auth.current()
        claimed = _claim(principal.tenant_id, key, fingerprint())
        if isinstance(claimed, Response):
            return claimed
        record_id = claimed.id
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except (Problem, HTTPException) as exc:
            problem = exc if isinstance(exc, Problem) else from_http_exception(exc)
            session.rollback()
            if problem.status < 500 and problem.status not in _NOT_STORED:
                response = problem_response(problem)
                _finish(record_id, response)
                return response
            _release(record_id)
            raise
        except BaseException:
            session.rollback()
            _release(record_id)
            raise
        if response.status_code >= 500 or response.status_code in _NOT_STORED:
            session.rollback()
            _release(record_id)
            return response
        session.execute(
            sa.update(models.IdempotencyRecord)
            .where(models.IdempotencyRecord.id == record_id)
            .values(**_complete_values(response))
        )
        session.commit()
        return response

    return wrapper  # type: ignore[return-value]  # wraps() types it _Wrapped; it stands in for the view


def _finish(record_id: int, response: Response) -> None:
    with container().sessions() as session:
        session.execute(
            sa.update(models.IdempotencyRecord)
            .where(models.IdempotencyRecord.id == record_id)
            .values(**_complete_values(response))
        )
        session.commit()


def _release(record_id: int) -> None:
    """Forget an in-progress key whose request failed, so that a retry can run."""
    try:
        with container().sessions() as session:
            session.execute(
                sa.delete(models.IdempotencyRecord).where(models.IdempotencyRecord.id == record_id)
            )
            session.commit()
    except Exception:  # the lock then simply expires after IDEMPOTENCY_LOCK_SECONDS
        log.exception("could not release idempotency key")


def purge_expired(session: Any) -> int:
    """Delete expired idempotency records and return how many went."""
    result = session.execute(
        sa.delete(models.IdempotencyRecord).where(models.IdempotencyRecord.expires_at <= utcnow())
    )
    session.commit()
    return result.rowcount or 0
