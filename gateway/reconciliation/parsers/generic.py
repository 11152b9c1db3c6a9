"""A generic CSV invoice read through a column mapping that finance saves per carrier.

The mapping (validated by ``gateway.reconciliation.schemas.ColumnMappingSchema``) names, for each canonical
field, the header of the column holding it, plus parsing options::

    {
      "columns": {"invoice_number": "Invoice", "tracking_number": "Tracking", "charge_code": "Code",
                  "amount": "Amount", "currency": "Currency", "billed_weight": "Weight", ...},
      "codes": {"FRT": "base", "FUEL": "fuel", "RESI": "residential"},   # carrier code -> class
      "delimiter": ",", "decimal_separator": ".", "date_format": "%Y-%m-%d",
      "currency": "USD", "weight_unit": "lb", "dimension_unit": "in"
    }

``invoice_number``, ``tracking_number``, ``charge_code`` and ``amount`` are required. A code the
mapping does not list is classified by ``charges.COMMON_CODES``, else ``other``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from gateway.reconciliation.parsers import LayoutError, Line, RowError, charges, csv_header, csv_rows, values
from gateway.reconciliation.schemas import MAPPABLE_FIELDS, REQUIRED_MAPPED_FIELDS


def _classify(code: str, given: str, codes: Mapping[str, str]) -> str:
    if given:
        cls = given.strip().lower()
        if cls not in charges.CLASSES:
            raise ValueError(f"charge class {given.strip()!r} is not one of {', '.join(charges.CLASSES)}")
        return cls
    upper = code.upper()
    return codes.get(upper) or charges.COMMON_CODES.get(upper) or charges.OTHER


def parse(lines: Iterable[str], mapping: Mapping[str, Any]) -> Iterator[Line | RowError]:
    """Yield canonical lines of a mapped CSV, or a RowError per unreadable row."""
    columns: Mapping[str, str] = mapping.get("columns") or {}
    codes = {str(k).upper(): str(v) for k, v in (mapping.get("codes") or {}).items()}
    delimiter = mapping.get("delimiter") or ","
    decimal_separator = mapping.get("decimal_separator") or "."
    date_format = mapping.get("date_format") or None
    default_currency = mapping.get("currency") or None
    default_weight_unit = mapping.get("weight_unit") or "lb"
    default_dim_unit = mapping.get("dimension_unit") or "in"
    reader = csv.reader(lines, delimiter=delimiter)
    header = [h.strip() for h in csv_header(reader)]
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    position = {name: i for i, name in reversed(list(enumerate(header)))}
    index: dict[str, int] = {}
    missing = []
    for field in MAPPABLE_FIELDS:  # the list the upload API validates mappings against
        name = columns.get(field)
        if not name:
            if field in REQUIRED_MAPPED_FIELDS:
                missing.append(f"{field} (not mapped)")
            continue
        if name not in position:
            missing.append(f"{field} (column {name!r} not in the header)")
            continue
        index[field] = position[name]
    if missing:
        raise LayoutError("the mapping does not fit this file: " + "; ".join(missing))

    def cell(cells: list[str], field: str) -> str:
        i = index.get(field)
        return cells[i] if i is not None and i < len(cells) else ""

    for record in csv_rows(reader):
        if isinstance(record, RowError):
            yield record
            continue
        row, cells = record
        try:
            invoice_number = cell(cells, "invoice_number").strip()
            if not invoice_number:
                raise ValueError(f"{columns['invoice_number']} is empty")
            tracking = cell(cells, "tracking_number").strip()
            if not tracking:
                raise ValueError(f"{columns['tracking_number']} is empty")
            code = cell(cells, "charge_code").strip()
            if not code:
                raise ValueError(f"{columns['charge_code']} is empty")
            currency = values.currency(cell(cells, "currency"), default_currency)
            weight, weight_unit = values.weight(
                values.optional_decimal(cell(cells, "billed_weight"), "billed weight"),
                values.weight_unit(cell(cells, "weight_unit"), default=default_weight_unit),
            )
            sides = [values.optional_decimal(cell(cells, f), f) for f in ("length", "width", "height")]
            has_dims = all(s is not None and s > 0 for s in sides)
            weight_type = cell(cells, "weight_type").strip().lower() or None
            if weight_type not in (None, "actual", "dimensional"):
                raise ValueError(f"weight type {weight_type!r} is not actual or dimensional")
            yield Line(
                row=row,
                invoice_number=invoice_number[:64],
                tracking_number=tracking[:64],
                charge_code=code[:32],
                charge_class=_classify(code, cell(cells, "charge_class"), codes),
                description=(cell(cells, "description").strip() or code)[:200],
                amount=values.amount(cell(cells, "amount"), "amount", decimal_separator=decimal_separator),
                currency=currency,
                billed_weight=weight,
                weight_unit=weight_unit if weight is not None else None,
                weight_type=weight_type if weight is not None else None,
                length=sides[0] if has_dims else None,
                width=sides[1] if has_dims else None,
                height=sides[2] if has_dims else None,
                dimension_unit=values.length_unit(cell(cells, "dimension_unit"), default=default_dim_unit)
                if has_dims
                else None,
                zone=cell(cells, "zone").strip() or None,
                service=cell(cells, "service").strip()[:100] or None,
                ship_date=values.parse_date(cell(cells, "ship_date"), "ship date", date_format),
                invoice_date=values.parse_date(cell(cells, "invoice_date"), "invoice date", date_format),
                account_number=cell(cells, "account_number").strip()[:64] or None,
            )
        except ValueError as exc:
            yield RowError(row, str(exc))
