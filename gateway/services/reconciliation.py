"""Reconciliation runs: walk an invoice's lines in id ranges through the set-based checks, then report.

A run is a list of steps (``STEPS``). Chunked steps execute one SQL statement per id range of
``RECON_CHUNK_LINES`` lines (``recon_sql``); each range commits together with the run's progress
(step and cursor) on the invoice row, so memory stays bounded, a killed worker resumes where it
stopped, and a range is never applied twice. A lease (``run_owner`` + ``run_heartbeat``) keeps two
workers off the same invoice; a lease older than ``RECON_LEASE_SECONDS`` may be taken over.

The card step is the one place that reads Python objects: the few rate card versions the
invoice's shipments were quoted under (their fuel percentage, guaranteed flag, time zone and
which quote code prices which charge class) become rows of ``reconciliation_card_terms`` and
``reconciliation_card_codes`` so the checks stay joins.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from gateway.db import rating as rating_tables
from gateway.db import reconciliation as tables
from gateway.db.types import utcnow
from gateway.errors import Problem
from gateway.invoices import charges
from gateway.services import recon_sql as q
from rating import cards
from schemas import money

log = logging.getLogger(__name__)

# Fuel is checked after surcharges: fuel on a disputed surcharge is not owed either.
CHUNKED_STEPS = ("match", *q.CLASSES, "totals")
STEPS = ("match", "cards", *q.CLASSES, "recoverable", "totals", "credits", "report")
JOB = "gateway.jobs_reconciliation.reconcile"
QUEUE = "reconciliation"

Progress = Callable[[dict[str, Any]], None]


class LeaseLost(Exception):
    """Another worker took the run over (ours stalled); stop without touching it."""


def _setting(settings: dict[str, Any], key: str, default: int) -> int:
    try:
        return int(settings.get(key, default))
    except (TypeError, ValueError):
        return default


def enqueue(session: Session, invoice: tables.Invoice) -> None:
    """Record the reconciliation job in the caller's transaction (the outbox relays it after commit)."""
    from gateway import outbox

    entry = outbox.add(session, JOB, invoice.id, queue=QUEUE)
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


def get_invoice(session: Session, tenant_id: str, invoice_id: str) -> tables.Invoice:
    invoice = session.execute(
        sa.select(tables.Invoice).where(
            tables.Invoice.id == invoice_id, tables.Invoice.tenant_id == tenant_id
        )
    ).scalar_one_or_none()
    if invoice is None:
        raise Problem("not-found", f"No invoice {invoice_id!r}.")
    return invoice


# --- the run --------------------------------------------------------------------------------


