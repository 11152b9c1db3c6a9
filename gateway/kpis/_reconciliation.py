"""Reconciliation: the recoverable invoice money per shipment and carrier, and the tenant's invoice totals."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.kernel.errors import Problem
from gateway.kpis._rows import Row, as_money, carrier_key, chunks, one_of, table


def recoverable(
    session: Session, tenant_id: str, rows: dict[str, Row], lo: datetime, notes: list[str]
) -> tuple[dict[str, Any] | None, dict[str, int]]:
    """Attribute recoverable invoice money to shipments; return the tenant's invoice totals too."""
    invoices, lines = table("invoices"), table("invoice_lines")
    if invoices is None or lines is None:
        notes.append("reconciliation is not available in this installation")
        return None, {}
    by_carrier: dict[str, int] = defaultdict(int)
    reconciled = sa.select(invoices.c.id).where(
        invoices.c.tenant_id == tenant_id, invoices.c.status == "reconciled"
    )
    ids = list(rows)
    for chunk in chunks(ids, session):
        for r in session.execute(
            sa.select(
                lines.c.shipment_id, lines.c.carrier, sa.func.sum(lines.c.recoverable_minor).label("rec")
            )
            .where(lines.c.invoice_id.in_(reconciled), one_of(session, lines.c.shipment_id, chunk))
            .group_by(lines.c.shipment_id, lines.c.carrier)
        ):
            amount = int(r.rec or 0)
            rows[r.shipment_id].recoverable_minor += amount
            by_carrier[carrier_key(r.carrier)] += amount
    try:
        from gateway.reconciliation import reports as invoice_reports

        report, currency = invoice_reports.tenant_report(session, tenant_id, created_after=lo)
    except (ImportError, AttributeError):
        return None, dict(by_carrier)
    except Problem as exc:  # several currencies: the per-shipment figures still stand
        notes.append(f"invoice totals left out: {exc.detail}")
        return None, dict(by_carrier)
    if not report.get("invoices"):
        return None, dict(by_carrier)
    cur = currency or "USD"
    totals = report.get("totals") or {}
    return (
        {
            "invoices": int(report["invoices"]),
            "billed": as_money(int(totals.get("billed_minor") or 0), cur),
            "expected": as_money(int(totals.get("expected_minor") or 0), cur),
            "recoverable": as_money(int(totals.get("recoverable_minor") or 0), cur),
            "flagged_lines": int(totals.get("flagged_lines") or 0),
            "by_class": {
                kind: as_money(int(t.get("recoverable_minor") or 0), cur)
                for kind, t in (report.get("by_class") or {}).items()
            },
        },
        dict(by_carrier),
    )
