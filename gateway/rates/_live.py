"""Live carrier rates: adapters asked in a thread pool under the call's deadline, cached in Redis."""

from __future__ import annotations

import json
import logging
import threading
from concurrent import futures
from datetime import date
from decimal import Decimal
from typing import Any, cast

import redis

from adapters import base as adapter_base
from gateway.kernel.container import Container
from rating import eta as eta_model
from rating import quote
from schemas import carrier, money, types

log = logging.getLogger(__name__)

SOURCE_LIVE = "live"

_POOL: futures.ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def pool() -> futures.ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        with _POOL_LOCK:
            if _POOL is None:
                _POOL = futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="live-rates")
    return _POOL


def _result_to_json(r: carrier.RateResult) -> dict[str, Any]:
    return {
        "carrier": r.carrier,
        "service_code": r.service_code,
        "service_name": r.service_name,
        "total": [str(r.total.amount), r.total.currency],
        "charges": [[c.code, c.description, str(c.amount.amount), c.amount.currency] for c in r.charges],
        "transit_days": r.transit_days,
        "estimated_delivery": r.estimated_delivery.isoformat() if r.estimated_delivery else None,
        "guaranteed": r.guaranteed,
        "duties_and_taxes": (
            [str(r.duties_and_taxes.amount), r.duties_and_taxes.currency] if r.duties_and_taxes else None
        ),
        "negotiated": r.negotiated,
        "service_options": r.service_options,
    }


def _result_from_json(d: dict[str, Any]) -> carrier.RateResult:
    return carrier.RateResult(
        carrier=d["carrier"],
        service_code=d["service_code"],
        service_name=d["service_name"],
        total=money.Money(Decimal(d["total"][0]), d["total"][1]),
        charges=tuple(carrier.ChargeLine(c[0], c[1], money.Money(Decimal(c[2]), c[3])) for c in d["charges"]),
        transit_days=d["transit_days"],
        estimated_delivery=date.fromisoformat(d["estimated_delivery"]) if d["estimated_delivery"] else None,
        guaranteed=d["guaranteed"],
        duties_and_taxes=(
            money.Money(Decimal(d["duties_and_taxes"][0]), d["duties_and_taxes"][1])
            if d.get("duties_and_taxes")
            else None
        ),
        negotiated=bool(d.get("negotiated", False)),
        service_options=d.get("service_options"),
    )


def ask_live(
    container: Container,
    key: str,
    adapter: adapter_base.Adapter,
    spec: types.ShipmentSpec,
    digest: str,
    timeout: float,
) -> list[carrier.RateResult]:
    cache_key = f"handoff:rates:live:{key}:{digest}"
    ttl = int(container.settings["RATE_CACHE_TTL_SECONDS"])
    if ttl > 0:
        try:
            cached = cast("bytes | None", container.redis.get(cache_key))
            if cached is not None:
                return [_result_from_json(d) for d in json.loads(cached)]
        except (redis.RedisError, ValueError, KeyError):
            log.warning("live rate cache unreadable", extra={"carrier": key})
    results = adapter.rate(carrier.RateRequest(spec=spec, account=adapter.account_id), timeout=timeout)
    if ttl > 0:
        try:
            container.redis.set(cache_key, json.dumps([_result_to_json(r) for r in results]), ex=ttl)
        except redis.RedisError:
            log.warning("live rate cache unwritable", extra={"carrier": key})
    return results


def live_quote(
    key: str, r: carrier.RateResult, ship_day: date, fallback_eta: date | None = None
) -> quote.Quote | None:
    """The carrier's price as a quote, dated by the carrier, else by ``fallback_eta`` (the rate card's
    estimate for the service, never guaranteed); None when neither gives a date."""
    eta = r.estimated_delivery
    guaranteed = r.guaranteed
    if eta is None and r.transit_days is not None:
        # Carriers count transit in business days (FedEx "THREE_DAYS", UPS BusinessDaysInTransit): a
        # Friday shipment in three days arrives on Wednesday, not on Monday.
        eta = eta_model.add_business_days(ship_day, r.transit_days)
    if eta is None:
        eta, guaranteed = fallback_eta, False
    if eta is None:
        return None
    charges = r.charges
    if not charges or sum((c.amount.amount for c in charges), Decimal(0)) != r.total.amount:
        # Carriers itemise inconsistently; the total is what they bill, so it is the one line kept.
        charges = (carrier.ChargeLine("TOTAL", "Carrier quoted total", r.total),)
    lines = tuple(quote.ChargeLine(c.code, c.description, c.amount, c.amount) for c in charges)
    return quote.Quote(
        card_id=f"live:{key}",
        card_version=0,
        carrier=r.carrier,
        service_code=r.service_code,
        service_name=r.service_name,
        currency=r.total.currency,
        lines=lines,
        zone="",
        billable_weight=Decimal(0),
        weight_unit="",
        estimated_delivery=eta,
        guaranteed=guaranteed,
        duties_and_taxes=r.duties_and_taxes,
    )


def plain_offers(results: list[carrier.RateResult]) -> list[carrier.RateResult]:
    """Drop a service's offer priced with service options when the same account also priced it without.

    UPS prices some services twice (``service_options`` "none" and "with_options", at different
    totals); a label is bought without options, so the plain offer is the one to quote.
    """
    plain = {(r.carrier, r.service_code) for r in results if r.service_options != "with_options"}
    return [
        r for r in results if r.service_options != "with_options" or (r.carrier, r.service_code) not in plain
    ]


def error_code(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, adapter_base.CarrierRejected):
        return "rejected", exc.message
    if isinstance(exc, adapter_base.CarrierUnavailable):
        return "unavailable", exc.message
    if isinstance(exc, adapter_base.CarrierError):
        return "carrier_error", exc.message
    return "error", "the carrier adapter failed unexpectedly"
