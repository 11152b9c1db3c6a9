"""Rate shopping: price contracted cards locally, ask live carriers under a deadline, store the quotes.

The pure engine (``rating``) does the arithmetic; this module prices the local cards (the
tenant's active versions, or the bundled samples on a fresh install: ``_local``), runs live
carrier calls in a thread pool bounded by the call's deadline (``_live``), merges card and live
answers into one rate per carrier service (``shop.one_per_service``: price from the contract
card, else live, else the sample card; the estimate from live, else the card), marks as not
purchasable any rate whose labels no enabled adapter (nor the own fleet) sells, and stores every
returned rate as ``rte_…``. ``selection`` freezes the selected one onto the shipment; ``specs``
builds and hashes the shipment specs (``rating/README.md``).
"""

from __future__ import annotations

import logging
import time
from concurrent import futures
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from adapters import base as adapter_base
from adapters.registry import Registry
from gateway.accounts import connections as accounts
from gateway.kernel.container import Container
from gateway.kernel.types import new_id, utcnow
from gateway.predictions import service as predictions
from gateway.rates import _live, _local, markups, tables
from gateway.rates.specs import spec_hash
from rating import errors, eta, markup, quote, shop
from schemas import carrier, money, types

log = logging.getLogger(__name__)


# --- purchasability ------------------------------------------------------------------------

FLEET = "fleet"  # the own fleet's one carrier code: its labels are made locally, always purchasable


def sellable_carriers(container: Container, registry: Registry | None = None) -> frozenset[str]:
    """The carriers whose labels can be bought: the fleet, and each enabled adapter that sells labels.

    An adapter counts under its configured id and its name, as the label purchase looks it up.
    ``registry``: the tenant's adapters (``gateway.accounts.connections.registry_for``); default the operator's.
    """
    registry = container.carriers if registry is None else registry
    found = {FLEET}
    for key in registry:
        adapter = registry.get(key)
        if adapter.supports(adapter_base.Capability.LABEL):
            found.update((key, adapter.name))
    return frozenset(found)


