"""Carrier invoice parsers: each carrier layout in ``LAYOUTS`` (UPS Billing Data CSV, FedEx invoice CSV),
and a mapped generic CSV for any carrier.

Pure and streaming: a parser takes an iterator of text lines and yields one canonical
:class:`Line` (one charge) or :class:`RowError` (row number and reason) at a time, so memory
does not grow with the file. Nothing here touches Flask or the database.

``parse(lines, fmt, mapping=None)`` picks the parser; ``sniff(first_line)`` guesses the layout
of a file from its first physical line. A file that cannot be read at all (unknown layout,
missing required columns, a line longer than ``MAX_LINE_CHARS``) raises :class:`LayoutError`.

Layouts are data: a carrier that bills in a file of its own gets a parser module (``looks_like(cells)``,
``parse(lines)``) and a row in ``LAYOUTS`` naming the carrier it bills for; nothing else branches on a
layout or a carrier name.
"""

from __future__ import annotations

import csv
import importlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class Layout:
    """A carrier's own invoice file layout: the carrier it bills for, and the module that reads it."""

    carrier: str  # the carrier code an invoice in this layout is for
    title: str  # how finance knows the file, for messages
    module: str  # gateway.reconciliation.parsers.<module>: looks_like(cells) -> bool, parse(lines)
    bounds_lines: bool = False  # True: the parser bounds line lengths itself (it reads raw lines)


# Carrier layouts, by the name ``POST /v1/invoices`` takes as ``format``; sniffed in this order.
LAYOUTS: dict[str, Layout] = {
    "ups": Layout("ups", "UPS Billing Data CSV", "ups", bounds_lines=True),
    "fedex": Layout("fedex", "FedEx invoice CSV", "fedex"),
}
GENERIC = "generic"  # any carrier's CSV, read through the tenant's saved column mapping
FORMATS = (*LAYOUTS, GENERIC)
MAX_LINE_CHARS = 65536
csv.field_size_limit(MAX_LINE_CHARS)


@dataclass(frozen=True, slots=True)
class Line:
    """One charge of an invoice, in canonical form (amounts in the invoice currency, exact)."""

    row: int  # 1-based physical line of the file where the record ends
    invoice_number: str
    tracking_number: str | None  # None only for invoice-level charges (service fees)
    charge_code: str  # the carrier's own code, e.g. "RES", "FSC", "ADC", "FRT"
    charge_class: str  # canonical class, see charges.CLASSES
    description: str
    amount: Decimal
    currency: str
    billed_weight: Decimal | None = None
    weight_unit: str | None = None  # "lb" | "kg"
    weight_type: str | None = None  # "actual" | "dimensional"
    length: Decimal | None = None
    width: Decimal | None = None
    height: Decimal | None = None
    dimension_unit: str | None = None  # "in" | "cm"
    zone: str | None = None
    service: str | None = None
    ship_date: date | None = None
    invoice_date: date | None = None
    account_number: str | None = None


@dataclass(frozen=True, slots=True)
class RowError:
    """A row that could not be read, with its 1-based line number and the reason."""

    row: int
    reason: str


class LayoutError(ValueError):
    """The file as a whole cannot be read in the given layout."""


def bounded_lines(lines: Iterable[str], max_chars: int = MAX_LINE_CHARS) -> Iterator[str]:
    """Yield lines, refusing one longer than ``max_chars`` (a binary or broken file)."""
    for number, line in enumerate(lines, start=1):
        if len(line) > max_chars:
            raise LayoutError(f"line {number} is longer than {max_chars} characters; is this a CSV file?")
        yield line


def records(lines: Iterable[str], delimiter: str = ",") -> Iterator[tuple[int, list[str]] | RowError]:
    """Yield (line number where the record ends, cells) per CSV record, or a RowError.

    A line without a quote character is split directly (carrier files are mostly such lines, and
    splitting is several times faster than the csv module on 250 columns); a line with quotes is
    read by the csv module, joined with the next lines while a quoted field stays open.
    """
    number = 0
    pending: list[str] = []
    start = 0
    for line in lines:
        number += 1
        if len(line) > MAX_LINE_CHARS:
            raise LayoutError(
                f"line {number} is longer than {MAX_LINE_CHARS} characters; is this a CSV file?"
            )
        if not pending and '"' not in line:
            yield number, line.rstrip("\r\n").split(delimiter)
            continue
        if not pending:
            start = number
        pending.append(line)
        text = "".join(pending)
        if text.count('"') % 2:
            if len(text) > MAX_LINE_CHARS:
                raise LayoutError(f"a quoted field opened on line {start} never closes")
            continue  # a quoted field spans lines
        pending.clear()
        try:
            parsed = list(csv.reader([text], delimiter=delimiter))
        except csv.Error as exc:
            yield RowError(number, f"not valid CSV: {exc}")
            continue
        yield number, parsed[0] if parsed else []
    if pending:
        yield RowError(number, "a quoted field is never closed")


def csv_header(reader: Iterator[list[str]]) -> list[str]:
    """Read a csv reader's header row; an empty file or a broken header is a LayoutError."""
    try:
        return next(reader)
    except StopIteration:
        raise LayoutError("the file is empty") from None
    except csv.Error as exc:
        raise LayoutError(f"the header row is not valid CSV: {exc}") from None


def csv_rows(reader: Any) -> Iterator[tuple[int, list[str]] | RowError]:
    """Yield (line number, cells) for each non-blank row of a csv reader, or a RowError per broken row."""
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RowError(reader.line_num, f"not valid CSV: {exc}")
            continue
        if any(c.strip() for c in cells):
            yield reader.line_num, cells


def _module(layout: Layout) -> Any:
    return importlib.import_module(f"{__name__}.{layout.module}")


def sniff(first_line: str) -> str | None:
    """Guess the carrier layout from the first line: a name in ``LAYOUTS``, or None when unsure."""
    try:
        cells = next(csv.reader([first_line]))
    except (csv.Error, StopIteration):
        return None
    for name, layout in LAYOUTS.items():
        if _module(layout).looks_like(cells):
            return name
    return None


def parse(
    lines: Iterable[str], fmt: str, mapping: Mapping[str, Any] | None = None
) -> Iterator[Line | RowError]:
    """Parse an invoice file given as text lines in layout ``fmt``."""
    from gateway.reconciliation.parsers import generic

    layout = LAYOUTS.get(fmt)
    if layout is not None:
        return _module(layout).parse(lines if layout.bounds_lines else bounded_lines(lines))
    source = bounded_lines(lines)
    if fmt == GENERIC:
        if mapping is None:
            raise LayoutError("the generic layout needs a saved column mapping for this carrier")
        return generic.parse(source, mapping)
    raise LayoutError(f"unknown invoice format {fmt!r}; use one of {', '.join(FORMATS)}")
