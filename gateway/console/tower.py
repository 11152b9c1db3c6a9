"""The control tower's figures: today against yesterday and the last 7 days, and the open exceptions.

Shipment figures come from ``gateway.kpis.service.compute`` (what ``GET /v1/kpis`` serves), exception
counts from the exceptions table the queue reads: no figure is derived twice. The shipment figures are
kept for ``CACHE_SECONDS`` per tenant and day (Redis): computing a week of a busy tenant takes over half
a second, and a tower is looked at far more often than its figures change; the page says when they were
computed. While someone of the tenant is signed in, the ``console-tower`` task computes them again
every ``WARM_SECONDS`` (``gateway.console.jobs.warm_towers``), so a person finds them kept rather than
waiting for them; without workers the page computes them itself.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

import redis
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.exceptions import playbooks
from gateway.exceptions.tables import ShipmentException
from gateway.kpis import service as kpis

log = logging.getLogger(__name__)

CACHE_SECONDS = 90
WARM_SECONDS = 45  # the console-tower task's period: well inside CACHE_SECONDS
OWNERS = ("carrier", "shipper", "recipient", "ops")
# Age buckets of open exceptions: (label, query value, lower bound in hours, upper bound or None).
AGES = (
    ("under 4 h", "lt4h", 0, 4),
    ("4-24 h", "4to24h", 4, 24),
    ("1-3 days", "1to3d", 24, 72),
    ("over 3 days", "gt3d", 72, None),
)


@dataclass(frozen=True)
class Period:
    """One column of the tower: a label, its days and its KPI totals."""

    label: str
    start: date
    end: date
    on_time_percent: float | None
    first_attempt_percent: float | None
    cost_per_delivery: dict[str, Any] | None
    shipments: int
    delivered: int
    # ETA accuracy (GET /v1/kpis "eta"): decimal strings, None without deliveries to measure.
    eta_mae_days: str | None = None
    carrier_estimate_mae_days: str | None = None
    eta_window_percent: str | None = None
    at_risk_alerts: int = 0  # the period's shipments that got an at-risk alert


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: its label, value, drawn length (0-100) and the list behind it."""

    label: str
    value: float | int | None
    length: float
    href: str


def _number(value: str | float | None) -> float | None:
    return None if value is None else float(value)


def _period(label: str, start: date, end: date, block: dict[str, Any] | None) -> Period:
    block = block or {}
    return Period(
        label=label,
        start=start,
        end=end,
        # The KPIs give percentages as decimal strings ("96.4"), as the API does; the page draws numbers.
        on_time_percent=_number(block.get("on_time_percent")),
        first_attempt_percent=_number(block.get("first_attempt_percent")),
        cost_per_delivery=block.get("cost_per_delivery"),
        shipments=int(block.get("shipments", 0)),
        delivered=int(block.get("delivered", 0)),
        eta_mae_days=(block.get("eta") or {}).get("mae_days"),
        carrier_estimate_mae_days=(block.get("eta") or {}).get("carrier_estimate_mae_days"),
        eta_window_percent=(block.get("eta") or {}).get("window_coverage_percent"),
        at_risk_alerts=int((block.get("eta") or {}).get("at_risk_alerts") or 0),
    )


def periods(session: Session, tenant_id: str, today: date) -> tuple[list[Period], list[Period]]:
    """Today, yesterday and the last 7 days (today included), and each of those 7 days, in UTC days:
    one KPI computation for the week, whose per-day blocks are the days."""
    yesterday, week_start = today - timedelta(days=1), today - timedelta(days=6)
    week = kpis.compute(session, tenant_id, start=week_start, end=today)
    by_day = {row["day"]: row for row in week["by_day"]}
    days = [week_start + timedelta(days=i) for i in range(7)]
    return (
        [
            _period("Today", today, today, by_day.get(today)),
            _period("Yesterday", yesterday, yesterday, by_day.get(yesterday)),
            _period("Last 7 days", week_start, today, week["totals"]),
        ],
        [_period(d.strftime("%a %d"), d, d, by_day.get(d)) for d in days],
    )


def cached_periods(
    session: Session, cache: redis.Redis, tenant_id: str, now: datetime
) -> tuple[list[Period], list[Period], datetime]:
    """``periods`` as of at most ``CACHE_SECONDS`` ago, and when they were computed."""
    data = _kept(cache, tenant_id, now)
    if data is not None and "days" in data:  # figures kept before the days were kept are computed again
        return (
            [_from_json(p) for p in data["periods"]],
            [_from_json(p) for p in data["days"]],
            datetime.fromisoformat(data["at"]),
        )
    rows, days = periods(session, tenant_id, now.date())
    keep(cache, tenant_id, now, rows, days)
    return rows, days, now


