"""Glue for the console's fleet pages: depots and vans as the tables show them, the forms, the depot map.

Nothing here decides anything. A form is read into the body the API would receive and loaded by
the API's own marshmallow schemas (``gateway.allocation.schemas.fleet``); the writes are
``gateway.allocation.fleet``'s use cases, which store money in minor units and audit every change.
So a refusal names the same field as the API's problem+json ``errors`` (``capacity_kg``,
``shift_end``, ``cost_per_km``). Reads are the use cases' lists, scoped to the tenant.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError

from gateway.allocation import fleet, tables
from gateway.allocation.schemas.fleet import (
    DepotUpdateSchema,
    DepotWriteSchema,
    VehicleUpdateSchema,
    VehicleWriteSchema,
)
from gateway.console import _maps, _web
from gateway.kernel.errors import Problem
from schemas import money

DEPOT_FORM = fleet.DEPOT_FIELDS  # the API's depot fields, in its order
VAN_FORM = (
    "name",
    "capacity_kg",
    "capacity_m3",
    "max_stops",
    "shift_start",
    "shift_end",
    "speed_kmh",
    "cost_per_km",
    "cost_per_hour",
    "cost_per_day",
)
FORM_ERROR = "(form)"  # a refusal that names no field
MAX_INPUT = 300  # characters kept of a typed value (the schemas refuse anything longer that matters)

DEPOTS_PER_PAGE = 20
VANS_PER_PAGE = 50
VANS_ON_OVERVIEW = 10  # per depot; the depot's page lists them all, paginated

MAP_WIDTH, MAP_HEIGHT, MAP_MARGIN = 560, 320, 36


# -- numbers as people read them --------------------------------------------------------------------


def plain(value: Decimal | int | None) -> str:
    """A decimal without exponent or trailing zeros: 800.000 -> "800", 0.5000 -> "0.5"."""
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def amount(minor: int, currency: str) -> str:
    """Minor units as the currency's decimal amount ("0.50"), as the API presents it."""
    return format(money.Money.from_minor(minor, currency).amount, "f")


# -- lists ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    items: list[Any]
    number: int
    pages: int
    total: int

    @property
    def more(self) -> bool:
        return self.number < self.pages


