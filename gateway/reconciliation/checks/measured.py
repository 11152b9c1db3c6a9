"""Checks of the measured base charge: billed weight, billed dimensions, zone, and the base rate itself.

Each compares a line with the quote frozen on its shipment (the rate's billable weight and zone,
the quote line that prices the base under the card version of the snapshot).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gateway.reconciliation._quote_costs import (
    base_cost,
    chunk_costs,
)
from gateway.reconciliation._sql import (
    PC,
    Context,
    as_json,
    greatest,
    has_kind,
    insert_findings,
    json_text,
    lit,
    matched,
    num,
    obj,
    quoted,
    select_finding,
    to_cm,
    to_kg,
)
from gateway.reconciliation.classes import (
    BASE_RATE_MISMATCH,
    DIMENSIONS_OVER_DECLARED,
    WEIGHT_OVER_DECLARED,
    ZONE_MISMATCH,
)
from gateway.reconciliation.parsers import charges


def _over_recoverable(ctx: Context, line: Any) -> Any:
    """What a re-measure costs: the whole correction line, or the base above its quote."""
    return sa.case(
        (line.c.charge_class == charges.CHARGE_CORRECTION, line.c.amount_minor),
        else_=greatest(
            ctx, line.c.amount_minor - sa.func.coalesce(base_cost(ctx, line), line.c.amount_minor), num(0)
        ),
    )


def _over_expected(ctx: Context, line: Any) -> Any:
    return sa.case((line.c.charge_class == charges.CHARGE_CORRECTION, num(0)), else_=base_cost(ctx, line))


def weight_over_declared(ctx: Context, lo: int, hi: int) -> sa.Insert:
    line, _, base = matched(ctx, lo, hi)
    s, q, r = quoted(ctx, line)
    p = PC.alias("pw")
    quoted_weight = sa.cast(json_text(r.c.snapshot, "billable_weight"), sa.Numeric(14, 4))
    quoted_unit = json_text(r.c.snapshot, "weight_unit")
    billed_kg = to_kg(line.c.billed_weight, line.c.weight_unit)
    quoted_kg = to_kg(quoted_weight, quoted_unit)
    declared_kg = (
        sa.select(sa.func.sum(to_kg(p.c.weight, p.c.weight_unit)))
        .where(p.c.shipment_id == s.c.id)
        .scalar_subquery()
    )
    sel = (
        select_finding(
            ctx,
            WEIGHT_OVER_DECLARED,
            line,
            _over_expected(ctx, line),
            _over_recoverable(ctx, line),
            obj(
                ctx,
                {
                    "billed_weight": line.c.billed_weight,
                    "billed_weight_unit": line.c.weight_unit,
                    "billed_weight_type": line.c.weight_type,
                    "quoted_billable_weight": quoted_weight,
                    "quoted_weight_unit": quoted_unit,
                    "declared_weight_kg": declared_kg,
                    "tolerance_percent": num(ctx.weight_tolerance_percent),
                    "card_id": q.c.card_id,
                    "card_version": q.c.card_version,
                    "quoted_base_minor": base_cost(ctx, line),
                },
            ),
        )
        .join(s, s.c.id == line.c.shipment_id)
        .join(q, q.c.shipment_id == s.c.id)
        .join(r, r.c.id == q.c.rate_id)
        .where(
            base(),
            line.c.charge_class.in_(sorted(charges.MEASURED_CLASSES)),
            line.c.billed_weight.is_not(None),
            quoted_kg > 0,
            billed_kg > quoted_kg * num(1 + ctx.weight_tolerance_percent / 100),
        )
    )
    return insert_findings(WEIGHT_OVER_DECLARED, sel)


def _volume_cm3(length: Any, width: Any, height: Any, unit: Any) -> Any:
    return to_cm(length, unit) * to_cm(width, unit) * to_cm(height, unit)


def dimensions_over_declared(ctx: Context, lo: int, hi: int) -> sa.Insert:
    line, s, base = matched(ctx, lo, hi)
    p = PC.alias("pd")
    volume = _volume_cm3(p.c.length, p.c.width, p.c.height, p.c.dimension_unit)
    declared_volume = sa.select(sa.func.max(volume)).where(p.c.shipment_id == s.c.id).scalar_subquery()
    billed_volume = _volume_cm3(line.c.length, line.c.width, line.c.height, line.c.dimension_unit)

    def largest(column: Any) -> Any:
        return (
            sa.select(column)
            .where(p.c.shipment_id == s.c.id)
            .order_by(volume.desc(), p.c.position)
            .limit(1)
            .scalar_subquery()
        )

    sel = (
        select_finding(
            ctx,
            DIMENSIONS_OVER_DECLARED,
            line,
            _over_expected(ctx, line),
            _over_recoverable(ctx, line),
            obj(
                ctx,
                {
                    "billed_length": line.c.length,
                    "billed_width": line.c.width,
                    "billed_height": line.c.height,
                    "billed_dimension_unit": line.c.dimension_unit,
                    "declared_length": largest(p.c.length),
                    "declared_width": largest(p.c.width),
                    "declared_height": largest(p.c.height),
                    "declared_dimension_unit": largest(p.c.dimension_unit),
                    "tolerance_percent": num(ctx.dimension_tolerance_percent),
                    "quoted_base_minor": base_cost(ctx, line),
                },
            ),
        )
        .join(s, s.c.id == line.c.shipment_id)
        .where(
            base(),
            line.c.charge_class.in_(sorted(charges.MEASURED_CLASSES)),
            line.c.length.is_not(None),
            line.c.width.is_not(None),
            line.c.height.is_not(None),
            billed_volume > declared_volume * num(1 + ctx.dimension_tolerance_percent / 100),
        )
    )
    return insert_findings(DIMENSIONS_OVER_DECLARED, sel)


def zone_mismatch(ctx: Context, lo: int, hi: int) -> sa.Insert:
    line, _, base = matched(ctx, lo, hi)
    s, q, r = quoted(ctx, line)
    quoted_zone = json_text(r.c.snapshot, "zone")
    sel = (
        select_finding(
            ctx,
            ZONE_MISMATCH,
            line,
            base_cost(ctx, line),
            greatest(
                ctx,
                line.c.amount_minor - sa.func.coalesce(base_cost(ctx, line), line.c.amount_minor),
                num(0),
            ),
            obj(
                ctx,
                {
                    "billed_zone": line.c.zone,
                    "quoted_zone": quoted_zone,
                    "card_id": q.c.card_id,
                    "card_version": q.c.card_version,
                    "quoted_base_minor": base_cost(ctx, line),
                },
            ),
        )
        .join(s, s.c.id == line.c.shipment_id)
        .join(q, q.c.shipment_id == s.c.id)
        .join(r, r.c.id == q.c.rate_id)
        .where(
            base(),
            line.c.charge_class == charges.BASE,
            line.c.zone.is_not(None),
            quoted_zone.is_not(None),
            quoted_zone != "",
            sa.func.ltrim(line.c.zone, lit("0")) != sa.func.ltrim(quoted_zone, lit("0")),
        )
    )
    return insert_findings(ZONE_MISMATCH, sel)


def base_rate_mismatch(ctx: Context, lo: int, hi: int) -> sa.Insert:
    line, _, base = matched(ctx, lo, hi)
    s, q, r = quoted(ctx, line)
    costs = chunk_costs(ctx, lo, hi)
    quoted_weight = sa.cast(json_text(r.c.snapshot, "billable_weight"), sa.Numeric(14, 4))
    quoted_kg = to_kg(quoted_weight, json_text(r.c.snapshot, "weight_unit"))
    billed_kg = to_kg(line.c.billed_weight, line.c.weight_unit)
    sel = (
        select_finding(
            ctx,
            BASE_RATE_MISMATCH,
            line,
            costs.c.cost,
            greatest(ctx, line.c.amount_minor - costs.c.cost, num(0)),
            obj(
                ctx,
                {
                    "card_id": q.c.card_id,
                    "card_version": q.c.card_version,
                    "quoted_base_minor": costs.c.cost,
                    "billed_minor": line.c.amount_minor,
                    "zone": line.c.zone,
                    "billed_weight": line.c.billed_weight,
                    "quoted_billable_weight": quoted_weight,
                    "quote_lines": as_json(ctx, q.c.lines),
                },
            ),
        )
        .join(costs, sa.and_(costs.c.shipment_id == line.c.shipment_id, costs.c.charge_class == charges.BASE))
        .join(s, s.c.id == line.c.shipment_id)
        .join(q, q.c.shipment_id == s.c.id)
        .outerjoin(r, r.c.id == q.c.rate_id)
        .where(
            base(),
            line.c.charge_class == charges.BASE,
            line.c.amount_minor != costs.c.cost,
            ~has_kind(line.c.id, (WEIGHT_OVER_DECLARED, DIMENSIONS_OVER_DECLARED, ZONE_MISMATCH)),
            # A heavier billed weight (even within tolerance) explains a higher base: not a rate error.
            sa.or_(
                line.c.billed_weight.is_(None),
                quoted_weight.is_(None),
                billed_kg <= quoted_kg * num("1.0001"),
            ),
        )
    )
    return insert_findings(BASE_RATE_MISMATCH, sel)