def not_purchasable_reason(carrier_code: str) -> str:
    """Why a rate of this carrier cannot be bought (the label purchase would fail carrier_not_configured)."""
    return (
        f"No enabled carrier adapter sells {carrier_code} labels, so this rate cannot be bought "
        "(carrier_not_configured); configure one in CARRIERS to offer it."
    )


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
    not_purchasable_reason: str | None = None  # None: an enabled adapter (or the fleet) sells it
    # When it should arrive (gateway.predictions.service.for_rate): percentile dates, the chance of
    # meeting the promise date, and what they come from.
    prediction: dict[str, Any] | None = None

    @property
    def purchasable(self) -> bool:
        return self.not_purchasable_reason is None


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
    deadline_ms = int(container.settings["RATE_DEADLINE_MS"])
    deadline = started + deadline_ms / 1000
    now = now or utcnow()
    digest = spec_hash(spec)

    live: dict[futures.Future[list[carrier.RateResult]], str] = {}
    # The tenant's own accounts (its default per carrier) and the operator's it may use.
    registry = accounts.registry_for(session, container, tenant_id, defaults_only=True)
    if len(registry):
        for key in registry:
            adapter = registry.get(key)
            if adapter.supports(adapter_base.Capability.RATE):
                timeout = max(deadline - time.monotonic(), 0.001)
                future = _live.pool().submit(_live.ask_live, container, key, adapter, spec, digest, timeout)
                live[future] = key

    card_list, source = _local.local_cards(session, tenant_id, now.date())
    rules = markups.table(session, tenant_id)
    card_results: list[quote.Quote | quote.Ineligible] = []
    live_quotes: list[quote.Quote] = []
    carrier_errors: list[shop.CarrierError] = []
    for card in card_list:
        try:
            m = markup.choose(rules, card.carrier, card.service_code)
            # No promise date here: it is checked once on the merged estimate (shop.one_per_service).
            card_results.append(quote.price(card, spec, now, markup=m))
        except (errors.RatingError, money.CurrencyError) as exc:
            carrier_errors.append(shop.CarrierError(card.carrier, "cannot_price", f"{card.id}: {exc}"))

    # A live price without a date takes the card's estimate for the same service (never guaranteed).
    card_eta = {
        (c.carrier, c.service_code): c.estimated_delivery for c in card_results if isinstance(c, quote.Quote)
    }
    if live:
        done, pending = futures.wait(live, timeout=max(deadline - time.monotonic(), 0))
        for fut in pending:
            fut.cancel()
            carrier_errors.append(
                shop.CarrierError(live[fut], "timeout", f"no answer within the {deadline_ms} ms deadline")
            )
        for fut in done:
            key = live[fut]
            failure = fut.exception()
            if failure is not None:
                code, message = _live.error_code(failure)
                if code == "error":
                    log.error("live rating failed", exc_info=failure, extra={"carrier": key})
                carrier_errors.append(shop.CarrierError(key, code, message))
                continue
            for r in _live.plain_offers(fut.result()):
                q = _live.live_quote(key, r, now.date(), card_eta.get((r.carrier, r.service_code)))
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
                live_quotes.append(q)

    merged = shop.one_per_service(
        card_results,
        live_quotes,
        card_price_first=source == _local.SOURCE_CONTRACT,
        promise_date=promise_date,
    )
    live_priced = shop.PRICE_FROM_LIVE
    sources = {
        (m.result.carrier, m.result.service_code): _live.SOURCE_LIVE
        if m.price_from == live_priced
        else source
        for m in merged
    }
    results = _one_currency([m.result for m in merged], carrier_errors)
    sellable = sellable_carriers(container, registry)
    shopped = shop.shop(results, carrier_errors, sellable=sellable)
    expires = now + timedelta(minutes=int(container.settings["RATE_QUOTE_TTL_MINUTES"]))
    model = predictions.current(session, container.settings, tenant_id)
    lane = eta.lane(spec.origin.country_code, spec.destination.country_code)
    rated = []
    values = []
    for option in shopped.options:
        q = option.quote
        src = sources[(q.carrier, q.service_code)]
        reason = None if option.purchasable else not_purchasable_reason(q.carrier)
        snapshot = q.to_snapshot()
        snapshot["purchasable"] = option.purchasable  # read by allocation when no shop answer was kept
        row: dict[str, Any] = dict(
            id=new_id("rte"),
            tenant_id=tenant_id,
            shipment_id=shipment_id,
            spec_hash=digest,
            source=src,
            carrier=q.carrier,
            service_code=q.service_code,
            service_name=q.service_name,
            card_id=None if src == _live.SOURCE_LIVE else q.card_id,
            card_version=None if src == _live.SOURCE_LIVE else q.card_version,
            currency=q.currency,
            total_cost_minor=q.total_cost.to_minor(),
            total_sell_minor=q.total_sell.to_minor(),
            estimated_delivery=q.estimated_delivery,
            snapshot=snapshot,
            created_at=now,
            expires_at=expires,
        )
        values.append(row)
        stored = StoredRate(row["id"], src, row["card_id"], row["card_version"], expires)
        predicted = predictions.for_rate(
            model,
            q.carrier,
            q.service_code,
            lane,
            now.date(),
            q.estimated_delivery,
            promise_date,
            destination_country=spec.destination.country_code,
            destination_state=spec.destination.state,
            residential=spec.destination.residential,
            sold_at=now,
        )
        rated.append(Rated(stored, q, frozenset(label.value for label in option.labels), reason, predicted))
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
                "prediction": r.prediction,
                "labels": sorted(r.labels),
                "purchasable": r.purchasable,
                "not_purchasable_reason": r.not_purchasable_reason,
                "total_cost": {"amount": q.total_cost.amount, "currency": q.currency},
                "total_sell": {"amount": q.total_sell.amount, "currency": q.currency},
                "duties_and_taxes": (
                    {"amount": q.duties_and_taxes.amount, "currency": q.duties_and_taxes.currency}
                    if q.duties_and_taxes is not None
                    else None
                ),
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
