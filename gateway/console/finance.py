"""The finance pages' use cases: invoices, their reconciliation results, lines and the money recovered.

Every read is scoped to the signed-in user's tenant and goes through the reconciliation capability's
own use cases (``intake.receive``, ``invoices.list_invoices``/``list_lines``, ``reports.tenant_report``,
``disputes.resolve_line``/``dispute_rows``), as ``gateway.reconciliation.api`` does. Only the money
recovered by month, which the API does not offer, is read here, from the same tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.kernel.errors import Problem
from gateway.reconciliation import disputes, intake, invoices, reports, runs, tables
from gateway.reconciliation.classes import CLASSES
from gateway.reconciliation.parsers import FORMATS
from gateway.reconciliation.schemas import CARRIER_CODE_PATTERN
from schemas import money

PAGE = 100  # lines on one page of an invoice
INVOICES = 50  # invoices on one page of the list
MONTHS = 6  # months of the recovered-money charts
RUNNING = ("queued", "reconciling")
KNOWN_CARRIERS = ("ups", "fedex")
DASH = "\u2013"  # an en dash: no amount


@dataclass(frozen=True)
class Bar:
    """One bar of a money chart (the shape ``_bars.html`` draws): label, amount text, length 0-100, link."""

    label: str
    value: str
    length: float
    href: str


class UploadRefused(Exception):
    """The upload was refused: a sentence, and the rows and reasons of a malformed file."""

    def __init__(self, status: int, message: str, rows: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.rows = rows or []


def money_text(minor: int | None, currency: str) -> str:
    """``12.49 USD``, or an en dash when there is no amount."""
    if minor is None:
        return DASH
    return f"{money.Money.from_minor(int(minor), currency).amount} {currency}"


# --- upload -------------------------------------------------------------------------------------


def upload(
    session: Session,
    tenant_id: str,
    stream: IO[bytes],
    *,
    filename: str,
    fmt: str | None,
    carrier: str | None,
    user_id: str,
) -> tuple[tables.Invoice, bool]:
    """Store (and commit) an uploaded invoice with its reconciliation job: the API upload's use case."""
    if fmt is not None and fmt not in FORMATS:
        raise UploadRefused(422, f"The format must be one of {', '.join(FORMATS)}.")
    if carrier is not None and not CARRIER_CODE_PATTERN.fullmatch(carrier):
        raise UploadRefused(422, "The carrier is not a carrier code (lower-case letters, digits, _).")
    try:
        return intake.receive(
            session, tenant_id, stream, filename=filename, fmt=fmt, carrier=carrier, key_id=user_id
        )
    except Problem as exc:
        rows = exc.errors if isinstance(exc.errors, list) else []
        return_rows = [r for r in rows if isinstance(r, dict)]
        raise UploadRefused(exc.status, exc.detail, return_rows) from None


def carriers(session: Session, tenant_id: str) -> list[str]:
    """The carriers to offer in the upload form: the known layouts' and those the tenant has invoices or mappings for."""
    found = set(KNOWN_CARRIERS)
    found.update(
        session.execute(
            sa.select(tables.Invoice.carrier).where(tables.Invoice.tenant_id == tenant_id).distinct()
        ).scalars()
    )
    found.update(
        session.execute(
            sa.select(tables.InvoiceColumnMapping.carrier).where(
                tables.InvoiceColumnMapping.tenant_id == tenant_id
            )
        ).scalars()
    )
    return sorted(found)


# --- the list and the results -------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One invoice of the list, with its run's progress."""

    invoice: tables.Invoice
    percent: float
    step: str | None
    step_index: int
    steps: int

    @property
    def running(self) -> bool:
        return self.invoice.status in RUNNING


def _row(invoice: tables.Invoice) -> Row:
    progress = runs.describe(invoice.progress or {})
    return Row(invoice, progress["percent"], progress["step"], progress["step_index"], progress["steps"])


