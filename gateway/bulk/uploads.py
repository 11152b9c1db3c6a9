"""Bulk booking as use cases: store an upload, book its rows in chunks, read its progress.

Every row is booked by ``gateway.shipments.book.book``, the same use case as ``POST /v1/shipments``
(validated by the same ``ShipmentCreateSchema``): a bulk upload adds no booking rule of its own.

Idempotency. Each row has a key: the ``key`` it was given (scoped to the tenant, across uploads),
or else one derived from the upload id and the row number. A row is booked in the same transaction
that marks it booked and inserts its key into ``bulk_keys`` (primary key: tenant and key), and a
chunk of rows commits at once: a crash loses the whole chunk (its rows are pending again and the
next run books them) or keeps it whole, so no row is booked twice. A key already booked (by an
earlier run, or by another upload with the same given key) answers the shipment it booked.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.bulk import _parsing
from gateway.bulk import jobs as bulk_jobs
from gateway.bulk.tables import BulkKey, BulkRow, BulkUpload
from gateway.jobs import outbox
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow
from gateway.shipments import book
from gateway.shipments import schemas as shipment_schemas

if TYPE_CHECKING:
    from gateway.kernel.container import Container

MAX_ROWS = 10_000
CHUNK_ROWS = 50  # rows per transaction: each row may wait on live carrier rates
QUEUE = "default"
_INSERT_BATCH = 1000
_ROW_CURSOR = re.compile(r"[0-9]{1,5}")  # the last row number of the page before
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII, no spaces


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Marshmallow's nested messages as ``{"parcels.0.weight.value": ["…"]}`` (``_schema`` for the row)."""
    flat: dict[str, list[str]] = {}
    stack: list[tuple[Any, str]] = [(messages, prefix)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            stack.extend((value, f"{path}.{key}" if path else str(key)) for key, value in node.items())
        elif isinstance(node, list) and all(isinstance(m, str) for m in node):
            flat[path or "_schema"] = list(node)
        elif isinstance(node, list):
            stack.extend((value, f"{path}.{i}" if path else str(i)) for i, value in enumerate(node))
        else:
            flat[path or "_schema"] = [str(node)]
    return dict(sorted(flat.items()))


# A decimal number of an upload, held as a string while its row is encoded: no string of an upload
# holds U+0000 (the JSON parser refuses it), so the placeholder is unambiguous.
_DECIMAL_MARK = "\x00decimal:"
_MARKED = re.compile(r'"\\u0000decimal:([^"]*)"')


def _tag_decimals(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{_DECIMAL_MARK}{value}"
    if isinstance(value, dict):
        return {key: _tag_decimals(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_tag_decimals(item) for item in value]
    return value


def encode_body(body: dict[str, Any]) -> str:
    """A row as JSON text, its numbers exactly as sent (the parser made them Decimal)."""
    return _MARKED.sub(r"\1", json.dumps(_tag_decimals(body), separators=(",", ":")))


def decode_body(text: str) -> Any:
    """A stored row, numbers with a fraction as Decimal again (as the API's JSON parser reads them)."""
    return json.loads(text, parse_float=Decimal)


def _row_key(bulk_id: str, number: int, raw: Any) -> tuple[str, bool, dict[str, list[str]] | None]:
    """The row's key (``key:<given>`` or ``row:<upload>:<number>``), whether given, and a key error."""
    given = raw.get("key") if isinstance(raw, dict) else None
    derived = f"row:{bulk_id}:{number}"
    if given is None:
        return derived, False, None
    if not isinstance(given, str) or not _KEY.fullmatch(given):
        return derived, False, {"key": ["1 to 200 printable ASCII characters without spaces"]}
    return f"key:{given}", True, None


def create(session: Session, tenant_id: str, rows: Sequence[Any], *, fmt: str) -> BulkUpload:
    """Store an upload's rows and queue the job that books them (the caller commits: then it runs)."""
    if len(rows) > MAX_ROWS:
        raise Problem(
            "payload-too-large",
            f"{len(rows)} rows: one upload books at most {MAX_ROWS:,}; split it.",
            errors={"shipments": [f"at most {MAX_ROWS} rows"]},
        )
    if not rows:
        raise Problem("validation-error", "The upload has no rows.", errors={"shipments": ["no rows"]})
    upload = BulkUpload(tenant_id=tenant_id, format=fmt, total=len(rows), state="queued")
    session.add(upload)
    session.flush()
    values: list[dict[str, Any]] = []
    first_of_key: dict[str, int] = {}
    failed = 0
    for number, raw in enumerate(rows, start=1):
        key, given, errors = _row_key(upload.id, number, raw)
        body: dict[str, Any] = {}
        if not isinstance(raw, dict):
            errors = {"_schema": ["Invalid input type: a row is an object."]}
        elif "__csv_error__" in raw:
            errors = {"_schema": [raw["__csv_error__"]]}
        else:
            body = {name: value for name, value in raw.items() if name != "key"}
        if errors is None and key in first_of_key:
            errors = {"key": [f"the same key as row {first_of_key[key]}"]}
        first_of_key.setdefault(key, number)
        failed += errors is not None
        values.append(
            {
                "bulk_id": upload.id,
                "row_number": number,
                "tenant_id": tenant_id,
                "row_key": key,
                "key_given": given,
                "body": encode_body(body),
                "state": "pending" if errors is None else "failed",
                "errors": errors,
                "replayed": False,
            }
        )
    for start in range(0, len(values), _INSERT_BATCH):
        session.execute(sa.insert(BulkRow), values[start : start + _INSERT_BATCH])
    upload.failed = upload.done = failed
    outbox.add(session, bulk_jobs.run, upload.id, queue=QUEUE)
    session.flush()
    return upload


def run(container: Container, bulk_id: str, *, budget_seconds: float, chunk: int = CHUNK_ROWS) -> bool:
    """Book pending rows chunk by chunk (a commit each) for about ``budget_seconds``; True when done."""
    started = time.monotonic()
    while True:
        with container.sessions() as session:
            processed, finished = _chunk(session, container, bulk_id, chunk)
            session.commit()
        if finished:
            return True
        if processed and time.monotonic() - started >= budget_seconds:
            return False


def _lock(session: Session, bulk_id: str) -> BulkUpload | None:
    """The upload, locked for this transaction (an UPDATE first: SQLite takes its write lock too)."""
    session.execute(sa.update(BulkUpload).where(BulkUpload.id == bulk_id).values(updated_at=utcnow()))
    return session.execute(
        sa.select(BulkUpload).where(BulkUpload.id == bulk_id).execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _chunk(session: Session, container: Container, bulk_id: str, size: int) -> tuple[int, bool]:
    """Book the next ``size`` pending rows; (rows processed, whether the upload is now done)."""
    upload = _lock(session, bulk_id)
    if upload is None or upload.state == "done":
        return 0, True
    if upload.state == "queued":
        upload.state, upload.started_at = "running", utcnow()
    rows = list(
        session.execute(
            sa.select(BulkRow)
            .where(BulkRow.bulk_id == bulk_id, BulkRow.state == "pending")
            .order_by(BulkRow.row_number)
            .limit(size)
        ).scalars()
    )
    for row in rows:
        _book_row(session, container, upload.tenant_id, row)
    upload.done += len(rows)
    upload.booked += sum(r.state == "booked" for r in rows)
    upload.failed += sum(r.state == "failed" for r in rows)
    if len(rows) < size:
        upload.state, upload.completed_at = "done", utcnow()
    session.flush()
    return len(rows), upload.state == "done"


def _booked_key(session: Session, tenant_id: str, key: str) -> BulkKey | None:
    return session.execute(
        sa.select(BulkKey).where(BulkKey.tenant_id == tenant_id, BulkKey.row_key == key)
    ).scalar_one_or_none()


def _book_row(session: Session, container: Container, tenant_id: str, row: BulkRow) -> None:
    """Book one row through the booking use case, or record why not (4xx problems are the row's)."""
    existing = _booked_key(session, tenant_id, row.row_key)
    if existing is not None:
        row.state, row.shipment_id, row.replayed = "booked", existing.shipment_id, True
        return
    try:
        data = shipment_schemas.ShipmentCreateSchema().load(decode_body(row.body))
    except ValidationError as exc:
        row.state, row.errors = "failed", flatten(exc.messages)
        return
    try:
        with session.begin_nested():
            booked = book.book(session, tenant_id, data, container=container)
            session.add(
                BulkKey(
                    tenant_id=tenant_id,
                    row_key=row.row_key,
                    shipment_id=booked.shipment.id,
                    bulk_id=row.bulk_id,
                    row_number=row.row_number,
                )
            )
            session.flush()
    except Problem as problem:
        if problem.status >= 500:
            raise  # the carrier or the database, not the row: the job runs the chunk again
        row.state = "failed"
        row.errors = flatten(problem.errors) if problem.errors else {"_schema": [problem.detail]}
        return
    except IntegrityError:
        existing = _booked_key(session, tenant_id, row.row_key)
        if existing is None:
            raise
        row.state, row.shipment_id, row.replayed = "booked", existing.shipment_id, True
        return
    row.state, row.shipment_id = "booked", booked.shipment.id


def get_upload(session: Session, tenant_id: str, bulk_id: str) -> BulkUpload:
    upload = session.execute(
        sa.select(BulkUpload).where(BulkUpload.id == bulk_id, BulkUpload.tenant_id == tenant_id)
    ).scalar_one_or_none()
    if upload is None:
        raise Problem("not-found", f"No bulk upload {bulk_id!r}.")
    return upload


def list_rows(
    session: Session, upload: BulkUpload, *, limit: int, cursor: str | None = None, state: str | None = None
) -> tuple[list[BulkRow], str | None]:
    """One page of an upload's rows in row order; the cursor is the last row number answered."""
    query = sa.select(BulkRow).where(BulkRow.bulk_id == upload.id, BulkRow.tenant_id == upload.tenant_id)
    if state:
        query = query.where(BulkRow.state == state)
    if cursor:
        if not _ROW_CURSOR.fullmatch(cursor):
            raise Problem("bad-request", "The cursor is not valid.", errors={"cursor": ["invalid"]})
        query = query.where(BulkRow.row_number > int(cursor))
    rows = list(session.execute(query.order_by(BulkRow.row_number).limit(limit + 1)).scalars())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = str(rows[-1].row_number)
    return rows, next_cursor


def booked_shipment_ids(session: Session, upload: BulkUpload) -> list[str]:
    """The shipments an upload booked, in row order (each once)."""
    ids = session.execute(
        sa.select(BulkRow.shipment_id)
        .where(BulkRow.bulk_id == upload.id, BulkRow.tenant_id == upload.tenant_id, BulkRow.state == "booked")
        .order_by(BulkRow.row_number)
    ).scalars()
    return list(dict.fromkeys(i for i in ids if i))


def present_row(row: BulkRow, *, csv: bool) -> dict[str, Any]:
    """A row's outcome; a CSV row's errors also name the column of each path they can."""
    body: dict[str, Any] = {
        "row": row.row_number,
        "key": row.row_key.removeprefix("key:") if row.key_given else None,
        "state": row.state,
        "shipment_id": row.shipment_id,
        "replayed": row.replayed,
        "errors": row.errors,
    }
    if csv and row.errors:
        columns = {path: _parsing.column_of(path) for path in row.errors}
        body["columns"] = {path: column for path, column in columns.items() if column}
    return body


def present(upload: BulkUpload) -> dict[str, Any]:
    return {
        "id": upload.id,
        "state": upload.state,
        "format": upload.format,
        "progress": {
            "done": upload.done,
            "total": upload.total,
            "percent": round(100 * upload.done / upload.total, 1) if upload.total else 100.0,
        },
        "counts": {"booked": upload.booked, "failed": upload.failed, "pending": upload.total - upload.done},
        "created_at": upload.created_at,
        "started_at": upload.started_at,
        "completed_at": upload.completed_at,
    }


def parse(data: bytes | None, parsed_json: Any, *, mimetype: str) -> tuple[list[Any], str]:
    """An upload's rows and format, from a CSV body or a JSON one (parsed already, or parsed here)."""
    if mimetype == "text/csv":
        return _parsing.from_csv(data or b""), "csv"
    return _parsing.from_json(parsed_json), "json"