def _kept(cache: redis.Redis, tenant_id: str, now: datetime) -> dict[str, Any] | None:
    """The tenant's figures of today as kept (None: none kept, Redis unreachable, or unreadable)."""
    try:
        kept = cast("bytes | None", cache.get(_key(tenant_id, now.date())))
        data = json.loads(kept) if kept else None
    except (redis.RedisError, ValueError):
        return None
    return data if isinstance(data, dict) and "at" in data else None


def _key(tenant_id: str, today: date) -> str:
    return f"handoff:console:tower:{tenant_id}:{today.isoformat()}"


def keep(cache: redis.Redis, tenant_id: str, now: datetime, rows: list[Period], days: list[Period]) -> None:
    """Keep a tenant's figures, computed at ``now``, for ``CACHE_SECONDS``."""
    kept_json = {
        "at": now.isoformat(),
        "periods": [_to_json(p) for p in rows],
        "days": [_to_json(p) for p in days],
    }
    try:
        cache.set(_key(tenant_id, now.date()), json.dumps(kept_json), ex=CACHE_SECONDS)
    except redis.RedisError:
        log.warning("console tower cache unwritable", extra={"tenant_id": tenant_id})


def refresh(session: Session, cache: redis.Redis, tenant_id: str, now: datetime) -> bool:
    """Compute a tenant's figures now and keep them (the ``console-tower`` task), unless figures
    computed less than ``WARM_SECONDS`` ago are kept (a page view made them); whether it computed."""
    data = _kept(cache, tenant_id, now)
    if data is not None and (now - datetime.fromisoformat(data["at"])).total_seconds() < WARM_SECONDS:
        return False
    rows, days = periods(session, tenant_id, now.date())
    keep(cache, tenant_id, now, rows, days)
    return True


def _to_json(p: Period) -> dict[str, Any]:
    return {**p.__dict__, "start": p.start.isoformat(), "end": p.end.isoformat(),
            "cost_per_delivery": None if p.cost_per_delivery is None else {
                "amount": str(p.cost_per_delivery["amount"]), "currency": p.cost_per_delivery["currency"]}}  # fmt: skip


def _from_json(d: dict[str, Any]) -> Period:
    return Period(**{**d, "start": date.fromisoformat(d["start"]), "end": date.fromisoformat(d["end"])})


def percent_bars(rows: list[Period], field: str, href: str) -> list[Bar]:
    bars = []
    for row in rows:
        value = getattr(row, field)
        bars.append(Bar(row.label, value, float(value or 0), href))
    return bars


def day_bars(days: list[Period], field: str, href: str) -> list[Bar]:
    """One column per day of ``field`` (a number or decimal string), scaled to the largest; each links to
    ``href`` with the day as ``{day}``."""
    raw = [getattr(d, field) for d in days]
    values: list[float | int | None] = [v if isinstance(v, int) else _number(v) for v in raw]
    top = max([v for v in values if v is not None] + [0.0]) or 1.0
    return [
        Bar(d.label, v, 0.0 if v is None else round(100 * v / top, 1), href.format(day=d.start.isoformat()))
        for d, v in zip(days, values, strict=True)
    ]


def _count_bars(counts: list[tuple[str, int, str]]) -> list[Bar]:
    top = max([n for _, n, _ in counts] + [1])
    return [Bar(label, n, round(100 * n / top, 1), href) for label, n, href in counts]


@dataclass(frozen=True)
class Exceptions:
    """Open exceptions by owner and by age, and how many shipments are at risk."""

    total: int
    by_owner: list[Bar]
    by_age: list[Bar]
    at_risk: int


def age_bounds(value: str, now: datetime) -> tuple[datetime | None, datetime | None]:
    """The created_at bounds (older than, newer than) of an age bucket's query value."""
    for _label, key, low, high in AGES:
        if key == value:
            newest = now - timedelta(hours=low)
            oldest = now - timedelta(hours=high) if high is not None else None
            return oldest, newest
    return None, None


def exceptions(session: Session, tenant_id: str, now: datetime) -> Exceptions:
    rows = session.execute(
        sa.select(ShipmentException.owner, ShipmentException.reason, ShipmentException.created_at).where(
            ShipmentException.tenant_id == tenant_id, ShipmentException.status == "open"
        )
    ).all()
    owners = Counter(owner for owner, _, _ in rows)
    ages: Counter[str] = Counter()
    for _, _, created in rows:
        hours = (now - created).total_seconds() / 3600
        for _label, key, low, high in AGES:
            if hours >= low and (high is None or hours < high):
                ages[key] += 1
                break
    by_owner = _count_bars([(o, owners.get(o, 0), f"/console/exceptions?owner={o}") for o in OWNERS])
    by_age = _count_bars(
        [(label, ages.get(key, 0), f"/console/exceptions?age={key}") for label, key, _, _ in AGES]
    )
    at_risk = sum(1 for _, reason, _ in rows if reason == playbooks.AT_RISK)
    return Exceptions(len(rows), by_owner, by_age, at_risk)
