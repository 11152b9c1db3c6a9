"""Console pages: dispatch (issue 20 item 6) for ops (admin passes); see docs/CONSOLE.md.

The applied allocation plans of a day, per van, and each van's route sheet as a page and as a
printable PDF (ReportLab). Everything is read from what ``gateway.allocation.plans.apply_plan``
stored, scoped to ``user.tenant_id``; nothing is written, so these pages have no form to post.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

import flask
from flask import request

from gateway.console import _web
from gateway.console import dispatch_views as views
from gateway.console._web import ConsoleError, render, signed_in
from gateway.console.tables import ConsoleUser
from gateway.kernel import web
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


@signed_in(*OPS)
def van(plan_id: str, vehicle_id: str) -> flask.Response:
    """A van's route sheet as a page, with the link to its PDF."""
    return render("dispatch_van.html", sheet=_sheet(plan_id, vehicle_id))


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


NAV: list[tuple[str, str, tuple[str, ...]]] = [
    ("/console/dispatch", "Dispatch", OPS)
]  # (path, label, roles that see it)
