"""Invoice intake, column mappings, lines, finance decisions and the dispute export.

Intake streams: the uploaded file is hashed in 1 MiB blocks, then read line by line through a
text wrapper and parsed row by row (``gateway.invoices``); canonical lines are inserted in
batches of ``INSERT_BATCH``. Nothing holds the file, or all its lines, in memory. The caller
commits: an upload is acknowledged only once its lines and its reconciliation job are stored.

Re-uploads never double count: the same bytes answer the invoice already stored (``created`` is
False, the API answers 200), and another file with the same carrier and invoice number is a 409
``invoice-duplicate``. Any malformed row rejects the whole file with a 422 ``invoice-malformed``
listing row numbers and reasons (the first ``MAX_REPORTED_ERRORS``, plus the total count):
finance fixes the file rather than reconciling part of an invoice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.db import reconciliation as tables
from gateway.db.types import new_id, utcnow
from gateway.errors import Problem
from gateway.invoices import FORMATS, LayoutError, Line, RowError, parse, sniff
from gateway.invoices import values as cells
from gateway.services import recon_sql, reconciliation
from gateway.services.shipments import decode_cursor, encode_cursor
from schemas import money

INSERT_BATCH = 5000
MAX_REPORTED_ERRORS = 200
HASH_BLOCK = 1 << 20
FORMAT_CARRIERS = {"ups": "ups", "fedex": "fedex"}


def _hash(stream: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while True:
        block = stream.read(HASH_BLOCK)
        if not block:
            break
        size += len(block)
        digest.update(block)
    stream.seek(0)
    return digest.hexdigest(), size


def find_by_hash(session: Session, tenant_id: str, content_hash: str) -> tables.Invoice | None:
    return session.execute(
        sa.select(tables.Invoice).where(
            tables.Invoice.tenant_id == tenant_id, tables.Invoice.content_hash == content_hash
        )
    ).scalar_one_or_none()


def find_by_number(session: Session, tenant_id: str, carrier: str, number: str) -> tables.Invoice | None:
    return session.execute(
        sa.select(tables.Invoice).where(
            tables.Invoice.tenant_id == tenant_id,
            tables.Invoice.carrier == carrier,
            tables.Invoice.invoice_number == number,
        )
    ).scalar_one_or_none()


def get_mapping(session: Session, tenant_id: str, carrier: str) -> tables.InvoiceColumnMapping | None:
    return session.get(tables.InvoiceColumnMapping, (tenant_id, carrier))


def save_mapping(
    session: Session, tenant_id: str, carrier: str, mapping: dict[str, Any], key_id: str | None
) -> tables.InvoiceColumnMapping:
    """Create or replace the generic CSV column mapping of one carrier."""
    row = get_mapping(session, tenant_id, carrier)
    if row is None:
        row = tables.InvoiceColumnMapping(
            tenant_id=tenant_id, carrier=carrier, mapping=mapping, updated_by=key_id
        )
        session.add(row)
    else:
        row.mapping = mapping
        row.updated_by = key_id
        row.updated_at = utcnow()
    session.flush()
    return row


def _unreadable(detail: str) -> Problem:
    return Problem("invoice-unreadable", detail)


def _text_lines(stream: IO[bytes]) -> tuple[io.TextIOWrapper, Iterator[str]]:
    # newline="" keeps quoted line breaks for the csv module; undecodable bytes become U+FFFD and
    # then fail the row that holds them, instead of failing the whole upload on one accent.
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")  # type: ignore[arg-type]
    return text, iter(text)


def _decide_format(
    session: Session, tenant_id: str, fmt: str | None, carrier: str | None, first_line: str
) -> tuple[str, str, dict[str, Any] | None]:
    if fmt is not None and fmt not in FORMATS:
        raise Problem(
            "validation-error",
            f"format must be one of {', '.join(FORMATS)}.",
            errors={"format": [f"one of {', '.join(FORMATS)}"]},
        )
    if fmt is None:
        fmt = sniff(first_line)
        if fmt is None and carrier and get_mapping(session, tenant_id, carrier) is not None:
            fmt = "generic"
        if fmt is None:
            raise _unreadable(
                "The layout was not recognised as UPS Billing Data or a FedEx invoice CSV, and no column "
                "mapping is saved for the carrier; pass format and carrier, or save a mapping first."
            )
    if fmt in FORMAT_CARRIERS:
        implied = FORMAT_CARRIERS[fmt]
        if carrier and carrier != implied:
            raise Problem(
                "validation-error",
                f"A {fmt} layout is a {implied} invoice, not {carrier}.",
                errors={"carrier": [f"must be {implied} for format {fmt}"]},
            )
        return fmt, implied, None
    if not carrier:
        raise Problem(
            "validation-error",
            "A generic CSV invoice needs the carrier it bills for.",
            errors={"carrier": ["required for format generic"]},
        )
    mapping = get_mapping(session, tenant_id, carrier)
    if mapping is None:
        raise _unreadable(
            f"No column mapping is saved for carrier {carrier!r}; PUT /v1/invoice-mappings/{carrier} first."
        )
    return fmt, carrier, mapping.mapping


def _row(line: Line, invoice_id: str, tenant_id: str, carrier: str, minor: int) -> dict[str, Any]:
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


_LINE_COLUMNS = (
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
_COPY_SQL = f"COPY invoice_line_staging (seq, {', '.join(_LINE_COLUMNS)}) FROM STDIN"


class _Writer:
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
        columns = [sa.Column(name, tables.InvoiceLine.__table__.c[name].type) for name in _LINE_COLUMNS]
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
        _, by_label = recon_sql.labels_by_tracking(self.connection)
        lookup = recon_sql.shipment_lookup(tenant_id, self.staging.c.tracking_number, by_label)
        self.move = sa.insert(tables.InvoiceLine.__table__).from_select(
            [*_LINE_COLUMNS, "shipment_id"],
            sa.select(*[self.staging.c[name] for name in _LINE_COLUMNS], lookup).order_by(self.staging.c.seq),
        )

    def write(self, batch: list[dict[str, Any]]) -> None:
        for row in batch:
            self.seq += 1
            row["seq"] = self.seq
        if self.pg:
            raw: Any = self.connection.connection.dbapi_connection
            with raw.cursor() as cursor, cursor.copy(_COPY_SQL) as copy:
                for row in batch:
                    copy.write_row([row["seq"], *[row[c] for c in _LINE_COLUMNS]])
        else:
            self.session.execute(sa.insert(self.staging), batch)
        self.session.execute(self.move)
        self.session.execute(sa.text("TRUNCATE invoice_line_staging") if self.pg else sa.delete(self.staging))

    def close(self) -> None:
        self.staging.drop(self.connection)


def _check_line(line: Line, number: str, currency: str) -> int:
    """Validate a parsed line against the invoice it belongs to; return its amount in minor units."""
    if line.invoice_number != number:
        raise ValueError(
            f"invoice number {line.invoice_number!r} differs from {number!r}; upload one invoice per file"
        )
    if line.currency != currency:
        raise ValueError(f"currency {line.currency} differs from the invoice's {currency}")
    if line.tracking_number is not None and len(line.tracking_number) > 64:
        raise ValueError("tracking number is longer than 64 characters")
    if len(line.invoice_number) > 64:
        raise ValueError("invoice number is longer than 64 characters")
    for value in (line.billed_weight, line.length, line.width, line.height):
        if value is not None and value >= _MEASURE_LIMIT:
            raise ValueError(f"a billed measure {value} is out of range")
    return cells.to_minor(line.amount, line.currency, "amount")


_MEASURE_LIMIT = Decimal("1e7")


def upload(
    session: Session,
    tenant_id: str,
    stream: IO[bytes],
    *,
    filename: str = "",
    fmt: str | None = None,
    carrier: str | None = None,
    key_id: str | None = None,
) -> tuple[tables.Invoice, bool]:
    """Store an uploaded invoice and queue its reconciliation; return (invoice, created)."""
    content_hash, size = _hash(stream)
    if size == 0:
        raise _unreadable("The file is empty.")
    existing = find_by_hash(session, tenant_id, content_hash)
    if existing is not None:
        return existing, False
    text, lines = _text_lines(stream)
    try:
        try:
            first = next(lines)
        except StopIteration:
            raise _unreadable("The file has no lines.") from None
        fmt, carrier, mapping = _decide_format(session, tenant_id, fmt, carrier, first)
        try:
            return _ingest(
                session,
                tenant_id,
                itertools.chain([first], lines),
                fmt=fmt,
                carrier=carrier,
                mapping=mapping,
                content_hash=content_hash,
                filename=filename,
                key_id=key_id,
            ), True
        except LayoutError as exc:
            raise _unreadable(str(exc)) from None
        except csv.Error as exc:
            raise _unreadable(f"The file is not readable as CSV: {exc}") from None
    finally:
        text.detach()


def _ingest(
    session: Session,
    tenant_id: str,
    lines: Iterator[str],
    *,
    fmt: str,
    carrier: str,
    mapping: dict[str, Any] | None,
    content_hash: str,
    filename: str,
    key_id: str | None,
) -> tables.Invoice:
    invoice: tables.Invoice | None = None
    errors: list[dict[str, Any]] = []
    error_count = 0
    batch: list[dict[str, Any]] = []
    writer: _Writer | None = None
    last_row = -1
    row_count = 0
    line_count = 0
    billed = 0

    def fail(row: int, reason: str) -> None:
        nonlocal error_count
        error_count += 1
        if len(errors) < MAX_REPORTED_ERRORS:
            errors.append({"row": row, "reason": reason})

    for item in parse(lines, fmt, mapping):
        if isinstance(item, RowError):
            fail(item.row, item.reason)
            continue
        if invoice is None:
            other = find_by_number(session, tenant_id, carrier, item.invoice_number)
            if other is not None:
                raise Problem(
                    "invoice-duplicate",
                    f"{carrier} invoice {item.invoice_number} was already uploaded as {other.id} from "
                    "another file; it is not counted twice. Delete nothing: dispute or accept its lines instead.",
                    extra={"invoice_id": other.id},
                )
            invoice = tables.Invoice(
                id=new_id("inv"),
                tenant_id=tenant_id,
                carrier=carrier,
                format=fmt,
                invoice_number=item.invoice_number[:64],
                invoice_date=item.invoice_date,
                account_number=item.account_number,
                currency=item.currency,
                content_hash=content_hash,
                filename=(filename or "")[:255],
                status="queued",
                progress={},
                uploaded_by=key_id,
                row_count=0,
                line_count=0,
                billed_minor=0,
            )
            session.add(invoice)
            session.flush()
            number, currency = invoice.invoice_number, invoice.currency
            invoice_id = invoice.id
        try:
            minor = _check_line(item, number, currency)
        except (ValueError, money.CurrencyError) as exc:
            fail(item.row, str(exc))
            continue
        if item.row != last_row:  # a FedEx row yields several lines, consecutively
            last_row = item.row
            row_count += 1
        line_count += 1
        billed += minor
        if error_count:
            continue  # the file is rejected; keep reading only to report every bad row
        batch.append(_row(item, invoice_id, tenant_id, carrier, minor))
        if len(batch) >= INSERT_BATCH:
            if writer is None:
                writer = _Writer(session, tenant_id)
            writer.write(batch)
            batch.clear()
    if error_count:
        raise Problem(
            "invoice-malformed",
            f"{error_count} row(s) of the file cannot be read; nothing was stored. Fix them and upload again.",
            errors=sorted(errors, key=lambda e: e["row"]),
            extra={"error_count": error_count, "errors_shown": len(errors)},
        )
    if invoice is None:
        raise _unreadable("The file has no charge lines.")
    if batch:
        writer = writer or _Writer(session, tenant_id)
        writer.write(batch)
    if writer is not None:
        writer.close()
    invoice.row_count = row_count
    invoice.line_count = line_count
    invoice.billed_minor = billed
    reconciliation.enqueue(session, invoice)
    session.flush()
    return invoice


# --- reading --------------------------------------------------------------------------------


def list_invoices(
    session: Session, tenant_id: str, *, limit: int, cursor: str | None = None, carrier: str | None = None
) -> tuple[list[tables.Invoice], str | None]:
    query = sa.select(tables.Invoice).where(tables.Invoice.tenant_id == tenant_id)
    if carrier:
        query = query.where(tables.Invoice.carrier == carrier)
    if cursor:
        when, row_id = decode_cursor(cursor)
        query = query.where(
            sa.or_(
                tables.Invoice.created_at < when,
                sa.and_(tables.Invoice.created_at == when, tables.Invoice.id < row_id),
            )
        )
    rows = list(
        session.execute(
            query.order_by(tables.Invoice.created_at.desc(), tables.Invoice.id.desc()).limit(limit + 1)
        ).scalars()
    )
    nxt = None
    if len(rows) > limit:
        rows = rows[:limit]
        nxt = encode_cursor(rows[-1].created_at, rows[-1].id)
    return rows, nxt


def list_lines(
    session: Session,
    tenant_id: str,
    invoice_id: str,
    *,
    limit: int,
    after: int | None = None,
    flagged: bool | None = None,
    kind: str | None = None,
    resolution: str | None = None,
) -> tuple[list[tables.InvoiceLine], dict[int, list[tables.Discrepancy]], dict[int, int], int | None]:
    """One page of an invoice's lines in file order, with their discrepancies."""
    reconciliation.get_invoice(session, tenant_id, invoice_id)
    ln = tables.InvoiceLine
    query = sa.select(ln).where(ln.invoice_id == invoice_id)
    if after is not None:
        query = query.where(ln.id > after)
    ds = tables.Discrepancy
    if kind:
        query = query.where(sa.exists().where(ds.line_id == ln.id, ds.kind == kind))
    elif flagged is True:
        query = query.where(sa.exists().where(ds.line_id == ln.id))
    elif flagged is False:
        query = query.where(~sa.exists().where(ds.line_id == ln.id))
    if resolution:
        query = query.where(ln.resolution == resolution)
    rows = list(session.execute(query.order_by(ln.id).limit(limit + 1)).scalars())
    nxt = None
    if len(rows) > limit:
        rows = rows[:limit]
        nxt = rows[-1].id
    found: dict[int, list[tables.Discrepancy]] = {}
    if rows:
        for d in session.execute(
            sa.select(ds).where(ds.line_id.in_([r.id for r in rows])).order_by(ds.id)
        ).scalars():
            found.setdefault(d.line_id, []).append(d)
    return rows, found, expected_amounts(session, [r.id for r in rows]), nxt


