"""The reconciliation checks as set-based SQL over one id range of an invoice's lines.

Every check is one ``INSERT INTO invoice_discrepancies ... SELECT`` joining the invoice lines
of a chunk (``invoice_id = :inv AND id >= :lo AND id < :hi``) with what the gateway holds:
shipments, quote snapshots (and the rate they froze), card terms, labels, tracking events and
the derived tracking status. Nothing iterates over lines in Python. The statements compile on
PostgreSQL and SQLite; the few constructs that differ (JSON objects, JSON array expansion,
GREATEST) are chosen by dialect here.

Whole-line classes claim the full amount and are decided first, in order; a line that has one
is skipped by every later check. Amount classes compare a line with its expected amount (the
quote line of the same class under the card version of the shipment's snapshot) and may stack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gateway.db import models
from gateway.db import rating as rating_tables
from gateway.db import reconciliation as tables
from gateway.db import tracking as tracking_tables
from gateway.db.types import UTCDateTime
from gateway.invoices import charges
from schemas import taxonomy, units

# Discrepancy classes: stable API values, in the order they are decided.
UNKNOWN_TRACKING = "unknown_tracking"
DUPLICATE_CHARGE = "duplicate_charge"
FLEET_DELIVERED = "fleet_delivered"
VOIDED_LABEL = "voided_label"
NEVER_SCANNED = "never_scanned"
LATE_DELIVERY = "late_delivery"
WEIGHT_OVER_DECLARED = "weight_over_declared"
DIMENSIONS_OVER_DECLARED = "dimensions_over_declared"
ZONE_MISMATCH = "zone_mismatch"
BASE_RATE_MISMATCH = "base_rate_mismatch"
FUEL_MISMATCH = "fuel_mismatch"
SURCHARGE_NOT_QUOTED = "surcharge_not_quoted"

WHOLE_LINE = (UNKNOWN_TRACKING, DUPLICATE_CHARGE, FLEET_DELIVERED, VOIDED_LABEL, NEVER_SCANNED, LATE_DELIVERY)
AMOUNT_CLASSES = (
    WEIGHT_OVER_DECLARED,
    DIMENSIONS_OVER_DECLARED,
    ZONE_MISMATCH,
    BASE_RATE_MISMATCH,
    SURCHARGE_NOT_QUOTED,
    FUEL_MISMATCH,
)
CLASSES = WHOLE_LINE + AMOUNT_CLASSES

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

LN = tables.InvoiceLine.__table__
DS = tables.Discrepancy.__table__
INV = tables.Invoice.__table__
TERMS = tables.CardTerm.__table__
CODES = tables.CardCode.__table__
SH = models.Shipment.__table__
AD = models.Address.__table__
PC = models.Parcel.__table__
QS = rating_tables.ShipmentQuoteSnapshot.__table__
RQ = rating_tables.RateQuote.__table__
TR = tracking_tables.ShipmentTracking.__table__
EV = tracking_tables.TrackingEvent.__table__
# Owned by the labels area (issue 7); referenced lightly so this module does not import it.
LABELS = sa.table(
    "labels",
    sa.column("id", sa.String),
    sa.column("tenant_id", sa.String),
    sa.column("shipment_id", sa.String),
    sa.column("carrier", sa.String),
    sa.column("tracking_number", sa.String),
    sa.column("status", sa.String),
    sa.column("purchased_at", UTCDateTime()),
    sa.column("voided_at", UTCDateTime()),
)


@dataclass(frozen=True)
class Context:
    """What one run needs to build its statements."""

    dialect: str
    invoice_id: str
    tenant_id: str
    carrier: str
    weight_tolerance_percent: int
    dimension_tolerance_percent: int
    labels: bool  # the labels table exists
    labels_by_tracking: bool = False  # ... and is indexed by tracking number (match falls back to it)

    @property
    def pg(self) -> bool:
        return self.dialect == "postgresql"

    @classmethod
    def reading(cls, dialect: str) -> Context:
        """A context for read-only expressions that take the invoice from each line (``expected_of``)."""
        return cls(dialect, "", "", "", 5, 10, False)


# --- dialect helpers ------------------------------------------------------------------------


def _lit(text: str) -> Any:
    """An inlined SQL string literal (constants of this module only, never user input)."""
    return sa.literal_column("'" + text.replace("'", "''") + "'")


def _num(value: int | float | str) -> Any:
    return sa.literal_column(str(value))


def obj(ctx: Context, pairs: dict[str, Any]) -> Any:
    """A JSON object built in SQL: json_object on SQLite, jsonb_build_object on PostgreSQL."""
    args: list[Any] = []
    for key, value in pairs.items():
        args.extend((_lit(key), value))
    fn = sa.func.jsonb_build_object if ctx.pg else sa.func.json_object
    return fn(*args, type_=tables.Discrepancy.evidence.type)


def as_json(ctx: Context, column: Any) -> Any:
    """Embed a stored JSON column as JSON (SQLite keeps it as text otherwise)."""
    return column if ctx.pg else sa.func.json(column)


def greatest(ctx: Context, a: Any, b: Any) -> Any:
    return sa.func.greatest(a, b) if ctx.pg else sa.func.max(a, b)


def _json_text(column: Any, key: str) -> Any:
    return column[key].as_string()


def _factor_case(column: Any, factors: dict[str, Any]) -> Any:
    return sa.case(*[(column == unit, _num(str(f))) for unit, f in factors.items()], else_=_num(1))


def to_kg(value: Any, unit: Any) -> Any:
    return value * _factor_case(unit, units.WEIGHT_UNITS)


def to_cm(value: Any, unit: Any) -> Any:
    return value * _factor_case(unit, units.LENGTH_UNITS)


def quote_cost(ctx: Context, shipment_id: Any, charge_class: Any, invoice: Any = None) -> Any:
    """Sum of the quote lines that price ``charge_class`` in the shipment's snapshot (NULL if none).

    ``invoice`` (default: the run's) selects whose card codes apply; pass a line's ``invoice_id``
    column to evaluate lines of several invoices in one statement.
    """
    invoice = ctx.invoice_id if invoice is None else invoice
    q = QS.alias("qc")
    c = CODES.alias("cc")
    if ctx.pg:
        je = sa.func.jsonb_array_elements(q.c.lines).table_valued("value").alias("je")
        code = je.c.value.op("->>")(_lit("code"))
        cost = sa.cast(je.c.value.op("->>")(_lit("cost_minor")), sa.BigInteger)
    else:
        je = sa.func.json_each(q.c.lines).table_valued("value").alias("je")
        code = sa.func.json_extract(je.c.value, _lit("$.code"))
        cost = sa.func.json_extract(je.c.value, _lit("$.cost_minor"))
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


def flagged_whole(line_id: Any) -> Any:
    d = DS.alias("dw")
    return sa.exists().where(d.c.line_id == line_id, d.c.kind.in_(WHOLE_LINE))


def _has_kind(line_id: Any, kinds: tuple[str, ...]) -> Any:
    d = DS.alias("dk")
    return sa.exists().where(d.c.line_id == line_id, d.c.kind.in_(kinds))


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
            ~_has_kind(l2.c.id, (*WHOLE_LINE, SURCHARGE_NOT_QUOTED)),
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
    return sa.cast(sa.func.round(base * pct / _num(100)), sa.BigInteger)


# --- per-chunk joins: quote costs and fuel, computed once per id range --------------------


def chunk_costs(ctx: Context, lo: int, hi: int) -> Any:
    """(shipment_id, charge_class, cost): the quote cost of each class for the chunk's shipments."""
    lc = LN.alias("lc")
    q = QS.alias("qk")
    c = CODES.alias("ck")
    if ctx.pg:
        je = sa.func.jsonb_array_elements(q.c.lines).table_valued("value").alias("jk")
        code = je.c.value.op("->>")(_lit("code"))
        cost = sa.cast(je.c.value.op("->>")(_lit("cost_minor")), sa.BigInteger)
    else:
        je = sa.func.json_each(q.c.lines).table_valued("value").alias("jk")
        code = sa.func.json_extract(je.c.value, _lit("$.code"))
        cost = sa.func.json_extract(je.c.value, _lit("$.cost_minor"))
    shipments = sa.select(lc.c.shipment_id).where(_chunk(ctx, lc, lo, hi), lc.c.shipment_id.is_not(None))
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


def _card_percents(ctx: Context) -> Any:
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
        _chunk(ctx, fl, lo, hi), fl.c.charge_class == charges.FUEL, fl.c.shipment_id.is_not(None)
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
            ~_has_kind(l2.c.id, (*WHOLE_LINE, SURCHARGE_NOT_QUOTED)),
        )
        .group_by(l2.c.tracking_number)
        .subquery("fbase")
    )
    q = QS.alias("qfu")
    pct = _card_percents(ctx)
    shipment_of = (
        sa.select(fl.c.tracking_number, sa.func.min(fl.c.shipment_id).label("shipment_id"))
        .where(_chunk(ctx, fl, lo, hi), fl.c.charge_class == charges.FUEL, fl.c.shipment_id.is_not(None))
        .group_by(fl.c.tracking_number)
        .subquery("fship")
    )
    return (
        sa.select(
            shipment_of.c.tracking_number,
            pct.c.percent,
            sa.func.coalesce(bases.c.base, 0).label("base"),
            sa.cast(
                sa.func.round(sa.func.coalesce(bases.c.base, 0) * pct.c.percent / _num(100)), sa.BigInteger
            ).label("expected"),
        )
        .select_from(shipment_of)
        .join(q, q.c.shipment_id == shipment_of.c.shipment_id)
        .join(pct, sa.and_(pct.c.card_id == q.c.card_id, pct.c.card_version == q.c.card_version))
        .outerjoin(bases, bases.c.tracking_number == shipment_of.c.tracking_number)
        .where(pct.c.percent.is_not(None))
        .subquery("fuel")
    )


