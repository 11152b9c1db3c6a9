"""Carrier code -> canonical taxonomy, from one reviewable CSV table per carrier.

Each carrier package holds ``tracking_codes.csv`` with the columns
``code,subcode,milestone,detail,reason,informational,note``. ``subcode`` is empty when the row
applies only to a code reported alone, ``*`` when it applies to the code with any subcode; ``code``
may be ``*`` for a subcode that means the same under every code (UPS activity codes).

A code with no row is *unmapped*: ``lookup`` returns None and the caller keeps the raw event.
Nothing ever defaults to in_transit. Tables load lazily on first use, never at import time.
Ops overrides (rows supplied by the gateway) win over the file rows.
"""

from __future__ import annotations

import csv
import functools
import importlib.resources
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from schemas import events, taxonomy

COLUMNS: tuple[str, ...] = ("code", "subcode", "milestone", "detail", "reason", "informational", "note")
WILDCARD = "*"
TABLE_FILENAME = "tracking_codes.csv"
_TRUE = frozenset({"yes", "true", "1", "y"})
_FALSE = frozenset({"", "no", "false", "0", "n"})


class MappingError(ValueError):
    """A mapping row that names something the taxonomy does not define, or a malformed table."""


@dataclass(frozen=True, slots=True)
class CodeMapping:
    """One row: what a carrier code (or code pair) means in the taxonomy."""

    carrier: str
    code: str
    subcode: str | None
    milestone: taxonomy.Milestone | None
    detail: str | None
    reason: taxonomy.ExceptionReason | None
    informational: bool
    note: str = ""
    origin: str = "file"  # "file" or "override"

    @property
    def key(self) -> tuple[str, str | None]:
        """Return the (code, subcode) key the row is stored under."""
        return (self.code, self.subcode)

    @property
    def mapping_state(self) -> events.MappingState:
        """Return the event mapping state this row produces."""
        return events.MappingState.INFORMATIONAL if self.informational else events.MappingState.MAPPED


def _norm(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def parse_row(carrier: str, row: Mapping[str, str | None], origin: str = "file") -> CodeMapping:
    """Validate one table row against the taxonomy and return it as a CodeMapping."""
    where = f"{carrier} {origin} row {dict(row)!r}"
    code = _norm(row.get("code"))
    if code is None:
        raise MappingError(f"{where}: code is required")
    flag = (row.get("informational") or "").strip().lower()
    if flag not in _TRUE | _FALSE:
        raise MappingError(f"{where}: informational must be yes/no, got {flag!r}")
    informational = flag in _TRUE
    m_name, d_name, r_name = _norm(row.get("milestone")), _norm(row.get("detail")), _norm(row.get("reason"))
    if informational:
        if m_name or d_name or r_name:
            raise MappingError(f"{where}: an informational row names no milestone, detail or reason")
        return CodeMapping(
            carrier, code, _norm(row.get("subcode")), None, None, None, True, (row.get("note") or ""), origin
        )
    if m_name is None:
        raise MappingError(f"{where}: milestone is required unless the row is informational")
    try:
        m = taxonomy.milestone(m_name)
        r = taxonomy.reason(r_name) if r_name else None
        taxonomy.validate(m, d_name, r)
    except taxonomy.TaxonomyError as exc:
        raise MappingError(f"{where}: {exc}") from exc
    return CodeMapping(
        carrier, code, _norm(row.get("subcode")), m, d_name, r, False, row.get("note") or "", origin
    )


class CodeTable:
    """A carrier's validated rows, with ops overrides layered on top."""

    def __init__(self, carrier: str, rows: Iterable[CodeMapping]) -> None:
        self.carrier = carrier
        self._rows: dict[tuple[str, str | None], CodeMapping] = {}
        for row in rows:
            if row.key in self._rows:
                raise MappingError(f"{carrier}: duplicate row for code {row.code!r} subcode {row.subcode!r}")
            self._rows[row.key] = row

    def __len__(self) -> int:
        return len(self._rows)

    def rows(self) -> list[CodeMapping]:
        """Return every row, file order."""
        return list(self._rows.values())

    def with_overrides(self, overrides: Iterable[Mapping[str, str | None] | CodeMapping]) -> CodeTable:
        """Return a new table where each override row replaces (or adds) the row with its key."""
        merged = dict(self._rows)
        for item in overrides:
            row = item if isinstance(item, CodeMapping) else parse_row(self.carrier, item, origin="override")
            if row.carrier != self.carrier:
                raise MappingError(f"override for {row.carrier!r} applied to {self.carrier!r}")
            merged[row.key] = row
        table = CodeTable(self.carrier, ())
        table._rows = merged
        return table

    def lookup(self, code: str, subcode: str | None = None) -> CodeMapping | None:
        """Return the row for (code, subcode), most specific first, or None when unmapped."""
        code = code.strip()
        sub = _norm(subcode)
        for key in ((code, sub), (WILDCARD, sub) if sub else None, (code, WILDCARD)):
            if key is not None and key in self._rows:
                return self._rows[key]
        return None


def _read_table_text(carrier: str, package: str | None = None) -> str:
    if not carrier.isidentifier():
        raise MappingError(f"not a carrier package name: {carrier!r}")
    try:
        if package is None:
            resource = importlib.resources.files("adapters").joinpath(carrier).joinpath(TABLE_FILENAME)
        else:
            resource = importlib.resources.files(package).joinpath(TABLE_FILENAME)
        return resource.read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):
        raise MappingError(f"no tracking code table for carrier {carrier!r}") from None


