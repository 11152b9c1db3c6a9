"""The last check: a shipment billed above the total of a quote the line checks cannot take apart."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gateway.reconciliation._sql import (
    LN,
    QS,
    TERMS,
    Context,
    as_json,
    chunk,
    flagged_whole,
    has_kind,
    insert_findings,
    matched,
    num,
    obj,
    select_finding,
)
from gateway.reconciliation.classes import (
    AMOUNT_CLASSES,
    TOTAL_OVER_QUOTE,
)
from gateway.reconciliation.parsers import charges


def chunk_shipment_totals(ctx: Context, lo: int, hi: int) -> Any:
    """Per tracking number with a line in the chunk and a quote no card explains: what this invoice
    bills for it, as a whole.

    ``billed`` sums every line of the invoice for the tracking number (credits included) except
    taxes, which no quote prices, and lines with a whole-line finding (claimed in full already).
    ``explained`` is 1 when one of its lines already has an amount finding. ``target`` is the line
    a total finding is filed on: the first base line, else the first charge.
    """
    tl = LN.alias("tl")
    l2 = LN.alias("lt")
    qn = QS.alias("qn")
    tn = TERMS.alias("tn")
    counted = sa.and_(l2.c.charge_class != charges.TAX, ~flagged_whole(l2.c.id))
    charge = sa.and_(l2.c.amount_minor > 0, ~flagged_whole(l2.c.id))
    # Only shipments whose quote no card term explains (live quotes, cards not found): usually few.
    numbers = (
        sa.select(tl.c.tracking_number)
        .join(qn, qn.c.shipment_id == tl.c.shipment_id)
        .where(
            chunk(ctx, tl, lo, hi),
            tl.c.amount_minor > 0,
            ~sa.exists().where(
                tn.c.invoice_id == ctx.invoice_id,
                tn.c.card_id == qn.c.card_id,
                tn.c.card_version == qn.c.card_version,
            ),
        )
    )
    amount_kinds = tuple(k for k in AMOUNT_CLASSES if k != TOTAL_OVER_QUOTE)
    return (
        sa.select(
            l2.c.tracking_number,
            sa.func.sum(sa.case((counted, l2.c.amount_minor), else_=0)).label("billed"),
            sa.func.count().label("lines"),
            sa.func.max(sa.case((has_kind(l2.c.id, amount_kinds), 1), else_=0)).label("explained"),
            sa.func.coalesce(
                sa.func.min(sa.case((sa.and_(charge, l2.c.charge_class == charges.BASE), l2.c.id))),
                sa.func.min(sa.case((charge, l2.c.id))),
            ).label("target"),
        )
        .where(l2.c.invoice_id == ctx.invoice_id, l2.c.tracking_number.in_(numbers))
        .group_by(l2.c.tracking_number)
        .subquery("stotal")
    )


def total_over_quote(ctx: Context, lo: int, hi: int) -> sa.Insert:
    """A shipment billed above the total of the quote frozen on it, beyond the tolerance.

    For quotes the line checks cannot take apart: a live quote (the carrier's total, no card) or a
    card version that cannot be found. A card quote is compared line by line by the checks above
    (a surcharge the shipper could not have declared is billed legitimately there). Decided last,
    and only for a shipment none of whose lines has another finding on this invoice. Filed on one
    line (the first base line) with the whole overage recoverable.
    """
    line, _, base = matched(ctx, lo, hi)
    q = QS.alias("q")
    t = TERMS.alias("tt")
    st = chunk_shipment_totals(ctx, lo, hi)
    over = st.c.billed - q.c.total_cost_minor
    sel = (
        select_finding(
            ctx,
            TOTAL_OVER_QUOTE,
            line,
            line.c.amount_minor - over,
            over,
            obj(
                ctx,
                {
                    "quote_source": q.c.source,
                    "service": q.c.service_name,
                    "card_id": q.c.card_id,
                    "card_version": q.c.card_version,
                    "quoted_total_minor": q.c.total_cost_minor,
                    "billed_total_minor": st.c.billed,
                    "over_minor": over,
                    "tolerance_percent": num(ctx.total_tolerance_percent),
                    "invoice_lines": st.c.lines,
                    "quote_lines": as_json(ctx, q.c.lines),
                },
            ),
        )
        .join(st, sa.and_(st.c.tracking_number == line.c.tracking_number, st.c.target == line.c.id))
        .join(q, q.c.shipment_id == line.c.shipment_id)
        .where(
            base(),
            st.c.explained == 0,
            q.c.currency == line.c.currency,
            ~sa.exists().where(
                t.c.invoice_id == ctx.invoice_id,
                t.c.card_id == q.c.card_id,
                t.c.card_version == q.c.card_version,
            ),
            # Integer arithmetic: above the quote by more than the tolerance and one minor unit.
            st.c.billed * num(100) > q.c.total_cost_minor * num(100 + ctx.total_tolerance_percent),
            over > 1,
        )
    )
    return insert_findings(TOTAL_OVER_QUOTE, sel)
