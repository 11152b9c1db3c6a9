"""Invoice intake: hash, recognise and parse an uploaded file, store its lines, queue its reconciliation.

Intake streams: the uploaded file is hashed in 1 MiB blocks, then read line by line through a
text wrapper and parsed row by row (``gateway.reconciliation.parsers``); canonical lines are inserted in
batches of ``INSERT_BATCH`` (``_staging``). Nothing holds the file, or all its lines, in memory. ``upload``
flushes and the caller commits; ``receive``, the use case behind ``POST /v1/invoices``, is that caller:
an upload is acknowledged only once its lines and its reconciliation job are stored.

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
from decimal import Decimal
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.kernel.errors import Problem
from gateway.kernel.types import new_id
from gateway.reconciliation import runs, tables
from gateway.reconciliation._staging import Writer, line_row
from gateway.reconciliation.mappings import get_mapping
from gateway.reconciliation.parsers import FORMATS, LAYOUTS, LayoutError, Line, RowError, parse, sniff
from gateway.reconciliation.parsers import values as cells
from schemas import money

INSERT_BATCH = 5000

MAX_REPORTED_ERRORS = 200

HASH_BLOCK = 1 << 20


def file_hash(stream: IO[bytes]) -> tuple[str, int]:
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


def _unreadable(detail: str) -> Problem:
    return Problem("invoice-unreadable", detail)


def _text_lines(stream: IO[bytes]) -> tuple[io.TextIOWrapper, Iterator[str]]:
    # newline="" keeps quoted line breaks for the csv module; undecodable bytes become U+FFFD and
    # then fail the row that holds them, instead of failing the whole upload on one accent.
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
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
            known = " or ".join(layout.title for layout in LAYOUTS.values())
            raise _unreadable(
                f"The layout was not recognised as a {known}, and no column mapping is saved for the "
                "carrier; pass format and carrier, or save a mapping first."
            )
    if fmt in LAYOUTS:  # a carrier's own layout bills for that carrier; generic for the one named
        implied = LAYOUTS[fmt].carrier
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
        raise Problem(  # 409: the file may be fine; the tenant has not saved how to read it yet
            "conflict",
            f"No column mapping is saved for carrier {carrier!r}; PUT /v1/invoice-mappings/{carrier} first.",
        )
    return fmt, carrier, mapping.mapping


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
    content_hash, size = file_hash(stream)
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


def receive(
    session: Session,
    tenant_id: str,
    stream: IO[bytes],
    *,
    filename: str = "",
    fmt: str | None = None,
    carrier: str | None = None,
    key_id: str | None = None,
) -> tuple[tables.Invoice, bool]:
    """Upload an invoice and commit it; return (invoice, created). The use case of an upload request.

    An upload is its own unit of work, with its commit point here rather than in
    ``idempotency.write_endpoint``: that wrapper's body fingerprint would read the whole file, so
    the content hash is the idempotency key instead. A concurrent upload of the same bytes that
    committed first answers as a re-upload, (that invoice, False); of the same carrier and invoice
    number from another file, a 409 ``invoice-duplicate``. Any other error rolls the upload back.
    """
    try:
        invoice, created = upload(
            session, tenant_id, stream, filename=filename, fmt=fmt, carrier=carrier, key_id=key_id
        )
        session.commit()
    except IntegrityError:
        session.rollback()
        stream.seek(0)
        content_hash, _ = file_hash(stream)
        earlier = find_by_hash(session, tenant_id, content_hash)
        if earlier is None:
            raise Problem(
                "invoice-duplicate", "This carrier invoice number was uploaded from another file."
            ) from None
        return earlier, False
    except BaseException:
        session.rollback()
        raise
    return invoice, created


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
    writer: Writer | None = None
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
        batch.append(line_row(item, invoice_id, tenant_id, carrier, minor))
        if len(batch) >= INSERT_BATCH:
            if writer is None:
                writer = Writer(session, tenant_id)
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
        writer = writer or Writer(session, tenant_id)
        writer.write(batch)
    if writer is not None:
        writer.close()
    invoice.row_count = row_count
    invoice.line_count = line_count
    invoice.billed_minor = billed
    runs.enqueue(session, invoice)
    session.flush()
    return invoice
