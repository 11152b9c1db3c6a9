"""Console pages: finance (issue 20 item 8). Invoices, their reconciliation, lines and the claim file.

``/console/finance`` uploads an invoice (``intake.receive``, the API upload's use case: stored and
committed before the page answers, reconciled by its job), lists the invoices with their run's
progress (the page refreshes itself while one runs), charts the money found and recovered by month
and shows the results by class and by carrier (``reports.tenant_report``). An invoice's page lists
its lines with their findings and evidence, filters them by class, and takes finance's decision on
each (``disputes.resolve_line``); the dispute export is the API's claim CSV, served as a download.
Finance (and admin) act; ops may look.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import flask
from flask import request, stream_with_context

from gateway.console import _web, finance
from gateway.console._web import ConsoleError, WebResponse, render, signed_in
from gateway.kernel import web
from gateway.kernel.types import utcnow
from gateway.reconciliation.classes import CLASSES
from gateway.reconciliation.parsers import FORMATS
from gateway.reconciliation.schemas import CARRIER_CODE_PATTERN
from gateway.reconciliation.tables import RESOLUTIONS

Route = Callable[..., None]

VIEW = ("finance", "ops")
ACT = ("finance",)


def _arg(name: str, size: int = 64) -> str:
    return request.args.get(name, "")[:size].strip()


def _carrier_arg(value: str) -> str | None:
    value = value.strip().lower()
    return value if value and CARRIER_CODE_PATTERN.fullmatch(value) else None


def _overview(
    status: int = 200, error: str = "", error_rows: list[dict[str, object]] | None = None
) -> flask.Response:
    user = _web.load_user()
    assert user is not None
    session = web.db()
    carrier = _carrier_arg(_arg("carrier"))
    month = _arg("month", 7)
    month = month if finance.month_bounds(month) else ""
    rows, nxt = finance.list_invoices(
        session, user.tenant_id, cursor=_arg("cursor", 200) or None, carrier=carrier, month=month or None
    )
    results = finance.results(session, user.tenant_id, _arg("currency", 3).upper() or None, utcnow().date())
    older = None
    if nxt:
        older = "/console/finance?" + urlencode(
            {k: v for k, v in (("carrier", carrier), ("cursor", nxt)) if v}
        )
    return render(
        "finance.html",
        status,
        rows=rows,
        older=older,
        running=any(r.running for r in rows),
        results=results,
        currencies=finance.currencies(session, user.tenant_id),
        carrier=carrier or "",
        month=month,
        carriers=finance.carriers(session, user.tenant_id),
        formats=FORMATS,
        money=finance.money_text,
        can_act=any(user.has(r) for r in ACT),
        done=_arg("done", 80),
        error=error,
        error_rows=(error_rows or [])[:20],
    )


@signed_in(*VIEW)
def overview() -> flask.Response:
    """Upload form, invoices with their progress, money recovered by month, results by class and carrier."""
    return _overview()


def upload() -> WebResponse:
    """The upload's body limit is the API upload's, set before the form (and its CSRF token) is read."""
    request.max_content_length = int(web.container().settings["INVOICE_MAX_BYTES"])
    return _upload()


@signed_in(*ACT)
def _upload() -> WebResponse:
    """Store an uploaded invoice and queue its reconciliation (the API upload's use case)."""
    user = _web.load_user()
    assert user is not None
    file = request.files.get("file")
    if file is None or not file.filename:
        return _overview(422, "Choose the invoice file to upload.")
    fmt = request.form.get("format", "").strip().lower() or None
    carrier = request.form.get("carrier", "").strip().lower() or None
    try:
        invoice, created = finance.upload(
            web.db(),
            user.tenant_id,
            file.stream,
            filename=(file.filename or "")[:255],
            fmt=fmt,
            carrier=carrier,
            user_id=user.id,
        )
    except finance.UploadRefused as exc:
        return _overview(exc.status, exc.message, list(exc.rows))
    done = "uploaded" if created else "already-uploaded"
    return flask.redirect(f"/console/finance?done={done}#inv-{invoice.id}", 303)


@signed_in(*VIEW)
def invoice_page(invoice_id: str) -> flask.Response:
    """One invoice: its run, its lines with class, billed vs expected and evidence, and the actions."""
    user = _web.load_user()
    assert user is not None
    session = web.db()
    row = finance.invoice(session, user.tenant_id, invoice_id[:32])
    if row is None:
        raise ConsoleError(404, "No such invoice.")
    kind = _arg("class")
    kind = kind if kind in CLASSES or kind == "flagged" else ""
    after_raw = _arg("after", 18)
    after = _web.whole(after_raw, 18)
    views, nxt = finance.lines(session, user.tenant_id, row.invoice.id, kind=kind or None, after=after)
    more = None
    if nxt is not None:
        more = f"/console/finance/invoices/{row.invoice.id}?" + urlencode(
            {k: v for k, v in (("class", kind), ("after", str(nxt))) if v}
        )
    report = row.invoice.report or {}
    return render(
        "finance_invoice.html",
        row=row,
        inv=row.invoice,
        report=report,
        lines=views,
        kind=kind,
        classes=[c for c in CLASSES if c in (report.get("by_class") or {})] or list(CLASSES),
        more=more,
        after=after_raw if after is not None else "",
        money=finance.money_text,
        can_act=any(user.has(r) for r in ACT),
        resolutions=RESOLUTIONS,
        people=finance.people(session, user.tenant_id, {v.line.resolved_by or "" for v in views}),
        done=_arg("done", 80),
    )


_ACTIONS = {"accepted": "accepted", "disputed": "disputed", "credited": "credited", "reopen": None}


@signed_in(*ACT)
def resolve_line(invoice_id: str, line_id: int) -> WebResponse:
    """Mark a line accepted, disputed or credited (or reopen it), as the API's PATCH does."""
    user = _web.load_user()
    assert user is not None
    action = request.form.get("resolution", "")
    if action not in _ACTIONS:
        raise ConsoleError(422, "Choose accept, dispute, credit or reopen.")
    note = request.form.get("note", "").strip()[:500] or None
    session = web.db()
    line = finance.resolve(session, user.tenant_id, invoice_id[:32], line_id, _ACTIONS[action], note, user.id)
    if line is None:
        session.rollback()
        raise ConsoleError(404, "No such line on this invoice.")
    row_number = line.row_number
    session.commit()
    back = {"done": f"{action}-{row_number}"}
    kind = request.form.get("class", "")
    if kind in CLASSES or kind == "flagged":
        back["class"] = kind
    after = request.form.get("after", "")
    if _web.whole(after, 18) is not None:
        back["after"] = after
    return flask.redirect(
        f"/console/finance/invoices/{quote(invoice_id[:32])}?{urlencode(back)}#line-{line_id}", 303
    )


@signed_in(*ACT)
def dispute_export(carrier: str) -> WebResponse:
    """The carrier's claim CSV (the API's dispute export), as a download."""
    user = _web.load_user()
    assert user is not None
    if not CARRIER_CODE_PATTERN.fullmatch(carrier):
        raise ConsoleError(404, "No such carrier.")
    resolution = _arg("resolution", 16) or "disputed"
    if resolution not in RESOLUTIONS:
        raise ConsoleError(422, f"The resolution is one of {', '.join(RESOLUTIONS)}.")
    tenant_id = user.tenant_id
    sessions = web.container().sessions

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        with sessions() as session:
            for row in finance.export_rows(session, tenant_id, carrier, resolution):
                writer.writerow(row)
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate(0)

    filename = f"{carrier}-{resolution}-{datetime.now(UTC).strftime('%Y%m%d')}.csv"
    disposition = f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(filename, safe='')}"
    return flask.Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )


def register(route: Route) -> None:
    """Add this area's pages with ``route(rule, endpoint, view, methods)``."""
    route("/console/finance", "finance", overview)
    route("/console/finance/invoices", "finance_upload", upload, ("POST",))
    route("/console/finance/invoices/<string:invoice_id>", "finance_invoice", invoice_page)
    route(
        "/console/finance/invoices/<string:invoice_id>/lines/<int:line_id>",
        "finance_resolve",
        resolve_line,
        ("POST",),
    )
    route("/console/finance/disputes/<string:carrier>", "finance_disputes", dispute_export)


NAV: list[tuple[str, str, tuple[str, ...]]] = [
    ("/console/finance", "Finance", VIEW)
]  # (path, label, roles that see it)
