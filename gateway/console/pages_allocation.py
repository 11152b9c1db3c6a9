"""Console pages: allocation (issue 20 item 5) for ops (admin passes); see docs/CONSOLE.md.

Rule sets are edited as JSON and saved through ``rule_sets.update_rule_set`` (the API's PUT), plans
requested through ``plans.request_plan`` (the API's POST, the same RQ job through the outbox) and
applied through ``plans.apply_plan``. The signed-in user's id is the actor in the allocation audit
log. Every read is scoped to ``user.tenant_id``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask
from flask import request
from marshmallow import ValidationError

from gateway.allocation import fleet, plans, rule_sets, runs, tables
from gateway.allocation.schemas.plans import PlanRequestSchema
from gateway.console import _web
from gateway.console import allocation_views as views
from gateway.console._web import ConsoleError, WebResponse, render, signed_in
from gateway.console.tables import ConsoleUser
from gateway.kernel import web
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow

Route = Callable[..., None]

OPS = ("ops",)
PLAN_FIELDS = ("day", "depot_id", "time_limit_s", "seed", "max_iterations")


def _user() -> ConsoleUser:
    user = _web.load_user()
    assert user is not None  # signed_in
    return user


def _overview(user: ConsoleUser, status: int = 200, **extra: Any) -> flask.Response:
    session = web.db()
    tenant_id = user.tenant_id
    sets = rule_sets.list_rule_sets(session, tenant_id, include_inactive=True)
    depots = fleet.list_depots(session, tenant_id, include_inactive=True)
    context: dict[str, Any] = {
        "form": {"day": utcnow().date().isoformat(), "time_limit_s": "10", "seed": "0"},
        "errors": {},
    }
    context.update(extra)
    return render(
        "allocation.html",
        status,
        rule_sets=sets,
        depots=depots,
        depot_names={d.id: d.name for d in depots},
        active_depots=[d for d in depots if d.active],
        vans=fleet.list_vehicles(session, tenant_id, include_inactive=True),
        plans=runs.list_runs(session, tenant_id, "plan", limit=20),
        progress=runs.progress_of,
        clock=fleet.clock,
        **context,
    )


@signed_in(*OPS)
def overview() -> flask.Response:
    """Rule sets, depots and vans, recent plans, and the form to run one."""
    return _overview(_user())


def _rule_set_page(user: ConsoleUser, rule_set_id: str, status: int = 200, **extra: Any) -> flask.Response:
    session = web.db()
    try:
        rs = rule_sets.get_rule_set(session, user.tenant_id, rule_set_id[:64])
        versions = rule_sets.rule_set_versions(session, user.tenant_id, rs.id)
    except Problem:
        raise ConsoleError(404, "No such rule set.") from None
    by_number = {v.version: v for v in versions}
    current = by_number[rs.current_version]
    newer = _version_arg("b", rs.current_version, by_number)
    older = _version_arg("a", max(1, newer - 1), by_number)
    diff = views.version_diff(
        by_number[older].document, by_number[newer].document, f"version {older}", f"version {newer}"
    )
    check, check_error = views.rule_check(session, user.tenant_id)
    issues = (check or {}).get("issues", [])
    refs = views.references(session, user.tenant_id, (i for x in issues for i in x["shipment_ids"]))
    own_rules = {r["id"] for r in current.document.get("rules", [])}
    context: dict[str, Any] = {
        "text": views.editor_text(current.document),
        "errors": {},
        "saved": request.args.get("saved", "")[:10],
    }
    context.update(extra)
    return render(
        "allocation_rule_set.html",
        status,
        rs=rs,
        versions=versions,
        older=older,
        newer=newer,
        diff=diff,
        check=check,
        check_error=check_error,
        issues=issues,
        refs=refs,
        own_rules=own_rules,
        **context,
    )


def _version_arg(name: str, default: int, known: dict[int, Any]) -> int:
    raw = request.args.get(name, "")
    value = int(raw) if raw.isdigit() and len(raw) < 10 else default
    return value if value in known else default


@signed_in(*OPS)
def rule_set(rule_set_id: str) -> WebResponse:
    """The editor: the JSON document, its versions with a diff, and the active rules' issues.

    On POST, the document is saved as a new version by the API's use case; a refusal is shown
    beside the text (kept as typed) with the JSON path of every problem, and nothing is saved.
    """
    user = _user()
    if request.method == "GET":
        return _rule_set_page(user, rule_set_id)
    session = web.db()
    text = request.form.get("document", "")[:200_000]
    body, errors = views.parse_editor(text)
    base = request.form.get("base_version", "")
    if body is not None:
        if base.isdigit() and len(base) < 10:
            body["base_version"] = int(base)
        try:
            rs, version = rule_sets.update_rule_set(session, user.tenant_id, user.id, rule_set_id[:64], body)
        except Problem as exc:
            session.rollback()
            if exc.slug == "not-found":
                raise ConsoleError(404, "No such rule set.") from None
            errors = views.problem_errors(exc)
        else:
            session.commit()
            return flask.redirect(f"/console/allocation/rule-sets/{rs.id}?saved={version.version}", 303)
    return _rule_set_page(user, rule_set_id, 422, text=text, errors=errors)


@signed_in(*OPS)
def run_plan() -> WebResponse:
    """Request a plan of a depot's day: the API's use case, the same RQ job (through the outbox)."""
    user = _user()
    form = {k: request.form.get(k, "").strip()[:64] for k in PLAN_FIELDS}
    try:
        data = PlanRequestSchema().load({k: v for k, v in form.items() if v})
    except ValidationError as exc:
        errors = {k: [str(m) for m in v] for k, v in _messages(exc.messages).items()}
        return _overview(user, 422, form=form, errors=errors)
    session = web.db()
    try:
        row = plans.request_plan(session, user.tenant_id, user.id, data)
    except Problem as exc:
        session.rollback()
        return _overview(user, 409, form=form, errors=views.problem_errors(exc))
    session.commit()
    return flask.redirect(f"/console/allocation/plans/{row.id}", 303)


def _messages(messages: Any) -> dict[str, list[str]]:
    """Marshmallow's messages as field -> list of sentences."""
    if not isinstance(messages, dict):
        return {"(form)": [str(messages)]}
    return {str(k): v if isinstance(v, list) else [str(v)] for k, v in messages.items()}


