"""Reconciliation runs: walk an invoice's lines in id ranges through the set-based checks, then report.

A run is a list of steps (``STEPS``). Chunked steps execute one SQL statement per id range of
``RECON_CHUNK_LINES`` lines (``gateway.reconciliation.checks``); each range commits together with
the run's progress (step and cursor) on the invoice row, so memory stays bounded, a killed worker
resumes where it stopped, and a range is never applied twice. A lease (``run_owner`` +
``run_heartbeat``) keeps two workers off the same invoice; a lease older than
``RECON_LEASE_SECONDS`` may be taken over.

The card step (``card_terms``) is the one place that reads Python objects; the credits step closes
earlier disputes (``disputes``) and the last step stores the report (``reports``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from gateway.kernel import config
from gateway.kernel.errors import Problem
from gateway.kernel.types import rowcount, utcnow
from gateway.reconciliation import amounts, checks, matching, tables
from gateway.reconciliation import jobs as reconciliation_jobs
from gateway.reconciliation._sql import LN, Context
from gateway.reconciliation.card_terms import load_card_terms
from gateway.reconciliation.classes import AMOUNT_CLASSES, CLASSES
from gateway.reconciliation.disputes import close_credited_disputes
from gateway.reconciliation.invoices import get_invoice
from gateway.reconciliation.reports import build_report
from schemas import money

log = logging.getLogger(__name__)


# Fuel is checked after surcharges: fuel on a disputed surcharge is not owed either.
CHUNKED_STEPS = ("match", *CLASSES, "totals")

STEPS = ("match", "cards", *CLASSES, "recoverable", "totals", "credits", "report")

QUEUE = "reconciliation"


Progress = Callable[[dict[str, Any]], None]


class LeaseLost(Exception):
    """Another worker took the run over (ours stalled); stop without touching it."""


def enqueue(session: Session, invoice: tables.Invoice) -> None:
    """Record the reconciliation job in the caller's transaction (the outbox relays it after commit)."""
    from gateway.jobs import outbox

    entry = outbox.add(session, reconciliation_jobs.reconcile, invoice.id, queue=QUEUE)
    invoice.outbox_id = entry.id


def restart(session: Session, tenant_id: str, invoice_id: str) -> tables.Invoice:
    """Start a fresh run of an invoice (tracking or labels changed since); 409 while one runs."""
    invoice = get_invoice(session, tenant_id, invoice_id)
    if invoice.status in ("queued", "reconciling"):
        raise Problem("conflict", f"Invoice {invoice.id} is already {invoice.status}; wait for it to finish.")
    invoice.status = "queued"
    invoice.progress = {}
    invoice.report = None
    invoice.error = None
    invoice.run_owner = None
    invoice.reconciled_at = None
    enqueue(session, invoice)
    session.flush()
    return invoice


# --- the run --------------------------------------------------------------------------------


def _context(session: Session, invoice: tables.Invoice, settings: dict[str, Any]) -> Context:
    bind = session.connection()
    labels, by_tracking = matching.labels_by_tracking(bind)
    return Context(
        dialect=bind.dialect.name,
        invoice_id=invoice.id,
        tenant_id=invoice.tenant_id,
        carrier=invoice.carrier,
        weight_tolerance_percent=config.read(settings, "RECON_WEIGHT_TOLERANCE_PERCENT"),
        dimension_tolerance_percent=config.read(settings, "RECON_DIMENSION_TOLERANCE_PERCENT"),
        labels=labels,
        labels_by_tracking=by_tracking,
        total_tolerance_percent=config.read(settings, "RECON_TOTAL_TOLERANCE_PERCENT"),
    )


def _percent(progress: dict[str, Any]) -> float:
    step = progress.get("step")
    if step == "done":
        return 100.0
    if step not in STEPS:
        return 0.0
    index = STEPS.index(step)
    fraction = 0.0
    if step in CHUNKED_STEPS:
        lo, hi = progress.get("lo", 0), progress.get("hi", 0)
        span = max(hi - lo + 1, 1)
        fraction = min(max(progress.get("cursor", lo) - lo, 0) / span, 1.0)
    return round((index + fraction) / len(STEPS) * 100, 1)


