"""Building blocks of the reconciliation SQL: the tables, the run's context and dialect helpers.

The statements compile on PostgreSQL and SQLite; the few constructs that differ (JSON objects,
JSON array expansion, GREATEST) are chosen by dialect here. A finding is one row of
``invoice_discrepancies`` inserted by ``insert_findings`` from a ``select_finding`` over the lines
of a chunk (``invoice_id = :inv AND id >= :lo AND id < :hi``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gateway.kernel import models
from gateway.kernel.types import UTCDateTime
from gateway.rates import tables as rating_tables
from gateway.reconciliation import tables
from gateway.reconciliation.classes import WHOLE_LINE
from gateway.tracking import tables as tracking_tables
from schemas import units

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
    sa.column("account", sa.String),
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
    total_tolerance_percent: int = 2  # RECON_TOTAL_TOLERANCE_PERCENT

    @property
    def pg(self) -> bool:
        return self.dialect == "postgresql"

    @classmethod
    def reading(cls, dialect: str) -> Context:
        """A context for read-only expressions that take the invoice from each line (``expected_of``)."""
        return cls(dialect, "", "", "", 5, 10, False)


# --- dialect helpers ------------------------------------------------------------------------


def lit(text: str) -> Any:
    """An inlined SQL string literal (constants of the reconciliation SQL only, never user input)."""
    return sa.literal_column("'" + text.replace("'", "''") + "'")


def num(value: int | float | str) -> Any:
    return sa.literal_column(str(value))


def obj(ctx: Context, pairs: dict[str, Any]) -> Any:
    """A JSON object built in SQL: json_object on SQLite, jsonb_build_object on PostgreSQL."""
    args: list[Any] = []
    for key, value in pairs.items():
        args.extend((lit(key), value))
    fn = sa.func.jsonb_build_object if ctx.pg else sa.func.json_object
    return fn(*args, type_=tables.Discrepancy.evidence.type)


def as_json(ctx: Context, column: Any) -> Any:
    """Embed a stored JSON column as JSON (SQLite keeps it as text otherwise)."""
    return column if ctx.pg else sa.func.json(column)


def greatest(ctx: Context, a: Any, b: Any) -> Any:
    return sa.func.greatest(a, b) if ctx.pg else sa.func.max(a, b)


def json_text(column: Any, key: str) -> Any:
    return column[key].as_string()


def _factor_case(column: Any, factors: dict[str, Any]) -> Any:
    return sa.case(*[(column == unit, num(str(f))) for unit, f in factors.items()], else_=num(1))


def to_kg(value: Any, unit: Any) -> Any:
    return value * _factor_case(unit, units.WEIGHT_UNITS)


def to_cm(value: Any, unit: Any) -> Any:
    return value * _factor_case(unit, units.LENGTH_UNITS)


# --- findings over a chunk of lines ---------------------------------------------------------


def chunk(ctx: Context, line: Any, lo: int, hi: int) -> Any:
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


def insert_findings(kind: str, select: sa.Select[Any]) -> sa.Insert:
    return sa.insert(DS).from_select(list(_INSERT_COLUMNS), select)


def select_finding(
    ctx: Context, kind: str, line: Any, expected: Any, recoverable: Any, evidence: Any
) -> sa.Select[Any]:
    return sa.select(
        line.c.invoice_id,
        line.c.id,
        line.c.tenant_id,
        line.c.carrier,
        lit(kind),
        line.c.shipment_id,
        line.c.amount_minor,
        expected,
        recoverable,
        evidence,
    )


def flagged_whole(line_id: Any) -> Any:
    d = DS.alias("dw")
    return sa.exists().where(d.c.line_id == line_id, d.c.kind.in_(WHOLE_LINE))


def has_kind(line_id: Any, kinds: tuple[str, ...]) -> Any:
    d = DS.alias("dk")
    return sa.exists().where(d.c.line_id == line_id, d.c.kind.in_(kinds))


def matched(ctx: Context, lo: int, hi: int) -> tuple[Any, Any, Any]:
    line = LN.alias("l")
    s = SH.alias("s")
    base = lambda: sa.and_(  # noqa: E731 - a fresh expression per use
        chunk(ctx, line, lo, hi),
        line.c.amount_minor > 0,
        line.c.shipment_id.is_not(None),
        ~flagged_whole(line.c.id),
    )
    return line, s, base


def quoted(ctx: Context, line: Any) -> tuple[Any, Any, Any]:
    """The line's shipment, snapshot and frozen rate (for the quoted zone and billable weight)."""
    s = SH.alias("s")
    q = QS.alias("q")
    r = RQ.alias("r")
    return s, q, r
