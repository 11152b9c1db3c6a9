"""Console pages: carriers (issue 20 item 7; roles ops and admin; see docs/CONSOLE.md).

Health per carrier, unmapped tracking codes with a remapping form, and the raw (redacted) carrier
exchanges with a detail view. Every read is scoped to the signed-in user's tenant.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import flask
from flask import request

from gateway.console import _web
from gateway.console import carriers_views as views
from gateway.console._web import ConsoleError, WebResponse, render, signed_in
from gateway.kernel import web
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow
from schemas import taxonomy

Route = Callable[..., None]
ROLES = ("ops",)  # admin passes too


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return _web.whole(raw, 6) or 1


def _carriers_page(
    http_status: int = 200, error: str = "", form: dict[str, str] | None = None
) -> flask.Response:
    user = _web.load_user()
    assert user is not None
    session = web.db()
    return render(
        "carriers.html",
        http_status,
        health=views.health(session, user.tenant_id, utcnow()),
        window_hours=views.WINDOW_HOURS,
        unmapped=views.unmapped(session, user.tenant_id),
        milestones=[m.value for m in taxonomy.Milestone],
        reasons=[r.value for r in taxonomy.ExceptionReason],
        done=request.args.get("done", "")[:120],
        error=error,
        form=form or {},
    )


@signed_in(*ROLES)
def carriers() -> flask.Response:
    """Health per carrier and the unmapped codes."""
    return _carriers_page()


@signed_in(*ROLES)
def remap() -> WebResponse:
    """Map one unmapped code (the same use case as PUT /v1/tracking/mappings/<carrier>)."""
    user = _web.load_user()
    assert user is not None
    session = web.db()
    form = {k: str(v) for k, v in request.form.items() if k != _web.CSRF_FIELD}
    try:
        row, rederived = views.remap(session, user.tenant_id, user.id, form.get("carrier", ""), form)
    except Problem as exc:
        session.rollback()
        if exc.status == 404:
            raise ConsoleError(404, exc.detail) from None
        return _carriers_page(422, error=exc.detail, form=form)
    session.commit()
    done = quote(
        f"mapped {row.carrier} {row.code} (version {row.version}, {rederived} shipment(s) re-derived)"
    )
    return flask.redirect(f"/console/carriers?done={done}", 303)


@signed_in(*ROLES)
def exchanges() -> flask.Response:
    """The tenant's raw carrier exchanges, newest first."""
    user = _web.load_user()
    assert user is not None
    session = web.db()
    carrier = request.args.get("carrier", "")[:50]
    found = views.exchanges(session, user.tenant_id, carrier=carrier, page=_page_number())
    return render(
        "carriers_exchanges.html",
        found=found,
        carrier=carrier,
        carriers=views.exchange_carriers(session, user.tenant_id),
        failed=views.failed,
    )


@signed_in(*ROLES)
def exchange(exchange_id: int) -> flask.Response:
    """One exchange: the redacted request and response."""
    user = _web.load_user()
    assert user is not None
    row = views.exchange(web.db(), user.tenant_id, exchange_id)
    if row is None:
        raise ConsoleError(404, "No such carrier exchange.")
    return render(
        "carriers_exchange.html",
        x=row,
        request_text=views.pretty(row.request),
        response_text=views.pretty(row.response),
        failed=views.failed(row.http_status, row.error),
    )


def register(route: Route) -> None:
    """Add this area's pages with ``route(rule, endpoint, view, methods)``."""
    route("/console/carriers", "carriers", carriers)
    route("/console/carriers/mappings", "carriers_remap", remap, ("POST",))
    route("/console/carriers/exchanges", "carriers_exchanges", exchanges)
    route("/console/carriers/exchanges/<int:exchange_id>", "carriers_exchange", exchange)


NAV: list[tuple[str, str, tuple[str, ...]]] = [
    ("/console/carriers", "Carriers", ROLES)
]  # (path, label, roles that see it)
