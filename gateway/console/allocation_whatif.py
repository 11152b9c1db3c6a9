"""Console pages: what-ifs (issue 20 item 5), candidate rules and/or vans against the active configuration.

The form composes a candidate from what is stored (rule-set versions, the depot's vans) and hands
it to ``simulations.request_simulation``, the API's POST /v1/allocation/simulations (validated by
the same ``SimulationRequestSchema``, the same RQ job through the outbox). The result page only
lays out what ``simulations.run_simulation`` stored, the active configuration and the candidate
side by side; the differences are plain subtractions of those stored figures. Every read is
scoped to ``user.tenant_id``; the signed-in user's id is recorded as the requester.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import flask
from flask import request
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from gateway.allocation import fleet, rule_sets, runs, simulations, tables
from gateway.allocation.schemas import SimulationRequestSchema
from gateway.console import _web
from gateway.console import allocation_views as views
from gateway.console._web import ConsoleError, WebResponse, render, signed_in
from gateway.console.tables import ConsoleUser
from gateway.kernel import web
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow

Route = Callable[..., None]

OPS = ("ops",)
RUN_FIELDS = ("day", "depot_id", "time_limit_s", "seed", "max_iterations")
FORM_FIELDS = (*RUN_FIELDS, "rules_version", "extra_vans", "like_van")
MAX_EXTRA_VANS = 20
VERSIONS_OFFERED = 10  # the latest versions of each rule set in the candidate list
CHANGED_SHOWN = 50


def _user() -> ConsoleUser:
    user = _web.load_user()
    assert user is not None  # signed_in
    return user


# -- composing the candidate from stored rule sets and vans ------------------------------------------


@dataclass(frozen=True)
class VersionChoice:
    value: str  # "<rule set id>:<version>"
    label: str


def version_choices(session: Session, tenant_id: str) -> list[VersionChoice]:
    """Every rule set's latest versions, for the candidate's "use this version" list."""
    out = []
    for rs in rule_sets.list_rule_sets(session, tenant_id, include_inactive=True):
        for v in rule_sets.rule_set_versions(session, tenant_id, rs.id)[:VERSIONS_OFFERED]:
            notes = []
            if v.version == rs.current_version:
                notes.append("current")
            if not rs.active:
                notes.append("set deactivated")
            note = f" ({', '.join(notes)})" if notes else ""
            out.append(VersionChoice(f"{rs.id}:{v.version}", f"{rs.name}, version {v.version}{note}"))
    return out


class CandidateError(Exception):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(str(errors))
        self.errors = errors


def candidate_rules(
    session: Session, tenant_id: str, included: set[str], picked: str
) -> list[dict[str, Any]] | None:
    """The candidate's rules: the ticked active sets' current rules, with the picked version in its set's place.

    A picked version of a set that is not active comes after the active ones. None when nothing
    differs from the active configuration (every active set ticked, no version picked).
    """
    active = rule_sets.list_rule_sets(session, tenant_id)
    if not picked and {rs.id for rs in active} <= included:
        return None
    chosen: tuple[str, list[dict[str, Any]]] | None = None
    if picked:
        set_id, _, number = picked.partition(":")
        try:
            wanted = _web.whole(number)
            if wanted is None:
                raise Problem("not-found", "no such version")
            rs = rule_sets.get_rule_set(session, tenant_id, set_id[:64])
            version = rule_sets.rule_set_version(session, rs, wanted)
        except Problem:
            raise CandidateError({"rules_version": ["no such rule set version"]}) from None
        chosen = (rs.id, list(version.document.get("rules", [])))
    out: list[dict[str, Any]] = []
    placed = False
    for rs in active:
        if chosen is not None and rs.id == chosen[0]:
            out += chosen[1]
            placed = True
        elif rs.id in included:
            out += rule_sets.rule_set_version(session, rs).document.get("rules", [])
    if chosen is not None and not placed:
        out += chosen[1]
    return out


def _van_state(v: tables.Vehicle) -> dict[str, Any]:
    shown = fleet.present_vehicle(v)
    state: dict[str, Any] = {k: shown[k] for k in fleet.VEHICLE_FIELDS if shown.get(k) is not None}
    for key in ("cost_per_km", "cost_per_hour", "cost_per_day"):
        state[key] = shown[key]["amount"]
    return {k: str(x) if isinstance(x, Decimal) else x for k, x in state.items()}


def candidate_vehicles(
    session: Session, tenant_id: str, depot_id: str, extra: str, like: str
) -> list[dict[str, Any]] | None:
    """The depot's active vans plus ``extra`` copies of van ``like`` (None when no van is added)."""
    if not extra or extra == "0":
        return None
    count = _web.whole(extra, 3)
    if count is None or not 0 <= count <= MAX_EXTRA_VANS:
        raise CandidateError({"extra_vans": [f"a whole number from 0 to {MAX_EXTRA_VANS}"]})
    try:
        source = fleet.get_vehicle(session, tenant_id, like[:64])
        depot = fleet.get_depot(session, tenant_id, depot_id)
    except Problem:
        raise CandidateError({"like_van": ["choose the van to copy"]}) from None
    if source.currency != depot.currency:
        # Its costs are amounts in its own currency; read in the depot's they would be wrong figures.
        raise CandidateError(
            {
                "like_van": [
                    f"{source.name} costs in {source.currency}, this depot in {depot.currency}: copy one of its own vans"
                ]
            }
        )
    vans = [{"id": v.id, **_van_state(v)} for v in fleet.list_vehicles(session, tenant_id, depot_id=depot_id)]
    copy = _van_state(source)
    for i in range(count):
        vans.append({**copy, "name": f"{source.name} (copy {i + 1})"[:200]})
    return vans


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Marshmallow's nested messages as dotted path -> sentences."""
    if isinstance(messages, dict):
        out: dict[str, list[str]] = {}
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, path))
        return out
    items = messages if isinstance(messages, list) else [messages]
    return {prefix or "(form)": [str(m) for m in items]}


