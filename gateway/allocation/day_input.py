"""Building a day's ``model.Problem`` from the database.

A day's problem is built from the tenant's shipments created that day (in the depot's time zone):
one package per shipment, partner options from the rates the shipment was quoted at creation
(``shipment_rate_results``, else its ``rate_quotes``) with a frozen rate
(``shipment_quote_snapshots``) replacing its service's quote, the depot and active vans, and the
active rule sets. Each partner option carries its chance of arriving by the shipment's promise date,
from the tenant's current delivery-time model (``gateway.predictions.service.current``; unknown
without a model, a promise date or history for the service), for rules that require a minimum.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from allocation import model, rules
from gateway.addresses import geocoding
from gateway.allocation import _loading, fleet, tables
from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.predictions import service as predictions
from gateway.rates import tables as rating_tables
from rating import eta
from schemas import money, units

FLEET_CARRIER = model.FLEET  # the own fleet's carrier code on shipments ("fleet")
FLEET_SERVICE = "van"
PLAN_STATUSES = ("draft",)  # what a batch plan may still allocate
SIMULATION_EXCLUDED = ("voided", "failed", "cancelled")  # a past day's what-if uses every real shipment
MAX_PACKAGES = 10_000


@dataclass
class PackageMeta:
    """What the plan needs about a package beyond the model: its shipment and where its options came from."""

    reference: str
    rate_ids: dict[str, str] = field(default_factory=dict)  # "carrier/service" -> rate id
    approximate: bool = False  # the location came from the postal code fallback


@dataclass
class DayInput:
    """A day's packages, their partner options and what was left out (with why)."""

    depot_id: str
    day: date
    currency: str
    packages: list[model.Package]
    options: dict[str, tuple[model.PartnerOption, ...]]
    meta: dict[str, PackageMeta]
    skipped: list[dict[str, str]]

    def problem(
        self, depot: tables.Depot, vehicles: Sequence[model.Vehicle], rule_set: model.RuleSet
    ) -> model.Problem:
        return model.Problem(
            depot=fleet.model_depot(depot),
            vehicles=tuple(vehicles),
            packages=tuple(self.packages),
            options=dict(self.options),
            rules=rule_set,
            currency=self.currency,
            distance_model="haversine",
            road_factor=Decimal(depot.road_factor),
        )


def day_bounds(depot: tables.Depot, day: date) -> tuple[datetime, datetime]:
    """Return the UTC instants where a depot's local day starts and ends."""
    tz = ZoneInfo(depot.timezone)
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def local_instant(depot: tables.Depot, day: date, minute: int) -> datetime:
    """Return the UTC instant of ``minute`` minutes after the depot's local midnight of ``day``."""
    tz = ZoneInfo(depot.timezone)
    return (datetime.combine(day, time(0), tzinfo=tz) + timedelta(minutes=minute)).astimezone(UTC)


