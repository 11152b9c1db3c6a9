"""Console pages: dispatch (issue 20 item 6) for ops (admin passes); see docs/CONSOLE.md.

The applied allocation plans of a day, per van, and each van's route sheet as a page and as a
printable PDF (ReportLab). Everything is read from what ``gateway.allocation.plans.apply_plan``
stored, scoped to ``user.tenant_id``. The one write is the van's driver, through the API's use case
(``gateway.allocation.drivers``, validated by the API's schema), with the signed-in user's id as the
actor in the allocation audit log.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import quote

import flask
from flask import request
from marshmallow import ValidationError

from gateway.allocation import drivers
from gateway.allocation.schemas.drivers import RouteDriverWriteSchema
from gateway.console import _web
from gateway.console import dispatch_views as views
from gateway.console._web import ConsoleError, WebResponse, render, signed_in
from gateway.console.tables import ConsoleUser
from gateway.kernel import web
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow

Route = Callable[..., None]

OPS = ("ops",)


def _user() -> ConsoleUser:
    user = _web.load_user()
    assert user is not None  # signed_in
    return user


def _day() -> tuple[date, str]:
    """The asked day (``?day=YYYY-MM-DD``, default today in UTC) and a refusal sentence when unreadable."""
    raw = request.args.get("day", "").strip()[:10]
    today = utcnow().date()
    if not raw:
        return today, ""
    try:
        return date.fromisoformat(raw), ""
    except ValueError:
        return today, f"{raw!r} is not a day (YYYY-MM-DD): showing today."


@signed_in(*OPS)
def overview() -> flask.Response:
    """The day's applied plans, per van: stops, distance, duration, driver, and the route sheets."""
    user = _user()
    day, error = _day()
    plans = views.applied_plans(web.db(), user.tenant_id, day)
    return render("dispatch.html", 422 if error else 200, day=day, plans=plans, error=error)


def _sheet(plan_id: str, vehicle_id: str) -> views.RouteSheet:
    user = _user()
    try:
        sheet = views.route_sheet(web.db(), user.tenant_id, plan_id[:64], vehicle_id[:64])
    except views.NotApplied as exc:
        raise ConsoleError(
            409, f"This plan is {exc.state}: apply it (Allocation, the plan's page) to dispatch it."
        ) from None
    if sheet is None:
        raise ConsoleError(404, "No such plan, or this van has no stops in it.")
    return sheet


DRIVER_FIELDS = ("driver_id", "driver_name")
NOTICES = {
    "saved": "The driver is saved: the route sheet prints them.",
    "removed": "The van has no driver now.",
}


def _van_page(plan_id: str, vehicle_id: str, status: int = 200, **extra: Any) -> flask.Response:
    sheet = _sheet(plan_id, vehicle_id)
    context: dict[str, Any] = {
        "form": {"driver_id": sheet.driver_id, "driver_name": sheet.driver_name},
        "errors": {},
        "notice": NOTICES.get(request.args.get("driver", "")[:10], ""),
    }
    context.update(extra)
    return render("dispatch_van.html", status, sheet=sheet, **context)


@signed_in(*OPS)
def van(plan_id: str, vehicle_id: str) -> flask.Response:
    """A van's route sheet as a page, with the link to its PDF and the form to assign its driver."""
    return _van_page(plan_id, vehicle_id)


def _back(row_plan: str, row_vehicle: str, outcome: str) -> WebResponse:
    where = f"/console/dispatch/plans/{quote(row_plan, safe='')}/vans/{quote(row_vehicle, safe='')}"
    return flask.redirect(f"{where}?driver={outcome}#driver", 303)


def _refused(exc: Problem) -> ConsoleError:
    if exc.slug == "not-found":
        return ConsoleError(404, "No such plan, or this van has no stops in it.")
    return ConsoleError(409, exc.detail)


@signed_in(*OPS)
def assign_driver(plan_id: str, vehicle_id: str) -> WebResponse:
    """Assign or change the van's driver (the API's use case); a refusal is shown beside the form."""
    user = _user()
    plan_id, vehicle_id = plan_id[:64], vehicle_id[:64]
    form = {k: request.form.get(k, "")[:300] for k in DRIVER_FIELDS}
    try:
        data = RouteDriverWriteSchema().load(form)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"(form)": exc.messages}
        errors = {str(k): [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in messages.items()}
        return _van_page(plan_id, vehicle_id, 422, form=form, errors=errors)
    session = web.db()
    try:
        row = drivers.assign_driver(session, user.tenant_id, user.id, plan_id, vehicle_id, data)
    except Problem as exc:
        session.rollback()
        if exc.slug != "conflict":
            raise _refused(exc) from None
        # A plan not applied has no page (409, saying to apply it); else the driver drives another van.
        return _van_page(plan_id, vehicle_id, 409, form=form, errors={"driver_id": [exc.detail]})
    session.commit()
    return _back(row.plan_id, row.vehicle_id, "saved")


@signed_in(*OPS)
def unassign_driver(plan_id: str, vehicle_id: str) -> WebResponse:
    """Take the driver off the van (the API's use case); with none assigned, nothing changes."""
    user = _user()
    plan_id, vehicle_id = plan_id[:64], vehicle_id[:64]
    session = web.db()
    try:
        drivers.unassign_driver(session, user.tenant_id, user.id, plan_id, vehicle_id)
    except Problem as exc:
        session.rollback()
        raise _refused(exc) from None
    session.commit()
    return _back(plan_id, vehicle_id, "removed")


@signed_in(*OPS)
def route_sheet_pdf(plan_id: str, vehicle_id: str) -> flask.Response:
    """A van's route sheet as a printable PDF (shown in the browser; saved as a named file)."""
    sheet = _sheet(plan_id, vehicle_id)
    name = f"route-sheet-{sheet.day.isoformat()}-{re.sub(r'[^A-Za-z0-9_-]', '_', sheet.vehicle_id)}.pdf"
    response = flask.Response(views.render_pdf(sheet), 200, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def register(route: Route) -> None:
    """Add this area's pages with ``route(rule, endpoint, view, methods)``."""
    route("/console/dispatch", "dispatch", overview)
    route("/console/dispatch/plans/<string:plan_id>/vans/<string:vehicle_id>", "dispatch_van", van)
    route(
        "/console/dispatch/plans/<string:plan_id>/vans/<string:vehicle_id>/route-sheet.pdf",
        "dispatch_route_sheet",
        route_sheet_pdf,
    )
    route(
        "/console/dispatch/plans/<string:plan_id>/vans/<string:vehicle_id>/driver",
        "dispatch_assign_driver",
        assign_driver,
        ("POST",),
    )
    route(
        "/console/dispatch/plans/<string:plan_id>/vans/<string:vehicle_id>/driver/remove",
        "dispatch_unassign_driver",
        unassign_driver,
        ("POST",),
    )


NAV: list[tuple[str, str, tuple[str, ...]]] = [
    ("/console/dispatch", "Dispatch", OPS)
]  # (path, label, roles that see it)