def describe(progress: dict[str, Any]) -> dict[str, Any]:
    """The public view of a run's progress."""
    step = progress.get("step")
    return {
        "step": step,
        "step_index": (STEPS.index(step) + 1) if step in STEPS else (len(STEPS) if step == "done" else 0),
        "steps": len(STEPS),
        "percent": _percent(progress),
        "lines_total": progress.get("lines_total", 0),
        "started_at": progress.get("started_at"),
        "finished_at": progress.get("finished_at"),
    }


def _claim(session: Session, invoice_id: str, owner: str, lease_seconds: int) -> tables.Invoice | None:
    now = utcnow()
    result = session.execute(
        sa.update(tables.Invoice)
        .where(
            tables.Invoice.id == invoice_id,
            tables.Invoice.status != "reconciled",
            sa.or_(
                tables.Invoice.run_owner.is_(None),
                tables.Invoice.run_owner == owner,
                tables.Invoice.run_heartbeat < now - timedelta(seconds=lease_seconds),
            ),
        )
        .values(run_owner=owner, run_heartbeat=now, status="reconciling", error=None)
        .execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:
        return None
    return session.get(tables.Invoice, invoice_id, populate_existing=True)


def _save(session: Session, invoice_id: str, owner: str, progress: dict[str, Any], **values: Any) -> None:
    result = session.execute(
        sa.update(tables.Invoice)
        .where(tables.Invoice.id == invoice_id, tables.Invoice.run_owner == owner)
        .values(progress=progress, run_heartbeat=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:
        raise LeaseLost(invoice_id)


def _start(session: Session, invoice: tables.Invoice) -> dict[str, Any]:
    """Begin a run from scratch: forget earlier findings and card terms, measure the id range."""
    for table in (tables.Discrepancy, tables.CardTerm, tables.CardCode):
        session.execute(sa.delete(table).where(table.invoice_id == invoice.id))
    session.execute(
        sa.update(tables.InvoiceLine)
        .where(tables.InvoiceLine.invoice_id == invoice.id, tables.InvoiceLine.recoverable_minor != 0)
        .values(recoverable_minor=0)
        .execution_options(synchronize_session=False)
    )
    _analyze(session)
    lo, hi, total = session.execute(
        sa.select(sa.func.min(LN.c.id), sa.func.max(LN.c.id), sa.func.count()).where(
            LN.c.invoice_id == invoice.id
        )
    ).one()
    return {
        "step": STEPS[0],
        "lo": lo or 0,
        "hi": hi or -1,
        "cursor": lo or 0,
        "lines_total": total,
        "started_at": utcnow().isoformat(),
    }


def _tune(session: Session) -> Session:
    """Per transaction on PostgreSQL: no JIT (compiling these wide statements costs more than running them)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SET LOCAL jit = off"))
    return session


def _analyze(session: Session) -> None:
    """Refresh PostgreSQL's statistics: a fresh upload of a million lines would otherwise be planned as empty."""
    if session.get_bind().dialect.name == "postgresql":
        for table in (
            "invoice_lines",
            "invoice_discrepancies",
            "reconciliation_card_terms",
            "reconciliation_card_codes",
        ):
            session.execute(sa.text(f"ANALYZE {table}"))


def run(
    sessions: sessionmaker[Session],
    invoice_id: str,
    *,
    settings: dict[str, Any],
    on_progress: Progress | None = None,
    owner: str | None = None,
) -> dict[str, Any] | None:
    """Reconcile one invoice to the end (or resume it); return its report, or None if someone else runs it."""
    owner = owner or uuid.uuid4().hex
    chunk = max(config.read(settings, "RECON_CHUNK_LINES"), 1)
    lease = config.read(settings, "RECON_LEASE_SECONDS")
    with sessions() as session:
        invoice = session.get(tables.Invoice, invoice_id)
        if invoice is None:
            return None
        if invoice.status == "reconciled":
            return invoice.report
        invoice = _claim(session, invoice_id, owner, lease)
        if invoice is None:
            session.rollback()
            return None
        progress = dict(invoice.progress or {})
        if progress.get("step") not in STEPS:
            progress = _start(session, invoice)
        _save(session, invoice_id, owner, progress)
        ctx = _context(session, invoice, settings)
        session.commit()
    try:
        return _steps(sessions, ctx, owner, progress, chunk, on_progress)
    except LeaseLost:
        log.warning("reconciliation taken over by another worker", extra={"invoice_id": invoice_id})
        return None
    except Exception as exc:
        with sessions() as session:
            session.execute(
                sa.update(tables.Invoice)
                .where(tables.Invoice.id == invoice_id, tables.Invoice.run_owner == owner)
                .values(status="failed", run_owner=None, error=f"{type(exc).__name__}: {exc}"[:2000])
            )
            session.commit()
        raise


def _steps(
    sessions: sessionmaker[Session],
    ctx: Context,
    owner: str,
    progress: dict[str, Any],
    chunk: int,
    on_progress: Progress | None,
) -> dict[str, Any]:
    def tell() -> None:
        if on_progress is not None:
            on_progress({"invoice_id": ctx.invoice_id, **describe(progress)})

    tell()
    index = STEPS.index(progress["step"])
    for step in STEPS[index:]:
        progress["step"] = step
        if step in CHUNKED_STEPS:
            build = _chunked(step)
            cursor = max(progress.get("cursor", progress["lo"]), progress["lo"])
            if step == AMOUNT_CLASSES[0] and cursor == progress["lo"]:
                with sessions() as session:  # the whole-line findings are in: plan the rest with them
                    _analyze(session)
                    session.commit()
            while cursor <= progress["hi"]:
                upper = cursor + chunk
                with sessions() as session:
                    _tune(session)
                    if step == "totals":
                        row = session.execute(amounts.totals(ctx, cursor, upper)).one()
                        sums = progress.setdefault("sums", {})
                        for key in ("lines", "billed", "expected", "recoverable", "flagged"):
                            sums[key] = sums.get(key, 0) + int(getattr(row, key) or 0)
                    else:
                        session.execute(build(ctx, cursor, upper))
                    progress["cursor"] = upper
                    _save(session, ctx.invoice_id, owner, progress)
                    session.commit()
                cursor = upper
                tell()
        else:
            with sessions() as session:
                _tune(session)
                if step == "cards":
                    load_card_terms(session, ctx)
                    _analyze(session)
                elif step == "recoverable":
                    session.execute(amounts.mark_recoverable(ctx))
                elif step == "credits":
                    close_credited_disputes(session, ctx)
                elif step == "report":
                    report = build_report(session, ctx, progress.get("sums", {}))
                    progress["step"] = "done"
                    progress["finished_at"] = utcnow().isoformat()
                    _save(
                        session,
                        ctx.invoice_id,
                        owner,
                        progress,
                        status="reconciled",
                        report=report,
                        reconciled_at=utcnow(),
                        run_owner=None,
                    )
                    _emit_completed(session, ctx, report)
                    session.commit()
                    tell()
                    return report
                _save(session, ctx.invoice_id, owner, progress)
                session.commit()
            tell()
        nxt = STEPS.index(step) + 1
        progress["step"] = STEPS[nxt]
        progress["cursor"] = progress["lo"]
    raise AssertionError("the report step ends every run")  # pragma: no cover


def _chunked(step: str) -> Callable[[Context, int, int], Any]:
    if step == "match":
        return matching.match
    if step == "totals":
        return amounts.totals
    return checks.CHECKS[step]


def _emit_completed(session: Session, ctx: Context, report: dict[str, Any]) -> None:
    """Tell the tenant's webhook endpoints (payload: schemas/json/webhooks/reconciliation.completed.json)."""
    from gateway import webhooks

    invoice = session.get(tables.Invoice, ctx.invoice_id)
    assert invoice is not None
    totals = report["totals"]

    def amount(minor: int) -> dict[str, str]:
        return {
            "amount": str(money.Money.from_minor(minor, invoice.currency).amount),
            "currency": invoice.currency,
        }

    counts = {"lines": totals["lines"], "flagged": totals.get("flagged_lines", 0)}
    counts.update({kind: row["lines"] for kind, row in report["by_class"].items()})
    webhooks.emit(
        session,
        ctx.tenant_id,
        "reconciliation.completed",
        {
            "reconciliation_id": invoice.id,
            "status": "completed_with_discrepancies" if counts["flagged"] else "completed",
            "carrier": invoice.carrier,
            "invoice_id": invoice.id,
            "invoice_number": invoice.invoice_number,
            "counts": counts,
            "totals": {
                "billed": amount(totals["billed_minor"]),
                "expected": amount(totals["expected_minor"]),
                "variance": amount(totals["variance_minor"]),
                "recoverable": amount(totals["recoverable_minor"]),
            },
            "completed_at": utcnow().isoformat().replace("+00:00", "Z"),
        },
    )