def _context(session: Session, invoice: tables.Invoice, settings: dict[str, Any]) -> q.Context:
    bind = session.connection()
    inspector = sa.inspect(bind)
    labels = inspector.has_table("labels")
    by_tracking = False
    if labels:
        keyed = [ix["column_names"] for ix in inspector.get_indexes("labels")]
        keyed += [uc["column_names"] for uc in inspector.get_unique_constraints("labels")]
        by_tracking = any(cols[:1] == ["tracking_number"] for cols in keyed)
    return q.Context(
        dialect=bind.dialect.name,
        invoice_id=invoice.id,
        tenant_id=invoice.tenant_id,
        carrier=invoice.carrier,
        weight_tolerance_percent=_setting(settings, "RECON_WEIGHT_TOLERANCE_PERCENT", 5),
        dimension_tolerance_percent=_setting(settings, "RECON_DIMENSION_TOLERANCE_PERCENT", 10),
        labels=labels,
        labels_by_tracking=by_tracking,
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
    if result.rowcount != 1:
        return None
    return session.get(tables.Invoice, invoice_id, populate_existing=True)


def _save(session: Session, invoice_id: str, owner: str, progress: dict[str, Any], **values: Any) -> None:
    result = session.execute(
        sa.update(tables.Invoice)
        .where(tables.Invoice.id == invoice_id, tables.Invoice.run_owner == owner)
        .values(progress=progress, run_heartbeat=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
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
        sa.select(sa.func.min(q.LN.c.id), sa.func.max(q.LN.c.id), sa.func.count()).where(
            q.LN.c.invoice_id == invoice.id
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
    chunk = max(_setting(settings, "RECON_CHUNK_LINES", 20000), 1)
    lease = _setting(settings, "RECON_LEASE_SECONDS", 300)
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
    ctx: q.Context,
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
            if step == q.AMOUNT_CLASSES[0] and cursor == progress["lo"]:
                with sessions() as session:  # the whole-line findings are in: plan the rest with them
                    _analyze(session)
                    session.commit()
            while cursor <= progress["hi"]:
                upper = cursor + chunk
                with sessions() as session:
                    _tune(session)
                    if step == "totals":
                        row = session.execute(q.totals(ctx, cursor, upper)).one()
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
                    session.execute(q.mark_recoverable(ctx))
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


def _chunked(step: str) -> Callable[[q.Context, int, int], Any]:
    if step == "match":
        return q.match
    if step == "totals":
        return q.totals
    return q.CHECKS[step]


def _emit_completed(session: Session, ctx: q.Context, report: dict[str, Any]) -> None:
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


# --- card terms -----------------------------------------------------------------------------

_SAMPLE_DOCS: dict[tuple[str, int], dict[str, Any]] | None = None


def _sample_docs() -> dict[tuple[str, int], dict[str, Any]]:
    global _SAMPLE_DOCS
    if _SAMPLE_DOCS is None:
        docs = {}
        for name in cards.sample_names():
            doc = json.loads(
                resources.files("rating").joinpath(f"cards/{name}.json").read_text(encoding="utf-8")
            )
            docs[(doc["id"], int(doc["version"]))] = doc
        _SAMPLE_DOCS = docs
    return _SAMPLE_DOCS


def _card_doc(session: Session, tenant_id: str, card_id: str, version: int) -> dict[str, Any] | None:
    doc = session.execute(
        sa.select(rating_tables.RateCardVersion.document).where(
            rating_tables.RateCardVersion.tenant_id == tenant_id,
            rating_tables.RateCardVersion.card_id == card_id,
            rating_tables.RateCardVersion.version == version,
        )
    ).scalar_one_or_none()
    return doc if doc is not None else _sample_docs().get((card_id, version))


def commit_deadline(day: date, timezone: str) -> datetime:
    """The end of ``day`` in the card's time zone, in UTC: a guaranteed service must deliver before it."""
    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)


def load_card_terms(session: Session, ctx: q.Context) -> int:
    """Write the facts of every card version this invoice's shipments were quoted under; return how many."""
    qs = q.QS
    combos = session.execute(
        sa.select(qs.c.card_id, qs.c.card_version, qs.c.estimated_delivery)
        .distinct()
        .select_from(q.LN)
        .join(qs, qs.c.shipment_id == q.LN.c.shipment_id)
        .where(q.LN.c.invoice_id == ctx.invoice_id, qs.c.card_id.is_not(None), qs.c.card_version.is_not(None))
    ).all()
    by_card: dict[tuple[str, int], list[date | None]] = {}
    for card_id, version, estimated in combos:
        by_card.setdefault((card_id, version), []).append(estimated)
    terms: list[dict[str, Any]] = []
    codes: list[dict[str, Any]] = []
    for (card_id, version), days in by_card.items():
        doc = _card_doc(session, ctx.tenant_id, card_id, version)
        if doc is None:
            log.warning("card of a quote snapshot not found", extra={"card_id": card_id, "version": version})
            continue
        card = cards.parse(doc)
        fuel = card.fuel_surcharges[0] if card.fuel_surcharges else None
        timezone = (doc.get("transit") or {}).get("timezone") or "UTC"
        for day in days:
            terms.append(
                {
                    "invoice_id": ctx.invoice_id,
                    "card_id": card_id,
                    "card_version": version,
                    "estimated_delivery": day,
                    "guaranteed": card.guaranteed,
                    "deadline_at": commit_deadline(day, timezone) if day is not None else None,
                    "fuel_percent": fuel.percent if fuel else None,
                }
            )
        applies = fuel.applies_to if fuel else frozenset()
        rows = [(charges.BASE, cards.BASE)] + [(s.kind, s.code) for s in card.surcharges]
        for cls, code in rows:
            codes.append(
                {
                    "invoice_id": ctx.invoice_id,
                    "card_id": card_id,
                    "card_version": version,
                    "charge_class": cls,
                    "code": code,
                    "fuel_base": code in applies,
                }
            )
    if terms:
        session.execute(sa.insert(tables.CardTerm), terms)
    if codes:
        session.execute(sa.insert(tables.CardCode), codes)
    return len(by_card)


# --- credits and the report -----------------------------------------------------------------


def close_credited_disputes(session: Session, ctx: q.Context) -> int:
    """Mark earlier disputed lines credited when this invoice carries a credit covering them."""
    ln = q.LN
    c = ln.alias("cr")
    credits = (
        sa.select(sa.func.sum(c.c.amount_minor))
        .where(
            c.c.invoice_id == ctx.invoice_id,
            c.c.tracking_number == ln.c.tracking_number,
            c.c.amount_minor < 0,
        )
        .scalar_subquery()
    )
    first_credit = (
        sa.select(sa.func.min(c.c.id))
        .where(
            c.c.invoice_id == ctx.invoice_id,
            c.c.tracking_number == ln.c.tracking_number,
            c.c.amount_minor < 0,
        )
        .scalar_subquery()
    )
    # What was claimed: the findings' recoverable amount, or the whole line when finance disputed it alone.
    claimed = sa.case((ln.c.recoverable_minor > 0, ln.c.recoverable_minor), else_=ln.c.amount_minor)
    result = session.execute(
        sa.update(ln)
        .where(
            ln.c.resolution == "disputed",
            ln.c.tenant_id == ctx.tenant_id,
            ln.c.carrier == ctx.carrier,
            ln.c.invoice_id != ctx.invoice_id,
            ln.c.tracking_number.is_not(None),
            -credits >= claimed - 1,
        )
        .values(resolution="credited", resolved_at=utcnow(), credited_by_line_id=first_credit)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def _totals(lines: int, billed: int, expected: int, recoverable: int) -> dict[str, int]:
    return {
        "lines": lines,
        "billed_minor": billed,
        "expected_minor": expected,
        "variance_minor": billed - expected,
        "recoverable_minor": recoverable,
    }


def build_report(session: Session, ctx: q.Context, sums: dict[str, int]) -> dict[str, Any]:
    """One invoice's report: totals (summed chunk by chunk during the run), by class and by carrier."""
    ds = q.DS
    by_class: dict[str, dict[str, int]] = {}
    findings = 0
    for row in session.execute(
        sa.select(
            ds.c.kind,
            sa.func.count().label("lines"),
            sa.func.sum(ds.c.billed_minor).label("billed"),
            sa.func.sum(sa.func.coalesce(ds.c.expected_minor, 0)).label("expected"),
            sa.func.sum(ds.c.recoverable_minor).label("recoverable"),
        )
        .where(ds.c.invoice_id == ctx.invoice_id)
        .group_by(ds.c.kind)
    ):
        by_class[row.kind] = _totals(
            int(row.lines), int(row.billed), int(row.expected), int(row.recoverable or 0)
        )
        findings += int(row.lines)
    totals = _totals(
        int(sums.get("lines", 0)),
        int(sums.get("billed", 0)),
        int(sums.get("expected", 0)),
        int(sums.get("recoverable", 0)),
    )
    totals["flagged_lines"] = int(sums.get("flagged", 0))
    carrier = dict(totals, findings=findings)
    return {
        "totals": totals,
        "by_class": {k: by_class[k] for k in q.CLASSES if k in by_class},
        "by_carrier": {ctx.carrier: carrier},
        "classes": list(q.CLASSES),
    }


def merge_reports(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Add invoice reports up (the tenant-wide report is the sum of its invoices' stored reports)."""

    def add(into: dict[str, int], more: dict[str, int]) -> None:
        for key, value in more.items():
            if isinstance(value, int):
                into[key] = into.get(key, 0) + value

    totals: dict[str, int] = {}
    by_class: dict[str, dict[str, int]] = {}
    by_carrier: dict[str, dict[str, int]] = {}
    for report in reports:
        add(totals, report.get("totals", {}))
        for kind, row in report.get("by_class", {}).items():
            add(by_class.setdefault(kind, {}), row)
        for carrier, row in report.get("by_carrier", {}).items():
            add(by_carrier.setdefault(carrier, {}), row)
    empty = _totals(0, 0, 0, 0)
    return {
        "totals": {**empty, "flagged_lines": 0, **totals},
        "by_class": {k: by_class[k] for k in q.CLASSES if k in by_class},
        "by_carrier": by_carrier,
    }
