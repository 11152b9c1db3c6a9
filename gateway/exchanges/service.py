"""Keep every raw carrier exchange, redacted, for disputes; delete it after the retention period.

The adapters know nothing about the gateway: each one calls a ``recorder(exchange)`` callback with a
redacted exchange (``adapters.http`` for REST, ``adapters.soap`` for SOAP). ``install(app)`` gives the
container an :class:`ExchangeLog` as that recorder. The log never writes from the adapter's thread:
the caller may hold a database transaction (on SQLite, the one write lock) while it talks to the
carrier, so a synchronous insert could wait for its own caller. Rows are buffered and written

* by a background thread every ``interval`` seconds,
* when a Flask app context ends (the end of every request and of every RQ job, whose work horse
  exits without running ``atexit``),
* at interpreter exit.

Tenant and shipment are attached from :func:`scope` when the caller knows them. Before storage the
exchange is redacted again (header and field names such as ``Authorization``, ``credential``,
``client_secret``, tokens; bearer/basic values and ``secret=`` parameters in text), and long base64
runs (label images) are replaced by their length and SHA-256, which is what a dispute needs.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import hashlib
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from adapters import base
from gateway.exchanges import tables
from gateway.kernel import config
from gateway.kernel.types import utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")

_SCOPE: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "carrier_exchange_scope", default=None
)
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/=\r\n]{2048,}")
MAX_BUFFERED = 10_000


@contextlib.contextmanager
def scope(*, tenant_id: str | None = None, shipment_id: str | None = None) -> Iterator[None]:
    """Attach a tenant and shipment to every carrier exchange recorded in this block (this thread)."""
    given = {k: v for k, v in (("tenant_id", tenant_id), ("shipment_id", shipment_id)) if v}
    token = _SCOPE.set({**(_SCOPE.get() or {}), **given})
    try:
        yield
    finally:
        _SCOPE.reset(token)


def carry_scope(fn: Callable[..., T]) -> Callable[..., T]:
    """Return fn bound to the caller's scope, for work handed to a thread pool."""
    context = contextvars.copy_context()
    return lambda *args, **kwargs: context.run(fn, *args, **kwargs)


def _elide(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        blob = match.group(0)
        digest = hashlib.sha256(blob.encode()).hexdigest()
        return f"[{len(blob)} base64 characters elided, sha256 {digest}]"

    return _BASE64_RUN.sub(replace, text)


def _compact(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _compact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_compact(v) for v in value]
    if isinstance(value, bytes):
        return _elide(value.decode("utf-8", errors="replace"))
    if isinstance(value, str):
        return _elide(value) if len(value) >= 2048 else value
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


def _when(value: Any) -> datetime:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is not None:
                return parsed
    return utcnow()


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def to_row(exchange: Mapping[str, Any], context: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the stored row for one exchange: redacted again, label images elided, context attached."""
    clean = _compact(base.redact(dict(exchange)))
    request = clean.get("request") if isinstance(clean.get("request"), dict) else None
    response = clean.get("response") if isinstance(clean.get("response"), dict) else None
    context = context or {}
    return {
        "carrier": str(clean.get("carrier") or "unknown")[:50],
        "account": str(clean["account"])[:64] if clean.get("account") else None,
        "operation": str(clean["operation"])[:64] if clean.get("operation") else None,
        "attempt": _int(clean.get("attempt")),
        "tenant_id": context.get("tenant_id"),
        "shipment_id": context.get("shipment_id"),
        "method": str(request.get("method"))[:10] if request and request.get("method") else None,
        "url": request.get("url") if request else None,
        "http_status": _int(response.get("status")) if response else None,
        "duration_ms": _int(clean.get("duration_ms")),
        "error": clean.get("error"),
        "request": request,
        "response": response,
        "occurred_at": _when(exchange.get("at")),
        "created_at": utcnow(),
    }


class ExchangeLog:
    """The recorder the gateway gives the adapters: buffer redacted rows, write them off the caller's path."""

    def __init__(self, engine: Callable[[], sa.Engine], *, interval: float = 1.0) -> None:
        self._engine = engine
        self.interval = interval
        self._lock = threading.Lock()
        self._rows: list[dict[str, Any]] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.dropped = 0
        # A forked child (RQ work horse, gunicorn worker) must not write its parent's rows again.
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._rows = []
        self._thread = None
        self._stop = threading.Event()

    def __call__(self, exchange: Mapping[str, Any]) -> None:
        """Buffer one exchange; never raises, never blocks on the database."""
        try:
            row = to_row(exchange, _SCOPE.get())
        except Exception:  # a recorder must never break a carrier call
            log.warning("could not record a carrier exchange", exc_info=True)
            return
        with self._lock:
            self._rows.append(row)
            if len(self._rows) > MAX_BUFFERED:
                self.dropped += len(self._rows) - MAX_BUFFERED
                del self._rows[: len(self._rows) - MAX_BUFFERED]
            self._ensure_thread()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="carrier-exchanges", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    @property
    def pending(self) -> int:
        """Return how many exchanges wait to be written."""
        with self._lock:
            return len(self._rows)

    def flush(self) -> int:
        """Write every buffered exchange now; return how many were written (0 on failure, kept for later)."""
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return 0
        try:
            with self._engine().begin() as conn:
                conn.execute(sa.insert(tables.CarrierExchange.__table__), rows)
        except Exception:  # noqa: BLE001 - kept in the buffer; the next round retries
            log.warning("carrier exchanges not written yet; retrying later", extra={"rows": len(rows)})
            with self._lock:
                self._rows = (rows + self._rows)[-MAX_BUFFERED:]
            return 0
        return len(rows)

    def close(self) -> None:
        """Stop the background writer and write what is left."""
        self._stop.set()
        self.flush()


def install(app: Any) -> ExchangeLog:
    """Give the app's container an ExchangeLog as the adapters' recorder, flushed at context teardown."""
    container = app.extensions["handoff"]
    exchange_log = ExchangeLog(lambda: container.engine)
    container.exchange_recorder = exchange_log
    app.teardown_appcontext(lambda _exc: exchange_log.flush())
    atexit.register(exchange_log.close)
    return exchange_log


# -- reading and retention ------------------------------------------------------------------------------


def for_shipment(session: Session, tenant_id: str, shipment_id: str, limit: int = 200) -> list[Any]:
    """Return a shipment's carrier exchanges, oldest first (the caller has checked the shipment's tenant)."""
    x = tables.CarrierExchange
    return list(
        session.execute(
            sa.select(x)
            .where(x.shipment_id == shipment_id, sa.or_(x.tenant_id == tenant_id, x.tenant_id.is_(None)))
            .order_by(x.id)
            .limit(limit)
        ).scalars()
    )


def retention_days(settings: Mapping[str, Any]) -> int:
    """Return the configured retention (``GATEWAY_EXCHANGE_RETENTION_DAYS``), at least one day."""
    return max(int(config.read(settings, "EXCHANGE_RETENTION_DAYS")), 1)


def purge_chunk(session: Session, days: int, *, now: datetime | None = None, chunk: int = 5000) -> int:
    """Delete up to ``chunk`` exchanges older than ``days`` (the caller commits); return how many."""
    x = tables.CarrierExchange
    cutoff = (now or utcnow()) - timedelta(days=days)
    ids = list(
        session.execute(sa.select(x.id).where(x.occurred_at < cutoff).order_by(x.id).limit(chunk)).scalars()
    )
    if ids:
        session.execute(sa.delete(x).where(x.id.in_(ids)))
    return len(ids)