def month_bounds(value: str) -> tuple[datetime, datetime] | None:
    """``2026-03`` as the UTC instants [first of March, first of April), or None."""
    try:
        start = datetime.strptime(value, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        return None
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


def list_invoices(
    session: Session, tenant_id: str, *, cursor: str | None, carrier: str | None, month: str | None
) -> tuple[list[Row], str | None]:
    """A page of the tenant's invoices, newest first (a month: the invoices uploaded in it)."""
    if month and (bounds := month_bounds(month)) is not None:
        inv = tables.Invoice
        query = sa.select(inv).where(
            inv.tenant_id == tenant_id, inv.created_at >= bounds[0], inv.created_at < bounds[1]
        )
        if carrier:
            query = query.where(inv.carrier == carrier)
        rows = session.execute(query.order_by(inv.created_at.desc(), inv.id.desc()).limit(500)).scalars()
        return [_row(r) for r in rows], None
    try:
        found, nxt = invoices.list_invoices(
            session, tenant_id, limit=INVOICES, cursor=cursor, carrier=carrier or None
        )
    except Problem:  # a cursor that is not one of ours: start again from the newest
        found, nxt = invoices.list_invoices(session, tenant_id, limit=INVOICES, carrier=carrier or None)
    return [_row(r) for r in found], nxt


def currencies(session: Session, tenant_id: str) -> list[str]:
    inv = tables.Invoice
    return sorted(
        session.execute(
            sa.select(inv.currency).where(inv.tenant_id == tenant_id, inv.status == "reconciled").distinct()
        ).scalars()
    )


@dataclass(frozen=True)
class Results:
    """Reconciliation results across the tenant's reconciled invoices, in one currency."""

    currency: str
    report: dict[str, Any]
    found_by_month: list[Bar]
    recovered_by_month: list[Bar]


def _months(today: date) -> list[str]:
    year, month = today.year, today.month
    out = []
    for _ in range(MONTHS):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return list(reversed(out))


def _money_bars(sums: dict[str, int], months: list[str], currency: str) -> list[Bar]:
    top = max([*sums.values(), 1])
    return [
        Bar(
            m,
            str(money.Money.from_minor(sums.get(m, 0), currency).amount),
            round(100 * max(sums.get(m, 0), 0) / top, 1),
            f"/console/finance?month={m}",
        )
        for m in months
    ]


def results(session: Session, tenant_id: str, currency: str | None, today: date) -> Results | None:
    """The report (the API's ``tenant_report``) and the money found and recovered over the last months."""
    known = currencies(session, tenant_id)
    if not known:
        return None
    chosen = currency if currency in known else known[0]
    report, _ = reports.tenant_report(session, tenant_id, currency=chosen)
    months = _months(today)
    start = month_bounds(months[0])
    assert start is not None
    inv, ln = tables.Invoice, tables.InvoiceLine
    found: dict[str, int] = {}
    for created, report_of in session.execute(
        sa.select(inv.created_at, inv.report).where(
            inv.tenant_id == tenant_id,
            inv.status == "reconciled",
            inv.currency == chosen,
            inv.created_at >= start[0],
        )
    ):
        key = created.astimezone(UTC).strftime("%Y-%m")
        found[key] = found.get(key, 0) + int(
            ((report_of or {}).get("totals") or {}).get("recoverable_minor", 0)
        )
    recovered: dict[str, int] = {}
    for resolved, recoverable, amount in session.execute(
        sa.select(ln.resolved_at, ln.recoverable_minor, ln.amount_minor).where(
            ln.tenant_id == tenant_id,
            ln.resolution == "credited",
            ln.currency == chosen,
            ln.resolved_at >= start[0],
        )
    ):
        key = resolved.astimezone(UTC).strftime("%Y-%m")
        # What was claimed (and so credited): the findings' recoverable amount, else the whole line.
        recovered[key] = recovered.get(key, 0) + (recoverable if recoverable > 0 else amount)
    return Results(chosen, report, _money_bars(found, months, chosen), _money_bars(recovered, months, chosen))


# --- one invoice --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    kind: str
    recoverable_minor: int
    reason: str
    evidence: list[tuple[str, str]]


@dataclass(frozen=True)
class LineView:
    line: tables.InvoiceLine
    expected_minor: int | None
    findings: list[Finding]


def _evidence_text(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(_evidence_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_evidence_text(v)}" for k, v in value.items())
    return DASH if value is None else str(value)


def _evidence(evidence: dict[str, Any], currency: str) -> list[tuple[str, str]]:
    out = []
    for key, value in sorted((evidence or {}).items()):
        if key.endswith("_minor") and isinstance(value, int | float) and not isinstance(value, bool):
            out.append((key[: -len("_minor")].replace("_", " "), money_text(int(value), currency)))
        else:
            out.append((key.replace("_", " "), _evidence_text(value)))
    return out


def invoice(session: Session, tenant_id: str, invoice_id: str) -> Row | None:
    try:
        return _row(invoices.get_invoice(session, tenant_id, invoice_id))
    except Problem:
        return None


def lines(
    session: Session, tenant_id: str, invoice_id: str, *, kind: str | None, after: int | None
) -> tuple[list[LineView], int | None]:
    """A page of the invoice's lines (those with a finding of ``kind`` only, when given), with evidence."""
    rows, found, expected, nxt = invoices.list_lines(
        session,
        tenant_id,
        invoice_id,
        limit=PAGE,
        after=after,
        kind=kind if kind in CLASSES else None,
        flagged=True if kind == "flagged" else None,
    )
    views = [
        LineView(
            r,
            expected.get(r.id),
            [
                Finding(
                    d.kind,
                    d.recoverable_minor,
                    disputes.reason_for(d.kind, d.evidence or {}, r.currency),
                    _evidence(d.evidence or {}, r.currency),
                )
                for d in found.get(r.id, [])
            ],
        )
        for r in rows
    ]
    return views, nxt


def resolve(
    session: Session,
    tenant_id: str,
    invoice_id: str,
    line_id: int,
    resolution: str | None,
    note: str | None,
    user_id: str,
) -> tables.InvoiceLine | None:
    """Finance's decision on a line, as the API's PATCH makes it; None when there is no such line."""
    try:
        return disputes.resolve_line(session, tenant_id, invoice_id, line_id, resolution, note, user_id)
    except Problem:
        return None


def people(session: Session, tenant_id: str, ids: set[str]) -> dict[str, str]:
    """The emails of the tenant's console users among ``ids`` (who decided a line), by user id."""
    from gateway.console.tables import ConsoleUser

    wanted = sorted(i for i in ids if i and i.startswith("usr_"))
    if not wanted:
        return {}
    rows = session.execute(
        sa.select(ConsoleUser.id, ConsoleUser.email).where(
            ConsoleUser.tenant_id == tenant_id, ConsoleUser.id.in_(wanted)
        )
    )
    return {uid: email for uid, email in rows}


def export_rows(session: Session, tenant_id: str, carrier: str, resolution: str) -> Iterator[list[str]]:
    """The carrier claim file's rows (the API's dispute export)."""
    return disputes.dispute_rows(session, tenant_id, carrier, resolution=resolution)
