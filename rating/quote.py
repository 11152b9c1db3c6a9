"""Price one shipment under one rate card: charge lines, billable weight, zone and delivery date."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from rating import cards, errors, fleet, markup, surcharges, weight, zones
from schemas import money, types


class Reason(enum.StrEnum):
    """Why a service cannot carry a shipment; the values are stable API."""

    WEIGHT_LIMIT = "weight_limit"
    DIMENSIONS = "dimensions"
    AREA_NOT_SERVED = "area_not_served"
    TOO_SLOW = "too_slow"
    BLOCKED_BY_RULE = "blocked_by_rule"  # set by callers (allocation rules), never by price()


@dataclass(frozen=True, slots=True)
class ChargeLine:
    """One explainable charge: what the carrier charges us (cost) and what we charge (sell)."""

    code: str
    description: str
    cost: money.Money
    sell: money.Money


@dataclass(frozen=True, slots=True)
class Quote:
    """A priced service; totals are always derived from the lines."""

    card_id: str
    card_version: int
    carrier: str
    service_code: str
    service_name: str
    currency: str
    lines: tuple[ChargeLine, ...]
    zone: str
    billable_weight: Decimal
    weight_unit: str
    estimated_delivery: date
    guaranteed: bool
    # The carrier's estimate of duties and taxes (live rates only), apart from the price.
    duties_and_taxes: money.Money | None = None

    @property
    def total_cost(self) -> money.Money:
        return money.Money(sum((line.cost.amount for line in self.lines), Decimal(0)), self.currency)

    @property
    def total_sell(self) -> money.Money:
        return money.Money(sum((line.sell.amount for line in self.lines), Decimal(0)), self.currency)

    def to_snapshot(self) -> dict[str, Any]:
        """Return a JSON-ready snapshot with money as integer minor units, for storing with a booking."""
        return {
            "card_id": self.card_id,
            "card_version": self.card_version,
            "carrier": self.carrier,
            "service_code": self.service_code,
            "service_name": self.service_name,
            "currency": self.currency,
            "zone": self.zone,
            "billable_weight": str(self.billable_weight),
            "weight_unit": self.weight_unit,
            "estimated_delivery": self.estimated_delivery.isoformat(),
            "guaranteed": self.guaranteed,
            "lines": [
                {
                    "code": line.code,
                    "description": line.description,
                    "cost_minor": line.cost.to_minor(),
                    "sell_minor": line.sell.to_minor(),
                }
                for line in self.lines
            ],
            "total_cost_minor": self.total_cost.to_minor(),
            "total_sell_minor": self.total_sell.to_minor(),
        }


@dataclass(frozen=True, slots=True)
class Ineligible:
    """A service that cannot carry the shipment, with a stable reason code and a human detail."""

    card_id: str
    card_version: int
    carrier: str
    service_code: str
    reason: Reason
    detail: str
    estimated_delivery: date | None = None


def ineligible(card: cards.RateCard, reason: Reason, detail: str) -> Ineligible:
    """Return an Ineligible for this card (callers use it for blocked_by_rule)."""
    return Ineligible(card.id, card.version, card.carrier, card.service_code, reason, detail)


# price() takes a keyword named ``markup`` (the public API), which shadows the module inside it.
_sell_amounts = markup.sell_amounts
_QUANTA: dict[str, Decimal] = {}


def _quantum(currency: str) -> Decimal:
    q = _QUANTA.get(currency)
    if q is None:
        q = _QUANTA[currency] = Decimal(1).scaleb(-money.exponent(currency))
    return q


def price(
    card: cards.RateCard,
    spec: types.ShipmentSpec,
    ship_at: datetime,
    *,
    markup: markup.Markup | None = None,
    promise_date: date | None = None,
    distance_km: Decimal | None = None,
) -> Quote | Ineligible:
    """Price a shipment under a card, or say why the service cannot carry it.

    ``distance_km`` is the road distance for distance-band cards; without it the straight-line
    distance between the coordinates times the card's road factor is used. The card's effective
    dates are not checked here (dry runs price old shipments under drafts): pick cards with
    ``cards.effective``.
    """
    if not spec.parcels:
        raise errors.RatingError("a shipment needs at least one parcel")
    o, d = spec.origin, spec.destination
    o_postal, d_postal = zones.normalize_postal(o.postal_code), zones.normalize_postal(d.postal_code)
    lim = card.limits
    if lim.origins is not None and not lim.origins.covers(o.country_code, o_postal):
        return ineligible(card, Reason.AREA_NOT_SERVED, f"origin {o.country_code} {o.postal_code} not served")
    if lim.destinations is not None and not lim.destinations.covers(d.country_code, d_postal):
        return ineligible(
            card, Reason.AREA_NOT_SERVED, f"destination {d.country_code} {d.postal_code} not served"
        )

    zt = card.zones
    zone: str | None
    if isinstance(zt, zones.PostalZones):
        zone = zt.zone_for(o.country_code, o_postal, d.country_code, d_postal)
        if zone is None:
            return ineligible(
                card,
                Reason.AREA_NOT_SERVED,
                f"no zone from {o.country_code} {o.postal_code} to {d.country_code} {d.postal_code}",
            )
    else:
        km = distance_km
        if km is None:
            if o.latitude is None or o.longitude is None or d.latitude is None or d.longitude is None:
                return ineligible(
                    card, Reason.AREA_NOT_SERVED, "distance bands need coordinates or a distance"
                )
            km = zones.straight_line_km(o.latitude, o.longitude, d.latitude, d.longitude) * zt.road_factor
        zone = zt.zone_for_km(km)
        if zone is None:
            return ineligible(card, Reason.AREA_NOT_SERVED, f"{km} km is beyond the last distance band")

    rule = card.weight_rule
    unit, length_unit = rule.weight_unit, rule.length_unit
    q = _quantum(card.currency)
    package_rules = card.package_surcharges
    amounts: dict[str, Decimal] = {}
    descriptions: dict[str, str] = {}
    total_billable = Decimal(0)
    minimum_applied = False
    rates = card.rates.get(zone) if card.rates is not None else None
    if card.fleet_cost is not None:
        # One stop whatever the number of parcels; these lines come first, like BASE.
        for code, desc, cost in fleet.marginal_stop_cost(card.fleet_cost, zone):
            amounts[code] = cost.quantize(q, ROUND_HALF_EVEN)
            descriptions[code] = desc
    for parcel in spec.parcels:
        m = weight.measure(rule, parcel)
        if lim.max_weight is not None and m.weight > lim.max_weight:
            return ineligible(card, Reason.WEIGHT_LIMIT, f"{m.weight} {unit} exceeds {lim.max_weight} {unit}")
        if lim.max_length is not None and m.longest > lim.max_length:
            return ineligible(
                card,
                Reason.DIMENSIONS,
                f"longest side {m.longest} exceeds {lim.max_length} {length_unit}",
            )
        if lim.max_length_plus_girth is not None and m.length_plus_girth > lim.max_length_plus_girth:
            return ineligible(
                card,
                Reason.DIMENSIONS,
                f"length plus girth {m.length_plus_girth} exceeds {lim.max_length_plus_girth} {length_unit}",
            )
        billable = weight.billable(rule, m)
        total_billable += billable
        if rates is not None:
            base = rates.price_for(billable)
            if base is None:
                return ineligible(
                    card, Reason.WEIGHT_LIMIT, f"billable {billable} {unit} is above the top weight break"
                )
            if base < card.minimum_charge:
                base = card.minimum_charge
                minimum_applied = True
            amounts[cards.BASE] = amounts.get(cards.BASE, Decimal(0)) + base.quantize(q, ROUND_HALF_EVEN)
        if package_rules:
            declared = None
            if parcel.declared_value is not None:
                if parcel.declared_value.currency != card.currency:
                    raise money.CurrencyError(
                        f"declared value in {parcel.declared_value.currency} on a {card.currency} card"
                    )
                declared = parcel.declared_value.amount
            for s, amount in surcharges.package_charges(package_rules, m, declared):
                amounts[s.code] = amounts.get(s.code, Decimal(0)) + amount.quantize(q, ROUND_HALF_EVEN)
                descriptions[s.code] = s.description

    n = len(spec.parcels)
    if rates is not None:
        label = f"Transportation, zone {zone}, {total_billable} {unit} billable"
        if n > 1:
            label += f", {n} packages"
        if minimum_applied:
            label += " (minimum charge applied)"
        descriptions[cards.BASE] = label

    residential = bool(d.residential)
    for s in card.flat_surcharges:
        if surcharges.applies_to_shipment(
            s, residential=residential, country=d.country_code, postal=d_postal, options=spec.options
        ):
            amounts[s.code] = (s.amount * n if s.per_package else s.amount).quantize(q, ROUND_HALF_EVEN)
            descriptions[s.code] = s.description + (f", {n} packages" if s.per_package and n > 1 else "")
    for s in card.fuel_surcharges:
        # Fuel is a percentage of lines that are already rounded, as carriers invoice it.
        fuel = surcharges.fuel_amount(s, amounts).quantize(q, ROUND_HALF_EVEN)
        if fuel:
            amounts[s.code] = fuel
            descriptions[s.code] = f"{s.description} {s.percent}%"

    saturday = "saturday" in spec.options and card.offers_saturday
    eta = card.schedule.estimate(ship_at, zone, saturday_delivery=saturday)
    if promise_date is not None and eta > promise_date:
        return Ineligible(
            card.id,
            card.version,
            card.carrier,
            card.service_code,
            Reason.TOO_SLOW,
            f"estimated delivery {eta.isoformat()} is after the promise date {promise_date.isoformat()}",
            eta,
        )

    codes = list(amounts)
    costs = [amounts[c] for c in codes]
    sells = _sell_amounts(markup, costs, card.currency)
    cur = card.currency
    lines = []
    for code, cost, sell in zip(codes, costs, sells, strict=True):
        cost_money = money.Money(cost, cur)
        lines.append(
            ChargeLine(
                code, descriptions[code], cost_money, cost_money if sell is cost else money.Money(sell, cur)
            )
        )
    return Quote(
        card_id=card.id,
        card_version=card.version,
        carrier=card.carrier,
        service_code=card.service_code,
        service_name=card.service_name,
        currency=cur,
        lines=tuple(lines),
        zone=zone,
        billable_weight=total_billable,
        weight_unit=unit,
        estimated_delivery=eta,
        guaranteed=card.guaranteed,
    )


def with_markup(q: Quote, m: markup.Markup | None) -> Quote:
    """Return the quote with each line's sell price recomputed from its cost under ``m``.

    For quotes priced elsewhere (a carrier's live rate arrives with cost only); cards priced
    here take the markup in ``price()`` directly. The cost of each line never changes.
    """
    costs = [line.cost.amount for line in q.lines]
    sells = _sell_amounts(m, costs, q.currency)
    lines = tuple(
        ChargeLine(line.code, line.description, line.cost, money.Money(sell, q.currency))
        for line, sell in zip(q.lines, sells, strict=True)
    )
    return dataclasses.replace(q, lines=lines)