# -- the result, side by side ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    label: str
    active: str
    candidate: str
    difference: str
    id: str = ""


def _num(raw: Any) -> Decimal | None:
    try:
        return None if raw is None else Decimal(str(raw))
    except InvalidOperation:
        return None


def _signed(a: Any, b: Any, suffix: str = "") -> str:
    """``b - a`` with its sign ("+1.50", "-2", "0"), or "n/a" when either is unknown."""
    x, y = _num(a), _num(b)
    if x is None or y is None:
        return "n/a"
    d = y - x
    text = f"{d:+f}" if d else "0"
    return text + suffix


def _money(m: dict[str, Any]) -> str:
    return f"{m['amount']} {m['currency']}"


def _percent(raw: Any) -> str:
    return "n/a" if raw is None else f"{raw} %"


def _kept(side: dict[str, Any]) -> str | None:
    n = side.get("packages") or 0
    if not n:
        return None
    return f"{(Decimal(n) - Decimal(side.get('missed_promises', 0))) / Decimal(n) * 100:.1f}"


def _mean_on_time(side: dict[str, Any]) -> str | None:
    """The mean on-time probability of the chosen options as a percentage (None: unknown, older runs)."""
    mean = _num((side.get("on_time") or {}).get("mean_probability"))
    return None if mean is None else f"{mean * 100:.1f}"


def _at_risk(side: dict[str, Any]) -> int:
    return sum(i.get("shipment_count", 0) for i in side.get("issues", []) if i.get("kind") == "on_time_risk")


