"""The console's pages (``/console/…``): server-rendered HTML, not API operations.

Routes are plain Flask routes on the blueprint (``flask.Blueprint.add_url_rule``), so the OpenAPI
document lists none of them, as with the tracking page. Each view reads the signed-in user's tenant
only, calls one of the console's use cases (which call the capabilities' own), and renders.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC
from typing import Any
from urllib.parse import quote

import flask
from flask import current_app, request
from werkzeug.exceptions import HTTPException

from gateway.console import (
    _maps,
    _web,
    accounts,
    finding,
    pages_allocation,
    pages_carriers,
    pages_developers,
    pages_dispatch,
    pages_finance,
    pages_fleet,
    pages_people,
    queue,
    sessions,
    throttle,
    tower,
)
from gateway.console._web import ConsoleError, WebResponse, render, signed_in
from gateway.customs import documents as customs_documents
from gateway.kernel import auth, web
from gateway.kernel.errors import Problem
from gateway.kernel.http import Blueprint, attachment
from gateway.kernel.types import utcnow
from gateway.labels import documents
from gateway.labels import render as label_render
from schemas import taxonomy

blp = Blueprint(
    "console",
    __name__,
    description="The web console (HTML pages, not in this document)",
    template_folder="templates",
    static_folder="static",
    static_url_path="/console/static",
)

VIEW = ("ops", "finance")  # home, shipments and the exception queue
ACT = ("ops",)  # exception actions
ADMIN = ("admin",)  # invitations


@blp.errorhandler(ConsoleError)
def _console_error(exc: ConsoleError) -> flask.Response:
    return render("error.html", exc.status, status=exc.status, message=exc.message)


@blp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> flask.Response:
    status = exc.code or 500
    return render("error.html", status, status=status, message=exc.description or exc.name)


blp.after_request(_web.security_headers)


def _map_tiles(frame: _maps.Frame | None) -> list[_maps.Tile]:
    """The configured tile server's tiles under a map (``CONSOLE_MAP_TILES``); none offline."""
    template = str(current_app.config["CONSOLE_MAP_TILES"] or "")
    if frame is None or not template:
        return []
    return _maps.tiles(frame, template, int(current_app.config["CONSOLE_MAP_MAX_ZOOM"]))


def _map_attribution() -> str:
    return str(current_app.config["CONSOLE_MAP_ATTRIBUTION"] or "") if _tiles_on() else ""


def _tiles_on() -> bool:
    return _maps.tile_origin(str(current_app.config["CONSOLE_MAP_TILES"] or "")) is not None


blp.add_app_template_global(_map_tiles, "map_tiles")
blp.add_app_template_global(_map_attribution, "map_attribution")


def _route(rule: str, endpoint: str, view: Any, methods: tuple[str, ...] = ("GET",)) -> None:
    flask.Blueprint.add_url_rule(blp, rule, endpoint, view, methods=list(methods))


def _setting(name: str) -> int:
    return int(current_app.config[name])


# -- signing in and out ----------------------------------------------------------------------------


