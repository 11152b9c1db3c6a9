"""Whole-line checks: a line billed for something that should not be billed at all.

Decided first and in this order (unknown tracking number, duplicate charge, a label billed to
another account than the one it was bought on, a package the own fleet delivered, a voided label,
a label the carrier never scanned, a late guaranteed delivery);
each claims the line's full amount, and a line that has one is skipped by every later check.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gateway.reconciliation._sql import (
    EV,
    INV,
    LABELS,
    LN,
    QS,
    TERMS,
    TR,
    Context,
    chunk,
    flagged_whole,
    insert_findings,
    lit,
    matched,
    num,
    obj,
    select_finding,
)
from gateway.reconciliation.classes import (
    DUPLICATE_CHARGE,
    FLEET_DELIVERED,
    LATE_DELIVERY,
    NEVER_SCANNED,
    UNKNOWN_TRACKING,
    VOIDED_LABEL,
    WRONG_ACCOUNT,
)
from gateway.reconciliation.parsers import charges
from schemas import taxonomy

FLEET = "fleet"
# Milestones only a carrier's own scan produces (label creation and manifests do not count).
SCAN_MILESTONES = tuple(
    m.value
    for m in taxonomy.Milestone
    if m
    not in (
        taxonomy.Milestone.PENDING,
        taxonomy.Milestone.INFO_RECEIVED,
        taxonomy.Milestone.CANCELLED,
        taxonomy.Milestone.EXPIRED,
    )
)
# Exception reasons that waive a guaranteed-service refund: the delay was not the carrier's doing.
WAIVER_REASONS = tuple(
    sorted(r.value for r, info in taxonomy.REASONS.items() if info.party is not taxonomy.Party.CARRIER)
)


def unknown_tracking(ctx: Context, lo: int, hi: int) -> sa.Insert:
    line = LN.alias("l")
    sel = select_finding(
        ctx,
        UNKNOWN_TRACKING,
        line,
        num(0),
        line.c.amount_minor,
        obj(
            ctx,
            {
                "tracking_number": line.c.tracking_number,
                "searched": lit("shipments and labels of this tenant"),
            },
        ),
    ).where(
        chunk(ctx, line, lo, hi),
        line.c.amount_minor > 0,
        line.c.tracking_number.is_not(None),
        line.c.shipment_id.is_(None),
    )
    return insert_findings(UNKNOWN_TRACKING, sel)


def duplicate_charge(ctx: Context, lo: int, hi: int) -> sa.Insert:
    line = LN.alias("l")
    l2 = LN.alias("l2")
    first = (
        sa.select(sa.func.min(l2.c.id))
        .where(
            l2.c.tenant_id == line.c.tenant_id,
            l2.c.tracking_number == line.c.tracking_number,
            l2.c.carrier == line.c.carrier,
            l2.c.charge_code == line.c.charge_code,
            l2.c.amount_minor == line.c.amount_minor,
            l2.c.id < line.c.id,
        )
        .scalar_subquery()
    )
    candidates = (
        sa.select(line, first.label("dup_id"))
        .where(
            chunk(ctx, line, lo, hi),
            line.c.amount_minor > 0,
            line.c.tracking_number.is_not(None),
            ~flagged_whole(line.c.id),
        )
        .subquery("c")
    )
    orig = LN.alias("o")
    inv = INV.alias("oi")
    sel = (
        sa.select(
            candidates.c.invoice_id,
            candidates.c.id,
            candidates.c.tenant_id,
            candidates.c.carrier,
            lit(DUPLICATE_CHARGE),
            candidates.c.shipment_id,
            candidates.c.amount_minor,
            num(0),
            candidates.c.amount_minor,
            obj(
                ctx,
                {
                    "duplicate_of_line_id": orig.c.id,
                    "duplicate_of_invoice_id": orig.c.invoice_id,
                    "duplicate_of_invoice_number": inv.c.invoice_number,
                    "duplicate_of_row": orig.c.row_number,
                    "charge_code": candidates.c.charge_code,
                    "amount_minor": candidates.c.amount_minor,
                },
            ),
        )
        .select_from(candidates)
        .join(orig, orig.c.id == candidates.c.dup_id)
        .join(inv, inv.c.id == orig.c.invoice_id)
    )
    return insert_findings(DUPLICATE_CHARGE, sel)


def _scan_count(shipment_id: Any) -> Any:
    e = EV.alias("es")
    return (
        sa.select(sa.func.count())
        .select_from(e)
        .where(e.c.shipment_id == shipment_id, e.c.milestone.in_(SCAN_MILESTONES))
        .scalar_subquery()
    )


def fleet_delivered(ctx: Context, lo: int, hi: int) -> sa.Insert:
    line, s, base = matched(ctx, lo, hi)
    e = EV.alias("ef")

    def first(column: Any) -> Any:
        return (
            sa.select(column)
            .where(e.c.shipment_id == s.c.id, e.c.milestone == "delivered", e.c.carrier == FLEET)
            .order_by(e.c.occurred_at, e.c.id)
            .limit(1)
            .scalar_subquery()
        )

    sel = (
        select_finding(
            ctx,
            FLEET_DELIVERED,
            line,
            num(0),
            line.c.amount_minor,
            obj(
                ctx,
                {
                    "shipment_carrier": s.c.carrier,
                    "delivered_event_id": first(e.c.id),
                    "delivered_at": first(e.c.occurred_at),
                    "delivered_by": lit(FLEET),
                    "billed_by": line.c.carrier,
                },
            ),
        )
        .join(s, s.c.id == line.c.shipment_id)
        .where(
            base(),
            s.c.carrier == FLEET,
            line.c.carrier != FLEET,
            sa.exists().where(e.c.shipment_id == s.c.id, e.c.milestone == "delivered", e.c.carrier == FLEET),
        )
    )
    return insert_findings(FLEET_DELIVERED, sel)


def _account_key(column: Any) -> Any:
    """An account number as carriers print it: no spaces or dashes, upper case."""
    return sa.func.upper(sa.func.replace(sa.func.replace(column, " ", ""), "-", ""))


def wrong_account(ctx: Context, lo: int, hi: int) -> sa.Insert:
    """A label billed on the invoice of another account than the one it was bought on.

    Tenants hold several accounts per carrier (and the operator's): a line is the bought account's
    to pay, so on another account's invoice its whole amount is disputed. Only where both are known:
    the invoice names its account and the label recorded the account that bought it.
    """
    line, s, base = matched(ctx, lo, hi)
    if not ctx.labels:
        return insert_findings(
            WRONG_ACCOUNT, select_finding(ctx, WRONG_ACCOUNT, line, num(0), num(0), num(0)).where(sa.false())
        )
    inv = INV.alias("ia")
    lb = LABELS.alias("la")
    sel = (
        select_finding(
            ctx,
            WRONG_ACCOUNT,
            line,
            num(0),
            line.c.amount_minor,
            obj(
                ctx,
                {
                    "invoice_account": inv.c.account_number,
                    "label_account": lb.c.account,
                    "tracking_number": line.c.tracking_number,
                },
            ),
        )
        .join(s, s.c.id == line.c.shipment_id)
        .join(inv, inv.c.id == line.c.invoice_id)
        .join(lb, sa.and_(lb.c.shipment_id == s.c.id, lb.c.tenant_id == line.c.tenant_id))
        .where(
            base(),
            inv.c.account_number.is_not(None),
            inv.c.account_number != "",
            lb.c.account.is_not(None),
            _account_key(inv.c.account_number) != _account_key(lb.c.account),
        )
    )
    return insert_findings(WRONG_ACCOUNT, sel)


def voided_label(ctx: Context, lo: int, hi: int) -> sa.Insert:
    line, s, base = matched(ctx, lo, hi)
    conditions: list[Any] = [s.c.status == "voided"]
    voided_at: Any = sa.null()
    if ctx.labels:
        lb = LABELS.alias("lv")
        conditions.append(sa.exists().where(lb.c.shipment_id == s.c.id, lb.c.status == "voided"))
        voided_at = sa.select(lb.c.voided_at).where(lb.c.shipment_id == s.c.id).limit(1).scalar_subquery()
    sel = (
        select_finding(
            ctx,
            VOIDED_LABEL,
            line,
            num(0),
            line.c.amount_minor,
            obj(
                ctx,
                {
                    "shipment_status": s.c.status,
                    "label_voided_at": voided_at,
                    "carrier_scans": _scan_count(s.c.id),
                    "ship_date": line.c.ship_date,
                },
            ),
        )
        .join(s, s.c.id == line.c.shipment_id)
        .where(base(), sa.or_(*conditions))
    )
    return insert_findings(VOIDED_LABEL, sel)


def never_scanned(ctx: Context, lo: int, hi: int) -> sa.Insert:
    line, s, base = matched(ctx, lo, hi)
    e = EV.alias("en")
    t = TR.alias("tn")
    purchased_at: Any = sa.null()
    if ctx.labels:
        lb = LABELS.alias("ln")
        purchased_at = (
            sa.select(lb.c.purchased_at).where(lb.c.shipment_id == s.c.id).limit(1).scalar_subquery()
        )
    sel = (
        select_finding(
            ctx,
            NEVER_SCANNED,
            line,
            num(0),
            line.c.amount_minor,
            obj(
                ctx,
                {
                    "shipment_status": s.c.status,
                    "label_purchased_at": purchased_at,
                    "tracking_milestone": sa.select(t.c.milestone)
                    .where(t.c.shipment_id == s.c.id)
                    .scalar_subquery(),
                    "events": sa.select(sa.func.count())
                    .select_from(e)
                    .where(e.c.shipment_id == s.c.id)
                    .scalar_subquery(),
                    "carrier_scans": num(0),
                },
            ),
        )
        .join(s, s.c.id == line.c.shipment_id)
        .where(
            base(),
            s.c.carrier != FLEET,
            ~sa.exists().where(e.c.shipment_id == s.c.id, e.c.milestone.in_(SCAN_MILESTONES)),
        )
    )
    return insert_findings(NEVER_SCANNED, sel)


def late_delivery(ctx: Context, lo: int, hi: int) -> sa.Insert:
    line, s, base = matched(ctx, lo, hi)
    q = QS.alias("q")
    t = TERMS.alias("t")
    tr = TR.alias("tr")
    e = EV.alias("el")
    delivered_event = (
        sa.select(e.c.id)
        .where(e.c.shipment_id == s.c.id, e.c.milestone == "delivered")
        .order_by(e.c.occurred_at, e.c.id)
        .limit(1)
        .scalar_subquery()
    )
    sel = (
        select_finding(
            ctx,
            LATE_DELIVERY,
            line,
            num(0),
            line.c.amount_minor,
            obj(
                ctx,
                {
                    "service": q.c.service_name,
                    "card_id": q.c.card_id,
                    "card_version": q.c.card_version,
                    "estimated_delivery": q.c.estimated_delivery,
                    "commit_deadline": t.c.deadline_at,
                    "delivered_at": tr.c.delivered_at,
                    "delivered_event_id": delivered_event,
                },
            ),
        )
        .join(s, s.c.id == line.c.shipment_id)
        .join(q, q.c.shipment_id == s.c.id)
        .join(
            t,
            sa.and_(
                t.c.invoice_id == ctx.invoice_id,
                t.c.card_id == q.c.card_id,
                t.c.card_version == q.c.card_version,
                t.c.estimated_delivery == q.c.estimated_delivery,
            ),
        )
        .join(tr, tr.c.shipment_id == s.c.id)
        .where(
            base(),
            t.c.guaranteed.is_(True),
            tr.c.delivered_at > t.c.deadline_at,
            line.c.charge_class != charges.TAX,
            ~sa.exists().where(e.c.shipment_id == s.c.id, e.c.reason.in_(WAIVER_REASONS)),
        )
    )
    return insert_findings(LATE_DELIVERY, sel)