def _chunk_flags(ctx: Context, lo: int, hi: int) -> Any:
    """(line_id, zeroed, recoverable) of the chunk's flagged lines."""
    d = DS.alias("dg")
    zeroing = sa.case((d.c.kind.in_((*WHOLE_LINE, SURCHARGE_NOT_QUOTED)), 1), else_=0)
    return (
        sa.select(d.c.line_id, sa.func.max(zeroing).label("zeroed"))
        .where(d.c.invoice_id == ctx.invoice_id, d.c.line_id >= lo, d.c.line_id < hi)
        .group_by(d.c.line_id)
        .subquery("flags")
    )


# --- statements -----------------------------------------------------------------------------


def _chunk(ctx: Context, line: Any, lo: int, hi: int) -> Any:
    return sa.and_(line.c.invoice_id == ctx.invoice_id, line.c.id >= lo, line.c.id < hi)


_INSERT_COLUMNS = (
    "invoice_id",
    "line_id",
    "tenant_id",
    "carrier",
    "kind",
    "shipment_id",
    "billed_minor",
    "expected_minor",
    "recoverable_minor",
    "evidence",
)


def _insert(kind: str, select: sa.Select[Any]) -> sa.Insert:
    return sa.insert(DS).from_select(list(_INSERT_COLUMNS), select)