def page_of(items: Sequence[Any], raw: str | None, size: int) -> Page:
    """The ``raw`` page (1-based, from the query string; out of range -> the nearest) of ``items``."""
    pages = max(1, -(-len(items) // size))
    number = _web.whole(raw, 6) or 1
    number = min(max(number, 1), pages)
    start = (number - 1) * size
    return Page(list(items[start : start + size]), number, pages, len(items))


@dataclass(frozen=True)
class DepotRow:
    depot: tables.Depot
    active_vans: int
    all_vans: int
    vans: list[tables.Vehicle]  # the first VANS_ON_OVERVIEW, active first


def depot_rows(depots: Sequence[tables.Depot], vans: Sequence[tables.Vehicle]) -> list[DepotRow]:
    """Each depot with its van counts and its first vans (active ones first, then by creation)."""
    active = Counter(v.depot_id for v in vans if v.active)
    every = Counter(v.depot_id for v in vans)
    rows = []
    for depot in depots:
        own = sorted((v for v in vans if v.depot_id == depot.id), key=lambda v: not v.active)
        rows.append(DepotRow(depot, active[depot.id], every[depot.id], own[:VANS_ON_OVERVIEW]))
    return rows


# -- forms ------------------------------------------------------------------------------------------


def typed(form: Mapping[str, str], names: Sequence[str]) -> dict[str, str]:
    """The form's values as typed (stripped, bounded), for reading and for showing back."""
    return {name: str(form.get(name, "")).strip()[:MAX_INPUT] for name in names}


def depot_form(depot: tables.Depot) -> dict[str, str]:
    """A depot's stored values as the edit form shows them."""
    body = fleet.present_depot(depot)
    return {
        name: plain(body[name]) if isinstance(body[name], Decimal) else str(body[name]) for name in DEPOT_FORM
    }


def van_form(van: tables.Vehicle) -> dict[str, str]:
    """A van's stored values as the edit form shows them (money as its decimal amount)."""
    body = fleet.present_vehicle(van)
    out: dict[str, str] = {}
    for name in VAN_FORM:
        value = body[name]
        if isinstance(value, dict):  # money: {"amount": Decimal, "currency": ...}
            out[name] = format(value["amount"], "f")
        elif isinstance(value, Decimal):
            out[name] = plain(value)
        else:
            out[name] = "" if value is None else str(value)
    return out


def _load(schema: Schema, body: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    try:
        return schema.load(body), {}
    except ValidationError as exc:
        return None, messages(exc.messages)


def messages(found: Any, prefix: str = "") -> dict[str, list[str]]:
    """Marshmallow's (possibly nested) messages as dotted path -> sentences, as the API's ``errors``."""
    out: dict[str, list[str]] = {}
    if isinstance(found, dict):
        for key, value in found.items():
            out.update(messages(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(found, list) and all(isinstance(m, str) for m in found):
        out[prefix or FORM_ERROR] = list(found)
    elif isinstance(found, list):
        for i, value in enumerate(found):
            out.update(messages(value, f"{prefix}.{i}" if prefix else str(i)))
    else:
        out[prefix or FORM_ERROR] = [str(found)]
    if "_schema" in out:
        out[FORM_ERROR] = out.pop("_schema")
    return out


def read_depot(values: dict[str, str], *, new: bool) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """The depot form as the API's POST (``new``) or PATCH body, loaded by the API's schema.

    A new depot leaves out what is empty, so the API's defaults apply (opens 00:00, closes 24:00,
    UTC, road factor 1.3) and a missing required field is refused as the API refuses it. An edit
    sends every field as typed, except an empty road factor (kept as it is).
    """
    if new:
        return _load(DepotWriteSchema(), {k: v for k, v in values.items() if v})
    return _load(DepotUpdateSchema(), {k: v for k, v in values.items() if v or k != "road_factor"})


def read_van(
    values: dict[str, str], *, depot_id: str | None
) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """The van form as the API's POST (with ``depot_id``) or PATCH body, loaded by the API's schema.

    A new van leaves out what is empty (the API's defaults: shift 08:00-18:00, 30 km/h, no stop
    limit). An edit sends every field as typed; an empty stop limit means none (``null``).
    """
    if depot_id is not None:
        return _load(VehicleWriteSchema(), {"depot_id": depot_id, **{k: v for k, v in values.items() if v}})
    body: dict[str, Any] = dict(values)
    if not body.get("max_stops"):
        body["max_stops"] = None
    return _load(VehicleUpdateSchema(), body)


def problem_errors(exc: Problem) -> dict[str, list[str]]:
    """A use case's refusal as field -> sentences (its detail, under "(form)", when it names no field)."""
    found = messages(exc.errors) if exc.errors else {}
    return found or {FORM_ERROR: [exc.detail]}


def refusal_status(exc: Problem) -> int:
    """The refusal's own status when it is the request's fault (422, 409), else 422."""
    return exc.status if 400 <= exc.status < 500 else 422


# -- the map --------------------------------------------------------------------------------------


DepotMap = _maps.PointsMap  # the depots, each titled with where it is, with a scale


def depot_map(depots: Sequence[tables.Depot]) -> DepotMap | None:
    """The depots on a plain local projection around their middle (``_maps``), north up, with a scale."""
    if not depots:
        return None
    located = [(float(d.longitude), float(d.latitude), d) for d in depots]
    lon0 = sum(p[0] for p in located) / len(located)
    lat0 = sum(p[1] for p in located) / len(located)
    frame = _maps.fit(
        lon0,
        lat0,
        [(lon, lat) for lon, lat, _ in located],
        width=MAP_WIDTH,
        height=MAP_HEIGHT,
        margin=MAP_MARGIN,
        min_span_km=2.0,
    )
    return _maps.points_map(frame, [(lon, lat, d.name, d.name) for lon, lat, d in located])
