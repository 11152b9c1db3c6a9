"""What a shipment's quote says each charge class costs, and the card's fuel on the billed base.

Per line (``quote_cost``, ``expected_fuel``: subqueries that can take the invoice from each line)
and per chunk (``chunk_costs``, ``chunk_fuel``: joins computed once per id range). The card's facts
come from the ``reconciliation_card_terms`` and ``reconciliation_card_codes`` rows of the run.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gateway.reconciliation._sql import (
    CODES,
    LN,
    QS,
    TERMS,
    Context,
    chunk,
    has_kind,
    lit,
    num,
)
from gateway.reconciliation.classes import (
    SURCHARGE_NOT_QUOTED,
    WHOLE_LINE,
)
from gateway.reconciliation.parsers import charges


def quote_cost(ctx: Context, shipment_id: Any, charge_class: Any, invoice: Any = None) -> Any:
    """Sum of the quote lines that price ``charge_class`` in the shipment's snapshot (NULL if none).

    ``invoice`` (default: the run's) selects whose card codes apply; pass a line's ``invoice_id``
    column to evaluate lines of several invoices in one statement.
    """
    invoice = ctx.invoice_id if invoice is None else invoice
    q = QS.alias("qc")
    c = CODES.alias("cc")
    code: Any
    cost: Any
    if ctx.pg:
        je = sa.func.jsonb_array_elements(q.c.lines).table_valued("value").alias("je")
        code = je.c.value.op("->>")(lit("code"))
        cost = sa.cast(je.c.value.op("->>")(lit("cost_minor")), sa.BigInteger)
    else:
        je = sa.func.json_each(q.c.lines).table_valued("value").alias("je")
        code = sa.func.json_extract(je.c.value, lit("$.code"))
        cost = sa.func.json_extract(je.c.value, lit("$.cost_minor"))
    return (
        sa.select(sa.func.sum(cost))
        .select_from(q)
        .join(je, sa.true())
        .join(
            c,
            sa.and_(
                c.c.invoice_id == invoice,
                c.c.card_id == q.c.card_id,
                c.c.card_version == q.c.card_version,
                c.c.charge_class == charge_class,
                c.c.code == code,
            ),
        )
        .where(q.c.shipment_id == shipment_id)
        .scalar_subquery()
    )


def base_cost(ctx: Context, line: Any) -> Any:
    """The quote's transportation (BASE) cost for a line's shipment."""
    return quote_cost(ctx, line.c.shipment_id, lit(charges.BASE))


def fuel_base(ctx: Context, shipment_id: Any, tracking_number: Any, invoice: Any = None) -> Any:
    """The billed amounts this invoice charges fuel on for one tracking number (card's applies_to)."""
    invoice = ctx.invoice_id if invoice is None else invoice
    l2 = LN.alias("lf")
    q = QS.alias("qf")
    c = CODES.alias("cf")
    classes = (
        sa.select(c.c.charge_class)
        .select_from(q)
        .join(
            c,
            sa.and_(
                c.c.invoice_id == invoice,
                c.c.card_id == q.c.card_id,
                c.c.card_version == q.c.card_version,
                c.c.fuel_base.is_(True),
            ),
        )
        .where(q.c.shipment_id == shipment_id)
        .correlate_except(q, c)
    )
    return (
        sa.select(sa.func.sum(l2.c.amount_minor))
        .where(
            l2.c.invoice_id == invoice,
            l2.c.tracking_number == tracking_number,
            l2.c.amount_minor > 0,
            l2.c.charge_class.in_(classes),
            # Fuel on a surcharge that is itself disputed is not owed either.
            ~has_kind(l2.c.id, (*WHOLE_LINE, SURCHARGE_NOT_QUOTED)),
        )
        .scalar_subquery()
    )


def fuel_percent(ctx: Context, shipment_id: Any, invoice: Any = None) -> Any:
    invoice = ctx.invoice_id if invoice is None else invoice
    q = QS.alias("qp")
    t = TERMS.alias("tp")
    return (
        sa.select(sa.func.max(t.c.fuel_percent))
        .select_from(q)
        .join(
            t,
            sa.and_(
                t.c.invoice_id == invoice, t.c.card_id == q.c.card_id, t.c.card_version == q.c.card_version
            ),
        )
        .where(q.c.shipment_id == shipment_id)
        .scalar_subquery()
    )


def expected_fuel(ctx: Context, shipment_id: Any, tracking_number: Any, invoice: Any = None) -> Any:
    pct = fuel_percent(ctx, shipment_id, invoice)
    base = fuel_base(ctx, shipment_id, tracking_number, invoice)
    return sa.cast(sa.func.round(base * pct / num(100)), sa.BigInteger)


# --- per-chunk joins: quote costs and fuel, computed once per id range --------------------


def chunk_costs(ctx: Context, lo: int, hi: int) -> Any:
    """(shipment_id, charge_class, cost): the quote cost of each class for the chunk's shipments."""
    lc = LN.alias("lc")
    q = QS.alias("qk")
    c = CODES.alias("ck")
    code: Any
    cost: Any
    if ctx.pg:
        je = sa.func.jsonb_array_elements(q.c.lines).table_valued("value").alias("jk")
        code = je.c.value.op("->>")(lit("code"))
        cost = sa.cast(je.c.value.op("->>")(lit("cost_minor")), sa.BigInteger)
    else:
        je = sa.func.json_each(q.c.lines).table_valued("value").alias("jk")
        code = sa.func.json_extract(je.c.value, lit("$.code"))
        cost = sa.func.json_extract(je.c.value, lit("$.cost_minor"))
    shipments = sa.select(lc.c.shipment_id).where(chunk(ctx, lc, lo, hi), lc.c.shipment_id.is_not(None))
    return (
        sa.select(q.c.shipment_id, c.c.charge_class, sa.func.sum(cost).label("cost"))
        .select_from(q)
        .join(je, sa.true())
        .join(
            c,
            sa.and_(
                c.c.invoice_id == ctx.invoice_id,
                c.c.card_id == q.c.card_id,
                c.c.card_version == q.c.card_version,
                c.c.code == code,
            ),
        )
        .where(q.c.shipment_id.in_(shipments))
        .group_by(q.c.shipment_id, c.c.charge_class)
        .subquery("qcost")
    )


def card_percents(ctx: Context) -> Any:
    t = TERMS.alias("tpc")
    return (
        sa.select(t.c.card_id, t.c.card_version, sa.func.max(t.c.fuel_percent).label("percent"))
        .where(t.c.invoice_id == ctx.invoice_id)
        .group_by(t.c.card_id, t.c.card_version)
        .subquery("cards")
    )


def chunk_fuel(ctx: Context, lo: int, hi: int) -> Any:
    """(tracking_number, expected): the card's fuel on the billed base, per tracking number with fuel in the chunk.

    The base is every positive line of the invoice for that tracking number whose class the card
    applies fuel to, except lines with a whole-line finding or an unquoted surcharge.
    """
    fl = LN.alias("fl")
    l2 = LN.alias("lb")
    q2 = QS.alias("qb")
    c = CODES.alias("cb")
    fuel_lines = sa.select(fl.c.tracking_number).where(
        chunk(ctx, fl, lo, hi), fl.c.charge_class == charges.FUEL, fl.c.shipment_id.is_not(None)
    )
    bases = (
        sa.select(l2.c.tracking_number, sa.func.sum(l2.c.amount_minor).label("base"))
        .select_from(l2)
        .join(q2, q2.c.shipment_id == l2.c.shipment_id)
        .where(
            l2.c.invoice_id == ctx.invoice_id,
            l2.c.tracking_number.in_(fuel_lines),
            l2.c.amount_minor > 0,
            sa.exists().where(
                c.c.invoice_id == ctx.invoice_id,
                c.c.card_id == q2.c.card_id,
                c.c.card_version == q2.c.card_version,
                c.c.charge_class == l2.c.charge_class,
                c.c.fuel_base.is_(True),
            ),
            ~has_kind(l2.c.id, (*WHOLE_LINE, SURCHARGE_NOT_QUOTED)),
        )
        .group_by(l2.c.tracking_number)
        .subquery("fbase")
    )
    q = QS.alias("qfu")
    pct = card_percents(ctx)
    shipment_of = (
        sa.select(fl.c.tracking_number, sa.func.min(fl.c.shipment_id).label("shipment_id"))
        .where(chunk(ctx, fl, lo, hi), fl.c.charge_class == charges.FUEL, fl.c.shipment_id.is_not(None))
        .group_by(fl.c.tracking_number)
        .subquery("fship")
    )
    return (
        sa.select(
            shipment_of.c.tracking_number,
            pct.c.percent,
            sa.func.coalesce(bases.c.base, 0).label("base"),
            sa.cast(
                sa.func.round(sa.func.coalesce(bases.c.base, 0) * pct.c.percent / num(100)), sa.BigInteger
            ).label("expected"),
        )
        .select_from(shipment_of)
        .join(q, q.c.shipment_id == shipment_of.c.shipment_id)
        .join(pct, sa.and_(pct.c.card_id == q.c.card_id, pct.c.card_version == q.c.card_version))
        .outerjoin(bases, bases.c.tracking_number == shipment_of.c.tracking_number)
        .where(pct.c.percent.is_not(None))
        .subquery("fuel")
    )