def _select(
    ctx: Context, kind: str, line: Any, expected: Any, recoverable: Any, evidence: Any
) -> sa.Select[Any]:
    return sa.select(
        line.c.invoice_id,
        line.c.id,
        line.c.tenant_id,
        line.c.carrier,
        _lit(kind),
        line.c.shipment_id,
        line.c.amount_minor,
        expected,
        recoverable,
        evidence,
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
    keyed = [ix["column_names"] for ix in inspector.get_indexes("labels")]
    keyed += [uc["column_names"] for uc in inspector.get_unique_constraints("labels")]
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


def unknown_tracking(ctx: Context, lo: int, hi: int) -> sa.Insert:
    line = LN.alias("l")
    sel = _select(
        ctx,
        UNKNOWN_TRACKING,
        line,
        _num(0),
        line.c.amount_minor,
        obj(
            ctx,
            {
                "tracking_number": line.c.tracking_number,
                "searched": _lit("shipments and labels of this tenant"),
            },
        ),
    ).where(
        _chunk(ctx, line, lo, hi),
        line.c.amount_minor > 0,
        line.c.tracking_number.is_not(None),
        line.c.shipment_id.is_(None),
    )
    return _insert(UNKNOWN_TRACKING, sel)


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
            _chunk(ctx, line, lo, hi),
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
            _lit(DUPLICATE_CHARGE),
            candidates.c.shipment_id,
            candidates.c.amount_minor,
            _num(0),
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
    return _insert(DUPLICATE_CHARGE, sel)


def _scan_count(shipment_id: Any) -> Any:
    e = EV.alias("es")
    return (
        sa.select(sa.func.count())
        .select_from(e)
        .where(e.c.shipment_id == shipment_id, e.c.milestone.in_(SCAN_MILESTONES))
        .scalar_subquery()
    )


def _matched(ctx: Context, lo: int, hi: int) -> tuple[Any, Any, Any]:
    line = LN.alias("l")
    s = SH.alias("s")
    base = lambda: sa.and_(  # noqa: E731 - a fresh expression per use
        _chunk(ctx, line, lo, hi),
        line.c.amount_minor > 0,
        line.c.shipment_id.is_not(None),
        ~flagged_whole(line.c.id),
    )
    return line, s, base


def fleet_delivered(ctx: Context, lo: int, hi: int) -> sa.Insert:
    line, s, base = _matched(ctx, lo, hi)
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
        _select(
            ctx,
            FLEET_DELIVERED,
            line,
            _num(0),
            line.c.amount_minor,
            obj(
                ctx,
                {
                    "shipment_carrier": s.c.carrier,
                    "delivered_event_id": first(e.c.id),
                    "delivered_at": first(e.c.occurred_at),
                    "delivered_by": _lit(FLEET),
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
    return _insert(FLEET_DELIVERED, sel)


def voided_label(ctx: Context, lo: int, hi: int) -> sa.Insert:
    line, s, base = _matched(ctx, lo, hi)
    conditions: list[Any] = [s.c.status == "voided"]
    voided_at: Any = sa.null()
    if ctx.labels:
        lb = LABELS.alias("lv")
        conditions.append(sa.exists().where(lb.c.shipment_id == s.c.id, lb.c.status == "voided"))
        voided_at = sa.select(lb.c.voided_at).where(lb.c.shipment_id == s.c.id).limit(1).scalar_subquery()
    sel = (
        _select(
            ctx,
            VOIDED_LABEL,
            line,
            _num(0),
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
    return _insert(VOIDED_LABEL, sel)


def never_scanned(ctx: Context, lo: int, hi: int) -> sa.Insert:
    line, s, base = _matched(ctx, lo, hi)
    e = EV.alias("en")
    t = TR.alias("tn")
    purchased_at: Any = sa.null()
    if ctx.labels:
        lb = LABELS.alias("ln")
        purchased_at = (
            sa.select(lb.c.purchased_at).where(lb.c.shipment_id == s.c.id).limit(1).scalar_subquery()
        )
    sel = (
        _select(
            ctx,
            NEVER_SCANNED,
            line,
            _num(0),
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
                    "carrier_scans": _num(0),
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
    return _insert(NEVER_SCANNED, sel)


def late_delivery(ctx: Context, lo: int, hi: int) -> sa.Insert:
    line, s, base = _matched(ctx, lo, hi)
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
        _select(
            ctx,
            LATE_DELIVERY,
            line,
            _num(0),
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
    return _insert(LATE_DELIVERY, sel)


def _quoted(ctx: Context, line: Any) -> tuple[Any, Any, Any]:
    """The line's shipment, snapshot and frozen rate (for the quoted zone and billable weight)."""
    s = SH.alias("s")
    q = QS.alias("q")
    r = RQ.alias("r")
    return s, q, r


def base_cost(ctx: Context, line: Any) -> Any:
    """The quote's transportation (BASE) cost for a line's shipment."""
    return quote_cost(ctx, line.c.shipment_id, _lit(charges.BASE))


def _over_recoverable(ctx: Context, line: Any) -> Any:
    """What a re-measure costs: the whole correction line, or the base above its quote."""
    return sa.case(
        (line.c.charge_class == charges.CHARGE_CORRECTION, line.c.amount_minor),
        else_=greatest(
            ctx, line.c.amount_minor - sa.func.coalesce(base_cost(ctx, line), line.c.amount_minor), _num(0)
        ),
    )


def _over_expected(ctx: Context, line: Any) -> Any:
    return sa.case((line.c.charge_class == charges.CHARGE_CORRECTION, _num(0)), else_=base_cost(ctx, line))


def weight_over_declared(ctx: Context, lo: int, hi: int) -> sa.Insert:
    line, _, base = _matched(ctx, lo, hi)
    s, q, r = _quoted(ctx, line)
    p = PC.alias("pw")
    quoted_weight = sa.cast(_json_text(r.c.snapshot, "billable_weight"), sa.Numeric(14, 4))
    quoted_unit = _json_text(r.c.snapshot, "weight_unit")
    billed_kg = to_kg(line.c.billed_weight, line.c.weight_unit)
    quoted_kg = to_kg(quoted_weight, quoted_unit)
    declared_kg = (
        sa.select(sa.func.sum(to_kg(p.c.weight, p.c.weight_unit)))
        .where(p.c.shipment_id == s.c.id)
        .scalar_subquery()
    )
    sel = (
        _select(
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
                    "tolerance_percent": _num(ctx.weight_tolerance_percent),
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
            billed_kg > quoted_kg * _num(1 + ctx.weight_tolerance_percent / 100),
        )
    )
    return _insert(WEIGHT_OVER_DECLARED, sel)


def _volume_cm3(length: Any, width: Any, height: Any, unit: Any) -> Any:
    return to_cm(length, unit) * to_cm(width, unit) * to_cm(height, unit)


def dimensions_over_declared(ctx: Context, lo: int, hi: int) -> sa.Insert:
    line, s, base = _matched(ctx, lo, hi)
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
        _select(
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
                    "tolerance_percent": _num(ctx.dimension_tolerance_percent),
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
            billed_volume > declared_volume * _num(1 + ctx.dimension_tolerance_percent / 100),
        )
    )
    return _insert(DIMENSIONS_OVER_DECLARED, sel)


def zone_mismatch(ctx: Context, lo: int, hi: int) -> sa.Insert:
    line, _, base = _matched(ctx, lo, hi)
    s, q, r = _quoted(ctx, line)
    quoted_zone = _json_text(r.c.snapshot, "zone")
    sel = (
        _select(
            ctx,
            ZONE_MISMATCH,
            line,
            base_cost(ctx, line),
            greatest(
                ctx,
                line.c.amount_minor - sa.func.coalesce(base_cost(ctx, line), line.c.amount_minor),
                _num(0),
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
            sa.func.ltrim(line.c.zone, _lit("0")) != sa.func.ltrim(quoted_zone, _lit("0")),
        )
    )
    return _insert(ZONE_MISMATCH, sel)


def base_rate_mismatch(ctx: Context, lo: int, hi: int) -> sa.Insert:
    line, _, base = _matched(ctx, lo, hi)
    s, q, r = _quoted(ctx, line)
    costs = chunk_costs(ctx, lo, hi)
    quoted_weight = sa.cast(_json_text(r.c.snapshot, "billable_weight"), sa.Numeric(14, 4))
    quoted_kg = to_kg(quoted_weight, _json_text(r.c.snapshot, "weight_unit"))
    billed_kg = to_kg(line.c.billed_weight, line.c.weight_unit)
    sel = (
        _select(
            ctx,
            BASE_RATE_MISMATCH,
            line,
            costs.c.cost,
            greatest(ctx, line.c.amount_minor - costs.c.cost, _num(0)),
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
            ~_has_kind(line.c.id, (WEIGHT_OVER_DECLARED, DIMENSIONS_OVER_DECLARED, ZONE_MISMATCH)),
            # A heavier billed weight (even within tolerance) explains a higher base: not a rate error.
            sa.or_(
                line.c.billed_weight.is_(None),
                quoted_weight.is_(None),
                billed_kg <= quoted_kg * _num("1.0001"),
            ),
        )
    )
    return _insert(BASE_RATE_MISMATCH, sel)


def fuel_mismatch(ctx: Context, lo: int, hi: int) -> sa.Insert:
    line, _, base = _matched(ctx, lo, hi)
    fuel = chunk_fuel(ctx, lo, hi)
    sel = (
        _select(
            ctx,
            FUEL_MISMATCH,
            line,
            fuel.c.expected,
            greatest(ctx, line.c.amount_minor - fuel.c.expected, _num(0)),
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
    return _insert(FUEL_MISMATCH, sel)


def surcharge_not_quoted(ctx: Context, lo: int, hi: int) -> sa.Insert:
    line, _, base = _matched(ctx, lo, hi)
    costs = chunk_costs(ctx, lo, hi)
    s, q, _r = _quoted(ctx, line)
    dest = AD.alias("dest")
    t = TERMS.alias("ts")
    reason = sa.case(
        (
            line.c.charge_class == charges.RESIDENTIAL,
            _lit("residential surcharge on an address we declared commercial"),
        ),
        (
            line.c.charge_class == charges.ADDRESS_CORRECTION,
            _lit("address correction on an address that was validated"),
        ),
        (
            line.c.charge_class == charges.ADDITIONAL_HANDLING,
            _lit("additional handling on a package under the card's thresholds"),
        ),
        (line.c.charge_class == charges.OTHER, _lit("a charge the quote does not have and no card prices")),
        else_=_lit("a surcharge the quote does not have"),
    )
    p = PC.alias("ps")
    sel = (
        _select(
            ctx,
            SURCHARGE_NOT_QUOTED,
            line,
            _num(0),
            line.c.amount_minor,
            obj(
                ctx,
                {
                    "charge_code": line.c.charge_code,
                    "charge_class": line.c.charge_class,
                    "reason": reason,
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
            q.c.card_id.is_not(None),
            sa.exists().where(
                t.c.invoice_id == ctx.invoice_id,
                t.c.card_id == q.c.card_id,
                t.c.card_version == q.c.card_version,
            ),
            sa.or_(line.c.charge_class != charges.RESIDENTIAL, dest.c.residential.is_(False)),
            sa.or_(line.c.charge_class != charges.ADDRESS_CORRECTION, dest.c.residential.is_not(None)),
        )
    )
    return _insert(SURCHARGE_NOT_QUOTED, sel)


def recoverable_of(line: Any) -> Any:
    """A line's recoverable amount: its largest finding."""
    d = DS.alias("dr")
    return sa.func.coalesce(
        sa.select(sa.func.max(d.c.recoverable_minor)).where(d.c.line_id == line.c.id).scalar_subquery(), 0
    )


def expected_of(ctx: Context, line: Any) -> Any:
    """What the shipper expected to pay for a line, once its invoice is reconciled.

    Nothing for a line with a whole-line finding or an unquoted surcharge; the credit itself for a
    credit; the card's fuel on the billed base for fuel; the quote line of the same class (nothing
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
    return sa.case(
        (line.c.amount_minor <= 0, line.c.amount_minor),
        (line.c.tracking_number.is_(None), line.c.amount_minor),  # an invoice-level fee
        (line.c.shipment_id.is_(None), _num(0)),
        (_has_kind(line.c.id, (*WHOLE_LINE, SURCHARGE_NOT_QUOTED)), _num(0)),
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
                quote_cost(ctx, line.c.shipment_id, line.c.charge_class, line.c.invoice_id), _num(0)
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
    card = _card_percents(ctx)
    contract = card.c.card_id.is_not(None)
    expected = sa.case(
        (line.c.amount_minor <= 0, line.c.amount_minor),
        (line.c.tracking_number.is_(None), line.c.amount_minor),
        (line.c.shipment_id.is_(None), _num(0)),
        (flags.c.zeroed == 1, _num(0)),
        (
            sa.and_(line.c.charge_class == charges.FUEL, contract),
            sa.func.coalesce(fuel.c.expected, line.c.amount_minor),
        ),
        (
            sa.and_(line.c.charge_class.in_(sorted(charges.CARD_CLASSES)), contract),
            sa.func.coalesce(costs.c.cost, _num(0)),
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
        .where(_chunk(ctx, line, lo, hi))
    )


CHECKS: dict[str, Callable[[Context, int, int], Any]] = {
    UNKNOWN_TRACKING: unknown_tracking,
    DUPLICATE_CHARGE: duplicate_charge,
    FLEET_DELIVERED: fleet_delivered,
    VOIDED_LABEL: voided_label,
    NEVER_SCANNED: never_scanned,
    LATE_DELIVERY: late_delivery,
    WEIGHT_OVER_DECLARED: weight_over_declared,
    DIMENSIONS_OVER_DECLARED: dimensions_over_declared,
    ZONE_MISMATCH: zone_mismatch,
    BASE_RATE_MISMATCH: base_rate_mismatch,
    FUEL_MISMATCH: fuel_mismatch,
    SURCHARGE_NOT_QUOTED: surcharge_not_quoted,
}