def comparison(result: dict[str, Any]) -> list[Row]:
    """The stored figures of both configurations as rows: active, candidate, candidate minus active."""
    a, c = result["active"], result["candidate"]
    cur = result["currency"]
    fa, fc = a["fleet"], c["fleet"]
    diff = result["difference"]
    pct = f" ({diff['percent']} %)" if diff.get("percent") is not None else ""
    rows = [
        Row(
            "Total cost",
            _money(a["total_cost"]),
            _money(c["total_cost"]),
            _signed(0, diff["total_cost"]["amount"], f" {cur}{pct}"),
            "total",
        ),
        Row(
            "Cost per parcel",
            _money(a["cost_per_package"]),
            _money(c["cost_per_package"]),
            _signed(a["cost_per_package"]["amount"], c["cost_per_package"]["amount"], f" {cur}"),
            "per-parcel",
        ),
        Row(
            "Own fleet cost",
            _money(a["fleet_cost"]),
            _money(c["fleet_cost"]),
            _signed(a["fleet_cost"]["amount"], c["fleet_cost"]["amount"], f" {cur}"),
        ),
        Row(
            "Partner cost",
            _money(a["partner_cost"]),
            _money(c["partner_cost"]),
            _signed(a["partner_cost"]["amount"], c["partner_cost"]["amount"], f" {cur}"),
        ),
        Row(
            "Promises kept (planned in time)",
            _percent(_kept(a)),
            _percent(_kept(c)),
            _signed(_kept(a), _kept(c), " points"),
            "kept",
        ),
        Row(
            "On-time probability (mean of the options chosen)",
            _percent(_mean_on_time(a)),
            _percent(_mean_on_time(c)),
            _signed(_mean_on_time(a), _mean_on_time(c), " points"),
            "on-time",
        ),
        Row(
            "Parcels at on-time risk (below a minimum on-time probability)",
            str(_at_risk(a)),
            str(_at_risk(c)),
            _signed(_at_risk(a), _at_risk(c)),
            "at-risk",
        ),
        Row(
            "Parcels unassigned (no van or partner in time)",
            str(a["missed_promises"]),
            str(c["missed_promises"]),
            _signed(a["missed_promises"], c["missed_promises"]),
            "unassigned",
        ),
        Row(
            "Vans used",
            f"{fa['vans_used']} of {fa['vans_available']}",
            f"{fc['vans_used']} of {fc['vans_available']}",
            _signed(fa["vans_used"], fc["vans_used"]),
            "vans",
        ),
        Row(
            "Van load used (kg of capacity)",
            _percent(fa["utilisation_kg_percent"]),
            _percent(fc["utilisation_kg_percent"]),
            _signed(fa["utilisation_kg_percent"], fc["utilisation_kg_percent"], " points"),
        ),
        Row(
            "Van shift used (time on the road)",
            _percent(fa["utilisation_shift_percent"]),
            _percent(fc["utilisation_shift_percent"]),
            _signed(fa["utilisation_shift_percent"], fc["utilisation_shift_percent"], " points"),
        ),
        Row("Van stops", str(fa["stops"]), str(fc["stops"]), _signed(fa["stops"], fc["stops"])),
        Row(
            "Van distance",
            f"{fa['distance_km']} km",
            f"{fc['distance_km']} km",
            _signed(fa["distance_km"], fc["distance_km"], " km"),
        ),
    ]
    return rows


def verdict(result: dict[str, Any]) -> str:
    """One sentence: is the candidate cheaper, and how many parcels change hands."""
    delta = _num(result["difference"]["total_cost"]["amount"]) or Decimal(0)
    cur = result["currency"]
    if delta < 0:
        head = f"The candidate is cheaper by {-delta} {cur}"
    elif delta > 0:
        head = f"The candidate costs {delta} {cur} more"
    else:
        head = "The candidate costs the same"
    return f"{head}, over {result['packages']} parcel(s); {result['changed_count']} parcel(s) change hands."


@dataclass(frozen=True)
class ShareRow:
    carrier: str
    active: str
    candidate: str
    difference: str


def shares(result: dict[str, Any]) -> list[ShareRow]:
    """Parcels per carrier (the fleet and "unassigned" included) on both sides."""
    a, c = result["active"]["share"], result["candidate"]["share"]
    out = []
    for key in sorted(set(a) | set(c)):
        sa_, sc = a.get(key), c.get(key)

        def cell(s: dict[str, Any] | None) -> str:
            return "0" if s is None else f"{s['packages']} ({s['percent']} %), {_money(s['cost'])}"

        out.append(
            ShareRow(
                key,
                cell(sa_),
                cell(sc),
                _signed((sa_ or {}).get("packages", 0), (sc or {}).get("packages", 0), " parcel(s)"),
            )
        )
    return out


# -- pages ------------------------------------------------------------------------------------------------


def _form_page(user: ConsoleUser, status: int = 200, **extra: Any) -> flask.Response:
    session = web.db()
    tenant_id = user.tenant_id
    depots = fleet.list_depots(session, tenant_id)
    active_sets = rule_sets.list_rule_sets(session, tenant_id)
    context: dict[str, Any] = {
        "form": {
            "day": utcnow().date().isoformat(),
            "time_limit_s": "10",
            "seed": "0",
            "extra_vans": "0",
        },
        "included": {rs.id for rs in active_sets},
        "errors": {},
    }
    context.update(extra)
    return render(
        "allocation_whatif.html",
        status,
        depots=depots,
        depot_names={d.id: d.name for d in fleet.list_depots(session, tenant_id, include_inactive=True)},
        active_sets=active_sets,
        choices=version_choices(session, tenant_id),
        vans=fleet.list_vehicles(session, tenant_id),
        simulations=runs.list_runs(session, tenant_id, "simulation", limit=20),
        progress=runs.progress_of,
        max_extra=MAX_EXTRA_VANS,
        **context,
    )


