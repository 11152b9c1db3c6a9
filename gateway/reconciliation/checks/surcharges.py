"""Checks of the charges on top of the base: the fuel surcharge and surcharges the quote did not have.

Surcharges are decided before fuel is summed: fuel on a disputed surcharge is not owed either.
"""

from __future__ import annotations

import sqlalchemy as sa

from gateway.reconciliation._quote_costs import (
    chunk_costs,
    chunk_fuel,
)
from gateway.reconciliation._sql import (
    AD,
    PC,
    TERMS,
    Context,
    as_json,
    greatest,
    insert_findings,
    lit,
    matched,
    num,
    obj,
    quoted,
    select_finding,
    to_kg,
)
from gateway.reconciliation.classes import (
    FUEL_MISMATCH,
    SURCHARGE_NOT_QUOTED,
)
from gateway.reconciliation.parsers import charges

# Surcharges a live quote cannot have held whatever its lines say (see surcharge_not_quoted).
LIVE_UNQUOTABLE = (charges.ADDRESS_CORRECTION, charges.RESIDENTIAL)


def fuel_mismatch(ctx: Context, lo: int, hi: int) -> sa.Insert:
    line, _, base = matched(ctx, lo, hi)
    fuel = chunk_fuel(ctx, lo, hi)
    sel = (
        select_finding(
            ctx,
            FUEL_MISMATCH,
            line,
            fuel.c.expected,
            greatest(ctx, line.c.amount_minor - fuel.c.expected, num(0)),
            obj(
                ctx,
                {
                    "card_fuel_percent": fuel.c.percent,
                    "fuel_base_minor": fuel.c.base,
                    "expected_fuel_minor": fuel.c.expected,
                    "billed_fuel_minor": line.c.amount_minor,
                },
            ),
        )
        .join(fuel, fuel.c.tracking_number == line.c.tracking_number)
        .where(
            base(),
            line.c.charge_class == charges.FUEL,
            # Carriers round half up, cards half to even: a one-cent difference is not a finding.
            sa.func.abs(line.c.amount_minor - fuel.c.expected) > 1,
        )
    )
    return insert_findings(FUEL_MISMATCH, sel)


def surcharge_not_quoted(ctx: Context, lo: int, hi: int) -> sa.Insert:
    line, _, base = matched(ctx, lo, hi)
    costs = chunk_costs(ctx, lo, hi)
    s, q, _r = quoted(ctx, line)
    dest = AD.alias("dest")
    t = TERMS.alias("ts")
    reason = sa.case(
        (
            line.c.charge_class == charges.RESIDENTIAL,
            lit("residential surcharge on an address we declared commercial"),
        ),
        (
            line.c.charge_class == charges.ADDRESS_CORRECTION,
            lit("address correction on an address that was validated"),
        ),
        (
            line.c.charge_class == charges.ADDITIONAL_HANDLING,
            lit("additional handling on a package under the card's thresholds"),
        ),
        (line.c.charge_class == charges.OTHER, lit("a charge the quote does not have and no card prices")),
        else_=lit("a surcharge the quote does not have"),
    )
    p = PC.alias("ps")
    carded = sa.and_(
        q.c.card_id.is_not(None),
        sa.exists().where(
            t.c.invoice_id == ctx.invoice_id,
            t.c.card_id == q.c.card_id,
            t.c.card_version == q.c.card_version,
        ),
    )
    sel = (
        select_finding(
            ctx,
            SURCHARGE_NOT_QUOTED,
            line,
            num(0),
            line.c.amount_minor,
            obj(
                ctx,
                {
                    "charge_code": line.c.charge_code,
                    "charge_class": line.c.charge_class,
                    "reason": reason,
                    "quote_source": q.c.source,
                    "card_id": q.c.card_id,
                    "card_version": q.c.card_version,
                    "quote_lines": as_json(ctx, q.c.lines),
                    "destination_residential": dest.c.residential,
                    "destination_postal_code": dest.c.postal_code,
                    "declared_weight_kg": sa.select(sa.func.sum(to_kg(p.c.weight, p.c.weight_unit)))
                    .where(p.c.shipment_id == s.c.id)
                    .scalar_subquery(),
                },
            ),
        )
        .join(s, s.c.id == line.c.shipment_id)
        .join(q, q.c.shipment_id == s.c.id)
        .join(dest, dest.c.id == s.c.destination_id)
        .outerjoin(
            costs,
            sa.and_(costs.c.shipment_id == line.c.shipment_id, costs.c.charge_class == line.c.charge_class),
        )
        .where(
            base(),
            line.c.charge_class.in_(sorted(charges.SURCHARGE_CLASSES)),
            costs.c.cost.is_(None),
            sa.or_(
                # A card quote (contract or sample): any surcharge its card version did not price.
                carded,
                # A live quote keeps only the carrier's total, so only the surcharges no quote can
                # hold are certain: residential on an address the carrier rated as commercial, and
                # an address correction. Others are left to the total check (total_over_quote).
                sa.and_(~carded, line.c.charge_class.in_(LIVE_UNQUOTABLE)),
            ),
            sa.or_(line.c.charge_class != charges.RESIDENTIAL, dest.c.residential.is_(False)),
            sa.or_(line.c.charge_class != charges.ADDRESS_CORRECTION, dest.c.residential.is_not(None)),
        )
    )
    return insert_findings(SURCHARGE_NOT_QUOTED, sel)
