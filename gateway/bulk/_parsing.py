"""Turn an upload (JSON or CSV) into booking bodies, one per row; whole-file errors are 422s.

A CSV row becomes the same JSON shape as ``POST /v1/shipments`` (one parcel), so both formats are
validated and booked by one path. Empty cells are left out. Error paths of a CSV row are reported
with the JSON shape's dotted paths and, beside them, the CSV column they came from (``column_of``).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from gateway.kernel.errors import Problem

MAX_KEY_LENGTH = 255

_ADDRESS_FIELDS = (
    "name",
    "company",
    "street1",
    "street2",
    "street3",
    "city",
    "state",
    "postal_code",
    "country_code",
    "phone",
    "email",
    "residential",
    "latitude",
    "longitude",
)
_PARCEL_COLUMNS = {
    "weight": ("weight", "value"),
    "weight_unit": ("weight", "unit"),
    "length": ("dimensions", "length"),
    "width": ("dimensions", "width"),
    "height": ("dimensions", "height"),
    "dimension_unit": ("dimensions", "unit"),
    "declared_value": ("declared_value", "amount"),
    "declared_currency": ("declared_value", "currency"),
}
_TOP_COLUMNS = ("key", "reference", "service_level", "promise_date")
METADATA_PREFIX = "metadata."
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}

# Every column a CSV header may name (besides metadata.<name>), and those it must name.
COLUMNS: tuple[str, ...] = (
    *_TOP_COLUMNS,
    *(f"{side}_{name}" for side in ("origin", "destination") for name in _ADDRESS_FIELDS),
    *_PARCEL_COLUMNS,
)
REQUIRED_COLUMNS: tuple[str, ...] = (
    "reference",
    "origin_street1",
    "origin_city",
    "origin_country_code",
    "destination_street1",
    "destination_city",
    "destination_country_code",
    "weight",
    "weight_unit",
    "length",
    "width",
    "height",
    "dimension_unit",
)

# JSON path of a CSV row → its column, for the error paths a CSV uploader can act on.
_COLUMN_OF: dict[str, str] = {
    **{c: c for c in ("reference", "service_level", "promise_date", "key")},
    **{
        f"{side}.{name}": f"{side}_{name}"
        for side in ("origin", "destination")
        for name in _ADDRESS_FIELDS
        if not name.startswith("street")
    },
    **{
        f"{side}.street_lines.{i}": f"{side}_street{i + 1}"
        for side in ("origin", "destination")
        for i in range(3)
    },
    **{f"{side}.street_lines": f"{side}_street1" for side in ("origin", "destination")},
    **{"parcels.0." + ".".join(path): column for column, path in _PARCEL_COLUMNS.items()},
}


def column_of(path: str) -> str | None:
    """The CSV column a JSON error path names (``metadata.<name>`` for metadata), or None."""
    if path in _COLUMN_OF:
        return _COLUMN_OF[path]
    if path.startswith(METADATA_PREFIX):
        return path
    return None


def _unprocessable(detail: str, errors: dict[str, list[str]]) -> Problem:
    return Problem("validation-error", detail, errors=errors)


def from_json(value: Any) -> list[Any]:
    """The rows of a JSON upload ``{"shipments": [...]}``; any other shape is a 422."""
    if not isinstance(value, dict) or not isinstance(value.get("shipments"), list):
        raise _unprocessable(
            'Send {"shipments": [...]}: an object with a list of shipments.',
            {"shipments": ["required: a list of shipments"]},
        )
    unknown = sorted(set(value) - {"shipments"})
    if unknown:
        raise _unprocessable("Unknown fields in the upload.", {name: ["Unknown field."] for name in unknown})
    return list(value["shipments"])


def from_csv(data: bytes) -> list[dict[str, Any]]:
    """The rows of a CSV upload (UTF-8, a header line first) as booking bodies; a bad header is a 422."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _unprocessable("The CSV is not UTF-8.", {"body": [exc.reason]}) from None
    if "\x00" in text:
        raise _unprocessable("The CSV holds U+0000.", {"body": ["U+0000 is not text"]})
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise _unprocessable("The CSV is empty: no header.", {"header": ["required"]}) from None
    except csv.Error as exc:
        raise _unprocessable(f"The CSV cannot be read: {exc}.", {"header": [str(exc)]}) from None
    _check_header(header)
    rows: list[dict[str, Any]] = []
    try:
        for line in reader:
            if not any(cell.strip() for cell in line):
                continue  # a blank line is no row
            if len(line) != len(header):
                rows.append({"__csv_error__": f"{len(line)} cells for {len(header)} columns"})
                continue
            rows.append(_row(dict(zip(header, line, strict=True))))
    except csv.Error as exc:
        raise _unprocessable(
            f"The CSV cannot be read at line {reader.line_num}: {exc}.", {"body": [str(exc)]}
        ) from None
    return rows


def _check_header(header: list[str]) -> None:
    errors: dict[str, list[str]] = {}
    known = set(COLUMNS)
    seen: set[str] = set()
    for position, name in enumerate(header):
        if name in seen:
            errors[f"header.{position}"] = [f"duplicate column {name!r}"]
        seen.add(name)
        if name not in known and not (name.startswith(METADATA_PREFIX) and len(name) > len(METADATA_PREFIX)):
            errors[f"header.{position}"] = [f"unknown column {name!r}"]
    for name in REQUIRED_COLUMNS:
        if name not in seen:
            errors[f"header.{name}"] = ["missing required column"]
    if errors:
        raise _unprocessable("The CSV header is not valid (docs/BULK.md lists the columns).", errors)


def _row(cells: dict[str, str]) -> dict[str, Any]:
    values = {name: cell.strip() for name, cell in cells.items() if cell.strip()}
    body: dict[str, Any] = {name: values[name] for name in _TOP_COLUMNS if name in values}
    for side in ("origin", "destination"):
        address: dict[str, Any] = {}
        streets = [values[f"{side}_street{i}"] for i in (1, 2, 3) if f"{side}_street{i}" in values]
        if streets:
            address["street_lines"] = streets
        for name in _ADDRESS_FIELDS:
            if not name.startswith("street") and f"{side}_{name}" in values:
                address[name] = values[f"{side}_{name}"]
        if "residential" in address:  # a JSON boolean; any other word is left to fail validation
            address["residential"] = _BOOLEANS.get(address["residential"].lower(), address["residential"])
        body[side] = address
    parcel: dict[str, dict[str, str]] = {}
    for column, (group, member) in _PARCEL_COLUMNS.items():
        if column in values:
            parcel.setdefault(group, {})[member] = values[column]
    body["parcels"] = [parcel]
    metadata = {
        name[len(METADATA_PREFIX) :]: value
        for name, value in values.items()
        if name.startswith(METADATA_PREFIX)
    }
    if metadata:
        body["metadata"] = metadata
    return body
