"""Allocation use cases: rule sets, building a day's problem, batch plans, what-ifs, online decisions.

The pure engine (``allocation``) decides; this module feeds it from the database and stores what
it said. A day's ``model.Problem`` is built from the tenant's shipments created that day (in the
depot's time zone): one package per shipment, partner options from the rates the shipment was
quoted at creation (``shipment_rate_results``, else its ``rate_quotes``) with a frozen rate
(``shipment_quote_snapshots``) replacing its service's quote, the depot and active vans, and the
active rule sets. Batch plans and simulations run as RQ jobs through the outbox; online
decisions run in the booking request by cheap insertion against the day's plan.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from allocation import baselines, model, online, rules, solver
from gateway import outbox
from gateway.db import allocation as tables
from gateway.db import models
from gateway.db import rating as rating_tables
from gateway.db.types import new_id, utcnow
from gateway.errors import Problem
from gateway.services import fleet
from schemas import money, units

if TYPE_CHECKING:
    from gateway.bootstrap import Container

log = logging.getLogger(__name__)

QUEUE = "allocation"
PLAN_JOB = "gateway.jobs_allocation.run_plan"
SIMULATION_JOB = "gateway.jobs_allocation.run_simulation"
FLEET_CARRIER = model.FLEET  # the own fleet's carrier code on shipments ("fleet")
FLEET_SERVICE = "van"
# Rate cards that price the own fleet are estimates of what the vans cost, not partner offers.
FLEET_RATE_CARRIERS = frozenset({"fleet", "own_fleet"})
PLAN_STATUSES = ("draft",)  # what a batch plan may still allocate
SIMULATION_EXCLUDED = ("voided", "failed")  # a past day's what-if uses every real shipment
MAX_PACKAGES = 10_000
_SOLVE_START, _SOLVE_SPAN = 20, 70  # progress while solving runs from 20 % to 90 %


# --- rule sets --------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Turn the request's exact Decimals back into JSON numbers, as the rule schema expects."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def rule_errors(document: Any) -> dict[str, list[str]]:
    """Return a rule document's JSON Schema problems as dotted-path field errors."""
    out: dict[str, list[str]] = defaultdict(list)
    for line in rules.validate(document):
        where, _, message = line.partition(": ")
        out["_schema" if where == "(document)" else where.replace("/", ".")].append(message)
    return dict(out)


def _document(name: str, rule_list: list[Any], version: int) -> dict[str, Any]:
    return {"version": version, "name": name, "rules": _plain(rule_list)}


def _validate_rule_set(
    session: Session, tenant_id: str, name: str, rule_list: list[Any], version: int, own_id: str | None
) -> dict[str, Any]:
    doc = _document(name, rule_list, version)
    errors = rule_errors(doc)
    if errors:
        raise Problem("validation-error", "The rule set is not valid; see errors.", errors=errors)
    taken: dict[str, str] = {}
    for rs, ver in _active_sets(session, tenant_id):
        if rs.id != own_id:
            taken.update({r["id"]: rs.id for r in ver.document["rules"]})
    clashes = {
        f"rules.{i}.id": [f"rule id {r['id']!r} is already used by active rule set {taken[r['id']]}"]
        for i, r in enumerate(doc["rules"])
        if r["id"] in taken
    }
    if clashes:
        raise Problem("validation-error", "Rule ids must be unique across active rule sets.", errors=clashes)
    return doc


def _active_sets(session: Session, tenant_id: str) -> list[tuple[tables.RuleSet, tables.RuleSetVersion]]:
    rows = session.execute(
        sa.select(tables.RuleSet, tables.RuleSetVersion)
        .join(
            tables.RuleSetVersion,
            sa.and_(
                tables.RuleSetVersion.rule_set_id == tables.RuleSet.id,
                tables.RuleSetVersion.version == tables.RuleSet.current_version,
            ),
        )
        .where(tables.RuleSet.tenant_id == tenant_id, tables.RuleSet.active.is_(True))
        .order_by(tables.RuleSet.created_at, tables.RuleSet.id)
    ).all()
    return [(r[0], r[1]) for r in rows]


_PARSED: OrderedDict[tuple[str, int], tuple[model.Rule, ...]] = OrderedDict()
_PARSED_LOCK = threading.Lock()


def _parsed(rs: tables.RuleSet, version: tables.RuleSetVersion) -> tuple[model.Rule, ...]:
    """Return a stored version's rules (cached: versions never change once written)."""
    key = (rs.id, version.version)
    with _PARSED_LOCK:
        hit = _PARSED.get(key)
        if hit is not None:
            return hit
    parsed = rules.parse(version.document).rules
    with _PARSED_LOCK:
        _PARSED[key] = parsed
        while len(_PARSED) > 256:
            _PARSED.popitem(last=False)
    return parsed


def active_rules(session: Session, tenant_id: str) -> tuple[model.RuleSet, list[dict[str, Any]]]:
    """Return the tenant's active rules as one rule set, and which rule set versions made it."""
    sets = _active_sets(session, tenant_id)
    merged = tuple(r for rs, v in sets for r in _parsed(rs, v))
    return model.RuleSet(version=1, rules=merged, name="active"), [
        {"id": rs.id, "name": rs.name, "version": v.version} for rs, v in sets
    ]


def combine(documents: Iterable[dict[str, Any]]) -> model.RuleSet:
    """Join rule documents, in order, into one rule set."""
    merged: list[model.Rule] = []
    for doc in documents:
        merged.extend(rules.parse(doc).rules)
    return model.RuleSet(version=1, rules=tuple(merged), name="active")


def _rule_changes(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, Any]:
    old = {r["id"]: r for r in before}
    new = {r["id"]: r for r in after}
    return {
        "added": sorted(set(new) - set(old)),
        "removed": sorted(set(old) - set(new)),
        "changed": sorted(i for i in set(old) & set(new) if old[i] != new[i]),
    }


def get_rule_set(session: Session, tenant_id: str, rule_set_id: str) -> tables.RuleSet:
    row = session.execute(
        sa.select(tables.RuleSet).where(
            tables.RuleSet.id == rule_set_id, tables.RuleSet.tenant_id == tenant_id
        )
    ).scalar_one_or_none()
    if row is None:
        raise Problem("not-found", f"No rule set {rule_set_id!r}.")
    return row


def rule_set_version(
    session: Session, rs: tables.RuleSet, version: int | None = None
) -> tables.RuleSetVersion:
    row = session.execute(
        sa.select(tables.RuleSetVersion).where(
            tables.RuleSetVersion.rule_set_id == rs.id,
            tables.RuleSetVersion.version == (version or rs.current_version),
        )
    ).scalar_one_or_none()
    if row is None:
        raise Problem("not-found", f"Rule set {rs.id} has no version {version}.")
    return row


def rule_set_versions(session: Session, tenant_id: str, rule_set_id: str) -> list[tables.RuleSetVersion]:
    rs = get_rule_set(session, tenant_id, rule_set_id)
    return list(
        session.execute(
            sa.select(tables.RuleSetVersion)
            .where(tables.RuleSetVersion.rule_set_id == rs.id)
            .order_by(tables.RuleSetVersion.version.desc())
        ).scalars()
    )