def expected_amounts(session: Session, line_ids: list[int]) -> dict[int, int]:
    """What the shipper expected to pay for each line (lines of reconciled invoices only)."""
    if not line_ids:
        return {}
    ctx = recon_sql.Context.reading(session.get_bind().dialect.name)
    line = recon_sql.LN.alias("l")
    inv = tables.Invoice.__table__
    rows = session.execute(
        sa.select(line.c.id, recon_sql.expected_of(ctx, line))
        .join(inv, inv.c.id == line.c.invoice_id)
        .where(line.c.id.in_(line_ids), inv.c.status == "reconciled")
    )
    return {row[0]: int(row[1]) for row in rows if row[1] is not None}


def get_line(session: Session, tenant_id: str, invoice_id: str, line_id: int) -> tables.InvoiceLine:
    line = session.execute(
        sa.select(tables.InvoiceLine).where(
            tables.InvoiceLine.id == line_id,
            tables.InvoiceLine.invoice_id == invoice_id,
            tables.InvoiceLine.tenant_id == tenant_id,
        )
    ).scalar_one_or_none()
    if line is None:
        raise Problem("not-found", f"No line {line_id} on invoice {invoice_id!r}.")
    return line


def discrepancies_of(session: Session, line_id: int) -> list[tables.Discrepancy]:
    return list(
        session.execute(
            sa.select(tables.Discrepancy)
            .where(tables.Discrepancy.line_id == line_id)
            .order_by(tables.Discrepancy.id)
        ).scalars()
    )


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


