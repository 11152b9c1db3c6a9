"""Reading stored invoices and their lines, with each line's findings and expected amount."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.kernel import models, paging
from gateway.kernel.errors import Problem
from gateway.reconciliation import tables
from gateway.reconciliation._sql import LN, Context
from gateway.reconciliation.amounts import expected_of


def get_invoice(session: Session, tenant_id: str, invoice_id: str) -> tables.Invoice:
    invoice = session.execute(
        sa.select(tables.Invoice).where(
            tables.Invoice.id == invoice_id, tables.Invoice.tenant_id == tenant_id
        )
    ).scalar_one_or_none()
    if invoice is None:
        raise Problem("not-found", f"No invoice {invoice_id!r}.")
    return invoice


def list_invoices(
    session: Session, tenant_id: str, *, limit: int, cursor: str | None = None, carrier: str | None = None
) -> tuple[list[tables.Invoice], str | None]:
    query = sa.select(tables.Invoice).where(tables.Invoice.tenant_id == tenant_id)
    if carrier:
        query = query.where(tables.Invoice.carrier == carrier)
    rows, nxt = paging.newest_first(session, query, tables.Invoice, limit=limit, cursor=cursor)
    return list(rows), nxt


def list_lines(
    session: Session,
    tenant_id: str,
    invoice_id: str,
    *,
    limit: int,
    after: int | None = None,
    flagged: bool | None = None,
    kind: str | None = None,
    resolution: str | None = None,
) -> tuple[list[tables.InvoiceLine], dict[int, list[tables.Discrepancy]], dict[int, int], int | None]:
    """One page of an invoice's lines in file order, with their discrepancies."""
    get_invoice(session, tenant_id, invoice_id)
    ln = tables.InvoiceLine
    query = sa.select(ln).where(ln.invoice_id == invoice_id)
    if after is not None:
        query = query.where(ln.id > after)
    ds = tables.Discrepancy
    if kind:
        query = query.where(sa.exists().where(ds.line_id == ln.id, ds.kind == kind))
    elif flagged is True:
        query = query.where(sa.exists().where(ds.line_id == ln.id))
    elif flagged is False:
        query = query.where(~sa.exists().where(ds.line_id == ln.id))
    if resolution:
        query = query.where(ln.resolution == resolution)
    rows = list(session.execute(query.order_by(ln.id).limit(limit + 1)).scalars())
    nxt = None
    if len(rows) > limit:
        rows = rows[:limit]
        nxt = rows[-1].id
    found: dict[int, list[tables.Discrepancy]] = {}
    if rows:
        for d in session.execute(
            sa.select(ds).where(ds.line_id.in_([r.id for r in rows])).order_by(ds.id)
        ).scalars():
            found.setdefault(d.line_id, []).append(d)
    return rows, found, expected_amounts(session, [r.id for r in rows]), nxt


def expected_amounts(session: Session, line_ids: list[int]) -> dict[int, int]:
    """What the shipper expected to pay for each line (lines of reconciled invoices only)."""
    if not line_ids:
        return {}
    ctx = Context.reading(session.get_bind().dialect.name)
    line = LN.alias("l")
    inv = tables.Invoice.__table__
    rows = session.execute(
        sa.select(line.c.id, expected_of(ctx, line))
        .join(inv, inv.c.id == line.c.invoice_id)
        .where(line.c.id.in_(line_ids), inv.c.status == "reconciled")
    )
    return {row[0]: int(row[1]) for row in rows if row[1] is not None}


def get_line(session: Session, tenant_id: str, invoice_id: str, line_id: int) -> tables.InvoiceLine:
    line = session.execute(
        sa.select(tables.InvoiceLine).where(
            tables.InvoiceLine.id == line_id,
            tables.InvoiceLine.invoice_id == invoice_id,
            tables.InvoiceLine.tenant_id == tenant_id,
        )
    ).scalar_one_or_none()
    if line is None:
        raise Problem("not-found", f"No line {line_id} on invoice {invoice_id!r}.")
    return line


def discrepancies_of(session: Session, line_id: int) -> list[tables.Discrepancy]:
    return list(
        session.execute(
            sa.select(tables.Discrepancy)
            .where(tables.Discrepancy.line_id == line_id)
            .order_by(tables.Discrepancy.id)
        ).scalars()
    )


def returns_among(session: Session, tenant_id: str, shipment_ids: list[str | None]) -> set[str]:
    """The ids among ``shipment_ids`` that are return shipments (their lines bill a return label)."""
    ids = sorted({i for i in shipment_ids if i})
    if not ids:
        return set()
    s = models.Shipment
    return set(
        session.execute(
            sa.select(s.id).where(s.tenant_id == tenant_id, s.id.in_(ids), s.is_return.is_(True))
        ).scalars()
    )