def list_rule_sets(
    session: Session, tenant_id: str, *, include_inactive: bool = False
) -> list[tables.RuleSet]:
    query = sa.select(tables.RuleSet).where(tables.RuleSet.tenant_id == tenant_id)
    if not include_inactive:
        query = query.where(tables.RuleSet.active.is_(True))
    return list(session.execute(query.order_by(tables.RuleSet.created_at, tables.RuleSet.id)).scalars())


def create_rule_set(
    session: Session, tenant_id: str, actor: str | None, data: dict[str, Any]
) -> tuple[tables.RuleSet, tables.RuleSetVersion]:
    """Create a rule set at version 1 (validated, audited)."""
    doc = _validate_rule_set(session, tenant_id, data["name"], data["rules"], 1, None)
    now = utcnow()
    rs = tables.RuleSet(
        id=new_id("rls"),
        tenant_id=tenant_id,
        name=data["name"],
        active=True,
        current_version=1,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(rs)
    session.flush()
    version = tables.RuleSetVersion(
        rule_set_id=rs.id, tenant_id=tenant_id, version=1, document=doc, created_by=actor, created_at=now
    )
    session.add(version)
    session.flush()
    fleet.audit(
        session,
        tenant_id,
        actor,
        "rule_set",
        rs.id,
        "create",
        {"name": [None, rs.name], **_rule_changes([], doc["rules"])},
        1,
    )
    return rs, version


def update_rule_set(
    session: Session, tenant_id: str, actor: str | None, rule_set_id: str, data: dict[str, Any]
) -> tuple[tables.RuleSet, tables.RuleSetVersion]:
    """Write a new version of a rule set (never in place); reactivates a deactivated set."""
    rs = get_rule_set(session, tenant_id, rule_set_id)
    base = data.get("base_version")
    if base is not None and base != rs.current_version:
        raise Problem(
            "conflict",
            f"Rule set {rs.id} is at version {rs.current_version}, not {base}; read it again and retry.",
        )
    previous = rule_set_version(session, rs)
    name = data.get("name") or rs.name
    doc = _validate_rule_set(session, tenant_id, name, data["rules"], rs.current_version + 1, rs.id)
    now = utcnow()
    changes: dict[str, Any] = _rule_changes(previous.document["rules"], doc["rules"])
    if name != rs.name:
        changes["name"] = [rs.name, name]
    if not rs.active:
        changes["active"] = [False, True]
    rs.current_version += 1
    rs.name = name
    rs.active = True
    rs.deactivated_at = None
    rs.updated_at = now
    version = tables.RuleSetVersion(
        rule_set_id=rs.id,
        tenant_id=tenant_id,
        version=rs.current_version,
        document=doc,
        created_by=actor,
        created_at=now,
    )
    session.add(version)
    session.flush()
    fleet.audit(session, tenant_id, actor, "rule_set", rs.id, "update", changes, rs.current_version)
    return rs, version


def deactivate_rule_set(
    session: Session, tenant_id: str, actor: str | None, rule_set_id: str
) -> tables.RuleSet:
    """Stop using a rule set in plans; its versions stay readable (audited)."""
    rs = get_rule_set(session, tenant_id, rule_set_id)
    if rs.active:
        rs.active = False
        rs.deactivated_at = rs.updated_at = utcnow()
        session.flush()
        fleet.audit(
            session,
            tenant_id,
            actor,
            "rule_set",
            rs.id,
            "deactivate",
            {"active": [True, False]},
            rs.current_version,
        )
    return rs


def check_rules(session: Session, tenant_id: str) -> dict[str, Any]:
    """Evaluate the active rules against the latest day of shipments: conflicts and dead ends."""
    depots = fleet.list_depots(session, tenant_id)
    if not depots:
        return {"checked_against": None, "issues": []}
    depot = depots[0]
    latest = session.execute(
        sa.select(sa.func.max(models.Shipment.created_at)).where(models.Shipment.tenant_id == tenant_id)
    ).scalar_one_or_none()
    if latest is None:
        return {"checked_against": None, "issues": []}
    day = latest.astimezone(ZoneInfo(depot.timezone)).date()
    rule_set, _ = active_rules(session, tenant_id)
    built = build_day(session, tenant_id, depot, day, statuses=None, excluded=SIMULATION_EXCLUDED)
    problem = built.problem(depot, _vehicles(session, tenant_id, depot), rule_set)
    ev = rules.evaluate(problem)
    return {
        "checked_against": {"depot_id": depot.id, "day": day, "packages": len(problem.packages)},
        "issues": [_issue(i) for i in ev.issues],
    }


def _issue(i: model.Issue) -> dict[str, Any]:
    return {
        "kind": i.kind,
        "message": i.message,
        "rule_ids": list(i.rule_ids),
        "shipment_ids": list(i.package_ids[:200]),
        "shipment_count": len(i.package_ids),
    }


def present_rule_set(rs: tables.RuleSet, version: tables.RuleSetVersion) -> dict[str, Any]:
    return {
        "id": rs.id,
        "name": rs.name,
        "active": rs.active,
        "version": version.version,
        "current_version": rs.current_version,
        "rules": version.document["rules"],
        "document": version.document,
        "created_by": version.created_by,
        "created_at": rs.created_at,
        "updated_at": rs.updated_at,
        "version_created_at": version.created_at,
        "deactivated_at": rs.deactivated_at,
    }


# --- building a day ---------------------------------------------------------------------------


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


def package_for(
    shipment: models.Shipment,
    depot: tables.Depot,
    day: date,
    currency: str,
    tenant_label: str,
    rate_rows: Sequence[dict[str, Any]],
    snapshot: rating_tables.ShipmentQuoteSnapshot | None,
) -> tuple[model.Package, tuple[model.PartnerOption, ...], PackageMeta, list[str]]:
    """Build one package and its partner options from a shipment; also return notes on dropped rates."""
    meta = shipment.metadata_ or {}
    dest = shipment.destination
    approximate = dest.latitude is None or dest.longitude is None
    if approximate:
        location = fallback_location(depot, dest.country_code, dest.postal_code or "")
    else:
        location = model.Location(float(dest.longitude), float(dest.latitude))
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
    tags = frozenset(t.strip() for t in str(meta.get("tags", "")).split(",") if t.strip())
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
        if carrier in FLEET_RATE_CARRIERS:
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
        )
        found[(carrier, opt.service)] = (opt, r.get("id") or "")
    if snapshot is not None and snapshot.carrier not in FLEET_RATE_CARRIERS:
        if snapshot.currency == currency:
            frozen = model.PartnerOption(
                carrier=snapshot.carrier,
                service=snapshot.service_code,
                cost=money.Money.from_minor(snapshot.total_cost_minor, currency),
                transit_days=None
                if snapshot.estimated_delivery is None
                else max(0, (snapshot.estimated_delivery - day).days),
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


def _chunks(ids: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def _rates_for(session: Session, shipment_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for chunk in _chunks(shipment_ids):
        for row in session.execute(
            sa.select(rating_tables.ShipmentRateResult).where(
                rating_tables.ShipmentRateResult.shipment_id.in_(chunk)
            )
        ).scalars():
            out[row.shipment_id] = list((row.result or {}).get("rates") or [])
    missing = [i for i in shipment_ids if i not in out]
    for chunk in _chunks(missing):
        for q in session.execute(
            sa.select(rating_tables.RateQuote)
            .where(rating_tables.RateQuote.shipment_id.in_(chunk))
            .order_by(rating_tables.RateQuote.created_at)
        ).scalars():
            out.setdefault(q.shipment_id or "", []).append(
                {
                    "id": q.id,
                    "carrier": q.carrier,
                    "service_code": q.service_code,
                    "total_cost": {
                        "amount": str(money.Money.from_minor(q.total_cost_minor, q.currency).amount),
                        "currency": q.currency,
                    },
                    "estimated_delivery": q.estimated_delivery.isoformat() if q.estimated_delivery else None,
                }
            )
    return out


def _snapshots_for(
    session: Session, shipment_ids: Sequence[str]
) -> dict[str, rating_tables.ShipmentQuoteSnapshot]:
    out: dict[str, rating_tables.ShipmentQuoteSnapshot] = {}
    for chunk in _chunks(shipment_ids):
        for row in session.execute(
            sa.select(rating_tables.ShipmentQuoteSnapshot).where(
                rating_tables.ShipmentQuoteSnapshot.shipment_id.in_(chunk)
            )
        ).scalars():
            out[row.shipment_id] = row
    return out


def build_day(
    session: Session,
    tenant_id: str,
    depot: tables.Depot,
    day: date,
    *,
    statuses: Sequence[str] | None = PLAN_STATUSES,
    excluded: Sequence[str] = (),
    tenants: Sequence[str] | None = None,
) -> DayInput:
    """Load the tenant's shipments of a local day that this depot serves, as packages with options."""
    start, end = day_bounds(depot, day)
    query = (
        sa.select(models.Shipment)
        .where(
            models.Shipment.tenant_id == tenant_id,
            models.Shipment.created_at >= start,
            models.Shipment.created_at < end,
        )
        .order_by(models.Shipment.created_at, models.Shipment.id)
        .limit(MAX_PACKAGES + 1)
    )
    if statuses is not None:
        query = query.where(models.Shipment.status.in_(list(statuses)))
    if excluded:
        query = query.where(models.Shipment.status.not_in(list(excluded)))
    shipments = list(session.execute(query).unique().scalars())
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
    rates = _rates_for(session, ids)
    snapshots = _snapshots_for(session, ids)
    out = DayInput(depot.id, day, depot.currency, [], {}, {}, [])
    wanted = set(tenants) if tenants else None
    for s in shipments:
        pkg, opts, info, notes = package_for(
            s, depot, day, depot.currency, label, rates.get(s.id, []), snapshots.get(s.id)
        )
        if wanted is not None and pkg.tenant not in wanted:
            continue
        out.packages.append(pkg)
        out.options[pkg.id] = opts
        out.meta[pkg.id] = info
        if notes and not opts:
            out.skipped.append({"shipment_id": s.id, "reason": "; ".join(notes)})
    return out


def _vehicles(session: Session, tenant_id: str, depot: tables.Depot) -> list[model.Vehicle]:
    return [fleet.model_vehicle(v) for v in fleet.list_vehicles(session, tenant_id, depot_id=depot.id)]


def _fleet_snapshot(session: Session, tenant_id: str, depot: tables.Depot) -> dict[str, Any]:
    vans = fleet.list_vehicles(session, tenant_id, depot_id=depot.id)
    return {
        "depot": {"id": depot.id, "version": depot.version, "name": depot.name},
        "vehicles": [{"id": v.id, "name": v.name, "version": v.version} for v in vans],
    }


# --- compact problem storage (for online decisions against a plan) ----------------------------


def _pack(pkg: model.Package) -> list[Any]:
    window = None if pkg.window is None else [pkg.window.start, pkg.window.end]
    return [
        pkg.id,
        pkg.location.x,
        pkg.location.y,
        str(pkg.weight_kg),
        str(pkg.volume_m3),
        window,
        pkg.service_minutes,
    ]


def _unpack(row: list[Any]) -> model.Package:
    pid, x, y, kg, m3, window, svc = row
    return model.Package(
        id=pid,
        location=model.Location(x, y),
        weight_kg=Decimal(kg),
        volume_m3=Decimal(m3),
        window=None if window is None else model.TimeWindow(window[0], window[1]),
        service_minutes=svc,
    )


@dataclass(frozen=True)
class Dispatch:
    """A finished plan as online decisions need it: packages, stops per van, packages per partner."""

    packages: tuple[model.Package, ...]
    routes: dict[str, tuple[str, ...]]
    handovers: dict[str, tuple[str, ...]]


_DISPATCH: OrderedDict[str, Dispatch] = OrderedDict()
_DISPATCH_LOCK = threading.Lock()


def _dispatch(session: Session, plan_id: str) -> Dispatch:
    """Return a finished plan's dispatch (cached by id: a plan's problem and routes never change)."""
    with _DISPATCH_LOCK:
        cached = _DISPATCH.get(plan_id)
        if cached is not None:
            _DISPATCH.move_to_end(plan_id)
            return cached
    stored = session.execute(
        sa.select(tables.PlanRun.problem).where(tables.PlanRun.id == plan_id)
    ).scalar_one()
    stored = stored or {}
    made = Dispatch(
        packages=tuple(_unpack(r) for r in stored.get("packages", [])),
        routes={k: tuple(v) for k, v in (stored.get("routes") or {}).items()},
        handovers={k: tuple(v) for k, v in (stored.get("handovers") or {}).items()},
    )
    with _DISPATCH_LOCK:
        _DISPATCH[plan_id] = made
        while len(_DISPATCH) > 16:
            _DISPATCH.popitem(last=False)
    return made


# --- plans and simulations: requests ----------------------------------------------------------


def _pick_depot(session: Session, tenant_id: str, depot_id: str | None) -> tables.Depot:
    if depot_id:
        try:
            depot = fleet.get_depot(session, tenant_id, depot_id)
        except Problem:
            raise Problem("validation-error", errors={"depot_id": ["no such depot"]}) from None
        if not depot.active:
            raise Problem("validation-error", errors={"depot_id": ["the depot is deactivated"]})
        return depot
    depots = fleet.list_depots(session, tenant_id)
    if not depots:
        raise Problem(
            "validation-error",
            "Configure a depot and its vans first (POST /v1/allocation/depots).",
            errors={"depot_id": ["no active depot"]},
        )
    if len(depots) > 1:
        raise Problem("validation-error", errors={"depot_id": ["required when there are several depots"]})
    return depots[0]


def _options(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "time_limit_s": str(data.get("time_limit_s") or Decimal(10)),
        "seed": int(data.get("seed") or 0),
        "engine": data.get("engine") or solver.DEFAULT_ENGINE,
        "max_iterations": data.get("max_iterations"),
    }


def request_plan(session: Session, tenant_id: str, actor: str | None, data: dict[str, Any]) -> tables.PlanRun:
    """Record a batch plan for a depot's day and queue its job (through the outbox)."""
    depot = _pick_depot(session, tenant_id, data.get("depot_id"))
    row = tables.PlanRun(
        id=new_id("alp"),
        tenant_id=tenant_id,
        depot_id=depot.id,
        kind="plan",
        day=data["day"],
        state="queued",
        stage="queued",
        progress=0,
        request={**_options(data), "tenants": data.get("tenants")},
        created_by=actor,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    outbox.add(session, PLAN_JOB, row.id, queue=QUEUE)
    return row


def _candidate_vehicles(depot: tables.Depot, raw: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, v in enumerate(raw):
        state = {
            "shift_start": "08:00",
            "shift_end": "18:00",
            **{k: (str(x) if isinstance(x, Decimal) else x) for k, x in v.items()},
        }
        try:
            fleet.vehicle_from_state(f"sim-{i + 1}", state, depot.currency)
        except Problem as exc:
            errors = {f"vehicles.{i}.{k}": msgs for k, msgs in (exc.errors or {}).items()}
            raise Problem("validation-error", exc.detail, errors=errors) from None
        except model.ModelError as exc:
            raise Problem("validation-error", str(exc), errors={f"vehicles.{i}": [str(exc)]}) from None
        out.append({"id": v.get("id") or f"sim-{i + 1}", **state})
    return out


def request_simulation(
    session: Session, tenant_id: str, actor: str | None, data: dict[str, Any]
) -> tables.PlanRun:
    """Record a what-if over a day (candidate rules and/or fleet) and queue it; nothing is applied."""
    if data.get("rules") is None and data.get("vehicles") is None:
        raise Problem(
            "validation-error",
            "Give candidate rules, vehicles or both.",
            errors={"_schema": ["give rules and/or vehicles to compare"]},
        )
    depot = _pick_depot(session, tenant_id, data.get("depot_id"))
    request: dict[str, Any] = {**_options(data), "tenants": data.get("tenants")}
    if data.get("rules") is not None:
        doc = _document("candidate", data["rules"], 1)
        errors = rule_errors(doc)
        if errors:
            raise Problem("validation-error", "The candidate rules are not valid; see errors.", errors=errors)
        request["rules"] = doc
    if data.get("vehicles") is not None:
        request["vehicles"] = _candidate_vehicles(depot, data["vehicles"])
    row = tables.PlanRun(
        id=new_id("asm"),
        tenant_id=tenant_id,
        depot_id=depot.id,
        kind="simulation",
        day=data["day"],
        state="queued",
        stage="queued",
        progress=0,
        request=request,
        created_by=actor,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    outbox.add(session, SIMULATION_JOB, row.id, queue=QUEUE)
    return row


def get_run(session: Session, tenant_id: str, run_id: str, kind: str) -> tables.PlanRun:
    row = session.execute(
        sa.select(tables.PlanRun).where(
            tables.PlanRun.id == run_id, tables.PlanRun.tenant_id == tenant_id, tables.PlanRun.kind == kind
        )
    ).scalar_one_or_none()
    if row is None:
        raise Problem("not-found", f"No {kind} {run_id!r}.")
    return row


def list_runs(
    session: Session, tenant_id: str, kind: str, *, day: date | None = None, limit: int = 50
) -> list[tables.PlanRun]:
    query = sa.select(tables.PlanRun).where(
        tables.PlanRun.tenant_id == tenant_id, tables.PlanRun.kind == kind
    )
    if day is not None:
        query = query.where(tables.PlanRun.day == day)
    query = query.order_by(tables.PlanRun.created_at.desc(), tables.PlanRun.id.desc()).limit(limit)
    return list(session.execute(query).scalars())


def progress_of(row: tables.PlanRun, now: datetime | None = None) -> int:
    """Return the progress in percent; while solving it follows the clock against the time limit."""
    if row.state == "running" and row.stage == "solving" and row.solve_started_at is not None:
        limit = float(row.request.get("time_limit_s") or 10)
        elapsed = ((now or utcnow()) - row.solve_started_at).total_seconds()
        return min(_SOLVE_START + _SOLVE_SPAN, _SOLVE_START + int(_SOLVE_SPAN * elapsed / max(limit, 0.1)))
    return row.progress


def present_run(row: tables.PlanRun) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "depot_id": row.depot_id,
        "day": row.day,
        "state": row.state,
        "stage": row.stage,
        "progress": progress_of(row),
        "options": {
            k: row.request.get(k) for k in ("time_limit_s", "seed", "engine", "max_iterations", "tenants")
        },
        "error": row.error,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "applied_at": row.applied_at,
        "result": row.result if row.state in ("done", "applied") else None,
    }


# --- plans and simulations: the jobs ----------------------------------------------------------


class _Stage:
    """Write a run's stage and progress in its own short transaction, and into the RQ job's meta."""

    def __init__(self, container: Container, run_id: str) -> None:
        self.container = container
        self.run_id = run_id

    def __call__(self, stage: str, progress: int, **values: Any) -> None:
        with self.container.sessions() as session:
            session.execute(
                sa.update(tables.PlanRun)
                .where(tables.PlanRun.id == self.run_id)
                .values(stage=stage, progress=progress, **values)
            )
            session.commit()
        try:
            from rq import get_current_job

            job = get_current_job()
            if job is not None:
                job.meta["allocation"] = {"id": self.run_id, "stage": stage, "progress": progress}
                job.save_meta()
        except Exception:  # progress in Redis is a convenience; the database row is the record
            log.debug("could not write job meta", exc_info=True)


def _solve_options(request: dict[str, Any]) -> model.SolveOptions:
    return model.SolveOptions(
        engine=request.get("engine") or solver.DEFAULT_ENGINE,
        time_limit_s=float(request.get("time_limit_s") or 10),
        seed=int(request.get("seed") or 0),
        max_iterations=request.get("max_iterations"),
    )


def _load(container: Container, run_id: str) -> tuple[tables.PlanRun, tables.Depot] | None:
    with container.sessions() as session:
        row = session.get(tables.PlanRun, run_id)
        if row is None or row.state in ("done", "failed", "applied"):
            return None  # a re-delivered job for a finished run does nothing
        depot = session.get(tables.Depot, row.depot_id)
        if depot is None:
            return None
        session.execute(
            sa.update(tables.PlanRun)
            .where(tables.PlanRun.id == run_id)
            .values(state="running", stage="loading", progress=5, started_at=utcnow(), error=None)
        )
        session.commit()
        return row, depot


def _fail(stage: _Stage, exc: Exception) -> None:
    log.warning("allocation run failed", extra={"run_id": stage.run_id, "error": str(exc)})
    stage("failed", 100, state="failed", error=str(exc)[:2000], finished_at=utcnow())


def run_plan(container: Container, run_id: str) -> str:
    """The batch plan job: build the day, solve, cost the rate-shopping baseline, store the result."""
    loaded = _load(container, run_id)
    if loaded is None:
        return "skipped"
    row, depot = loaded
    stage = _Stage(container, run_id)
    try:
        with container.sessions() as session:
            built = build_day(session, row.tenant_id, depot, row.day, tenants=row.request.get("tenants"))
            rule_set, used_rules = active_rules(session, row.tenant_id)
            vehicles = _vehicles(session, row.tenant_id, depot)
            fleet_used = _fleet_snapshot(session, row.tenant_id, depot)
        problem = built.problem(depot, vehicles, rule_set)
        stage("solving", _SOLVE_START, solve_started_at=utcnow())
        plan = solver.solve(problem, _solve_options(row.request))
        stage("baseline", 92)
        baseline = baselines.cheapest_partner(problem)
        result = plan_result(problem, plan, baseline, built, depot, fleet_used)
        result["configuration"] = {"rule_sets": used_rules, **fleet_used}
        packed = {
            "currency": problem.currency,
            "packages": [_pack(p) for p in problem.packages],
            "routes": {r.vehicle_id: [st.package_id for st in r.stops] for r in plan.routes},
            "handovers": {h.carrier: list(h.package_ids) for h in plan.handovers},
        }
    except (model.ModelError, rules.RulesError, solver.SolverError, Problem) as exc:
        _fail(stage, exc)
        return "failed"
    stage("done", 100, state="done", result=result, problem=packed, finished_at=utcnow())
    return "done"


def run_simulation(container: Container, run_id: str) -> str:
    """The what-if job: solve the day with the candidate and with the active configuration; compare."""
    loaded = _load(container, run_id)
    if loaded is None:
        return "skipped"
    row, depot = loaded
    stage = _Stage(container, run_id)
    request = row.request
    try:
        with container.sessions() as session:
            built = build_day(
                session,
                row.tenant_id,
                depot,
                row.day,
                statuses=None,
                excluded=SIMULATION_EXCLUDED,
                tenants=request.get("tenants"),
            )
            rule_set, used_rules = active_rules(session, row.tenant_id)
            vehicles = _vehicles(session, row.tenant_id, depot)
            current = _latest_plan(session, row.tenant_id, depot.id, row.day)
            current_summary = None
            if current is not None and current.result is not None:
                current_summary = {"plan_id": current.id, **current.result["summary"]}
        active = built.problem(depot, vehicles, rule_set)
        candidate = active
        if request.get("rules") is not None:
            candidate = replace(candidate, rules=combine([request["rules"]]))
        if request.get("vehicles") is not None:
            candidate = replace(
                candidate,
                vehicles=tuple(
                    fleet.vehicle_from_state(v["id"], v, depot.currency) for v in request["vehicles"]
                ),
            )
        # The time limit covers the whole what-if: half for each configuration, so the job stays
        # inside the outbox's job timeout like a plan does.
        options = replace(_solve_options(request), time_limit_s=_solve_options(request).time_limit_s / 2)
        stage("solving", _SOLVE_START, solve_started_at=utcnow())
        cand_plan = solver.solve(candidate, options)
        act_plan = solver.solve(active, options)
        stage("comparing", 95)
        cand = summarise(candidate, cand_plan)
        act = summarise(active, act_plan)
        delta = cand_plan.total_cost.amount - act_plan.total_cost.amount
        base = act_plan.total_cost.amount
        changed = [
            {"shipment_id": c.package_id, "active": a.assignee or None, "candidate": c.assignee or None}
            for c, a in zip(cand_plan.decisions, act_plan.decisions, strict=True)
            if c.assignee != a.assignee
        ]
        result = {
            "currency": active.currency,
            "packages": len(active.packages),
            "candidate": {**cand, "issues": [_issue(i) for i in cand_plan.issues]},
            "active": {**act, "issues": [_issue(i) for i in act_plan.issues]},
            "current_plan": current_summary,
            "difference": {
                "total_cost": _money(delta, active.currency),
                "percent": None if base == 0 else f"{delta / base * 100:.2f}",
                "cheaper": delta < 0,
            },
            "changed": changed[:1000],
            "changed_count": len(changed),
            "configuration": {
                "active_rule_sets": used_rules,
                "candidate_rules": request.get("rules") is not None,
                "candidate_vehicles": len(request["vehicles"])
                if request.get("vehicles") is not None
                else None,
            },
            "skipped": built.skipped,
        }
    except (model.ModelError, rules.RulesError, solver.SolverError, Problem) as exc:
        _fail(stage, exc)
        return "failed"
    stage("done", 100, state="done", result=result, finished_at=utcnow())
    return "done"


# --- results ----------------------------------------------------------------------------------


def _money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"amount": str(money.Money(amount, currency).rounded().amount), "currency": currency}


def _m(value: money.Money | None) -> dict[str, str] | None:
    return None if value is None else _money(value.amount, value.currency)


def summarise(problem: model.Problem, plan: model.Plan) -> dict[str, Any]:
    """Return a plan's comparable figures: costs, utilisation, missed promises, share per carrier."""
    cur = problem.currency
    n = len(problem.packages)
    vans = {v.id: v for v in problem.vehicles}
    used = [r for r in plan.routes if r.stops]
    cap_kg = sum((vans[r.vehicle_id].capacity_kg for r in used), Decimal(0))
    load_kg = sum((r.load_kg for r in used), Decimal(0))
    shift = sum((vans[r.vehicle_id].shift_end - vans[r.vehicle_id].shift_start for r in used), 0)
    on_road = sum((r.duration_minutes for r in used), 0)
    shares: dict[str, dict[str, Any]] = {}
    for d in plan.decisions:
        key = d.assignee or "unassigned"
        s = shares.setdefault(key, {"packages": 0, "cost": Decimal(0)})
        s["packages"] += 1
        s["cost"] += d.cost.amount if d.assignee != model.FLEET else Decimal(0)
    for r in used:
        shares.setdefault(model.FLEET, {"packages": 0, "cost": Decimal(0)})["cost"] += r.cost.amount
    return {
        "total_cost": _money(plan.total_cost.amount, cur),
        "fleet_cost": _money(plan.fleet_cost.amount, cur),
        "partner_cost": _money(plan.partner_cost.amount, cur),
        "cost_per_package": _money(plan.total_cost.amount / n if n else Decimal(0), cur),
        "packages": n,
        "fleet": {
            "vans_available": len(problem.vehicles),
            "vans_used": len(used),
            "stops": sum(len(r.stops) for r in used),
            "load_kg": str(load_kg),
            "utilisation_kg_percent": None if not cap_kg else f"{load_kg / cap_kg * 100:.1f}",
            "utilisation_shift_percent": None if not shift else f"{on_road / shift * 100:.1f}",
            "distance_km": str(sum((r.distance_km for r in used), Decimal(0))),
        },
        "missed_promises": len(plan.unassigned),
        "share": {
            k: {
                "packages": v["packages"],
                "percent": f"{v['packages'] / n * 100:.1f}" if n else "0.0",
                "cost": _money(v["cost"], cur),
            }
            for k, v in sorted(shares.items())
        },
    }


def plan_result(
    problem: model.Problem,
    plan: model.Plan,
    baseline: model.Plan,
    built: DayInput,
    depot: tables.Depot,
    fleet_used: dict[str, Any],
) -> dict[str, Any]:
    """Shape a solved plan for storage and the API: per package, routes, handovers, totals, baseline."""
    cur = problem.currency
    day = built.day
    names = {v["id"]: v["name"] for v in fleet_used["vehicles"]}
    stop_of: dict[str, tuple[str, model.Stop]] = {}
    routes = []
    for r in plan.routes:
        for s in r.stops:
            stop_of[s.package_id] = (r.vehicle_id, s)
        routes.append(
            {
                "vehicle_id": r.vehicle_id,
                "vehicle_name": names.get(r.vehicle_id),
                "depart": local_instant(depot, day, r.depart).isoformat(),
                "back": local_instant(depot, day, r.back).isoformat(),
                "duration_minutes": r.duration_minutes,
                "distance_km": str(r.distance_km),
                "load_kg": str(r.load_kg),
                "load_m3": str(r.load_m3),
                "cost": _m(r.cost),
                "stops": [
                    {
                        "sequence": s.sequence,
                        "shipment_id": s.package_id,
                        "reference": built.meta[s.package_id].reference,
                        "eta": local_instant(depot, day, s.service_start).isoformat(),
                        "eta_local": fleet.clock(s.service_start),
                        "arrival": local_instant(depot, day, s.arrival).isoformat(),
                    }
                    for s in r.stops
                ],
            }
        )
    issues_by_pkg: dict[str, list[model.Issue]] = defaultdict(list)
    for i in plan.issues:
        for pid in i.package_ids:
            issues_by_pkg[pid].append(i)
    packages = []
    infeasible = []
    for d in plan.decisions:
        meta = built.meta[d.package_id]
        entry: dict[str, Any] = {
            "shipment_id": d.package_id,
            "reference": meta.reference,
            "assignee": "fleet" if d.assignee == model.FLEET else ("partner" if d.assignee else "none"),
            "carrier": d.assignee or None,
            "service": FLEET_SERVICE if d.assignee == model.FLEET else d.service,
            "rate_id": meta.rate_ids.get(f"{d.assignee}/{d.service}"),
            "vehicle_id": None,
            "stop": None,
            "eta": None,
            "cost": _m(d.cost),
            "best_partner_cost": _m(d.best_partner_cost),
            "reason": d.reason,
            "detail": d.detail,
            "rule_ids": list(d.rule_ids),
            "approximate_location": meta.approximate,
        }
        if d.package_id in stop_of:
            vid, stop = stop_of[d.package_id]
            entry.update(
                vehicle_id=vid,
                stop=stop.sequence,
                eta=local_instant(depot, day, stop.service_start).isoformat(),
            )
        packages.append(entry)
        if not d.assignee:
            found = issues_by_pkg.get(d.package_id, [])
            infeasible.append(
                {
                    "shipment_id": d.package_id,
                    "reference": meta.reference,
                    "reasons": [i.message for i in found] or [d.detail],
                    "rule_ids": sorted({r for i in found for r in i.rule_ids} | set(d.rule_ids)),
                }
            )
    handovers = [
        {
            "carrier": h.carrier,
            "shipment_ids": list(h.package_ids),
            "packages": len(h.package_ids),
            "weight_kg": str(h.weight_kg),
            "cost": _m(h.cost),
        }
        for h in plan.handovers
    ]
    saving = baseline.total_cost.amount - plan.total_cost.amount
    return {
        "currency": cur,
        "engine": plan.engine,
        "method": plan.method,
        "solve_seconds": round(plan.solve_seconds, 3),
        "lower_bound": _m(plan.lower_bound),
        "gap": None if plan.gap is None else str(plan.gap),
        "totals": {
            "fleet": _money(plan.fleet_cost.amount, cur),
            "partners": _money(plan.partner_cost.amount, cur),
            "total": _money(plan.total_cost.amount, cur),
            "packages": len(problem.packages),
            "fleet_packages": sum(len(r.stops) for r in plan.routes),
            "partner_packages": sum(len(h.package_ids) for h in plan.handovers),
            "infeasible_packages": len(plan.unassigned),
        },
        "baseline": {
            "method": baseline.method,
            "total": _money(baseline.total_cost.amount, cur),
            "unassigned": len(baseline.unassigned),
        },
        "savings": {
            "amount": _money(saving, cur),
            "percent": None
            if baseline.total_cost.amount == 0
            else f"{saving / baseline.total_cost.amount * 100:.2f}",
        },
        "summary": summarise(problem, plan),
        "packages": packages,
        "routes": routes,
        "handovers": handovers,
        "infeasible": infeasible,
        "issues": [_issue(i) for i in plan.issues],
        "skipped": built.skipped,
    }


# --- applying a plan --------------------------------------------------------------------------


def _emit_allocated(session: Session, tenant_id: str, alloc: tables.ShipmentAllocation) -> None:
    from gateway import webhooks

    cost = None
    if alloc.cost_minor is not None and alloc.currency:
        cost = {
            "amount": str(money.Money.from_minor(alloc.cost_minor, alloc.currency).amount),
            "currency": alloc.currency,
        }
    webhooks.emit(
        session,
        tenant_id,
        "shipment.allocated",
        {
            "shipment_id": alloc.shipment_id,
            "carrier": alloc.assignee,
            "service": alloc.service,
            "plan_id": alloc.plan_id,
            "route_id": None,
            "vehicle_id": alloc.vehicle_id,
            "driver_id": None,
            "stop_sequence": alloc.sequence,
            "planned_departure": None,
            "estimated_arrival": alloc.eta.isoformat() if alloc.eta else None,
            "cost": cost,
            "reason": f"{alloc.reason}: {alloc.detail}"[:200],
        },
    )


def _store_allocation(session: Session, tenant_id: str, values: dict[str, Any]) -> tables.ShipmentAllocation:
    row = session.get(tables.ShipmentAllocation, values["shipment_id"])
    if row is None:
        row = tables.ShipmentAllocation(tenant_id=tenant_id, **values)
        session.add(row)
    else:
        for k, v in values.items():
            setattr(row, k, v)
    session.flush()
    return row


def _set_carrier(session: Session, shipment: models.Shipment, carrier: str, service: str | None) -> None:
    """Point a draft shipment at its carrier; a frozen rate for another carrier no longer applies."""
    snapshot = session.execute(
        sa.select(rating_tables.ShipmentQuoteSnapshot).where(
            rating_tables.ShipmentQuoteSnapshot.shipment_id == shipment.id
        )
    ).scalar_one_or_none()
    if snapshot is not None and (snapshot.carrier, snapshot.service_code) != (carrier, service):
        session.delete(snapshot)  # still a draft, so never booked: replaced, as select_rate does
    shipment.carrier = carrier
    shipment.service = service
    session.flush()


def _freeze_rate(session: Session, tenant_id: str, shipment: models.Shipment, rate_id: str | None) -> bool:
    """Freeze the plan's partner rate on the shipment when it is still valid; return whether it was."""
    if not rate_id:
        return False
    from gateway.services import rates as rate_service

    try:
        with session.begin_nested():
            rate_service.select_rate(session, tenant_id, shipment.id, rate_id)
    except Problem:
        return False
    return True


def apply_plan(session: Session, tenant_id: str, actor: str | None, plan_id: str) -> dict[str, Any]:
    """Make a finished plan the day's dispatch: each draft shipment gets its carrier (or the fleet)."""
    row = get_run(session, tenant_id, plan_id, "plan")
    if row.state == "applied":
        return {"plan_id": row.id, "state": row.state, "applied": [], "skipped": [], "already_applied": True}
    if row.state != "done" or row.result is None:
        raise Problem("conflict", f"Plan {row.id} is {row.state}; only a finished plan can be applied.")
    ids = [p["shipment_id"] for p in row.result["packages"]]
    shipments: dict[str, models.Shipment] = {}
    for chunk in _chunks(ids):
        for s in (
            session.execute(
                sa.select(models.Shipment).where(
                    models.Shipment.tenant_id == tenant_id, models.Shipment.id.in_(chunk)
                )
            )
            .unique()
            .scalars()
        ):
            shipments[s.id] = s
    applied, skipped = [], []
    now = utcnow()
    wanted = [p["rate_id"] for p in row.result["packages"] if p["assignee"] == "partner" and p.get("rate_id")]
    live: set[str] = set()
    for chunk in _chunks(wanted):
        live.update(
            session.execute(
                sa.select(rating_tables.RateQuote.id).where(
                    rating_tables.RateQuote.id.in_(chunk),
                    rating_tables.RateQuote.tenant_id == tenant_id,
                    rating_tables.RateQuote.expires_at > now,
                )
            ).scalars()
        )
    for p in row.result["packages"]:
        shipment = shipments.get(p["shipment_id"])
        if shipment is None or shipment.status != "draft":
            skipped.append(
                {
                    "shipment_id": p["shipment_id"],
                    "reason": "deleted" if shipment is None else f"shipment is {shipment.status}",
                }
            )
            continue
        if p["carrier"] is None:
            skipped.append({"shipment_id": p["shipment_id"], "reason": "no feasible option"})
            continue
        rate_id = p.get("rate_id") if p.get("rate_id") in live else None
        if p["assignee"] == "fleet" or not _freeze_rate(session, tenant_id, shipment, rate_id):
            _set_carrier(session, shipment, p["carrier"], p["service"])
        cost = p["cost"]
        alloc = _store_allocation(
            session,
            tenant_id,
            {
                "shipment_id": shipment.id,
                "depot_id": row.depot_id,
                "day": row.day,
                "source": "plan",
                "plan_id": row.id,
                "assignee": p["carrier"],
                "service": p["service"],
                "vehicle_id": p["vehicle_id"],
                "sequence": p["stop"],
                "eta": datetime.fromisoformat(p["eta"]) if p["eta"] else None,
                "cost_minor": None
                if cost is None
                else money.Money(Decimal(cost["amount"]), cost["currency"]).to_minor(),
                "currency": None if cost is None else cost["currency"],
                "reason": p["reason"],
                "detail": p["detail"][:500],
                "rule_ids": p["rule_ids"],
                "decided_at": now,
            },
        )
        _emit_allocated(session, tenant_id, alloc)
        applied.append({"shipment_id": shipment.id, "carrier": p["carrier"], "service": p["service"]})
    row.state = "applied"
    row.applied_at = now
    row.applied_by = actor
    session.flush()
    fleet.audit(
        session,
        tenant_id,
        actor,
        "plan",
        row.id,
        "apply",
        {"applied": len(applied), "skipped": len(skipped), "day": row.day.isoformat()},
    )
    return {
        "plan_id": row.id,
        "state": row.state,
        "applied": applied,
        "skipped": skipped,
        "already_applied": False,
    }


# --- online decisions -------------------------------------------------------------------------


def _latest_plan(session: Session, tenant_id: str, depot_id: str, day: date) -> tables.PlanRun | None:
    return session.execute(
        sa.select(tables.PlanRun)
        .where(
            tables.PlanRun.tenant_id == tenant_id,
            tables.PlanRun.depot_id == depot_id,
            tables.PlanRun.kind == "plan",
            tables.PlanRun.day == day,
            tables.PlanRun.state.in_(("done", "applied")),
        )
        .order_by(tables.PlanRun.finished_at.desc(), tables.PlanRun.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _latest_plan_ref(
    session: Session, tenant_id: str, depot_id: str, day: date
) -> tuple[str, datetime] | None:
    row = session.execute(
        sa.select(tables.PlanRun.id, tables.PlanRun.finished_at)
        .where(
            tables.PlanRun.tenant_id == tenant_id,
            tables.PlanRun.depot_id == depot_id,
            tables.PlanRun.kind == "plan",
            tables.PlanRun.day == day,
            tables.PlanRun.state.in_(("done", "applied")),
        )
        .order_by(tables.PlanRun.finished_at.desc(), tables.PlanRun.id.desc())
        .limit(1)
    ).first()
    return None if row is None else (row.id, row.finished_at)


def _day_state(
    session: Session,
    tenant_id: str,
    depot: tables.Depot,
    day: date,
    vehicles: Sequence[model.Vehicle],
    exclude: str,
) -> tuple[list[model.Package], dict[str, list[str]], dict[str, list[str]]]:
    """Return the day's planned packages, van routes and partner handovers, plus later online decisions."""
    plan_ref = _latest_plan_ref(session, tenant_id, depot.id, day)
    vans = {v.id for v in vehicles}
    packages: dict[str, model.Package] = {}
    by_van: dict[str, list[str]] = defaultdict(list)
    by_carrier: dict[str, list[str]] = defaultdict(list)
    since: datetime | None = None
    if plan_ref is not None:
        plan_id, since = plan_ref
        dispatch = _dispatch(session, plan_id)
        packages = {p.id: p for p in dispatch.packages if p.id != exclude}
        for vid, stops in dispatch.routes.items():
            if vid in vans:
                by_van[vid] = [i for i in stops if i != exclude]
            else:  # the van was retired since: its stops are unplanned until the next batch
                for i in stops:
                    packages.pop(i, None)
        for carrier, ids in dispatch.handovers.items():
            by_carrier[carrier] = [i for i in ids if i != exclude]
    query = (
        sa.select(tables.ShipmentAllocation)
        .where(
            tables.ShipmentAllocation.tenant_id == tenant_id,
            tables.ShipmentAllocation.depot_id == depot.id,
            tables.ShipmentAllocation.day == day,
            tables.ShipmentAllocation.source == "online",
            tables.ShipmentAllocation.shipment_id != exclude,
        )
        .order_by(tables.ShipmentAllocation.decided_at, tables.ShipmentAllocation.shipment_id)
    )
    if since is not None:
        query = query.where(tables.ShipmentAllocation.decided_at >= since)
    for a in session.execute(query).scalars():
        if a.shipment_id in packages or not a.package:
            continue
        pkg = _unpack(a.package)
        if a.assignee == model.FLEET and a.vehicle_id in vans:
            route = by_van[a.vehicle_id]
            route.insert(min(a.sequence or 0, len(route)), pkg.id)
            packages[pkg.id] = pkg
        elif a.assignee and a.assignee != model.FLEET:
            by_carrier[a.assignee].append(pkg.id)
            packages[pkg.id] = pkg
    return list(packages.values()), dict(by_van), dict(by_carrier)


NEAREST_ROUTES = 8  # routes an online booking is tried on, besides every idle van


def _candidate_vans(
    vehicles: Sequence[model.Vehicle],
    by_van: dict[str, list[str]],
    index: dict[str, model.Package],
    here: model.Location,
) -> list[model.Vehicle]:
    """Return the idle vans and the vans whose routes pass nearest to a location.

    Cheapest insertion is almost always next to a nearby stop, so trying only the nearest routes
    keeps a booking's decision fast on a day of thousands of stops; the batch re-optimises anyway.
    """
    coslat = math.cos(math.radians(here.y))

    def gap(vid: str) -> float:
        return min(
            ((index[p].location.x - here.x) * coslat) ** 2 + (index[p].location.y - here.y) ** 2
            for p in by_van[vid]
            if p in index
        )

    busy = [v for v in vehicles if any(p in index for p in by_van.get(v.id, ()))]
    near = {v.id for v in sorted(busy, key=lambda v: gap(v.id))[:NEAREST_ROUTES]}
    busy_ids = {v.id for v in busy}
    return [v for v in vehicles if v.id in near or v.id not in busy_ids]


def decide_online(
    session: Session,
    tenant_id: str,
    shipment: models.Shipment,
    *,
    now: datetime | None = None,
    depots: Sequence[tables.Depot] | None = None,
) -> tables.ShipmentAllocation | None:
    """Decide fleet or partner for one booking by cheap insertion against today's plan; None without a fleet."""
    depots = fleet.list_depots(session, tenant_id) if depots is None else depots
    if not depots:
        return None
    depot = depot_for(depots, shipment.destination)
    now = now or utcnow()
    day = now.astimezone(ZoneInfo(depot.timezone)).date()
    vehicles = _vehicles(session, tenant_id, depot)
    rule_set, _ = active_rules(session, tenant_id)
    tenant = session.get(models.Tenant, tenant_id)
    rates = _rates_for(session, [shipment.id]).get(shipment.id, [])
    snapshot = _snapshots_for(session, [shipment.id]).get(shipment.id)
    pkg, options, _, _ = package_for(
        shipment, depot, day, depot.currency, tenant.slug if tenant else tenant_id, rates, snapshot
    )
    planned, by_van, by_carrier = _day_state(session, tenant_id, depot, day, vehicles, shipment.id)
    index = {p.id: p for p in planned}
    candidates = _candidate_vans(vehicles, by_van, index, pkg.location)
    tried = {v.id for v in candidates}
    problem = model.Problem(
        depot=fleet.model_depot(depot),
        vehicles=tuple(candidates),
        packages=tuple(planned),
        options={},
        rules=rule_set,
        currency=depot.currency,
        distance_model="haversine",
        road_factor=Decimal(depot.road_factor),
    )
    zero = money.Money.zero(depot.currency)

    def stop(pid: str, k: int) -> model.Stop:
        return model.Stop(pid, k + 1, 0, 0, index[pid].location)

    current = model.Plan(
        decisions=(),
        routes=tuple(
            model.Route(
                vid,
                tuple(stop(p, k) for k, p in enumerate(pids) if p in index),
                0,
                0,
                Decimal(0),
                Decimal(0),
                Decimal(0),
                zero,
            )
            for vid, pids in by_van.items()
            if vid in tried
        ),
        handovers=tuple(
            model.Handover(c, tuple(p for p in pids if p in index), Decimal(0), zero)
            for c, pids in by_carrier.items()
        ),
        unassigned=(),
        fleet_cost=zero,
        partner_cost=zero,
    )
    decision = online.decide(problem, current, pkg, options)
    eta = None
    if decision.assignee == model.FLEET and decision.vehicle_id is not None:
        van = next(v for v in vehicles if v.id == decision.vehicle_id)
        ids = [s.package_id for r in current.routes if r.vehicle_id == van.id for s in r.stops]
        ids.insert(decision.position or 0, pkg.id)
        state = online.prepare(problem, van, ids, {**index, pkg.id: pkg})
        eta = local_instant(depot, day, state.start[(decision.position or 0) + 1] // 60)
    carrier = decision.assignee
    service = (
        FLEET_SERVICE
        if carrier == model.FLEET
        else (decision.best_partner.service if decision.best_partner else None)
    )
    values = {
        "shipment_id": shipment.id,
        "depot_id": depot.id,
        "day": day,
        "source": "online",
        "plan_id": None,
        "assignee": carrier,
        "service": service if carrier else None,
        "vehicle_id": decision.vehicle_id,
        "sequence": decision.position,
        "eta": eta,
        "cost_minor": None if decision.cost is None else decision.cost.to_minor(),
        "currency": depot.currency if decision.cost is not None else None,
        "reason": decision.reason,
        "detail": decision.detail[:500],
        "rule_ids": list(decision.rule_ids),
        "package": _pack(pkg),
        "decided_at": now,
    }
    alloc = _store_allocation(session, tenant_id, values)
    if carrier and shipment.status == "draft":
        # Not frozen here: the platform still picks its rate (POST /rate); a plan freezes its own.
        _set_carrier(session, shipment, carrier, service)
    if carrier:
        _emit_allocated(session, tenant_id, alloc)
    return alloc


def allocation_of(session: Session, tenant_id: str, shipment_id: str) -> tables.ShipmentAllocation:
    from gateway.services import shipments as shipment_service

    shipment_service.get_shipment(session, tenant_id, shipment_id)
    row = session.get(tables.ShipmentAllocation, shipment_id)
    if row is None:
        raise Problem("not-found", f"Shipment {shipment_id} has no allocation yet.")
    return row


def present_allocation(a: tables.ShipmentAllocation) -> dict[str, Any]:
    cost = None
    if a.cost_minor is not None and a.currency:
        cost = {"amount": money.Money.from_minor(a.cost_minor, a.currency).amount, "currency": a.currency}
    return {
        "shipment_id": a.shipment_id,
        "source": a.source,
        "plan_id": a.plan_id,
        "depot_id": a.depot_id,
        "day": a.day,
        "assignee": "fleet" if a.assignee == model.FLEET else ("partner" if a.assignee else "none"),
        "carrier": a.assignee or None,
        "service": a.service,
        "vehicle_id": a.vehicle_id,
        "sequence": a.sequence,
        "eta": a.eta,
        "cost": cost,
        "reason": a.reason,
        "detail": a.detail,
        "rule_ids": a.rule_ids,
        "decided_at": a.decided_at,
    }


def decide_at_booking(session: Session, tenant_id: str, shipment: models.Shipment) -> None:
    """Give a new booking an instant fleet-or-partner decision when the tenant runs a fleet.

    Never fails the booking: any error rolls back only the decision (a savepoint) and is logged;
    the next batch plan allocates the shipment anyway.
    """
    depots = fleet.list_depots(session, tenant_id)
    if not depots:
        return
    try:
        with session.begin_nested():
            decide_online(session, tenant_id, shipment, depots=depots)
    except Exception:
        log.warning("online allocation failed; left for the next batch plan", exc_info=True)