@signed_in(*OPS)
def whatif() -> WebResponse:
    """GET: the what-if form and recent what-ifs. POST: compose the candidate and queue the what-if."""
    user = _user()
    if request.method == "GET":
        return _form_page(user)
    session = web.db()
    form = {k: request.form.get(k, "").strip()[:64] for k in FORM_FIELDS}
    included = {i[:64] for i in request.form.getlist("include")[:200]}
    body: dict[str, Any] = {k: form[k] for k in RUN_FIELDS if form[k]}
    errors: dict[str, list[str]] = {}
    try:
        rules = candidate_rules(session, user.tenant_id, included, form["rules_version"])
        if rules is not None:
            body["rules"] = rules
    except CandidateError as exc:
        errors.update(exc.errors)
    try:
        vans = candidate_vehicles(
            session, user.tenant_id, form["depot_id"], form["extra_vans"], form["like_van"]
        )
        if vans is not None:
            body["vehicles"] = vans
    except CandidateError as exc:
        errors.update(exc.errors)
    data: dict[str, Any] = {}
    if not errors:
        try:
            data = SimulationRequestSchema().load(body)
        except ValidationError as exc:
            errors = _flatten(exc.messages)
    if errors:
        return _form_page(user, 422, form=form, included=included, errors=errors)
    try:
        row = simulations.request_simulation(session, user.tenant_id, user.id, data)
    except Problem as exc:
        session.rollback()
        status = 409 if exc.slug == "conflict" else 422
        return _form_page(user, status, form=form, included=included, errors=views.problem_errors(exc))
    session.commit()
    return flask.redirect(f"/console/allocation/simulations/{row.id}", 303)


def run_depot(session: Session, tenant_id: str, row: tables.PlanRun, missing: str) -> tables.Depot:
    """The depot of a plan or what-if run; not the tenant's (or gone): a 404 saying ``missing``."""
    depot = session.get(tables.Depot, row.depot_id)
    if depot is None or depot.tenant_id != tenant_id:
        raise ConsoleError(404, missing)
    return depot


def render_run(template: str, row: tables.PlanRun, depot: tables.Depot, **context: Any) -> flask.Response:
    """A plan's or what-if's page: its progress while it runs, when the page refreshes itself (unless
    ``?reload=off``), and ``context``; the plan page (``pages_allocation.plan``) shows its run with it too."""
    return render(
        template,
        row=row,
        depot=depot,
        progress=runs.progress_of(row, utcnow()),
        running=row.state in ("queued", "running"),
        auto_reload=request.args.get("reload") != "off",
        **context,
    )


@signed_in(*OPS)
def simulation(simulation_id: str) -> flask.Response:
    """A what-if: its progress while it runs (the page refreshes itself), then both columns side by side."""
    user = _user()
    session = web.db()
    try:
        row = runs.get_run(session, user.tenant_id, simulation_id[:64], "simulation")
    except Problem:
        raise ConsoleError(404, "No such what-if.") from None
    depot = run_depot(session, user.tenant_id, row, "No such what-if.")
    result = row.result if row.state == "done" else None
    changed = (result or {}).get("changed", [])[:CHANGED_SHOWN]
    asked = row.request or {}
    return render_run(
        "allocation_simulation.html",
        row,
        depot,
        result=result,
        rows=comparison(result) if result else [],
        verdict=verdict(result) if result else "",
        shares=shares(result) if result else [],
        changed=changed,
        refs=views.references(session, user.tenant_id, (c["shipment_id"] for c in changed)),
        candidate_rules=(asked.get("rules") or {}).get("rules") if asked.get("rules") else None,
        candidate_vans=asked.get("vehicles"),
    )


def register(route: Route) -> None:
    """Add the what-if pages with ``route(rule, endpoint, view, methods)``."""
    route("/console/allocation/simulations", "allocation_whatif", whatif, ("GET", "POST"))
    route("/console/allocation/simulations/<string:simulation_id>", "allocation_simulation", simulation)