def parse_table(carrier: str, text: str, origin: str = "file") -> CodeTable:
    """Parse and validate CSV text in the table format."""
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise MappingError(f"{carrier}: table columns must be {','.join(COLUMNS)}, got {reader.fieldnames}")
    return CodeTable(carrier, (parse_row(carrier, row, origin) for row in reader))


@functools.cache
def load_table(carrier: str, package: str | None = None) -> CodeTable:
    """Load and validate a carrier's packaged table (cached after the first call).

    ``package`` holds ``tracking_codes.csv``; by default ``adapters/<carrier>/`` (the built-in adapters).
    An out-of-tree adapter names its own package (``Adapter.code_table_package``).
    """
    return parse_table(carrier, _read_table_text(carrier, package))


def lookup(
    carrier: str,
    code: str,
    subcode: str | None = None,
    overrides: Sequence[Mapping[str, str | None] | CodeMapping] = (),
) -> CodeMapping | None:
    """Return what a carrier code means, or None when it is unmapped (never a default)."""
    table = load_table(carrier)
    if overrides:
        table = table.with_overrides(overrides)
    return table.lookup(code, subcode)


def to_event(
    table: CodeTable,
    *,
    tracking_number: str,
    occurred_at: datetime,
    code: str,
    subcode: str | None = None,
    message: str | None = None,
    location: events.Location | None = None,
    estimated_delivery: date | None = None,
    source_event_id: str | None = None,
    source: events.EventSource = events.EventSource.POLL,
    pod: events.ProofOfDelivery | None = None,
    attributes: Mapping[str, str] | None = None,
) -> events.CanonicalEvent:
    """Translate one raw carrier event into a canonical event, keeping the raw code beside it."""
    row = table.lookup(code, subcode)
    return events.CanonicalEvent(
        tracking_number=tracking_number,
        carrier=table.carrier,
        occurred_at=occurred_at,
        raw_code=code,
        milestone=None if row is None else row.milestone,
        detail=None if row is None else row.detail,
        reason=None if row is None else row.reason,
        mapping=events.MappingState.UNMAPPED if row is None else row.mapping_state,
        raw_subcode=subcode,
        raw_message=message,
        location=location,
        estimated_delivery=estimated_delivery,
        source_event_id=source_event_id,
        source=source,
        pod=pod,
        attributes=tuple(sorted((attributes or {}).items())),
    )


def remap_event(table: CodeTable, event: events.CanonicalEvent) -> events.CanonicalEvent:
    """Translate an already stored event again from its raw code (after a mapping change)."""
    if event.carrier != table.carrier:
        return event
    return to_event(
        table,
        tracking_number=event.tracking_number,
        occurred_at=event.occurred_at,
        code=event.raw_code,
        subcode=event.raw_subcode,
        message=event.raw_message,
        location=event.location,
        estimated_delivery=event.estimated_delivery,
        source_event_id=event.source_event_id,
        source=event.source,
        pod=event.pod,
        attributes=dict(event.attributes),
    )
