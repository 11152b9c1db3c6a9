"""Reconciliation reports: one invoice's (stored when its run ends) and the tenant-wide sum of them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.kernel.errors import Problem
from gateway.reconciliation import tables
from gateway.reconciliation._sql import DS, Context
from gateway.reconciliation.classes import CLASSES


def _totals(lines: int, billed: int, expected: int, recoverable: int) -> dict[str, int]:
    return {
        "lines": lines,
        "billed_minor": billed,
        "expected_minor": expected,
        "variance_minor": billed - expected,
        "recoverable_minor": recoverable,
    }


def build_report(session: Session, ctx: Context, sums: dict[str, int]) -> dict[str, Any]:
    """One invoice's report: totals (summed chunk by chunk during the run), by class and by carrier."""
    ds = DS
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
        "by_class": {k: by_class[k] for k in CLASSES if k in by_class},
        "by_carrier": {ctx.carrier: carrier},
        "classes": list(CLASSES),
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
        "by_class": {k: by_class[k] for k in CLASSES if k in by_class},
        "by_carrier": by_carrier,
    }


def tenant_report(
    session: Session,
    tenant_id: str,
    *,
    carrier: str | None = None,
    currency: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> tuple[dict[str, Any], str | None]:
    """Totals across the tenant's reconciled invoices, by class, carrier and resolution, in one currency."""
    inv = tables.Invoice
    ids = sa.select(inv.id).where(inv.tenant_id == tenant_id, inv.status == "reconciled")
    if carrier:
        ids = ids.where(inv.carrier == carrier)
    if created_after:
        ids = ids.where(inv.created_at >= created_after)
    if created_before:
        ids = ids.where(inv.created_at < created_before)
    if currency:
        ids = ids.where(inv.currency == currency)
    else:
        found = sorted(
            c for (c,) in session.execute(sa.select(inv.currency).where(inv.id.in_(ids)).distinct())
        )
        if len(found) > 1:
            raise Problem(
                "validation-error",
                f"The invoices are in several currencies ({', '.join(found)}); pass currency.",
                errors={"currency": ["required when invoices use several currencies"]},
            )
        currency = found[0] if found else None
    reports = [r for (r,) in session.execute(sa.select(inv.report).where(inv.id.in_(ids))) if r]
    report = merge_reports(reports)
    ln = tables.InvoiceLine
    report["by_resolution"] = {
        (row.resolution or "open"): {"lines": int(row.lines), "recoverable_minor": int(row.recoverable or 0)}
        for row in session.execute(
            sa.select(
                ln.resolution,
                sa.func.count().label("lines"),
                sa.func.sum(ln.recoverable_minor).label("recoverable"),
            )
            .where(ln.resolution.is_not(None), ln.tenant_id == tenant_id, ln.invoice_id.in_(ids))
            .group_by(ln.resolution)
        )
    }
    report["invoices"] = session.execute(sa.select(sa.func.count()).select_from(ids.subquery())).scalar_one()
    return report, currency
