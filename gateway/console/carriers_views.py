"""The console's carriers area: health per carrier, unmapped codes and their remapping, raw exchanges.

Health is read from the tenant's recorded carrier exchanges (``gateway.exchanges``: every attempt
with its status, error and duration) and from this process's circuit breakers
(``adapters.http.BREAKERS``). Remapping calls ``gateway.tracking.mappings.put_mapping``, the use
case behind ``PUT /v1/tracking/mappings/<carrier>``; unmapped codes come from ``unmapped_codes``,
the one behind ``GET /v1/tracking/unmapped``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from adapters import http as carrier_http
from adapters import registry as adapter_registry
from gateway.exchanges.tables import CarrierExchange
from gateway.tracking import mappings

WINDOW_HOURS = 24
MAX_SAMPLES = 20_000  # the newest exchanges of the window that health reads
PAGE_SIZE = 50
BREAKER_ORDER = ("open", "half_open", "closed")


@dataclass
class CarrierHealth:
    carrier: str
    calls: int = 0
    failures: int = 0
    durations: list[int] = field(default_factory=list)
    last_at: datetime | None = None
    breakers: dict[str, int] = field(default_factory=dict)  # state -> how many accounts

    @property
    def error_percent(self) -> float | None:
        return round(100.0 * self.failures / self.calls, 1) if self.calls else None

    def percentile(self, q: float) -> int | None:
        if not self.durations:
            return None
        ordered = sorted(self.durations)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def breaker(self) -> str:
        """The worst state among the carrier's breakers in this process ("unused" when none was)."""
        return next((s for s in BREAKER_ORDER if self.breakers.get(s)), "unused")


def failed(http_status: int | None, error: str | None) -> bool:
    """An exchange the circuit breaker counts as a failure: no answer, or a "try later" status."""
    return bool(error) or http_status is None or http_status in carrier_http.RETRYABLE_STATUSES


def breaker_states() -> dict[str, dict[str, int]]:
    """How many breakers per carrier are in each state, in this process (account numbers are not shown)."""
    book = carrier_http.BREAKERS
    with book._lock:
        items = list(book._breakers.items())
    states: dict[str, dict[str, int]] = {}
    for (carrier, _account), breaker in items:
        per = states.setdefault(carrier, {})
        per[breaker.state] = per.get(breaker.state, 0) + 1
    return states


def health(session: Session, tenant_id: str, now: datetime) -> list[CarrierHealth]:
    """Per carrier: calls, failure rate and latency over the last day, and the breaker state."""
    x = CarrierExchange
    since = now - timedelta(hours=WINDOW_HOURS)
    rows = session.execute(
        sa.select(x.carrier, x.http_status, x.error, x.duration_ms, x.occurred_at)
        .where(x.tenant_id == tenant_id, x.occurred_at >= since)
        .order_by(x.id.desc())
        .limit(MAX_SAMPLES)
    )
    found: dict[str, CarrierHealth] = {
        name: CarrierHealth(name) for name in adapter_registry.available() if name != "fleet"
    }
    for carrier, http_status, error, duration, occurred in rows:
        h = found.setdefault(carrier, CarrierHealth(carrier))
        h.calls += 1
        h.failures += failed(http_status, error)
        if duration is not None:
            h.durations.append(int(duration))
        if h.last_at is None or occurred > h.last_at:
            h.last_at = occurred
    for carrier, per in breaker_states().items():
        if carrier in found:
            found[carrier].breakers = per
    return sorted(found.values(), key=lambda h: (-h.calls, h.carrier))


def unmapped(session: Session, tenant_id: str) -> list[dict[str, Any]]:
    """The tenant's unmapped codes (as GET /v1/tracking/unmapped lists them)."""
    return mappings.unmapped_codes(session, tenant_id)


def remap(
    session: Session, tenant_id: str, user_id: str, carrier: str, form: dict[str, str]
) -> tuple[Any, int]:
    """Map one carrier code (as PUT /v1/tracking/mappings/<carrier> does); raises Problem when refused."""
    data: dict[str, Any] = {
        "code": form.get("code", "")[:64],
        "subcode": form.get("subcode", "")[:64],
        "milestone": form.get("milestone") or None,
        "detail": (form.get("detail") or "").strip()[:64] or None,
        "reason": form.get("reason") or None,
        "informational": form.get("informational") == "yes",
        "note": form.get("note", "")[:1000],
    }
    if data["informational"]:
        data["milestone"] = data["detail"] = data["reason"] = None
    return mappings.put_mapping(session, tenant_id, user_id, carrier[:50], data)


@dataclass
class ExchangePage:
    rows: list[CarrierExchange]
    page: int
    more: bool


def exchanges(session: Session, tenant_id: str, *, carrier: str = "", page: int = 1) -> ExchangePage:
    """The tenant's recorded carrier exchanges, newest first, PAGE_SIZE a page."""
    x = CarrierExchange
    query = sa.select(x).where(x.tenant_id == tenant_id)
    if carrier:
        query = query.where(x.carrier == carrier)
    page = max(page, 1)
    rows = list(
        session.execute(
            query.order_by(x.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
        ).scalars()
    )
    return ExchangePage(rows[:PAGE_SIZE], page, len(rows) > PAGE_SIZE)


def exchange_carriers(session: Session, tenant_id: str) -> list[str]:
    x = CarrierExchange
    return sorted(session.execute(sa.select(x.carrier).where(x.tenant_id == tenant_id).distinct()).scalars())


def exchange(session: Session, tenant_id: str, exchange_id: int) -> CarrierExchange | None:
    """One exchange of the tenant (already redacted when it was recorded), or None."""
    if not 0 < exchange_id < 2**63:  # beyond a BIGINT: no such row (and no database error)
        return None
    row = session.get(CarrierExchange, exchange_id)
    return row if row is not None and row.tenant_id == tenant_id else None


def pretty(value: Any) -> str:
    """A stored request or response as indented JSON text (the template escapes it)."""
    if value is None:
        return "(none recorded)"
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)
