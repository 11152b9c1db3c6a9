"""Console pages: allocation (issue 20 item 5) for ops (admin passes); see docs/CONSOLE.md.

Rule sets are created by ``rule_sets.create_rule_set`` (the API's POST), edited as JSON or with the
common-rules form (``allocation_rule_form``) and saved through ``rule_sets.update_rule_set`` (the
API's PUT; the console keeps a deactivated set so, and Activate reactivates it), deactivated by
``rule_sets.deactivate_rule_set`` (the API's DELETE). Plans are requested through ``plans.request_plan`` (the API's POST, the same RQ job through
the outbox) and applied through ``plans.apply_plan``; what-ifs live in ``allocation_whatif``. The
signed-in user's id is the actor in the allocation audit log. Every read is scoped to
``user.tenant_id``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask
from flask import request
from marshmallow import ValidationError

from gateway.allocation import fleet, plans, rule_sets, runs, tables
from gateway.allocation.schemas import RuleSetWriteSchema
from gateway.allocation.schemas.plans import PlanRequestSchema
from gateway.console import _web, allocation_whatif
from gateway.console import allocation_rule_form as rule_form
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
        "rs_form": {"name": "", "start_from": "", "draft": ""},
        "rs_errors": {},
        "done": done if (done := request.args.get("done", "")) in ("activated", "deactivated") else "",
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
        simulations=runs.list_runs(session, tenant_id, "simulation", limit=5),
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
    common, others = rule_form.listing(current.document.get("rules", []))
    editing = next((c for c in common if c.id == request.args.get("edit", "")[:64]), None)
    values: dict[str, dict[str, str]] = {}
    if editing is not None:
        rule = next(r for r in current.document["rules"] if r.get("id") == editing.id)
        values[editing.kind] = rule_form.values_of(editing.kind, rule)
    context: dict[str, Any] = {
        "text": views.editor_text(current.document),
        "errors": {},
        "saved": request.args.get("saved", "")[:10],
        "form_kind": editing.kind if editing else "",
        "form_values": values,
        "form_errors": {},
        "form_fields": {},
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
        common=common,
        others=others,
        kinds=rule_form.KINDS,
        **context,
    )


def _version_arg(name: str, default: int, known: dict[int, Any]) -> int:
    raw = request.args.get(name, "")
    found = _web.whole(raw)
    value = default if found is None else found
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
        if _web.whole(base) is not None:
            body["base_version"] = _web.whole(base)
        try:
            rs, version = rule_sets.update_rule_set(
                session, user.tenant_id, user.id, rule_set_id[:64], body, keep_state=True
            )
        except Problem as exc:
            session.rollback()
            if exc.slug == "not-found":
                raise ConsoleError(404, "No such rule set.") from None
            errors = views.problem_errors(exc)
        else:
            session.commit()
            return flask.redirect(f"/console/allocation/rule-sets/{rs.id}?saved={version.version}", 303)
    return _rule_set_page(user, rule_set_id, 422, text=text, errors=errors)


def _save_rules(
    user: ConsoleUser, rule_set_id: str, rules: list[Any], base: str, keep_state: bool = True
) -> tuple[Any, Any]:
    """Save a rule list as the set's next version (the API's PUT); raise Problem when refused. A
    deactivated set stays so (a draft is edited, not put into plans) unless ``keep_state`` is False."""
    body: dict[str, Any] = {"rules": rules}
    if _web.whole(base) is not None:
        body["base_version"] = _web.whole(base)
    return rule_sets.update_rule_set(
        web.db(), user.tenant_id, user.id, rule_set_id[:64], body, keep_state=keep_state
    )


def _current_rules(user: ConsoleUser, rule_set_id: str) -> list[Any]:
    try:
        rs = rule_sets.get_rule_set(web.db(), user.tenant_id, rule_set_id[:64])
        return list(rule_sets.rule_set_version(web.db(), rs).document.get("rules", []))
    except Problem:
        raise ConsoleError(404, "No such rule set.") from None


@signed_in(*OPS)
def rule_form_save(rule_set_id: str) -> WebResponse:
    """The common-rules form: add (or replace by id) one rule and save the set as a new version."""
    user = _user()
    kind = request.form.get("kind", "")
    if kind not in rule_form.KINDS:
        raise ConsoleError(400, "Unknown kind of rule.")
    values = {k: request.form.get(k, "").strip()[:500] for k in rule_form.FIELD_NAMES}
    session = web.db()
    elsewhere = rule_sets.active_rule_ids(session, user.tenant_id)
    rules, index = rule_form.put(_current_rules(user, rule_set_id), kind, values, elsewhere)
    try:
        rs, version = _save_rules(user, rule_set_id, rules, request.form.get("base_version", ""))
    except Problem as exc:
        session.rollback()
        errors = views.problem_errors(exc)
        return _rule_set_page(
            user,
            rule_set_id,
            422,
            form_kind=kind,
            form_values={kind: values},
            form_errors=errors,
            form_fields=rule_form.field_errors(kind, index, errors),
        )
    session.commit()
    return flask.redirect(f"/console/allocation/rule-sets/{rs.id}?saved={version.version}#common-h", 303)


@signed_in(*OPS)
def rule_form_remove(rule_set_id: str) -> WebResponse:
    """Remove one rule (by id) and save the set as a new version."""
    user = _user()
    rule_id = request.form.get("rule_id", "")[:64]
    before = _current_rules(user, rule_set_id)
    rules = [r for r in before if not (isinstance(r, dict) and r.get("id") == rule_id)]
    if len(rules) == len(before):
        raise ConsoleError(404, "No such rule in this rule set.")
    session = web.db()
    try:
        rs, version = _save_rules(user, rule_set_id, rules, request.form.get("base_version", ""))
    except Problem as exc:
        session.rollback()
        return _rule_set_page(user, rule_set_id, 422, form_errors=views.problem_errors(exc))
    session.commit()
    return flask.redirect(f"/console/allocation/rule-sets/{rs.id}?saved={version.version}#common-h", 303)


@signed_in(*OPS)
def create_rule_set() -> WebResponse:
    """Create a rule set (the API's POST), empty or starting from another set's current rules.

    Rule ids are unique across active sets, so rules copied from an active set get a "-copy"
    suffix. "Start as a draft" deactivates the new set at once (for what-ifs).
    """
    user = _user()
    session = web.db()
    form = {
        "name": request.form.get("name", "").strip()[:300],
        "start_from": request.form.get("start_from", "")[:64],
        "draft": "on" if request.form.get("draft") else "",
    }
    rules: list[Any] = []
    if form["start_from"]:
        try:
            source = rule_sets.get_rule_set(session, user.tenant_id, form["start_from"])
        except Problem:
            return _overview(user, 422, rs_form=form, rs_errors={"start_from": ["no such rule set"]})
        rules = list(rule_sets.rule_set_version(session, source).document.get("rules", []))
        if source.active:
            rules = [{**r, "id": f"{str(r['id'])[:59]}-copy"} for r in rules]
    try:
        data = RuleSetWriteSchema().load({"name": form["name"], "rules": rules})
        rs, _ = rule_sets.create_rule_set(session, user.tenant_id, user.id, data)
        if form["draft"]:
            rule_sets.deactivate_rule_set(session, user.tenant_id, user.id, rs.id)
    except ValidationError as exc:
        return _overview(user, 422, rs_form=form, rs_errors=_messages(exc.messages))
    except Problem as exc:
        session.rollback()
        return _overview(user, 422, rs_form=form, rs_errors=views.problem_errors(exc))
    session.commit()
    return flask.redirect(f"/console/allocation/rule-sets/{rs.id}", 303)


@signed_in(*OPS)
def set_active(rule_set_id: str, state: str) -> WebResponse:
    """Deactivate a rule set (the API's DELETE), or activate it by saving its rules again (the API's PUT)."""
    user = _user()
    session = web.db()
    try:
        if state == "deactivate":
            rs = rule_sets.deactivate_rule_set(session, user.tenant_id, user.id, rule_set_id[:64])
        else:
            rs = rule_sets.get_rule_set(session, user.tenant_id, rule_set_id[:64])
            if not rs.active:
                rules = rule_sets.rule_set_version(session, rs).document.get("rules", [])
                rs, _ = _save_rules(user, rs.id, list(rules), str(rs.current_version), keep_state=False)
    except Problem as exc:
        session.rollback()
        if exc.slug == "not-found":
            raise ConsoleError(404, "No such rule set.") from None
        return _overview(user, 409, rs_errors=views.problem_errors(exc))
    session.commit()
    return flask.redirect(f"/console/allocation?done={state}d#rs-{rs.id}", 303)


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
    depot = allocation_whatif.run_depot(session, user.tenant_id, row, "No such plan.")
    shown = None
    if row.state in ("done", "applied") and row.result is not None:
        shown = views.plan_view(session, user.tenant_id, row, depot)
    return allocation_whatif.render_run(
        "allocation_plan.html",
        row,
        depot,
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
    route("/console/allocation/rule-sets", "allocation_create_rule_set", create_rule_set, ("POST",))
    route(
        "/console/allocation/rule-sets/<string:rule_set_id>/<any(deactivate, activate):state>",
        "allocation_rule_set_state",
        set_active,
        ("POST",),
    )
    route(
        "/console/allocation/rule-sets/<string:rule_set_id>/rules",
        "allocation_rule_form",
        rule_form_save,
        ("POST",),
    )
    route(
        "/console/allocation/rule-sets/<string:rule_set_id>/rules/remove",
        "allocation_rule_remove",
        rule_form_remove,
        ("POST",),
    )
    route("/console/allocation/plans", "allocation_run_plan", run_plan, ("POST",))
    route("/console/allocation/plans/<string:plan_id>", "allocation_plan", plan)
    route("/console/allocation/plans/<string:plan_id>/apply", "allocation_apply", apply, ("POST",))
    allocation_whatif.register(route)


NAV: list[tuple[str, str, tuple[str, ...]]] = [
    ("/console/allocation", "Allocation", OPS)
]  # (path, label, roles that see it)
