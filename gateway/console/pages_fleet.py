"""Console pages: fleet (issue 20 item 5, depots and vans) for ops (admin passes); see docs/CONSOLE.md.

The tenant's depots and vans, and plain forms to add and change them. A form is loaded by the API's
schemas and written by the API's use cases (``gateway.allocation.fleet``: ``create_depot``,
``update_depot``, ``deactivate_depot``, ``create_vehicle``, ``update_vehicle``,
``deactivate_vehicle``), so a refusal names the same field as ``/v1/allocation/...`` does, money is
stored in minor units as the API stores it, and every change is audited with the signed-in user's
id as the actor. Every read is scoped to ``user.tenant_id``; another tenant's depot or van is a 404.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import flask
from flask import request
from sqlalchemy import exc as db_errors

from gateway.allocation import fleet, tables
from gateway.console import _web
from gateway.console import fleet_views as views
from gateway.console._web import ConsoleError, WebResponse, render, signed_in
from gateway.console.tables import ConsoleUser
from gateway.kernel import web
from gateway.kernel.errors import Problem
from schemas import money

Route = Callable[..., None]

OPS = ("ops",)
CURRENCIES = sorted(money.CURRENCIES)
TOO_LARGE = (
    "A number is larger than Handoff can store (capacities: under 1,000,000,000 kg and 100,000,000 m³)."
)
T = TypeVar("T")


def _user() -> ConsoleUser:
    user = _web.load_user()
    assert user is not None  # signed_in
    return user


def _depot(user: ConsoleUser, depot_id: str) -> tables.Depot:
    try:
        return fleet.get_depot(web.db(), user.tenant_id, depot_id[:64])
    except Problem:
        raise ConsoleError(404, "No such depot.") from None


def _van(user: ConsoleUser, vehicle_id: str) -> tables.Vehicle:
    try:
        return fleet.get_vehicle(web.db(), user.tenant_id, vehicle_id[:64])
    except Problem:
        raise ConsoleError(404, "No such van.") from None


def _common() -> dict[str, Any]:
    return {"plain": views.plain, "amount": views.amount, "clock": fleet.clock, "currencies": CURRENCIES}


@signed_in(*OPS)
def overview() -> flask.Response:
    """The depots (paginated) with their van counts and first vans, and a map of where they are."""
    user = _user()
    session = web.db()
    depots = fleet.list_depots(session, user.tenant_id, include_inactive=True)
    vans = fleet.list_vehicles(session, user.tenant_id, include_inactive=True)
    page = views.page_of(depots, request.args.get("page"), views.DEPOTS_PER_PAGE)
    return render(
        "fleet.html",
        page=page,
        rows=views.depot_rows(page.items, vans),
        map=views.depot_map([d for d in page.items if d.active]),
        saved=request.args.get("saved", "")[:40],
        **_common(),
    )


def _depot_page(
    user: ConsoleUser, depot: tables.Depot | None, status: int = 200, **extra: Any
) -> flask.Response:
    context: dict[str, Any] = {
        "form": views.depot_form(depot) if depot is not None else {},
        "errors": {},
        "saved": request.args.get("saved", "")[:40],
        "vans": None,
        "map": None,
    }
    if depot is not None:
        every = fleet.list_vehicles(web.db(), user.tenant_id, depot_id=depot.id, include_inactive=True)
        context["vans"] = views.page_of(every, request.args.get("page"), views.VANS_PER_PAGE)
        context["map"] = views.depot_map([depot])
    context.update(extra)
    return render("fleet_depot.html", status, depot=depot, **context, **_common())


def _write(change: Callable[[], T]) -> tuple[T | None, int, dict[str, list[str]]]:
    """Run a use case's write and commit it; or roll it back and say why (status and field -> sentences).

    A refusal is the use case's own (its field paths). A value the schema lets through but the
    column cannot hold (PostgreSQL refuses 10^9 kg in ``numeric(12, 3)``) is rolled back too and
    said as such, not a 500.
    """
    session = web.db()
    try:
        done = change()
    except Problem as exc:
        session.rollback()
        return None, views.refusal_status(exc), views.problem_errors(exc)
    except db_errors.DataError:
        session.rollback()
        return None, 422, {views.FORM_ERROR: [TOO_LARGE]}
    session.commit()
    return done, 200, {}


def _set_state(reactivate: Callable[[], object], deactivate: Callable[[], object], page: str) -> WebResponse:
    """Reactivate (form ``action=reactivate``) or else deactivate a depot or van, commit, back to ``page``."""
    if request.form.get("action") == "reactivate":
        reactivate()
        saved = "reactivated"
    else:
        deactivate()
        saved = "deactivated"
    web.db().commit()
    return flask.redirect(f"{page}?saved={saved}", 303)


def _save(
    fields: Sequence[str],
    read: Callable[[dict[str, str]], tuple[dict[str, Any] | None, dict[str, list[str]]]],
    write: Callable[[dict[str, Any]], T],
    again: Callable[..., flask.Response],
    saved: Callable[[T], str],
) -> WebResponse:
    """A depot or van form's POST: ``read`` by the API's schema, ``write`` by its use case (``_write``);
    a refusal is the form again as typed, ``again(status, form=..., errors=...)``; else to ``saved(row)``."""
    values = views.typed(request.form, fields)
    data, errors = read(values)
    if data is None:
        return again(422, form=values, errors=errors)
    done, status, errors = _write(lambda: write(data))
    if done is None:
        return again(status, form=values, errors=errors)
    return flask.redirect(saved(done), 303)


@signed_in(*OPS)
def new_depot() -> WebResponse:
    """The form to add a depot; on POST, ``fleet.create_depot`` (the API's POST /v1/allocation/depots)."""
    user = _user()
    if request.method == "GET":
        return _depot_page(user, None)
    return _save(
        views.DEPOT_FORM,
        lambda values: views.read_depot(values, new=True),
        lambda data: fleet.create_depot(web.db(), user.tenant_id, user.id, data),
        lambda status, **form: _depot_page(user, None, status, **form),
        lambda made: f"/console/fleet/depots/{made.id}?saved=created",
    )


@signed_in(*OPS)
def depot(depot_id: str) -> WebResponse:
    """A depot: its facts, map, edit form and vans; on POST, ``fleet.update_depot`` (the API's PATCH)."""
    user = _user()
    row = _depot(user, depot_id)
    if request.method == "GET":
        return _depot_page(user, row)
    return _save(
        views.DEPOT_FORM,
        lambda values: views.read_depot(values, new=False),
        lambda data: fleet.update_depot(web.db(), user.tenant_id, user.id, row.id, data),
        lambda status, **form: _depot_page(user, _depot(user, depot_id), status, **form),
        lambda _: f"/console/fleet/depots/{row.id}?saved=saved",
    )


@signed_in(*OPS)
def depot_state(depot_id: str) -> WebResponse:
    """Deactivate a depot (the API's DELETE) or reactivate it (its PATCH with ``active: true``)."""
    user = _user()
    row = _depot(user, depot_id)
    return _set_state(
        lambda: fleet.update_depot(web.db(), user.tenant_id, user.id, row.id, {"active": True}),
        lambda: fleet.deactivate_depot(web.db(), user.tenant_id, user.id, row.id),
        f"/console/fleet/depots/{row.id}",
    )


def _van_page(
    user: ConsoleUser,
    depot: tables.Depot,
    van: tables.Vehicle | None,
    status: int = 200,
    **extra: Any,
) -> flask.Response:
    context: dict[str, Any] = {
        "form": views.van_form(van) if van is not None else {},
        "errors": {},
        "saved": request.args.get("saved", "")[:40],
    }
    context.update(extra)
    return render("fleet_van.html", status, depot=depot, van=van, **context, **_common())


@signed_in(*OPS)
def new_van(depot_id: str) -> WebResponse:
    """The form to add a van to a depot; on POST, ``fleet.create_vehicle`` (the API's POST)."""
    user = _user()
    row = _depot(user, depot_id)
    if request.method == "GET":
        return _van_page(user, row, None)
    return _save(
        views.VAN_FORM,
        lambda values: views.read_van(values, depot_id=row.id),
        lambda data: fleet.create_vehicle(web.db(), user.tenant_id, user.id, data),
        lambda status, **form: _van_page(user, _depot(user, depot_id), None, status, **form),
        lambda made: f"/console/fleet/vans/{made.id}?saved=created",
    )


@signed_in(*OPS)
def van(vehicle_id: str) -> WebResponse:
    """A van: its edit form and state; on POST, ``fleet.update_vehicle`` (the API's PATCH)."""
    user = _user()
    row = _van(user, vehicle_id)
    home = _depot(user, row.depot_id)
    if request.method == "GET":
        return _van_page(user, home, row)

    def again(status: int, **form: Any) -> flask.Response:
        van = _van(user, vehicle_id)  # as stored: a refused write was rolled back
        return _van_page(user, _depot(user, van.depot_id), van, status, **form)

    return _save(
        views.VAN_FORM,
        lambda values: views.read_van(values, depot_id=None),
        lambda data: fleet.update_vehicle(web.db(), user.tenant_id, user.id, row.id, data),
        again,
        lambda _: f"/console/fleet/vans/{row.id}?saved=saved",
    )


@signed_in(*OPS)
def van_state(vehicle_id: str) -> WebResponse:
    """Deactivate a van (the API's DELETE: plans that used it keep it) or reactivate it (PATCH ``active``)."""
    user = _user()
    row = _van(user, vehicle_id)
    return _set_state(
        lambda: fleet.update_vehicle(web.db(), user.tenant_id, user.id, row.id, {"active": True}),
        lambda: fleet.deactivate_vehicle(web.db(), user.tenant_id, user.id, row.id),
        f"/console/fleet/vans/{row.id}",
    )


def register(route: Route) -> None:
    """Add this area's pages with ``route(rule, endpoint, view, methods)``."""
    both = ("GET", "POST")
    route("/console/fleet", "fleet", overview)
    route("/console/fleet/depots/new", "fleet_new_depot", new_depot, both)
    route("/console/fleet/depots/<string:depot_id>", "fleet_depot", depot, both)
    route("/console/fleet/depots/<string:depot_id>/state", "fleet_depot_state", depot_state, ("POST",))
    route("/console/fleet/depots/<string:depot_id>/vans/new", "fleet_new_van", new_van, both)
    route("/console/fleet/vans/<string:vehicle_id>", "fleet_van", van, both)
    route("/console/fleet/vans/<string:vehicle_id>/state", "fleet_van_state", van_state, ("POST",))


NAV: list[tuple[str, str, tuple[str, ...]]] = [
    ("/console/fleet", "Fleet", OPS)
]  # (path, label, roles that see it)