def tenant_report(
    session: Session,
    tenant_id: str,
    *,
    carrier: str | None = None,
    currency: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> tuple[dict[str, Any], str | None]:
    """Totals across the tenant's reconciled invoices, by class, carrier and resolution, in one currency."""
    inv = tables.Invoice
    ids = sa.select(inv.id).where(inv.tenant_id == tenant_id, inv.status == "reconciled")
    if carrier:
        ids = ids.where(inv.carrier == carrier)
    if created_after:
        ids = ids.where(inv.created_at >= created_after)
    if created_before:
        ids = ids.where(inv.created_at < created_before)
    if currency:
        ids = ids.where(inv.currency == currency)
    else:
        found = sorted(
            c for (c,) in session.execute(sa.select(inv.currency).where(inv.id.in_(ids)).distinct())
        )
        if len(found) > 1:
            raise Problem(
                "validation-error",
                f"The invoices are in several currencies ({', '.join(found)}); pass currency.",
                errors={"currency": ["required when invoices use several currencies"]},
            )
        currency = found[0] if found else None
    reports = [r for (r,) in session.execute(sa.select(inv.report).where(inv.id.in_(ids))) if r]
    report = reconciliation.merge_reports(reports)
    ln = tables.InvoiceLine
    report["by_resolution"] = {
        (row.resolution or "open"): {"lines": int(row.lines), "recoverable_minor": int(row.recoverable or 0)}
        for row in session.execute(
            sa.select(
                ln.resolution,
                sa.func.count().label("lines"),
                sa.func.sum(ln.recoverable_minor).label("recoverable"),
            )
            .where(ln.resolution.is_not(None), ln.tenant_id == tenant_id, ln.invoice_id.in_(ids))
            .group_by(ln.resolution)
        )
    }
    report["invoices"] = session.execute(sa.select(sa.func.count()).select_from(ids.subquery())).scalar_one()
    return report, currency


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
    if kind == recon_sql.UNKNOWN_TRACKING:
        return "tracking number unknown to the shipper"
    if kind == recon_sql.DUPLICATE_CHARGE:
        return f"duplicate of invoice {e.get('duplicate_of_invoice_number')} row {e.get('duplicate_of_row')}"
    if kind == recon_sql.FLEET_DELIVERED:
        return (
            f"delivered by the shipper's own fleet at {e.get('delivered_at')}; never tendered to the carrier"
        )
    if kind == recon_sql.VOIDED_LABEL:
        return f"label voided ({e.get('label_voided_at') or e.get('shipment_status')}) before use"
    if kind == recon_sql.NEVER_SCANNED:
        return "label never scanned by the carrier (no acceptance or later scan)"
    if kind == recon_sql.LATE_DELIVERY:
        return (
            f"guaranteed service delivered {e.get('delivered_at')} after the commitment "
            f"{e.get('commit_deadline')} (estimated {e.get('estimated_delivery')}); guaranteed service refund"
        )
    if kind == recon_sql.WEIGHT_OVER_DECLARED:
        return (
            f"billed weight {e.get('billed_weight')} {e.get('billed_weight_unit')} over the quoted billable "
            f"{e.get('quoted_billable_weight')} {e.get('quoted_weight_unit')} (tolerance {e.get('tolerance_percent')}%)"
        )
    if kind == recon_sql.DIMENSIONS_OVER_DECLARED:
        return (
            f"billed dimensions {e.get('billed_length')}x{e.get('billed_width')}x{e.get('billed_height')} "
            f"{e.get('billed_dimension_unit')} over declared {e.get('declared_length')}x{e.get('declared_width')}x"
            f"{e.get('declared_height')} {e.get('declared_dimension_unit')}"
        )
    if kind == recon_sql.ZONE_MISMATCH:
        return f"billed zone {e.get('billed_zone')}, contracted zone {e.get('quoted_zone')}"
    if kind == recon_sql.BASE_RATE_MISMATCH:
        quoted = e.get("quoted_base_minor")
        return (
            f"base rate differs from card {e.get('card_id')} v{e.get('card_version')}: contracted "
            f"{_money_text(int(quoted) if quoted is not None else None, currency)}"
        )
    if kind == recon_sql.FUEL_MISMATCH:
        return f"fuel surcharge not at the contracted {e.get('card_fuel_percent')}% of the billed base"
    if kind == recon_sql.SURCHARGE_NOT_QUOTED:
        return str(e.get("reason") or "surcharge not in the quote")
    return kind


def _text(value: str) -> str:
    """A text cell of the claim CSV, defused for spreadsheets (carrier text must not run as a formula)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def dispute_rows(
    session: Session, tenant_id: str, carrier: str, *, resolution: str = "disputed", batch: int = 1000
) -> Iterator[list[str]]:
    """Yield the CSV rows of a carrier claim file, header first, reading the lines in id batches."""
    import json

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