def _plan_row(user: ConsoleUser, plan_id: str) -> tables.PlanRun:
    try:
        return runs.get_run(web.db(), user.tenant_id, plan_id[:64], "plan")
    except Problem:
        raise ConsoleError(404, "No such plan.") from None


@signed_in(*OPS)
def plan(plan_id: str) -> flask.Response:
    """A plan: its progress while it runs (the page refreshes itself), then costs, routes, map, apply."""
    user = _user()
    row = _plan_row(user, plan_id)
    session = web.db()
    depot = session.get(tables.Depot, row.depot_id)
    if depot is None or depot.tenant_id != user.tenant_id:
        raise ConsoleError(404, "No such plan.")
    shown = None
    if row.state in ("done", "applied") and row.result is not None:
        shown = views.plan_view(session, user.tenant_id, row, depot)
    return render(
        "allocation_plan.html",
        row=row,
        depot=depot,
        progress=runs.progress_of(row, utcnow()),
        running=row.state in ("queued", "running"),
        auto_reload=request.args.get("reload") != "off",
        view=shown,
        applied=request.args.get("applied", "")[:10],
        skipped=request.args.get("skipped", "")[:10],
    )


@signed_in(*OPS)
def apply(plan_id: str) -> WebResponse:
    """Apply a finished plan (the API's use case): each draft shipment gets its carrier or the fleet."""
    user = _user()
    session = web.db()
    try:
        outcome = plans.apply_plan(session, user.tenant_id, user.id, plan_id[:64])
    except Problem as exc:
        session.rollback()
        if exc.slug == "not-found":
            raise ConsoleError(404, "No such plan.") from None
        raise ConsoleError(409, exc.detail) from None
    session.commit()
    return flask.redirect(
        f"/console/allocation/plans/{outcome['plan_id']}"
        f"?applied={len(outcome['applied'])}&skipped={len(outcome['skipped'])}",
        303,
    )


def register(route: Route) -> None:
    """Add this area's pages with ``route(rule, endpoint, view, methods)``."""
    route("/console/allocation", "allocation", overview)
    route(
        "/console/allocation/rule-sets/<string:rule_set_id>", "allocation_rule_set", rule_set, ("GET", "POST")
    )
    route("/console/allocation/plans", "allocation_run_plan", run_plan, ("POST",))
    route("/console/allocation/plans/<string:plan_id>", "allocation_plan", plan)
    route("/console/allocation/plans/<string:plan_id>/apply", "allocation_apply", apply, ("POST",))


NAV: list[tuple[str, str, tuple[str, ...]]] = [
    ("/console/allocation", "Allocation", OPS)
]  # (path, label, roles that see it)
