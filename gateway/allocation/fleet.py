"""The own fleet as ops configure it (depots and vans), and the audit log of allocation settings.

Depots and vehicles are updated in place but every change increments ``version`` and writes an
audit entry with the before/after values, so any past configuration can be read back. Deleting
deactivates: plans that used a van keep pointing at it. The audit log is shared with the rule
sets (``gateway.allocation.rule_sets``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import sqlalchemy as sa
from sqlalchemy.orm import Session

from allocation import model
from gateway.allocation import tables
from gateway.kernel import paging
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow
from schemas import money

DEPOT_FIELDS = ("name", "latitude", "longitude", "opens", "closes", "timezone", "currency", "road_factor")
VEHICLE_FIELDS = (
    "name",
    "capacity_kg",
    "capacity_m3",
    "shift_start",
    "shift_end",
    "max_stops",
    "speed_kmh",
    "cost_per_km",
    "cost_per_hour",
    "cost_per_day",
)


# --- audit ------------------------------------------------------------------------------------


def audit(
    session: Session,
    tenant_id: str,
    actor: str | None,
    entity_type: str,
    entity_id: str,
    action: str,
    changes: dict[str, Any],
    version: int | None = None,
) -> tables.AuditEntry:
    """Record who changed which allocation setting and what changed, in the caller's transaction."""
    entry = tables.AuditEntry(
        tenant_id=tenant_id,
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        version=version,
        actor=actor,
        changes=_jsonable(changes),
        created_at=utcnow(),
    )
    session.add(entry)
    session.flush()
    return entry


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def list_audit(
    session: Session,
    tenant_id: str,
    *,
    limit: int,
    cursor: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
) -> tuple[list[tables.AuditEntry], str | None]:
    """Return one page of the tenant's allocation audit log, newest first."""
    query = sa.select(tables.AuditEntry).where(tables.AuditEntry.tenant_id == tenant_id)
    if entity_type:
        query = query.where(tables.AuditEntry.entity_type == entity_type)
    if entity_id:
        query = query.where(tables.AuditEntry.entity_id == entity_id)
    if cursor:
        when, row_id = paging.decode_cursor(cursor)
        try:
            last = int(row_id)
            if not 0 <= last < 2**63:  # beyond any id; SQLite cannot even bind it
                raise ValueError("bad cursor")
        except ValueError as exc:
            raise Problem("bad-request", "The cursor is not valid.", errors={"cursor": ["invalid"]}) from exc
        query = query.where(
            sa.or_(
                tables.AuditEntry.created_at < when,
                sa.and_(tables.AuditEntry.created_at == when, tables.AuditEntry.id < last),
            )
        )
    query = query.order_by(tables.AuditEntry.created_at.desc(), tables.AuditEntry.id.desc()).limit(limit + 1)
    rows = list(session.execute(query).scalars())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = paging.encode_cursor(rows[-1].created_at, str(rows[-1].id))
    return rows, next_cursor


# --- shared validation ------------------------------------------------------------------------


def minutes(value: str, field: str) -> int:
    """Parse "HH:MM" (00:00 to 24:00) into minutes since midnight."""
    try:
        hours, mins = value.split(":")
        total = int(hours) * 60 + int(mins)
        if len(mins) != 2 or not 0 <= int(mins) < 60 or not 0 <= total <= 24 * 60:
            raise ValueError(value)
    except ValueError:
        raise Problem(
            "validation-error", f"{field} must be a time such as 08:30.", errors={field: ["not HH:MM"]}
        ) from None
    return total


def clock(total: int) -> str:
    """Format minutes since midnight as "HH:MM"."""
    return f"{total // 60:02d}:{total % 60:02d}"


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as "America"
        raise Problem(
            "validation-error",
            f"{value!r} is not an IANA time zone.",
            errors={"timezone": ["not an IANA time zone such as Europe/Berlin"]},
        ) from None
    if value not in available_timezones() and value != "UTC":
        raise Problem("validation-error", errors={"timezone": ["not an IANA time zone"]})
    return value


