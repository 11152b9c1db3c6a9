"""Storing parsed invoice lines in batches, each matched to its shipment on the way in.

Used by intake only.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.reconciliation import tables
from gateway.reconciliation.matching import labels_by_tracking, shipment_lookup
from gateway.reconciliation.parsers import Line


def line_row(line: Line, invoice_id: str, tenant_id: str, carrier: str, minor: int) -> dict[str, Any]:
    return {
        "invoice_id": invoice_id,
        "tenant_id": tenant_id,
        "carrier": carrier,
        "row_number": line.row,
        "tracking_number": line.tracking_number,
        "charge_code": line.charge_code,
        "charge_class": line.charge_class,
        "description": line.description,
        "amount_minor": minor,
        "currency": line.currency,
        "billed_weight": line.billed_weight,
        "weight_unit": line.weight_unit,
        "weight_type": line.weight_type,
        "length": line.length,
        "width": line.width,
        "height": line.height,
        "dimension_unit": line.dimension_unit,
        "zone": line.zone[:8] if line.zone else None,
        "service": line.service,
        "ship_date": line.ship_date,
        "recoverable_minor": 0,
    }


LINE_COLUMNS = (
    "invoice_id",
    "tenant_id",
    "carrier",
    "row_number",
    "tracking_number",
    "charge_code",
    "charge_class",
    "description",
    "amount_minor",
    "currency",
    "billed_weight",
    "weight_unit",
    "weight_type",
    "length",
    "width",
    "height",
    "dimension_unit",
    "zone",
    "service",
    "ship_date",
    "recoverable_minor",
)


_COPY_SQL = f"COPY invoice_line_staging (seq, {', '.join(LINE_COLUMNS)}) FROM STDIN"


class Writer:
    """Stores line batches, finding each line's shipment on the way in (one INSERT ... SELECT per batch).

    Batches land in a temporary staging table (COPY on PostgreSQL, executemany elsewhere) and move
    to ``invoice_lines`` with their shipment looked up by tracking number, so reconciliation does
    not have to rewrite a million rows to match them. The staging table lives in the upload's
    transaction and is dropped with it.
    """

    def __init__(self, session: Session, tenant_id: str) -> None:
        self.session = session
        self.connection = session.connection()
        self.pg = self.connection.dialect.name == "postgresql"
        columns = [sa.Column(name, tables.InvoiceLine.__table__.c[name].type) for name in LINE_COLUMNS]
        self.staging = sa.Table(
            "invoice_line_staging",
            sa.MetaData(),
            sa.Column("seq", sa.Integer),
            *columns,
            prefixes=["TEMPORARY"],
        )
        self.seq = 0
        if self.pg:
            self.connection.execute(sa.text("SET LOCAL jit = off"))
        self.staging.create(self.connection)
        _, by_label = labels_by_tracking(self.connection)
        lookup = shipment_lookup(tenant_id, self.staging.c.tracking_number, by_label)
        self.move = sa.insert(tables.InvoiceLine.__table__).from_select(
            [*LINE_COLUMNS, "shipment_id"],
            sa.select(*[self.staging.c[name] for name in LINE_COLUMNS], lookup).order_by(self.staging.c.seq),
        )

    def write(self, batch: list[dict[str, Any]]) -> None:
        for row in batch:
            self.seq += 1
            row["seq"] = self.seq
        if self.pg:
            raw: Any = self.connection.connection.dbapi_connection
            with raw.cursor() as cursor, cursor.copy(_COPY_SQL) as copy:
                for row in batch:
                    copy.write_row([row["seq"], *[row[c] for c in LINE_COLUMNS]])
        else:
            self.session.execute(sa.insert(self.staging), batch)
        self.session.execute(self.move)
        self.session.execute(sa.text("TRUNCATE invoice_line_staging") if self.pg else sa.delete(self.staging))

    def close(self) -> None:
        self.staging.drop(self.connection)