def login() -> WebResponse:
    """The sign-in form; on POST, check the throttle, then the password, then open a session."""
    target = _web.safe_next(request.values.get("next"))
    if request.method == "GET":
        return render("login.html", next=target, email="", tenant="", message=request.args.get("m", ""))
    pre = request.cookies.get(_web.PRE_COOKIE, "")
    _web.check_csrf(pre)
    email = request.form.get("email", "")[:254]
    tenant = request.form.get("tenant", "")[:64]
    password = request.form.get("password", "")
    container = web.container()
    address = request.remote_addr
    wait = throttle.blocked(container, email, address)
    if wait:
        minutes = max(1, -(-wait // 60))
        message = (
            f"Too many failed sign-ins for this email from your address. Try again in {minutes} minute(s)."
        )
        return render("login.html", 429, next=target, email=email, tenant=tenant, error=message)
    session = web.db()
    found = accounts.authenticate(session, email, password, tenant, utcnow())
    if found.user is None:
        throttle.failed(container, email, address)
        session.rollback()
        return render("login.html", 401, next=target, email=email, tenant=tenant, error=found.refusal)
    throttle.cleared(container, email, address)
    _row, token = sessions.start(session, found.user, utcnow(), _setting("CONSOLE_SESSION_HOURS"))
    session.commit()
    response = flask.redirect(target, 303)
    _web.set_cookie(response, _web.SESSION_COOKIE, token, _setting("CONSOLE_SESSION_HOURS") * 3600)
    _web.drop_cookie(response, _web.PRE_COOKIE)
    return response


@signed_in()
def logout() -> WebResponse:
    """End this session and drop its cookie."""
    row = _web.current_session()
    if row is not None:
        sessions.revoke(row, utcnow())
        web.db().commit()
    response = flask.redirect("/console/login?m=signed-out", 303)
    _web.drop_cookie(response, _web.SESSION_COOKIE)
    return response


@signed_in(*ADMIN)
def invite() -> WebResponse:
    """An admin invites a person: the one-time link is shown once."""
    roles = sorted(auth.ROLES)
    if request.method == "GET":
        return render("invite.html", roles=roles, link=None, error="")
    user = _web.load_user()
    assert user is not None  # signed_in
    session = web.db()
    try:
        row, token = accounts.invite(
            session,
            user,
            request.form.get("email", ""),
            request.form.getlist("roles"),
            utcnow(),
            _setting("CONSOLE_INVITATION_HOURS"),
        )
    except accounts.AccountError as exc:
        session.rollback()
        return render("invite.html", 422, roles=roles, link=None, error=str(exc))
    session.commit()
    base = str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/") or request.host_url.rstrip("/")
    link = f"{base}/console/invitations/{token}"
    return render("invite.html", roles=roles, link=link, invited=row.email, expires=row.expires_at, error="")


def invitation(token: str) -> WebResponse:
    """The invitee's page: choose a password; the link then stops working."""
    session = web.db()
    row = accounts.open_invitation(session, token, utcnow())
    if row is None:
        raise ConsoleError(404, "This invitation link was already used, has expired, or is not one we sent.")
    if request.method == "GET":
        return render("accept.html", email=row.email, error="")
    _web.check_csrf(request.cookies.get(_web.PRE_COOKIE, ""))
    password = request.form.get("password", "")
    if password != request.form.get("confirm", ""):
        return render("accept.html", 422, email=row.email, error="The two passwords differ.")
    try:
        accounts.accept(session, token, password, utcnow())
    except accounts.AccountError as exc:
        session.rollback()
        return render("accept.html", 422, email=row.email, error=str(exc))
    session.commit()
    return flask.redirect("/console/login?m=account-ready", 303)


# -- pages -------------------------------------------------------------------------------------------


@signed_in(*VIEW)
def home() -> flask.Response:
    """The control tower."""
    user = _web.load_user()
    assert user is not None
    session = web.db()
    now = utcnow()
    rows, days, figures_at = tower.cached_periods(
        session, web.container().redis, user.tenant_id, now.astimezone(UTC)
    )
    booked = "/console/shipments?booked_from={day}&booked_to={day}"
    return render(
        "home.html",
        periods=rows,
        figures_at=figures_at,
        trends=[
            ("On time, by day booked", tower.day_bars(days, "on_time_percent", booked), " %"),
            ("ETA error (business days), by day booked", tower.day_bars(days, "eta_mae_days", booked), ""),
            ("At-risk alerts, by day booked", tower.day_bars(days, "at_risk_alerts", booked), ""),
        ],
        on_time=tower.percent_bars(rows, "on_time_percent", "/console/shipments?milestone=delivered"),
        first_attempt=tower.percent_bars(
            rows, "first_attempt_percent", "/console/shipments?milestone=delivered"
        ),
        exceptions=tower.exceptions(session, user.tenant_id, now),
    )


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return _web.whole(raw, 6) or 1


@signed_in(*VIEW)
def shipments() -> flask.Response:
    """Search and filter the tenant's shipments."""
    user = _web.load_user()
    assert user is not None
    session = web.db()
    names = ("q", "carrier", "milestone", "booked_from", "booked_to", "merchant")
    filters = {k: request.args.get(k, "")[:100] for k in names}
    found = finding.search(session, user.tenant_id, page=_page_number(), **filters)
    return render(
        "shipments.html",
        found=found,
        filters=filters,
        carriers=finding.carriers(session, user.tenant_id),
        milestones=[m.value for m in taxonomy.Milestone],
    )


@signed_in(*VIEW)
def shipment(shipment_id: str) -> flask.Response:
    """One shipment: timeline beside raw carrier codes, predictions, label, open exceptions."""
    user = _web.load_user()
    assert user is not None
    found = finding.detail(web.db(), user.tenant_id, shipment_id[:64])
    if found is None:
        raise ConsoleError(404, "No such shipment.")
    return render(
        "shipment.html",
        d=found,
        can_act=any(user.has(r) for r in ACT),
        see_exchanges=any(user.has(r) for r in pages_carriers.ROLES),
    )


def _document(data: bytes, fmt: str, filename: str) -> flask.Response:
    response = flask.Response(data, mimetype=label_render.CONTENT_TYPES.get(fmt, "application/octet-stream"))
    response.headers["Content-Disposition"] = attachment(filename)
    response.headers["Cache-Control"] = "no-store"
    return response


@signed_in(*VIEW)
def label_file(shipment_id: str, ext: str) -> flask.Response:
    """The shipment's label as PDF, PNG or ZPL: ``documents.label_document``, as the API's download."""
    user = _web.load_user()
    assert user is not None
    if ext.lower() not in ("pdf", "png", "zpl"):
        raise ConsoleError(404, "Labels come as pdf, png or zpl.")
    try:
        data, fmt, label = documents.label_document(
            web.container(), web.db(), user.tenant_id, shipment_id[:64], ext
        )
    except Problem as exc:
        raise ConsoleError(exc.status, exc.detail or "This label cannot be downloaded.") from exc
    return _document(data, fmt, f"{label.tracking_number}.{label_render.EXTENSIONS.get(fmt, 'bin')}")


@signed_in(*VIEW)
def commercial_invoice(shipment_id: str) -> flask.Response:
    """The shipment's commercial invoice (``documents.commercial_invoice``, as the API's, from the gateway;
    ``?source=carrier`` for the one DHL Express or FedEx returned)."""
    user = _web.load_user()
    assert user is not None
    source = "carrier" if request.args.get("source") == "carrier" else "gateway"
    try:
        data, fmt, shipment = customs_documents.commercial_invoice(
            web.container(), web.db(), user.tenant_id, shipment_id[:64], source
        )
    except Problem as exc:
        raise ConsoleError(exc.status, exc.detail or "This shipment has no commercial invoice.") from exc
    suffix = "" if source == "gateway" else "-carrier"
    return _document(data, fmt, f"commercial-invoice-{shipment.id}{suffix}.{fmt.lower()}")


@signed_in(*VIEW)
def exceptions() -> flask.Response:
    """The open exception queue."""
    user = _web.load_user()
    assert user is not None
    keys = ("owner", "reason", "age", "opened_from", "opened_to", "merchant")
    filters = {k: request.args.get(k, "")[:64] for k in keys}
    rows = queue.open_queue(web.db(), user.tenant_id, utcnow(), **filters)
    return render(
        "exceptions.html",
        rows=rows,
        filters=filters,
        owners=tower.OWNERS,
        ages=tower.AGES,
        actions=queue.ACTIONS,
        done=request.args.get("done", "")[:80],
        can_act=any(user.has(r) for r in ACT),
    )


def _back(done: str) -> WebResponse:
    return flask.redirect(f"/console/exceptions?done={quote(done, safe='')}", 303)


@signed_in(*ACT)
def resolve() -> WebResponse:
    """Resolve one or several (the checked boxes) open exceptions with a note."""
    user = _web.load_user()
    assert user is not None
    note = request.form.get("note", "").strip()
    if not note:
        raise ConsoleError(422, "Say in a note how the exception was resolved.")
    ids = request.form.getlist("ids")
    session = web.db()
    count = queue.resolve(session, user.tenant_id, ids, user.id, note, utcnow())
    session.commit()
    return _back(f"resolved-{count}")


@signed_in(*ACT)
def notify(exception_id: str) -> WebResponse:
    """Notify the recipient (the platform's recipient.notify webhook)."""
    user = _web.load_user()
    assert user is not None
    session = web.db()
    outcome = queue.notify(
        session, user.tenant_id, exception_id[:64], user.id, request.form.get("note", "").strip(), utcnow()
    )
    if outcome is None:
        raise ConsoleError(404, "No such open exception.")
    session.commit()
    return _back(f"notified-{outcome.replace(' ', '-')}")


def _said(outcomes: Counter[str]) -> str:
    return " and ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items())) or "none open"


@signed_in(*ACT)
def notify_bulk() -> WebResponse:
    """Notify the recipients of the checked open exceptions."""
    user = _web.load_user()
    assert user is not None
    session = web.db()
    outcomes = queue.notify_many(
        session,
        user.tenant_id,
        request.form.getlist("ids"),
        user.id,
        request.form.get("note", "").strip(),
        utcnow(),
    )
    session.commit()
    return _back(f"notified-{_said(outcomes).replace(' ', '-')}")


def _action_and_note() -> tuple[str, str]:
    action = request.form.get("action", "")
    if action not in queue.ACTIONS:
        raise ConsoleError(422, "Choose one of the actions offered.")
    note = request.form.get("note", "").strip()
    if action == "note" and not note:
        raise ConsoleError(422, "Write the note.")
    return action, note


def _acted(action: str, said: str) -> WebResponse:
    """Back to the exceptions, saying which action was taken with what outcome (``done=hold-2-held``)."""
    return _back(f"{action}-{said}".replace("_", "-").replace(" ", "-"))


@signed_in(*ACT)
def act_bulk() -> WebResponse:
    """Take one action (reattempt, hold, return, hand to a partner, note) on each checked open exception."""
    user = _web.load_user()
    assert user is not None
    action, note = _action_and_note()
    session = web.db()
    outcomes = queue.take_many(
        session, user.tenant_id, request.form.getlist("ids"), action, user.id, note, utcnow()
    )
    session.commit()
    return _acted(action, _said(outcomes))


@signed_in(*ACT)
def act(exception_id: str) -> WebResponse:
    """Take one action on an open exception: reattempt, hold, return, hand to a partner, or a note."""
    user = _web.load_user()
    assert user is not None
    action, note = _action_and_note()
    session = web.db()
    outcome = queue.take(session, user.tenant_id, exception_id[:64], action, user.id, note, utcnow())
    if outcome is None:
        raise ConsoleError(404, "No such open exception.")
    session.commit()
    return _acted(action, outcome)


@signed_in(*ACT)
def proof_review(exception_id: str) -> WebResponse:
    """Accept or reject the suspicious proof of delivery of a ``pod_suspicious`` exception."""
    user = _web.load_user()
    assert user is not None
    decision = request.form.get("decision", "")
    if decision not in ("accepted", "rejected"):
        raise ConsoleError(422, "Accept or reject the proof.")
    session = web.db()
    try:
        found = queue.review_proof(
            session,
            user.tenant_id,
            exception_id[:64],
            "accepted" if decision == "accepted" else "rejected",
            user.id,
            request.form.get("note", "").strip(),
            utcnow(),
        )
    except Problem as exc:
        session.rollback()
        raise ConsoleError(409, exc.detail or "No flagged proof of delivery waits for review.") from exc
    if not found:
        raise ConsoleError(404, "No such open exception about a suspicious proof of delivery.")
    session.commit()
    return _back(f"proof-{decision}")


_route("/console/login", "login", login, ("GET", "POST"))
_route("/console/logout", "logout", logout, ("POST",))
_route("/console/users/invite", "invite", invite, ("GET", "POST"))
_route("/console/invitations/<string:token>", "invitation", invitation, ("GET", "POST"))
_route("/console/", "home", home)
_route("/console/shipments", "shipments", shipments)
_route("/console/shipments/<string:shipment_id>", "shipment", shipment)
_route("/console/shipments/<string:shipment_id>/label.<string:ext>", "label_file", label_file)
_route("/console/shipments/<string:shipment_id>/commercial-invoice", "commercial_invoice", commercial_invoice)
_route("/console/exceptions", "exceptions", exceptions)
_route("/console/exceptions/resolve", "resolve", resolve, ("POST",))
_route("/console/exceptions/<string:exception_id>/notify", "notify", notify, ("POST",))
_route("/console/exceptions/notify", "notify_bulk", notify_bulk, ("POST",))
_route("/console/exceptions/act", "act_bulk", act_bulk, ("POST",))
_route("/console/exceptions/<string:exception_id>/act", "act", act, ("POST",))
_route("/console/exceptions/<string:exception_id>/proof-review", "proof_review", proof_review, ("POST",))


# -- the other areas, each in its own module ------------------------------------------------------------
for _area in (
    pages_finance,
    pages_allocation,
    pages_fleet,
    pages_dispatch,
    pages_carriers,
    pages_developers,
    pages_people,
):
    _area.register(_route)
