"""Which shipment each invoice line bills for: by tracking number, the shipment's own or its label's.

Intake matches most lines as it stores them (``shipment_lookup`` in its INSERT ... SELECT); the
run's ``match`` step finds the shipment of the lines still without one.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gateway.reconciliation._sql import (
    LABELS,
    LN,
    SH,
    Context,
)


def shipment_lookup(tenant_id: Any, tracking_number: Any, labels_by_tracking: bool) -> Any:
    """The shipment a tracking number belongs to: the shipment's own number, else its label's."""
    s = SH.alias("sm")
    found: Any = (
        sa.select(s.c.id)
        .where(s.c.tenant_id == tenant_id, s.c.tracking_number == tracking_number)
        .order_by(s.c.created_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    if labels_by_tracking:
        lb = LABELS.alias("lm")
        by_label = (
            sa.select(lb.c.shipment_id)
            .where(lb.c.tenant_id == tenant_id, lb.c.tracking_number == tracking_number)
            .limit(1)
            .scalar_subquery()
        )
        found = sa.func.coalesce(found, by_label)
    return found


def labels_by_tracking(connection: sa.Connection) -> tuple[bool, bool]:
    """Whether the labels table exists, and whether it is indexed by tracking number."""
    inspector = sa.inspect(connection)
    if not inspector.has_table("labels"):
        return False, False
    keyed: list[list[str | None]] = [ix["column_names"] for ix in inspector.get_indexes("labels")]
    keyed += [list(uc["column_names"]) for uc in inspector.get_unique_constraints("labels")]
    return True, any(cols[:1] == ["tracking_number"] for cols in keyed)


def match(ctx: Context, lo: int, hi: int) -> sa.Update:
    """Find the shipment of each line still without one (intake matches most lines as it stores them)."""
    return (
        sa.update(LN)
        .where(
            LN.c.invoice_id == ctx.invoice_id,
            LN.c.id >= lo,
            LN.c.id < hi,
            LN.c.shipment_id.is_(None),
            LN.c.tracking_number.is_not(None),
        )
        .values(shipment_id=shipment_lookup(ctx.tenant_id, LN.c.tracking_number, ctx.labels_by_tracking))
        .execution_options(synchronize_session=False)
    )