def _minor(amount: Decimal, currency: str, field: str) -> int:
    value = money.Money(Decimal(amount), currency)
    if value.rounded().amount != value.amount:
        digits = money.exponent(currency)
        raise Problem(
            "validation-error",
            f"{field} has more decimals than {currency} allows.",
            errors={field: [f"at most {digits} decimals in {currency}"]},
        )
    return value.to_minor()


def _window(opens: int, closes: int, names: tuple[str, str]) -> None:
    if closes <= opens:
        raise Problem(
            "validation-error",
            f"{names[1]} must be after {names[0]}.",
            errors={names[1]: [f"must be after {names[0]}"]},
        )


# --- depots -----------------------------------------------------------------------------------


def present_depot(d: tables.Depot) -> dict[str, Any]:
    return {
        "id": d.id,
        "name": d.name,
        "latitude": d.latitude,
        "longitude": d.longitude,
        "opens": clock(d.opens),
        "closes": clock(d.closes),
        "timezone": d.timezone,
        "currency": d.currency,
        "road_factor": d.road_factor,
        "active": d.active,
        "version": d.version,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
    }


def create_depot(session: Session, tenant_id: str, actor: str | None, data: dict[str, Any]) -> tables.Depot:
    """Create a depot (audited)."""
    opens, closes = (
        minutes(data.get("opens", "00:00"), "opens"),
        minutes(data.get("closes", "24:00"), "closes"),
    )
    _window(opens, closes, ("opens", "closes"))
    depot = tables.Depot(
        tenant_id=tenant_id,
        name=data["name"],
        latitude=data["latitude"],
        longitude=data["longitude"],
        opens=opens,
        closes=closes,
        timezone=_timezone(data.get("timezone") or "UTC"),
        currency=data["currency"],
        road_factor=data.get("road_factor") or Decimal("1.3"),
        active=True,
        version=1,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    session.add(depot)
    session.flush()
    audit(session, tenant_id, actor, "depot", depot.id, "create", _depot_state(depot), 1)
    return depot


def _depot_state(d: tables.Depot) -> dict[str, Any]:
    body = present_depot(d)
    return {k: body[k] for k in (*DEPOT_FIELDS, "active")}


def get_depot(session: Session, tenant_id: str, depot_id: str) -> tables.Depot:
    """Return a tenant's depot; another tenant's id is not found."""
    depot = session.execute(
        sa.select(tables.Depot).where(tables.Depot.id == depot_id, tables.Depot.tenant_id == tenant_id)
    ).scalar_one_or_none()
    if depot is None:
        raise Problem("not-found", f"No depot {depot_id!r}.")
    return depot


def list_depots(session: Session, tenant_id: str, *, include_inactive: bool = False) -> list[tables.Depot]:
    query = sa.select(tables.Depot).where(tables.Depot.tenant_id == tenant_id)
    if not include_inactive:
        query = query.where(tables.Depot.active.is_(True))
    return list(session.execute(query.order_by(tables.Depot.created_at, tables.Depot.id)).scalars())


def update_depot(
    session: Session, tenant_id: str, actor: str | None, depot_id: str, data: dict[str, Any]
) -> tables.Depot:
    """Change a depot's fields; a new version with the before/after values in the audit log."""
    depot = get_depot(session, tenant_id, depot_id)
    before = _depot_state(depot)
    for key in ("name", "latitude", "longitude", "currency", "road_factor"):
        if key in data and data[key] is not None:
            setattr(depot, key, data[key])
    if "opens" in data:
        depot.opens = minutes(data["opens"], "opens")
    if "closes" in data:
        depot.closes = minutes(data["closes"], "closes")
    if "timezone" in data:
        depot.timezone = _timezone(data["timezone"])
    if data.get("active") is True:
        depot.active = True
    _window(depot.opens, depot.closes, ("opens", "closes"))
    if "currency" in data:
        for van in list_vehicles(session, tenant_id, depot_id=depot.id, include_inactive=True):
            if van.currency != depot.currency:
                raise Problem(
                    "conflict",
                    f"Vehicle {van.id} costs are in {van.currency}; change them before the depot currency.",
                )
    return _versioned(session, tenant_id, actor, "depot", depot, before, _depot_state(depot))


def deactivate_depot(session: Session, tenant_id: str, actor: str | None, depot_id: str) -> tables.Depot:
    """Deactivate a depot (its vans stay, unused); audited."""
    depot = get_depot(session, tenant_id, depot_id)
    if not depot.active:
        return depot
    before = _depot_state(depot)
    depot.active = False
    return _versioned(session, tenant_id, actor, "depot", depot, before, _depot_state(depot), "deactivate")


def _versioned(
    session: Session,
    tenant_id: str,
    actor: str | None,
    entity_type: str,
    row: Any,
    before: dict[str, Any],
    after: dict[str, Any],
    action: str = "update",
) -> Any:
    changes = {k: [before[k], after[k]] for k in after if _jsonable(before.get(k)) != _jsonable(after[k])}
    if not changes:
        return row
    row.version += 1
    row.updated_at = utcnow()
    session.flush()
    audit(session, tenant_id, actor, entity_type, row.id, action, changes, row.version)
    return row


# --- vehicles ---------------------------------------------------------------------------------


def present_vehicle(v: tables.Vehicle) -> dict[str, Any]:
    def m(minor: int) -> dict[str, Any]:
        value = money.Money.from_minor(minor, v.currency)
        return {"amount": value.amount, "currency": value.currency}

    return {
        "id": v.id,
        "depot_id": v.depot_id,
        "name": v.name,
        "capacity_kg": v.capacity_kg,
        "capacity_m3": v.capacity_m3,
        "shift_start": clock(v.shift_start),
        "shift_end": clock(v.shift_end),
        "max_stops": v.max_stops,
        "speed_kmh": v.speed_kmh,
        "cost_per_km": m(v.cost_per_km_minor),
        "cost_per_hour": m(v.cost_per_hour_minor),
        "cost_per_day": m(v.cost_per_day_minor),
        "active": v.active,
        "version": v.version,
        "created_at": v.created_at,
        "updated_at": v.updated_at,
    }


def _vehicle_state(v: tables.Vehicle) -> dict[str, Any]:
    body = present_vehicle(v)
    state = {k: body[k] for k in (*VEHICLE_FIELDS, "active", "depot_id")}
    for key in ("cost_per_km", "cost_per_hour", "cost_per_day"):
        state[key] = str(state[key]["amount"])
    return state


def _apply_vehicle_fields(van: tables.Vehicle, data: dict[str, Any], currency: str) -> None:
    for key in ("name", "capacity_kg", "capacity_m3", "speed_kmh"):
        if key in data and data[key] is not None:
            setattr(van, key, data[key])
    if "max_stops" in data:
        van.max_stops = data["max_stops"]
    if "shift_start" in data:
        van.shift_start = minutes(data["shift_start"], "shift_start")
    if "shift_end" in data:
        van.shift_end = minutes(data["shift_end"], "shift_end")
    for key in ("cost_per_km", "cost_per_hour", "cost_per_day"):
        if key in data and data[key] is not None:
            setattr(van, f"{key}_minor", _minor(data[key], currency, key))
    _window(van.shift_start, van.shift_end, ("shift_start", "shift_end"))


def create_vehicle(
    session: Session, tenant_id: str, actor: str | None, data: dict[str, Any]
) -> tables.Vehicle:
    """Add a van to a depot (costs in the depot's currency); audited."""
    try:
        depot = get_depot(session, tenant_id, data["depot_id"])
    except Problem:  # 409: a well-formed id the tenant's fleet does not hold
        raise Problem("conflict", errors={"depot_id": ["no such depot"]}) from None
    van = tables.Vehicle(
        tenant_id=tenant_id,
        depot_id=depot.id,
        currency=depot.currency,
        speed_kmh=Decimal(30),
        active=True,
        version=1,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    _apply_vehicle_fields(van, {"shift_start": "08:00", "shift_end": "18:00", **data}, depot.currency)
    session.add(van)
    session.flush()
    audit(session, tenant_id, actor, "vehicle", van.id, "create", _vehicle_state(van), 1)
    return van


def get_vehicle(session: Session, tenant_id: str, vehicle_id: str) -> tables.Vehicle:
    van = session.execute(
        sa.select(tables.Vehicle).where(
            tables.Vehicle.id == vehicle_id, tables.Vehicle.tenant_id == tenant_id
        )
    ).scalar_one_or_none()
    if van is None:
        raise Problem("not-found", f"No vehicle {vehicle_id!r}.")
    return van


def list_vehicles(
    session: Session, tenant_id: str, *, depot_id: str | None = None, include_inactive: bool = False
) -> list[tables.Vehicle]:
    query = sa.select(tables.Vehicle).where(tables.Vehicle.tenant_id == tenant_id)
    if depot_id:
        query = query.where(tables.Vehicle.depot_id == depot_id)
    if not include_inactive:
        query = query.where(tables.Vehicle.active.is_(True))
    return list(session.execute(query.order_by(tables.Vehicle.created_at, tables.Vehicle.id)).scalars())


def update_vehicle(
    session: Session, tenant_id: str, actor: str | None, vehicle_id: str, data: dict[str, Any]
) -> tables.Vehicle:
    """Change a van; a new version with before/after values in the audit log."""
    van = get_vehicle(session, tenant_id, vehicle_id)
    before = _vehicle_state(van)
    _apply_vehicle_fields(van, data, van.currency)
    if data.get("active") is True:
        van.active = True
    return _versioned(session, tenant_id, actor, "vehicle", van, before, _vehicle_state(van))


def deactivate_vehicle(
    session: Session, tenant_id: str, actor: str | None, vehicle_id: str
) -> tables.Vehicle:
    van = get_vehicle(session, tenant_id, vehicle_id)
    if not van.active:
        return van
    before = _vehicle_state(van)
    van.active = False
    return _versioned(session, tenant_id, actor, "vehicle", van, before, _vehicle_state(van), "deactivate")


# --- to the pure model ------------------------------------------------------------------------


def model_depot(d: tables.Depot) -> model.Depot:
    """Return the allocation model's depot (longitude/latitude; haversine problems)."""
    return model.Depot(d.id, model.Location(float(d.longitude), float(d.latitude)), d.opens, d.closes)


def model_vehicle(v: tables.Vehicle) -> model.Vehicle:
    return vehicle_from_state(v.id, _vehicle_state(v), v.currency)


def vehicle_from_state(vehicle_id: str, state: dict[str, Any], currency: str) -> model.Vehicle:
    """Build a model vehicle from a stored/presented state (times "HH:MM", costs decimal strings)."""

    def amount(value: Any) -> Decimal:
        return Decimal(str(value["amount"] if isinstance(value, dict) else value))

    def as_minutes(value: Any, name: str) -> int:
        return value if isinstance(value, int) else minutes(value, name)

    return model.Vehicle(
        id=vehicle_id,
        capacity_kg=Decimal(str(state["capacity_kg"])),
        capacity_m3=Decimal(str(state["capacity_m3"])),
        shift_start=as_minutes(state["shift_start"], "shift_start"),
        shift_end=as_minutes(state["shift_end"], "shift_end"),
        cost_per_km=amount(state["cost_per_km"]),
        cost_per_hour=amount(state["cost_per_hour"]),
        fixed_cost=amount(state["cost_per_day"]),
        speed_kmh=Decimal(str(state.get("speed_kmh") or 30)),
        max_stops=state.get("max_stops"),
    )
