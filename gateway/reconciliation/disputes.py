"""Finance's decisions on lines, credits that close earlier disputes, and the carrier claim file.

A disputed line is claimed in the CSV of ``dispute_rows``, with the reason and evidence of each
finding; a later invoice carrying a credit that covers the claim marks it credited
(``close_credited_disputes``, the credits step of a run).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.kernel.types import rowcount, utcnow
from gateway.reconciliation import classes, tables
from gateway.reconciliation._sql import LN, Context
from gateway.reconciliation.invoices import expected_amounts, get_line
from schemas import money


def resolve_line(
    session: Session,
    tenant_id: str,
    invoice_id: str,
    line_id: int,
    resolution: str | None,
    note: str | None,
    key_id: str | None,
) -> tables.InvoiceLine:
    """Finance's decision on a line: accepted, disputed, credited, or back to open (None)."""
    line = get_line(session, tenant_id, invoice_id, line_id)
    line.resolution = resolution
    line.resolution_note = note
    line.resolved_at = utcnow() if resolution else None
    line.resolved_by = key_id if resolution else None
    if resolution != "credited":
        line.credited_by_line_id = None
    session.flush()
    return line


# --- credits --------------------------------------------------------------------------------


def close_credited_disputes(session: Session, ctx: Context) -> int:
    """Mark earlier disputed lines credited when this invoice carries a credit covering them."""
    ln = LN
    c = ln.alias("cr")
    credits = (
        sa.select(sa.func.sum(c.c.amount_minor))
        .where(
            c.c.invoice_id == ctx.invoice_id,
            c.c.tracking_number == ln.c.tracking_number,
            c.c.amount_minor < 0,
        )
        .scalar_subquery()
    )
    first_credit = (
        sa.select(sa.func.min(c.c.id))
        .where(
            c.c.invoice_id == ctx.invoice_id,
            c.c.tracking_number == ln.c.tracking_number,
            c.c.amount_minor < 0,
        )
        .scalar_subquery()
    )
    # What was claimed: the findings' recoverable amount, or the whole line when finance disputed it alone.
    claimed = sa.case((ln.c.recoverable_minor > 0, ln.c.recoverable_minor), else_=ln.c.amount_minor)
    result = session.execute(
        sa.update(ln)
        .where(
            ln.c.resolution == "disputed",
            ln.c.tenant_id == ctx.tenant_id,
            ln.c.carrier == ctx.carrier,
            ln.c.invoice_id != ctx.invoice_id,
            ln.c.tracking_number.is_not(None),
            -credits >= claimed - 1,
        )
        .values(resolution="credited", resolved_at=utcnow(), credited_by_line_id=first_credit)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


# --- dispute export -------------------------------------------------------------------------


DISPUTE_COLUMNS = (
    "carrier",
    "account_number",
    "invoice_number",
    "invoice_date",
    "row",
    "tracking_number",
    "ship_date",
    "service",
    "charge_code",
    "charge_description",
    "currency",
    "billed",
    "expected",
    "claim_amount",
    "discrepancy_classes",
    "reason",
    "evidence",
    "line_id",
    "invoice_id",
)


def _money_text(minor: int | None, currency: str) -> str:
    if minor is None:
        return ""
    return str(money.Money.from_minor(minor, currency).amount)


def reason_for(kind: str, evidence: dict[str, Any], currency: str) -> str:
    e = evidence or {}
    if kind == classes.UNKNOWN_TRACKING:
        return "tracking number unknown to the shipper"
    if kind == classes.DUPLICATE_CHARGE:
        return f"duplicate of invoice {e.get('duplicate_of_invoice_number')} row {e.get('duplicate_of_row')}"
    if kind == classes.WRONG_ACCOUNT:
        return (
            f"billed to account {e.get('invoice_account')}; the label was bought on account "
            f"{e.get('label_account')}"
        )
    if kind == classes.FLEET_DELIVERED:
        return (
            f"delivered by the shipper's own fleet at {e.get('delivered_at')}; never tendered to the carrier"
        )
    if kind == classes.VOIDED_LABEL:
        return f"label voided ({e.get('label_voided_at') or e.get('shipment_status')}) before use"
    if kind == classes.NEVER_SCANNED:
        return "label never scanned by the carrier (no acceptance or later scan)"
    if kind == classes.LATE_DELIVERY:
        return (
            f"guaranteed service delivered {e.get('delivered_at')} after the commitment "
            f"{e.get('commit_deadline')} (estimated {e.get('estimated_delivery')}); guaranteed service refund"
        )
    if kind == classes.WEIGHT_OVER_DECLARED:
        return (
            f"billed weight {e.get('billed_weight')} {e.get('billed_weight_unit')} over the quoted billable "
            f"{e.get('quoted_billable_weight')} {e.get('quoted_weight_unit')} (tolerance {e.get('tolerance_percent')}%)"
        )
    if kind == classes.DIMENSIONS_OVER_DECLARED:
        return (
            f"billed dimensions {e.get('billed_length')}x{e.get('billed_width')}x{e.get('billed_height')} "
            f"{e.get('billed_dimension_unit')} over declared {e.get('declared_length')}x{e.get('declared_width')}x"
            f"{e.get('declared_height')} {e.get('declared_dimension_unit')}"
        )
    if kind == classes.ZONE_MISMATCH:
        return f"billed zone {e.get('billed_zone')}, contracted zone {e.get('quoted_zone')}"
    if kind == classes.BASE_RATE_MISMATCH:
        quoted = e.get("quoted_base_minor")
        return (
            f"base rate differs from card {e.get('card_id')} v{e.get('card_version')}: contracted "
            f"{_money_text(int(quoted) if quoted is not None else None, currency)}"
        )
    if kind == classes.FUEL_MISMATCH:
        return f"fuel surcharge not at the contracted {e.get('card_fuel_percent')}% of the billed base"
    if kind == classes.SURCHARGE_NOT_QUOTED:
        return str(e.get("reason") or "surcharge not in the quote")
    if kind == classes.TOTAL_OVER_QUOTE:
        billed, quoted = e.get("billed_total_minor"), e.get("quoted_total_minor")
        return (
            f"shipment billed {_money_text(int(billed) if billed is not None else None, currency)} against "
            f"its {e.get('quote_source')} quote of {_money_text(int(quoted) if quoted is not None else None, currency)}"
            f" (tolerance {e.get('tolerance_percent')}%)"
        )
    return kind


def _text(value: str) -> str:
    """A text cell of the claim CSV, defused for spreadsheets (carrier text must not run as a formula)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def dispute_rows(
    session: Session, tenant_id: str, carrier: str, *, resolution: str = "disputed", batch: int = 1000
) -> Iterator[list[str]]:
    """Yield the CSV rows of a carrier claim file, header first, reading the lines in id batches."""

    yield list(DISPUTE_COLUMNS)
    ln, inv, ds = tables.InvoiceLine, tables.Invoice, tables.Discrepancy
    last = 0
    while True:
        rows = session.execute(
            sa.select(ln, inv.invoice_number, inv.invoice_date, inv.account_number)
            .join(inv, inv.id == ln.invoice_id)
            .where(
                ln.tenant_id == tenant_id, ln.carrier == carrier, ln.resolution == resolution, ln.id > last
            )
            .order_by(ln.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        found: dict[int, list[tables.Discrepancy]] = {}
        ids = [r[0].id for r in rows]
        for d in session.execute(sa.select(ds).where(ds.line_id.in_(ids)).order_by(ds.id)).scalars():
            found.setdefault(d.line_id, []).append(d)
        expected = expected_amounts(session, ids)
        for line, number, invoice_date, account in rows:
            kinds = found.get(line.id, [])
            claim = line.recoverable_minor if line.recoverable_minor > 0 else line.amount_minor
            yield [
                line.carrier,
                _text(account or ""),
                _text(number),
                invoice_date.isoformat() if invoice_date else "",
                str(line.row_number),
                _text(line.tracking_number or ""),
                line.ship_date.isoformat() if line.ship_date else "",
                _text(line.service or ""),
                _text(line.charge_code),
                _text(line.description),
                line.currency,
                _money_text(line.amount_minor, line.currency),
                _money_text(expected.get(line.id), line.currency),
                _money_text(claim, line.currency),
                ";".join(d.kind for d in kinds),
                _text(
                    "; ".join(reason_for(d.kind, d.evidence, line.currency) for d in kinds)
                    or (line.resolution_note or "")
                ),
                json.dumps(
                    [{"class": d.kind, **(d.evidence or {})} for d in kinds], default=str, sort_keys=True
                ),
                str(line.id),
                line.invoice_id,
            ]
        last = rows[-1][0].id
        session.expunge_all()
