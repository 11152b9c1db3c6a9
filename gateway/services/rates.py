"""Rate shopping: price contracted cards locally, ask live carriers under a deadline, store the quotes.

The pure engine (``rating``) does the arithmetic; this module chooses the cards (the tenant's
active versions, or the bundled samples on a fresh install), runs live carrier calls in a
thread pool bounded by the call's deadline, stores every returned rate as ``rte_…`` and
freezes the selected one onto the shipment.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
import time
from concurrent import futures
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import redis
import sqlalchemy as sa
from sqlalchemy.orm import Session

from adapters import base as adapter_base
from gateway.bootstrap import Container
from gateway.db import models
from gateway.db import rating as tables
from gateway.db.types import new_id, utcnow
from gateway.errors import Problem
from gateway.services import markups
from rating import cards, errors, markup, quote, shop
from schemas import carrier, money, types, units

log = logging.getLogger(__name__)

SOURCE_CONTRACT = "contract"
SOURCE_SAMPLE = "sample"
SOURCE_LIVE = "live"

_POOL: futures.ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
# Card documents never change once uploaded, so compiled cards are kept per row id (and the
# row's effective dates, which activation may set or clip).
_COMPILED: dict[tuple[str, date, date | None], cards.RateCard] = {}
_COMPILED_MAX = 2000
_SAMPLES: list[cards.RateCard] | None = None


def _pool() -> futures.ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        with _POOL_LOCK:
            if _POOL is None:
                _POOL = futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="live-rates")
    return _POOL


def _samples() -> list[cards.RateCard]:
    global _SAMPLES
    if _SAMPLES is None:
        _SAMPLES = cards.load_samples()
    return _SAMPLES


# --- shipment specs -------------------------------------------------------------------------


def _address(data: dict[str, Any]) -> types.Address:
    return types.Address(
        country_code=data["country_code"],
        postal_code=(data.get("postal_code") or "").strip(),
        city=data["city"],
        street_lines=tuple(data.get("street_lines") or ()),
        state=data.get("state"),
        residential=data.get("residential"),
        latitude=_dec(data.get("latitude")),
        longitude=_dec(data.get("longitude")),
    )


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def spec_from_body(data: dict[str, Any]) -> types.ShipmentSpec:
    """Build the canonical shipment spec (kg, cm) from a validated request body."""
    parcels = []
    for p in data["parcels"]:
        dims = p["dimensions"]
        declared = p.get("declared_value")
        parcels.append(
            types.Parcel(
                weight_kg=units.to_kg(Decimal(p["weight"]["value"]), p["weight"]["unit"]),
                length_cm=units.to_cm(Decimal(dims["length"]), dims["unit"]),
                width_cm=units.to_cm(Decimal(dims["width"]), dims["unit"]),
                height_cm=units.to_cm(Decimal(dims["height"]), dims["unit"]),
                declared_value=money.Money(Decimal(declared["amount"]), declared["currency"])
                if declared
                else None,
            )
        )
    return types.ShipmentSpec(
        origin=_address(data["origin"]),
        destination=_address(data["destination"]),
        parcels=tuple(parcels),
        reference=data.get("reference"),
        service_level=data.get("service_level"),
    )


def _row_address(a: models.Address) -> dict[str, Any]:
    return {
        "country_code": a.country_code,
        "postal_code": a.postal_code,
        "city": a.city,
        "street_lines": [x for x in (a.street1, a.street2, a.street3) if x],
        "state": a.state,
        "residential": a.residential,
        "latitude": a.latitude,
        "longitude": a.longitude,
    }


def spec_from_shipment(s: models.Shipment) -> types.ShipmentSpec:
    """Build the canonical shipment spec of a stored shipment."""
    parcels = []
    for p in s.parcels:
        declared = None
        if p.declared_value_minor is not None and p.declared_value_currency:
            value = money.Money.from_minor(p.declared_value_minor, p.declared_value_currency)
            declared = {"amount": value.amount, "currency": value.currency}
        parcels.append(
            {
                "weight": {"value": p.weight, "unit": p.weight_unit},
                "dimensions": {
                    "length": p.length,
                    "width": p.width,
                    "height": p.height,
                    "unit": p.dimension_unit,
                },
                "declared_value": declared,
            }
        )
    return spec_from_body(
        {
            "origin": _row_address(s.origin),
            "destination": _row_address(s.destination),
            "parcels": parcels,
            "reference": s.reference,
            "service_level": s.service_level,
        }
    )


def spec_hash(spec: types.ShipmentSpec) -> str:
    """Hash what determines a price (addresses and normalised parcels), not references."""

    def norm(d: Decimal) -> str:
        return format(d.normalize(), "f")

    def addr(a: types.Address) -> list[Any]:
        coords = [None if c is None else norm(c) for c in (a.latitude, a.longitude)]
        return [a.country_code, a.postal_code, a.city, a.residential, *coords]

    parcels = [
        [
            norm(p.weight_kg),
            norm(p.length_cm),
            norm(p.width_cm),
            norm(p.height_cm),
            None if p.declared_value is None else [norm(p.declared_value.amount), p.declared_value.currency],
        ]
        for p in spec.parcels
    ]
    raw = json.dumps([addr(spec.origin), addr(spec.destination), parcels, sorted(spec.options)])
    return hashlib.sha256(raw.encode()).hexdigest()


# --- cards ----------------------------------------------------------------------------------


def compiled(row: tables.RateCardVersion) -> cards.RateCard:
    """Return the compiled card of a stored version, in force on the row's effective dates.

    Cached: documents never change. The row's dates win over the document's because
    activation may set them, and clips a predecessor's end when a successor takes over.
    """
    key = (row.id, row.effective_from, row.effective_to)
    card = _COMPILED.get(key)
    if card is None:
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        card = cards.parse(row.document)
        if (card.effective_from, card.effective_to) != (row.effective_from, row.effective_to):
            card = dataclasses.replace(card, effective_from=row.effective_from, effective_to=row.effective_to)
        _COMPILED[key] = card
    return card


def local_cards(session: Session, tenant_id: str, on: date) -> tuple[list[cards.RateCard], str]:
    """Return the cards to price locally and where they came from (contract, or sample on a fresh install).

    A tenant leaves the samples when it first activates a card; uploading drafts to dry-run
    them does not change what it is quoted. Only the ids and dates of the active versions are
    read on each call; a document is loaded (and compiled once) only when it is not cached.
    """
    v = tables.RateCardVersion
    heads = session.execute(
        sa.select(v.id, v.effective_from, v.effective_to).where(
            v.tenant_id == tenant_id, v.status == "active"
        )
    ).all()
    if not heads:
        any_card = session.execute(
            sa.select(v.id).where(v.tenant_id == tenant_id, v.status != "draft").limit(1)
        ).first()
        if any_card is None:
            return cards.effective(_samples(), on), SOURCE_SAMPLE
        return [], SOURCE_CONTRACT
    found: list[cards.RateCard] = []
    missing: list[str] = []
    for row_id, start, end in heads:
        card = _COMPILED.get((row_id, start, end))
        if card is None:
            missing.append(row_id)
        else:
            found.append(card)
    if missing:
        found.extend(compiled(r) for r in session.execute(sa.select(v).where(v.id.in_(missing))).scalars())
    return cards.effective(found, on), SOURCE_CONTRACT


# --- live carriers --------------------------------------------------------------------------


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
    )


def _ask_live(
    container: Container,
    key: str,
    adapter: adapter_base.Adapter,
    spec: types.ShipmentSpec,
    digest: str,
    timeout: float,
) -> list[carrier.RateResult]:
    cache_key = f"handoff:rates:live:{key}:{digest}"
    ttl = int(container.settings.get("RATE_CACHE_TTL_SECONDS") or 0)
    if ttl > 0:
        try:
            cached = container.redis.get(cache_key)
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


def _live_quote(key: str, r: carrier.RateResult, ship_day: date) -> quote.Quote | None:
    eta = r.estimated_delivery
    if eta is None and r.transit_days is not None:
        eta = ship_day + timedelta(days=r.transit_days)
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
        guaranteed=r.guaranteed,
    )


def _error_code(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, adapter_base.CarrierRejected):
        return "rejected", exc.message
    if isinstance(exc, adapter_base.CarrierUnavailable):
        return "unavailable", exc.message
    if isinstance(exc, adapter_base.CarrierError):
        return "carrier_error", exc.message
    return "error", "the carrier adapter failed unexpectedly"


# --- shopping -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredRate:
    """The columns of a stored ``rate_quotes`` row that the API shows (rows are inserted in bulk)."""

    id: str
    source: str
    card_id: str | None
    card_version: int | None
    expires_at: datetime


@dataclass(frozen=True)
class Rated:
    """One stored rate with its labels."""

    row: StoredRate
    quote: quote.Quote
    labels: frozenset[str]


@dataclass(frozen=True)
class ShopOutcome:
    """What a rating call returns: stored rates, ineligible services and per-carrier errors."""

    source: str
    rates: list[Rated]
    ineligible: tuple[quote.Ineligible, ...]
    errors: tuple[shop.CarrierError, ...]
    deadline_ms: int


def shop_rates(
    session: Session,
    container: Container,
    tenant_id: str,
    spec: types.ShipmentSpec,
    *,
    promise_date: date | None = None,
    shipment_id: str | None = None,
    now: datetime | None = None,
) -> ShopOutcome:
    """Quote a shipment across local cards and live carriers within the deadline, and store the rates."""
    started = time.monotonic()
    deadline_ms = int(container.settings.get("RATE_DEADLINE_MS") or 2000)
    deadline = started + deadline_ms / 1000
    now = now or utcnow()
    digest = spec_hash(spec)

    live: dict[futures.Future[list[carrier.RateResult]], str] = {}
    registry = container.carriers
    if len(registry):
        for key in registry:
            adapter = registry.get(key)
            if adapter.supports(adapter_base.Capability.RATE):
                timeout = max(deadline - time.monotonic(), 0.001)
                live[_pool().submit(_ask_live, container, key, adapter, spec, digest, timeout)] = key

    card_list, source = local_cards(session, tenant_id, now.date())
    rules = markups.table(session, tenant_id)
    results: list[quote.Quote | quote.Ineligible] = []
    carrier_errors: list[shop.CarrierError] = []
    for card in card_list:
        try:
            m = markup.choose(rules, card.carrier, card.service_code)
            results.append(quote.price(card, spec, now, promise_date=promise_date, markup=m))
        except (errors.RatingError, money.CurrencyError) as exc:
            carrier_errors.append(shop.CarrierError(card.carrier, "cannot_price", f"{card.id}: {exc}"))

    sources = {(r.card_id, r.card_version): source for r in results}
    if live:
        done, pending = futures.wait(live, timeout=max(deadline - time.monotonic(), 0))
        for fut in pending:
            fut.cancel()
            carrier_errors.append(
                shop.CarrierError(live[fut], "timeout", f"no answer within the {deadline_ms} ms deadline")
            )
        for fut in done:
            key = live[fut]
            exc = fut.exception()
            if exc is not None:
                code, message = _error_code(exc)
                if code == "error":
                    log.error("live rating failed", exc_info=exc, extra={"carrier": key})
                carrier_errors.append(shop.CarrierError(key, code, message))
                continue
            for r in fut.result():
                q = _live_quote(key, r, now.date())
                if q is None:
                    carrier_errors.append(
                        shop.CarrierError(
                            key, "incomplete", f"{r.service_code}: no delivery estimate returned"
                        )
                    )
                    continue
                try:
                    q = quote.with_markup(q, markup.choose(rules, q.carrier, q.service_code))
                except money.CurrencyError as exc:
                    carrier_errors.append(shop.CarrierError(key, "cannot_price", f"{r.service_code}: {exc}"))
                    continue
                if promise_date is not None and q.estimated_delivery > promise_date:
                    results.append(
                        quote.Ineligible(
                            q.card_id,
                            0,
                            q.carrier,
                            q.service_code,
                            quote.Reason.TOO_SLOW,
                            f"estimated delivery {q.estimated_delivery.isoformat()} is after the promise date "
                            f"{promise_date.isoformat()}",
                            q.estimated_delivery,
                        )
                    )
                    continue
                results.append(q)
                sources[(q.card_id, 0)] = SOURCE_LIVE

    results = _one_currency(results, carrier_errors)
    shopped = shop.shop(results, carrier_errors)
    expires = now + timedelta(minutes=int(container.settings.get("RATE_QUOTE_TTL_MINUTES") or 60))
    rated = []
    values = []
    for option in shopped.options:
        q = option.quote
        src = sources.get((q.card_id, q.card_version), source)
        row = dict(
            id=new_id("rte"),
            tenant_id=tenant_id,
            shipment_id=shipment_id,
            spec_hash=digest,
            source=src,
            carrier=q.carrier,
            service_code=q.service_code,
            service_name=q.service_name,
            card_id=None if src == SOURCE_LIVE else q.card_id,
            card_version=None if src == SOURCE_LIVE else q.card_version,
            currency=q.currency,
            total_cost_minor=q.total_cost.to_minor(),
            total_sell_minor=q.total_sell.to_minor(),
            estimated_delivery=q.estimated_delivery,
            snapshot=q.to_snapshot(),
            created_at=now,
            expires_at=expires,
        )
        values.append(row)
        stored = StoredRate(row["id"], src, row["card_id"], row["card_version"], expires)
        rated.append(Rated(stored, q, frozenset(label.value for label in option.labels)))
    if values:
        # One multi-row INSERT through Core: ORM objects and the unit of work cost more than
        # pricing every card does, and nothing reads these rows back in this request.
        session.flush()  # the shipment these rates may reference goes first
        session.connection().execute(sa.insert(tables.RateQuote.__table__), values)
    return ShopOutcome(source, rated, shopped.ineligible, shopped.errors, deadline_ms)


def _one_currency(
    results: list[quote.Quote | quote.Ineligible], carrier_errors: list[shop.CarrierError]
) -> list[quote.Quote | quote.Ineligible]:
    """Keep the quotes in the most common currency; rates are only comparable in one currency."""
    counts: dict[str, int] = {}
    for r in results:
        if isinstance(r, quote.Quote):
            counts[r.currency] = counts.get(r.currency, 0) + 1
    if len(counts) <= 1:
        return results
    keep = max(sorted(counts), key=lambda c: counts[c])
    kept: list[quote.Quote | quote.Ineligible] = []
    for r in results:
        if isinstance(r, quote.Quote) and r.currency != keep:
            carrier_errors.append(
                shop.CarrierError(
                    r.carrier, "currency", f"{r.service_code} quoted in {r.currency}, not {keep}"
                )
            )
        else:
            kept.append(r)
    return kept


# --- selection ------------------------------------------------------------------------------


def select_rate(
    session: Session, tenant_id: str, shipment_id: str, rate_id: str
) -> tuple[models.Shipment, tables.ShipmentQuoteSnapshot]:
    """Freeze a returned rate onto a draft shipment; the same rate again is a no-op."""
    from gateway.services import shipments

    shipment = shipments.get_shipment(session, tenant_id, shipment_id)
    existing = session.execute(
        sa.select(tables.ShipmentQuoteSnapshot).where(tables.ShipmentQuoteSnapshot.shipment_id == shipment.id)
    ).scalar_one_or_none()
    if existing is not None and existing.rate_id == rate_id:
        return shipment, existing
    if shipment.status != "draft":
        raise Problem(
            "conflict",
            f"Shipment {shipment.id} is {shipment.status}; its rate is frozen and cannot change.",
        )
    rate = session.execute(
        sa.select(tables.RateQuote).where(
            tables.RateQuote.id == rate_id, tables.RateQuote.tenant_id == tenant_id
        )
    ).scalar_one_or_none()
    if rate is None:
        raise Problem("not-found", f"No rate {rate_id!r}.", errors={"rate_id": ["not found"]})
    if rate.expires_at <= utcnow():
        raise Problem("rate-expired", f"Rate {rate_id} expired at {rate.expires_at.isoformat()}; rate again.")
    if rate.spec_hash != spec_hash(spec_from_shipment(shipment)):
        raise Problem(
            "validation-error",
            "This rate was quoted for different addresses or parcels than this shipment has.",
            errors={"rate_id": ["quoted for another shipment"]},
        )
    if existing is not None:
        # Still a draft: the earlier choice was never booked, so it is replaced, not edited.
        session.delete(existing)
        session.flush()
    snap = rate.snapshot
    snapshot = tables.ShipmentQuoteSnapshot(
        tenant_id=tenant_id,
        shipment_id=shipment.id,
        rate_id=rate.id,
        source=rate.source,
        carrier=rate.carrier,
        service_code=rate.service_code,
        service_name=rate.service_name,
        card_id=rate.card_id,
        card_version=rate.card_version,
        currency=rate.currency,
        lines=list(snap["lines"]),
        total_cost_minor=rate.total_cost_minor,
        total_sell_minor=rate.total_sell_minor,
        estimated_delivery=rate.estimated_delivery,
    )
    session.add(snapshot)
    shipment.carrier = rate.carrier
    shipment.service = rate.service_code
    session.flush()
    return shipment, snapshot


def remember_for_shipment(session: Session, tenant_id: str, shipment_id: str, dumped: dict[str, Any]) -> None:
    """Keep the rate shop answer given at shipment creation, already dumped for the API."""
    session.add(tables.ShipmentRateResult(shipment_id=shipment_id, tenant_id=tenant_id, result=dumped))
    session.flush()


def rates_at_creation(session: Session, shipment_id: str) -> dict[str, Any] | None:
    """Return the dumped rate shop answer given when the shipment was created, if any."""
    row = session.get(tables.ShipmentRateResult, shipment_id)
    return None if row is None else row.result


def present_money(minor: int, currency: str) -> dict[str, Any]:
    """Shape integer minor units as an API money object."""
    value = money.Money.from_minor(minor, currency)
    return {"amount": value.amount, "currency": value.currency}


def present_outcome(outcome: ShopOutcome) -> dict[str, Any]:
    """Shape a shop outcome as the API returns it."""
    rates = []
    for r in outcome.rates:
        q, row = r.quote, r.row
        rates.append(
            {
                "id": row.id,
                "carrier": q.carrier,
                "service_code": q.service_code,
                "service_name": q.service_name,
                "source": row.source,
                "card_id": row.card_id,
                "card_version": row.card_version,
                "zone": q.zone or None,
                "billable_weight": q.billable_weight if q.weight_unit else None,
                "weight_unit": q.weight_unit or None,
                "estimated_delivery": q.estimated_delivery,
                "guaranteed": q.guaranteed,
                "labels": sorted(r.labels),
                "total_cost": {"amount": q.total_cost.amount, "currency": q.currency},
                "total_sell": {"amount": q.total_sell.amount, "currency": q.currency},
                "lines": [
                    {
                        "code": line.code,
                        "description": line.description,
                        "cost": {"amount": line.cost.amount, "currency": line.cost.currency},
                        "sell": {"amount": line.sell.amount, "currency": line.sell.currency},
                    }
                    for line in q.lines
                ],
                "expires_at": row.expires_at,
            }
        )
    return {
        "source": outcome.source,
        "deadline_ms": outcome.deadline_ms,
        "rates": rates,
        "ineligible": [
            {
                "carrier": i.carrier,
                "service_code": i.service_code,
                "card_id": i.card_id,
                "reason": i.reason.value,
                "detail": i.detail,
                "estimated_delivery": i.estimated_delivery,
            }
            for i in outcome.ineligible
        ],
        "errors": [{"carrier": e.carrier, "code": e.code, "message": e.message} for e in outcome.errors],
    }


def present_snapshot(shipment: models.Shipment, s: tables.ShipmentQuoteSnapshot) -> dict[str, Any]:
    """Shape a frozen quote snapshot as the API returns it."""
    return {
        "shipment_id": shipment.id,
        "status": shipment.status,
        "carrier": shipment.carrier,
        "service": shipment.service,
        "rate_id": s.rate_id,
        "source": s.source,
        "service_name": s.service_name,
        "card_id": s.card_id,
        "card_version": s.card_version,
        "currency": s.currency,
        "estimated_delivery": s.estimated_delivery,
        "total_cost": present_money(s.total_cost_minor, s.currency),
        "total_sell": present_money(s.total_sell_minor, s.currency),
        "lines": [
            {
                "code": line["code"],
                "description": line["description"],
                "cost": present_money(line["cost_minor"], s.currency),
                "sell": present_money(line["sell_minor"], s.currency),
            }
            for line in s.lines
        ],
        "selected_at": s.created_at,
    }
