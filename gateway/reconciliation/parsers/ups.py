"""UPS Billing Data CSV: headerless, one row per charge line, ~250 positional columns.

Column positions (0-based) are those of the UPS Billing Data dictionary (version 2.1). Only the
columns reconciliation needs are read; rows may be shorter than 250 columns as long as they
reach ``Net Amount``. A header row added by hand (first cell "Version") is skipped.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator

from gateway.reconciliation.parsers import Line, RowError, charges, records, values

VERSION = 0
ACCOUNT_NUMBER = 2
INVOICE_DATE = 4
INVOICE_NUMBER = 5
INVOICE_CURRENCY = 9
TRANSACTION_DATE = 11
LEAD_SHIPMENT_NUMBER = 13
TRACKING_NUMBER = 20
BILLED_WEIGHT = 28
BILLED_WEIGHT_UNIT = 29
BILLED_WEIGHT_TYPE = 31
PACKAGE_DIMENSIONS = 32
ZONE = 33
CHARGE_CATEGORY = 34
CHARGE_CATEGORY_DETAIL = 35
CHARGE_CLASSIFICATION = 43
CHARGE_DESCRIPTION_CODE = 44
CHARGE_DESCRIPTION = 45
TRANSACTION_CURRENCY = 50
INCENTIVE_AMOUNT = 51
NET_AMOUNT = 52
SHIPMENT_DATE = 116
PACKAGE_DIMENSION_UNIT = 195
MIN_COLUMNS = NET_AMOUNT + 1

# Billed Weight Type values meaning the weight came from the package's dimensions.
_DIMENSIONAL_TYPES = frozenset({"2", "7", "9", "10", "11"})


def looks_like(cells: list[str]) -> bool:
    """Whether a first row looks like UPS Billing Data (a version number, or the header)."""
    if len(cells) < MIN_COLUMNS:
        return False
    first = cells[0].strip()
    if first.lower() == "version":
        return True
    head, _, tail = first.partition(".")
    return head.isdigit() and (tail == "" or tail.isdigit()) and cells[INVOICE_NUMBER].strip() != ""


def _cell(cells: list[str], index: int) -> str:
    return cells[index] if index < len(cells) else ""


@functools.lru_cache(maxsize=4096)
def _charge(category: str, detail: str, classification: str, description_code: str) -> tuple[str, str, str]:
    """(category, class, code) of a charge from its four code columns (a file repeats a few dozen combinations)."""
    category, detail = category.strip().upper(), detail.strip().upper()
    classification, description_code = classification.strip().upper(), description_code.strip().upper()
    cls = charges.ups_class(category, detail, classification, description_code)
    code = description_code or classification or detail or category or "MISC"
    if detail in charges.UPS_DETAIL_CODES:
        code = f"{detail}/{code}" if code != detail else detail
    return category, cls, code[:32]


def _line(row: int, cells: list[str]) -> Line:
    if len(cells) < MIN_COLUMNS:
        raise ValueError(
            f"has {len(cells)} columns; UPS Billing Data rows reach Net Amount at column {MIN_COLUMNS}"
        )
    invoice_number = cells[INVOICE_NUMBER].strip()
    if not invoice_number:
        raise ValueError("Invoice Number is empty")
    category, cls, code = _charge(
        cells[CHARGE_CATEGORY],
        cells[CHARGE_CATEGORY_DETAIL],
        cells[CHARGE_CLASSIFICATION],
        cells[CHARGE_DESCRIPTION_CODE],
    )
    tracking = cells[TRACKING_NUMBER].strip() or cells[LEAD_SHIPMENT_NUMBER].strip() or None
    if tracking is None and category != "MIS":
        raise ValueError("Tracking Number is empty on a shipment charge (only MIS lines may have none)")
    transaction_currency = cells[TRANSACTION_CURRENCY]
    currency = values.currency(
        transaction_currency if transaction_currency.strip() else cells[INVOICE_CURRENCY]
    )
    amount = values.amount(cells[NET_AMOUNT], "Net Amount")  # net of the incentive: what is owed
    weight, weight_unit = values.weight(
        values.optional_decimal(cells[BILLED_WEIGHT], "Billed Weight"),
        values.weight_unit(cells[BILLED_WEIGHT_UNIT], default="lb"),
    )
    dims = values.dimensions(cells[PACKAGE_DIMENSIONS])
    dim_unit = values.length_unit(_cell(cells, PACKAGE_DIMENSION_UNIT), default="in") if dims else None
    ship_date = values.parse_date(_cell(cells, SHIPMENT_DATE), "Shipment Date") or values.parse_date(
        cells[TRANSACTION_DATE], "Transaction Date"
    )
    description = cells[CHARGE_DESCRIPTION].strip()
    return Line(
        row,
        invoice_number,
        tracking,
        code,
        cls,
        description[:200],
        amount,
        currency,
        weight,
        weight_unit if weight is not None else None,
        ("dimensional" if cells[BILLED_WEIGHT_TYPE].strip() in _DIMENSIONAL_TYPES else "actual")
        if weight is not None
        else None,
        dims[0] if dims else None,
        dims[1] if dims else None,
        dims[2] if dims else None,
        dim_unit,
        cells[ZONE].strip() or None,
        description[:100] if cls == charges.BASE and description else None,
        ship_date,
        values.parse_date(cells[INVOICE_DATE], "Invoice Date"),
        cells[ACCOUNT_NUMBER].strip() or None,
    )


def parse(lines: Iterable[str]) -> Iterator[Line | RowError]:
    """Yield one Line per UPS charge row, or a RowError saying why a row cannot be read."""
    for record in records(lines):
        if isinstance(record, RowError):
            yield record
            continue
        row, cells = record
        if len(cells) <= 1 and not (cells and cells[0].strip()):
            continue  # a blank line
        if cells[0].strip().lower() == "version":
            continue  # a header row someone added
        try:
            yield _line(row, cells)
        except ValueError as exc:
            yield RowError(row, str(exc))
