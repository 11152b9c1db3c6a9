"""Glue for the console's allocation pages: the rule editor, version diffs, plan views and the SVG map.

Nothing here decides anything: rule sets are written by ``gateway.allocation.rule_sets``, plans
requested and applied by ``gateway.allocation.plans``, checks run by ``rule_sets.check_rules``.
This module only reads what they stored (tenant-scoped) and shapes it for the templates. The map
is plain data (coordinates, labels) the template draws as SVG elements, so every label goes
through Jinja's autoescaping.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from allocation import model, rules
from gateway.allocation import fleet, rule_sets, tables
from gateway.console import _maps
from gateway.console._maps import MapPoint
from gateway.kernel import models
from gateway.kernel.errors import Problem

DOCUMENT_KEYS = ("name", "rules")
_IGNORED_KEYS = ("version",)  # a stored document's own version number: the server decides it


# -- the rule-set editor --------------------------------------------------------------------------


def editor_text(document: dict[str, Any]) -> str:
    """The JSON the editor shows: the rule set's name and rules, pretty-printed."""
    return json.dumps(
        {"name": document.get("name"), "rules": document.get("rules", [])}, indent=2, ensure_ascii=False
    )


def parse_editor(text: str) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """Read the editor's JSON into the API's update body, or say what is wrong (dotted paths)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, {"(document)": [f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"]}
    if not isinstance(doc, dict):
        return None, {"(document)": ['write an object: {"name": "…", "rules": [ … ]}']}
    errors: dict[str, list[str]] = {}
    for key in doc:
        if key not in DOCUMENT_KEYS and key not in _IGNORED_KEYS:
            errors.setdefault(str(key), []).append("unknown field")
    name = doc.get("name")
    if name is not None and (not isinstance(name, str) or not 1 <= len(name) <= 200):
        errors["name"] = ["a text of 1 to 200 characters"]
    if "rules" not in doc:
        errors["rules"] = ["required: the list of rules"]
    elif not isinstance(doc["rules"], list):
        errors["rules"] = ["must be a list of rules"]
    if errors:
        return None, errors
    body: dict[str, Any] = {"rules": doc["rules"]}
    if name:
        body["name"] = name
    return body, {}


def problem_errors(exc: Problem) -> dict[str, list[str]]:
    """A use case's refusal as path -> messages (its detail under "(document)" when it has no paths)."""
    found = exc.errors if isinstance(exc.errors, dict) else {}
    out = {str(k): [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in found.items()}
    if "_schema" in out:
        out["(document)"] = out.pop("_schema")
    return out or {"(document)": [exc.detail]}


@dataclass(frozen=True)
class DiffLine:
    kind: str  # file | hunk | add | del | same
    text: str


def version_diff(old: dict[str, Any], new: dict[str, Any], old_label: str, new_label: str) -> list[DiffLine]:
    """A unified diff of two rule documents, pretty-printed with sorted keys (empty when equal)."""

    def lines(doc: dict[str, Any]) -> list[str]:
        return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False).splitlines()

    out = []
    for line in difflib.unified_diff(lines(old), lines(new), old_label, new_label, lineterm="", n=3):
        if line.startswith(("---", "+++")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "same"
        out.append(DiffLine(kind, line))
    return out


def references(session: Session, tenant_id: str, shipment_ids: Iterable[str]) -> dict[str, str]:
    """The tenant's shipments' references by id (others' ids simply do not resolve)."""
    ids = sorted(set(shipment_ids))
    found: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        found.update(
            (row_id, ref)
            for row_id, ref in session.execute(
                sa.select(models.Shipment.id, models.Shipment.reference).where(
                    models.Shipment.tenant_id == tenant_id, models.Shipment.id.in_(ids[start : start + 500])
                )
            ).all()
        )
    return found


def rule_check(session: Session, tenant_id: str) -> tuple[dict[str, Any] | None, str]:
    """The active rules' conflicts and dead ends on the latest day (as the API's writes report them)."""
    try:
        return rule_sets.check_rules(session, tenant_id), ""
    except (Problem, model.ModelError, rules.RulesError) as exc:
        session.rollback()
        return None, str(exc)


# -- plans ------------------------------------------------------------------------------------------


def _address(a: models.Address | None) -> str:
    if a is None:
        return "-"
    parts = [a.street1, a.street2, f"{a.postal_code} {a.city}".strip(), a.country_code]
    return ", ".join(p for p in parts if p)


def _window(raw: Any) -> str:
    if not raw:
        return "any time"
    return f"{fleet.clock(int(raw[0]))} to {fleet.clock(int(raw[1]))}"


@dataclass
class Stop:
    sequence: int
    shipment_id: str
    reference: str
    eta: str
    address: str
    window: str
    weight_kg: str
    approximate: bool


@dataclass
class VanRoute:
    index: int
    vehicle_id: str
    name: str
    distance_km: str
    duration_minutes: int
    load_kg: str
    cost: dict[str, str]
    stops: list[Stop]


@dataclass
class Handover:
    carrier: str
    packages: int
    weight_kg: str
    cost: dict[str, str]
    references: list[str]


@dataclass
class PlanView:
    result: dict[str, Any]
    routes: list[VanRoute]
    handovers: list[Handover]
    map: MapSvg | None
    infeasible: list[dict[str, Any]] = field(default_factory=list)


def plan_view(session: Session, tenant_id: str, row: tables.PlanRun, depot: tables.Depot) -> PlanView:
    """A finished plan as the page shows it: per-van stop lists with addresses and windows, handovers, map."""
    result = row.result or {}
    packed = {p[0]: p for p in (row.problem or {}).get("packages", [])}
    decisions = {p["shipment_id"]: p for p in result.get("packages", [])}
    ids = list(decisions)
    addresses: dict[str, models.Address] = {}
    for start in range(0, len(ids), 500):
        for s in (
            session.execute(
                sa.select(models.Shipment).where(
                    models.Shipment.tenant_id == tenant_id, models.Shipment.id.in_(ids[start : start + 500])
                )
            )
            .unique()
            .scalars()
        ):
            addresses[s.id] = s.destination
    used = [r for r in result.get("routes", []) if r.get("stops")]
    routes = []
    for i, r in enumerate(used):
        stops = []
        for s in r["stops"]:
            pkg = packed.get(s["shipment_id"])
            stops.append(
                Stop(
                    sequence=s["sequence"],
                    shipment_id=s["shipment_id"],
                    reference=s["reference"],
                    eta=s["eta_local"],
                    address=_address(addresses.get(s["shipment_id"])),
                    window=_window(pkg[5] if pkg else None),
                    weight_kg=str(pkg[3]) if pkg else "-",
                    approximate=bool(decisions.get(s["shipment_id"], {}).get("approximate_location")),
                )
            )
        routes.append(
            VanRoute(
                index=i,
                vehicle_id=r["vehicle_id"],
                name=r.get("vehicle_name") or r["vehicle_id"],
                distance_km=r["distance_km"],
                duration_minutes=r["duration_minutes"],
                load_kg=r["load_kg"],
                cost=r["cost"],
                stops=stops,
            )
        )
    handovers = [
        Handover(
            carrier=h["carrier"],
            packages=h["packages"],
            weight_kg=h["weight_kg"],
            cost=h["cost"],
            references=[decisions.get(i, {}).get("reference", i) for i in h["shipment_ids"]],
        )
        for h in result.get("handovers", [])
    ]
    partner_points = [
        (
            decisions[i].get("reference", i),
            decisions[i].get("carrier") or "partner",
            float(packed[i][1]),
            float(packed[i][2]),
        )
        for h in result.get("handovers", [])
        for i in h["shipment_ids"]
        if i in packed and i in decisions
    ]
    van_points = [
        (
            r.name,
            [
                (str(s.sequence), float(packed[s.shipment_id][1]), float(packed[s.shipment_id][2]))
                for s in r.stops
                if s.shipment_id in packed
            ],
        )
        for r in routes
    ]
    drawn = route_map(depot.name, float(depot.longitude), float(depot.latitude), van_points, partner_points)
    return PlanView(
        result=result, routes=routes, handovers=handovers, map=drawn, infeasible=result.get("infeasible", [])
    )


# -- the map: a local equirectangular projection, drawn as SVG by the template ---------------------------

WIDTH, HEIGHT, MARGIN = 720, 460, 36
VAN_CLASSES = 6  # van-0 … van-5 in allocation.css, reused in turn


@dataclass(frozen=True)
class MapLine:
    name: str
    css: str
    points: str  # "x,y x,y …" for <polyline points>
    stops: list[MapPoint]


@dataclass(frozen=True)
class MapSvg(_maps.Drawing):
    depot: MapPoint
    vans: list[MapLine]
    partners: list[MapPoint]
    description: str


def route_map(
    depot_name: str,
    depot_lon: float,
    depot_lat: float,
    vans: Sequence[tuple[str, Sequence[tuple[str, float, float]]]],
    partners: Sequence[tuple[str, str, float, float]],
) -> MapSvg:
    """Project the depot, each van's stops and the partner parcels onto a flat local map.

    ``vans`` is (name, [(label, lon, lat), …]) in stop order; ``partners`` is (reference, carrier,
    lon, lat). Kilometres east and north of the depot (longitude scaled by the cosine of the
    depot's latitude) are scaled uniformly into the drawing, so distances read off the scale bar.
    """
    every = [(depot_lon, depot_lat)] + [(lon, lat) for _, stops in vans for _, lon, lat in stops]
    every += [(lon, lat) for _, _, lon, lat in partners]
    frame = _maps.fit(depot_lon, depot_lat, every, width=WIDTH, height=HEIGHT, margin=MARGIN, min_span_km=0.5)
    px = frame.px

    dx, dy = px(depot_lon, depot_lat)
    depot = MapPoint(dx, dy, depot_name, f"Depot {depot_name}")
    lines = []
    for i, (name, stops) in enumerate(vans):
        points = [MapPoint(*px(lon, lat), label, f"{name}, stop {label}") for label, lon, lat in stops]
        path = [(dx, dy)] + [(p.x, p.y) for p in points] + [(dx, dy)]
        lines.append(MapLine(name, f"van-{i % VAN_CLASSES}", " ".join(f"{x},{y}" for x, y in path), points))
    handed = [
        MapPoint(*px(lon, lat), ref, f"{ref}: handed to {carrier}") for ref, carrier, lon, lat in partners
    ]
    label = frame.scale_label
    stops_count = sum(len(s) for _, s in vans)
    return MapSvg(
        frame=frame,
        depot=depot,
        vans=lines,
        partners=handed,
        description=(
            f"Depot {depot_name}, {len(lines)} van route(s) with {stops_count} stop(s), "
            f"{len(handed)} parcel(s) handed to partners; scale bar {label}."
        ),
    )
