"""What each line should have cost and what is recoverable from it, once its invoice is reconciled.

``expected_of`` answers per line (for the lines API and the dispute export); ``totals`` sums a
chunk's billed, expected and recoverable amounts with joins computed once per id range.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gateway.reconciliation._quote_costs import (
    card_percents,
    chunk_costs,
    chunk_fuel,
    expected_fuel,
    quote_cost,
)
from gateway.reconciliation._sql import (
    DS,
    LN,
    QS,
    TERMS,
    Context,
    chunk,
    has_kind,
    num,
)
from gateway.reconciliation.classes import (
    SURCHARGE_NOT_QUOTED,
    TOTAL_OVER_QUOTE,
    WHOLE_LINE,
)
from gateway.reconciliation.parsers import charges


def recoverable_of(line: Any) -> Any:
    """A line's recoverable amount: its largest finding."""
    d = DS.alias("dr")
    return sa.func.coalesce(
        sa.select(sa.func.max(d.c.recoverable_minor)).where(d.c.line_id == line.c.id).scalar_subquery(), 0
    )


def expected_of(ctx: Context, line: Any) -> Any:
    """What the shipper expected to pay for a line, once its invoice is reconciled.

    Nothing for a line with a whole-line finding or an unquoted surcharge; the credit itself for a
    credit; the billed amount less the overage for the line a total finding is filed on; the card's fuel on the billed base for fuel; the quote line of the same class (nothing
    if the contract quote has none) for classes a card prices; otherwise the billed amount (taxes,
    live quotes, unmatched lines).
    """
    q = QS.alias("qe")
    t = TERMS.alias("te")
    contract_quote = (
        sa.select(q.c.id)
        .select_from(q)
        .join(
            t,
            sa.and_(
                t.c.invoice_id == line.c.invoice_id,
                t.c.card_id == q.c.card_id,
                t.c.card_version == q.c.card_version,
            ),
        )
        .where(q.c.shipment_id == line.c.shipment_id)
        .exists()
    )
    d = DS.alias("do")
    over = (
        sa.select(sa.func.sum(d.c.recoverable_minor))
        .where(d.c.line_id == line.c.id, d.c.kind == TOTAL_OVER_QUOTE)
        .scalar_subquery()
    )
    return sa.case(
        (line.c.amount_minor <= 0, line.c.amount_minor),
        (line.c.tracking_number.is_(None), line.c.amount_minor),  # an invoice-level fee
        (line.c.shipment_id.is_(None), num(0)),
        (has_kind(line.c.id, (*WHOLE_LINE, SURCHARGE_NOT_QUOTED)), num(0)),
        (has_kind(line.c.id, (TOTAL_OVER_QUOTE,)), line.c.amount_minor - over),
        (
            sa.and_(line.c.charge_class == charges.FUEL, contract_quote),
            sa.func.coalesce(
                expected_fuel(ctx, line.c.shipment_id, line.c.tracking_number, line.c.invoice_id),
                line.c.amount_minor,
            ),
        ),
        (
            sa.and_(line.c.charge_class.in_(sorted(charges.CARD_CLASSES)), contract_quote),
            sa.func.coalesce(
                quote_cost(ctx, line.c.shipment_id, line.c.charge_class, line.c.invoice_id), num(0)
            ),
        ),
        else_=line.c.amount_minor,
    )


def mark_recoverable(ctx: Context) -> sa.Update:
    """Store each flagged line's recoverable amount (only flagged lines change: a small update)."""
    d = DS.alias("dm")
    return (
        sa.update(LN)
        .where(
            LN.c.invoice_id == ctx.invoice_id,
            LN.c.id.in_(sa.select(d.c.line_id).where(d.c.invoice_id == ctx.invoice_id)),
        )
        .values(recoverable_minor=recoverable_of(LN))
        .execution_options(synchronize_session=False)
    )


def clear_recoverable(ctx: Context) -> sa.Update:
    """Forget an earlier run's recoverable amounts before a fresh run."""
    return (
        sa.update(LN)
        .where(LN.c.invoice_id == ctx.invoice_id, LN.c.recoverable_minor != 0)
        .values(recoverable_minor=0)
        .execution_options(synchronize_session=False)
    )


def _chunk_flags(ctx: Context, lo: int, hi: int) -> Any:
    """(line_id, zeroed, over) of the chunk's flagged lines (over: a total finding's overage)."""
    d = DS.alias("dg")
    zeroing = sa.case((d.c.kind.in_((*WHOLE_LINE, SURCHARGE_NOT_QUOTED)), 1), else_=0)
    over = sa.case((d.c.kind == TOTAL_OVER_QUOTE, d.c.recoverable_minor), else_=0)
    return (
        sa.select(d.c.line_id, sa.func.max(zeroing).label("zeroed"), sa.func.sum(over).label("over"))
        .where(d.c.invoice_id == ctx.invoice_id, d.c.line_id >= lo, d.c.line_id < hi)
        .group_by(d.c.line_id)
        .subquery("flags")
    )


def totals(ctx: Context, lo: int, hi: int) -> sa.Select[Any]:
    """Billed, expected and recoverable sums of one id range, and how many of its lines are flagged.

    ``expected`` follows ``expected_of`` but as joins computed once per range (quote costs, fuel,
    findings) rather than per-line subqueries.
    """
    line = LN.alias("l")
    q = QS.alias("qt")
    costs = chunk_costs(ctx, lo, hi)
    fuel = chunk_fuel(ctx, lo, hi)
    flags = _chunk_flags(ctx, lo, hi)
    card = card_percents(ctx)
    contract = card.c.card_id.is_not(None)
    expected = sa.case(
        (line.c.amount_minor <= 0, line.c.amount_minor),
        (line.c.tracking_number.is_(None), line.c.amount_minor),
        (line.c.shipment_id.is_(None), num(0)),
        (flags.c.zeroed == 1, num(0)),
        (flags.c.over > 0, line.c.amount_minor - flags.c.over),
        (
            sa.and_(line.c.charge_class == charges.FUEL, contract),
            sa.func.coalesce(fuel.c.expected, line.c.amount_minor),
        ),
        (
            sa.and_(line.c.charge_class.in_(sorted(charges.CARD_CLASSES)), contract),
            sa.func.coalesce(costs.c.cost, num(0)),
        ),
        else_=line.c.amount_minor,
    )
    return (
        sa.select(
            sa.func.count().label("lines"),
            sa.func.coalesce(sa.func.sum(line.c.amount_minor), 0).label("billed"),
            sa.func.coalesce(sa.func.sum(expected), 0).label("expected"),
            sa.func.coalesce(sa.func.sum(line.c.recoverable_minor), 0).label("recoverable"),
            sa.func.count(flags.c.line_id).label("flagged"),
        )
        .select_from(line)
        .outerjoin(flags, flags.c.line_id == line.c.id)
        .outerjoin(q, q.c.shipment_id == line.c.shipment_id)
        .outerjoin(card, sa.and_(card.c.card_id == q.c.card_id, card.c.card_version == q.c.card_version))
        .outerjoin(
            costs,
            sa.and_(costs.c.shipment_id == line.c.shipment_id, costs.c.charge_class == line.c.charge_class),
        )
        .outerjoin(
            fuel,
            sa.and_(fuel.c.tracking_number == line.c.tracking_number, line.c.charge_class == charges.FUEL),
        )
        .where(chunk(ctx, line, lo, hi))
    )