def fallback_location(depot: tables.Depot, country: str, postal_code: str) -> model.Location:
    """A stable stand-in location from the postal code, for addresses without coordinates.

    Not a geocoder: codes sharing their first three characters land in the same area (2-40 km
    from the depot), each full code at a fixed point within 2.5 km of that area's centre. Plans
    mark such packages ``approximate_location`` so ops know their routes are rough.
    """

    def unit(text: str, salt: str) -> float:
        digest = hashlib.sha256(f"{salt}:{text}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    code = postal_code.replace(" ", "").upper()
    area = f"{country}:{code[:3]}"
    angle, radius = unit(area, "angle") * 2 * math.pi, 2 + unit(area, "radius") * 38
    sub_angle, sub_radius = unit(code, "angle") * 2 * math.pi, unit(code, "radius") * 2.5
    east = radius * math.cos(angle) + sub_radius * math.cos(sub_angle)
    north = radius * math.sin(angle) + sub_radius * math.sin(sub_angle)
    lat0 = float(depot.latitude)
    lat = lat0 + north / 110.574
    lon = float(depot.longitude) + east / (111.320 * max(0.01, math.cos(math.radians(lat0))))
    return model.Location(round(lon, 6), round(lat, 6))


def _flag(meta: dict[str, Any], key: str) -> bool:
    return str(meta.get(key, "")).strip().lower() in ("1", "true", "yes", "y")


def _window(meta: dict[str, Any]) -> model.TimeWindow | None:
    raw = str(meta.get("delivery_window") or "").strip()
    if not raw:
        return None
    try:
        start, end = raw.split("-")
        return model.TimeWindow(fleet.minutes(start.strip(), "w"), fleet.minutes(end.strip(), "w"))
    except (ValueError, Problem, model.ModelError):
        return None


def eta_model(session: Session, settings: Mapping[str, Any] | None, tenant_id: str) -> eta.Model | None:
    """Return the delivery-time model the tenant's options are read with, or None (see module doc)."""
    chosen = predictions.current(session, settings or {}, tenant_id)
    return None if chosen is None else chosen[1]


def on_time_probability(
    model_: eta.Model | None,
    shipment: models.Shipment,
    carrier: str,
    service: str,
    day: date,
    carrier_estimate: date | None,
) -> float | None:
    """Return the chance a partner delivers a shipment handed over on ``day`` by its promise date."""
    if model_ is None or shipment.promise_date is None:
        return None
    lane = eta.lane(shipment.origin.country_code, shipment.destination.country_code)
    predicted = eta.predict(
        model_, carrier, service, lane, day, carrier_estimate=carrier_estimate, promise=shipment.promise_date
    )
    return None if predicted is None else predicted.on_time_probability


def package_for(
    shipment: models.Shipment,
    depot: tables.Depot,
    day: date,
    currency: str,
    tenant_label: str,
    rate_rows: Sequence[dict[str, Any]],
    snapshot: rating_tables.ShipmentQuoteSnapshot | None,
    *,
    eta_model: eta.Model | None = None,
) -> tuple[model.Package, tuple[model.PartnerOption, ...], PackageMeta, list[str]]:
    """Build one package and its partner options from a shipment; also return notes on dropped rates.

    With ``eta_model`` each option gets its on-time probability (``on_time_probability``).
    """
    meta = shipment.metadata_ or {}
    dest = shipment.destination
    lat, lon = dest.latitude, dest.longitude
    approximate = lat is None or lon is None
    if lat is None or lon is None:
        # The postal code's centroid from the embedded geocoder (US ZIPs), else a stable stand-in.
        point = geocoding.postal_point(dest.country_code, dest.postal_code or "")
        location = (
            model.Location(point.longitude, point.latitude)
            if point is not None
            else fallback_location(depot, dest.country_code, dest.postal_code or "")
        )
    else:
        location = model.Location(float(lon), float(lat))
    weight = volume = Decimal(0)
    dims: tuple[Decimal, Decimal, Decimal] | None = None
    value_sum: Decimal | None = Decimal(0)
    for p in shipment.parcels:
        weight += units.to_kg(Decimal(p.weight), p.weight_unit)
        sides = tuple(units.to_cm(Decimal(x), p.dimension_unit) for x in (p.length, p.width, p.height))
        volume += sides[0] * sides[1] * sides[2] / Decimal(1_000_000)
        if dims is None or max(sides) > max(dims):
            dims = (sides[0], sides[1], sides[2])
        if value_sum is not None:
            if p.declared_value_minor is not None and p.declared_value_currency == currency:
                value_sum += money.Money.from_minor(p.declared_value_minor, currency).amount
            elif p.declared_value_minor is not None:
                value_sum = None
    tags = _tags(meta)
    promise_days = None if shipment.promise_date is None else max(0, (shipment.promise_date - day).days)
    pkg = model.Package(
        id=shipment.id,
        location=location,
        weight_kg=weight.quantize(Decimal("0.001")),
        volume_m3=volume.quantize(Decimal("0.000001")),
        window=_window(meta),
        promise_days=promise_days,
        service_level=shipment.service_level or "standard",
        group=meta.get("ship_together") or meta.get("group") or None,
        hazmat=_flag(meta, "hazmat"),
        fragile=_flag(meta, "fragile") or "fragile" in tags,
        value=money.Money(value_sum, currency) if value_sum else None,
        tags=tags,
        tenant=meta.get("tenant") or tenant_label,
        postal_code=(dest.postal_code or "").replace(" ", "").upper() or None,
        zone=meta.get("zone") or None,
        dims_cm=dims,
    )
    notes: list[str] = []
    found: dict[tuple[str, str], tuple[model.PartnerOption, str]] = {}
    for r in rate_rows:
        carrier = r["carrier"]
        # The own fleet's rate card estimates what the vans cost, not a partner offer; a rate no
        # enabled adapter can sell (``purchasable`` false) is never assigned.
        if carrier == FLEET_CARRIER or r.get("purchasable") is False:
            continue
        cost = r["total_cost"]
        if cost["currency"] != currency:
            notes.append(f"{carrier}/{r['service_code']} quoted in {cost['currency']}, plan in {currency}")
            continue
        eta = r.get("estimated_delivery")
        eta_day = date.fromisoformat(str(eta)) if eta else None
        opt = model.PartnerOption(
            carrier=carrier,
            service=r["service_code"],
            cost=money.Money(Decimal(str(cost["amount"])), currency),
            transit_days=None if eta_day is None else max(0, (eta_day - day).days),
            meets_promise=shipment.promise_date is None
            or (eta_day is not None and eta_day <= shipment.promise_date),
            on_time_probability=on_time_probability(
                eta_model, shipment, carrier, r["service_code"], day, eta_day
            ),
        )
        found[(carrier, opt.service)] = (opt, r.get("id") or "")
    if snapshot is not None and snapshot.carrier != FLEET_CARRIER:
        if snapshot.currency == currency:
            frozen = model.PartnerOption(
                carrier=snapshot.carrier,
                service=snapshot.service_code,
                cost=money.Money.from_minor(snapshot.total_cost_minor, currency),
                transit_days=None
                if snapshot.estimated_delivery is None
                else max(0, (snapshot.estimated_delivery - day).days),
                on_time_probability=on_time_probability(
                    eta_model,
                    shipment,
                    snapshot.carrier,
                    snapshot.service_code,
                    day,
                    snapshot.estimated_delivery,
                ),
            )
            found[(snapshot.carrier, snapshot.service_code)] = (frozen, snapshot.rate_id)
        else:
            notes.append(f"frozen rate in {snapshot.currency}, plan in {currency}")
    options = tuple(o for o, _ in found.values())
    info = PackageMeta(
        reference=shipment.reference,
        rate_ids={f"{c}/{s}": rid for (c, s), (_, rid) in found.items() if rid},
        approximate=approximate,
    )
    return pkg, options, info, notes


def _km(a: model.Location, b: model.Location) -> float:
    lat1, lat2 = math.radians(a.y), math.radians(b.y)
    dlat, dlon = lat2 - lat1, math.radians(b.x - a.x)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def depot_for(depots: Sequence[tables.Depot], address: models.Address) -> tables.Depot:
    """Return the depot that serves an address: the nearest one; without coordinates, the first."""
    if len(depots) == 1 or address.latitude is None or address.longitude is None:
        return depots[0]
    here = model.Location(float(address.longitude), float(address.latitude))
    return min(depots, key=lambda d: _km(here, model.Location(float(d.longitude), float(d.latitude))))


def _tags(meta: Mapping[str, Any]) -> frozenset[str]:
    """A shipment's tags: its metadata ``tags``, comma-separated."""
    return frozenset(t.strip() for t in str(meta.get("tags", "")).split(",") if t.strip())


def _returning(shipment: models.Shipment) -> bool:
    """Whether an exception action sent the parcel back to its sender (``rules.RETURN_TO_SENDER_TAG``)."""
    return rules.RETURN_TO_SENDER_TAG in _tags(shipment.metadata_ or {})


def build_day(
    session: Session,
    tenant_id: str,
    depot: tables.Depot,
    day: date,
    *,
    statuses: Sequence[str] | None = PLAN_STATUSES,
    excluded: Sequence[str] = (),
    tenants: Sequence[str] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> DayInput:
    """Load the tenant's shipments of a local day that this depot serves, as packages with options.

    ``settings`` (the gateway's; None: defaults) choose the delivery-time model with
    ``gateway.predictions.service.current``: the options' on-time probabilities come from it.
    """
    start, end = day_bounds(depot, day)
    query = (
        sa.select(models.Shipment)
        .where(
            models.Shipment.tenant_id == tenant_id,
            models.Shipment.created_at >= start,
            models.Shipment.created_at < end,
            # A return starts at the customer: not a package of the depot's routes (docs/RETURNS.md).
            models.Shipment.is_return.is_(False),
        )
        .order_by(models.Shipment.created_at, models.Shipment.id)
        .limit(MAX_PACKAGES + 1)
    )
    if statuses is not None:
        query = query.where(models.Shipment.status.in_(list(statuses)))
    if excluded:
        query = query.where(models.Shipment.status.not_in(list(excluded)))
    shipments = [s for s in session.execute(query).unique().scalars() if not _returning(s)]
    if len(shipments) > MAX_PACKAGES:
        raise Problem(
            "validation-error",
            f"More than {MAX_PACKAGES} shipments on {day.isoformat()}; plan a depot at a time.",
            errors={"day": [f"more than {MAX_PACKAGES} shipments"]},
        )
    depots = fleet.list_depots(session, tenant_id)
    if len(depots) > 1:
        shipments = [s for s in shipments if depot_for(depots, s.destination).id == depot.id]
    tenant = session.get(models.Tenant, tenant_id)
    label = tenant.slug if tenant is not None else tenant_id
    ids = [s.id for s in shipments]
    rates = _loading.rates_for(session, ids)
    snapshots = _loading.snapshots_for(session, ids)
    predicting = eta_model(session, settings, tenant_id) if shipments else None
    out = DayInput(depot.id, day, depot.currency, [], {}, {}, [])
    wanted = set(tenants) if tenants else None
    for s in shipments:
        pkg, opts, info, notes = package_for(
            s,
            depot,
            day,
            depot.currency,
            label,
            rates.get(s.id, []),
            snapshots.get(s.id),
            eta_model=predicting,
        )
        if wanted is not None and pkg.tenant not in wanted:
            continue
        out.packages.append(pkg)
        out.options[pkg.id] = opts
        out.meta[pkg.id] = info
        if notes and not opts:
            out.skipped.append({"shipment_id": s.id, "reason": "; ".join(notes)})
    return out
