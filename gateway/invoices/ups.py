"""UPS Billing Data CSV: headerless, one row per charge line, ~250 positional columns.

Column positions (0-based) are those of the UPS Billing Data dictionary (version 2.1). Only the
columns reconciliation needs are read; rows may be shorter than 250 columns as long as they
reach ``Net Amount``. A header row added by hand (first cell "Version") is skipped.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from gateway.invoices import Line, RowError, charges, values

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


def _line(row: int, cells: list[str]) -> Line:
    if len(cells) < MIN_COLUMNS:
        raise ValueError(
            f"has {len(cells)} columns; UPS Billing Data rows reach Net Amount at column {MIN_COLUMNS}"
        )
    invoice_number = cells[INVOICE_NUMBER].strip()
    if not invoice_number:
        raise ValueError("Invoice Number is empty")
    category = cells[CHARGE_CATEGORY].strip().upper()
    detail = cells[CHARGE_CATEGORY_DETAIL].strip().upper()
    classification = cells[CHARGE_CLASSIFICATION].strip().upper()
    description_code = cells[CHARGE_DESCRIPTION_CODE].strip().upper()
    cls = charges.ups_class(category, detail, classification, description_code)
    tracking = cells[TRACKING_NUMBER].strip() or cells[LEAD_SHIPMENT_NUMBER].strip() or None
    if tracking is None and category != "MIS":
        raise ValueError("Tracking Number is empty on a shipment charge (only MIS lines may have none)")
    currency = (
        values.currency(cells[TRANSACTION_CURRENCY], default=None)
        if cells[TRANSACTION_CURRENCY].strip()
        else (values.currency(cells[INVOICE_CURRENCY]))
    )
    amount = values.amount(cells[NET_AMOUNT], "Net Amount")
    if cells[INCENTIVE_AMOUNT].strip():
        values.amount(cells[INCENTIVE_AMOUNT], "Incentive Amount")  # validated, not stored
    weight, weight_unit = values.weight(
        values.optional_decimal(cells[BILLED_WEIGHT], "Billed Weight"),
        values.weight_unit(cells[BILLED_WEIGHT_UNIT], default="lb"),
    )
    dims = values.dimensions(cells[PACKAGE_DIMENSIONS])
    dim_unit = values.length_unit(_cell(cells, PACKAGE_DIMENSION_UNIT), default="in") if dims else None
    code = description_code or classification or detail or category or "MISC"
    if detail in charges.UPS_DETAIL_CODES:
        code = f"{detail}/{code}" if code != detail else detail
    ship_date = values.parse_date(_cell(cells, SHIPMENT_DATE), "Shipment Date") or values.parse_date(
        cells[TRANSACTION_DATE], "Transaction Date"
    )
    description = cells[CHARGE_DESCRIPTION].strip()
    return Line(
        row=row,
        invoice_number=invoice_number,
        tracking_number=tracking,
        charge_code=code[:32],
        charge_class=cls,
        description=description[:200],
        amount=amount,
        currency=currency,
        billed_weight=weight,
        weight_unit=weight_unit if weight is not None else None,
        weight_type=("dimensional" if cells[BILLED_WEIGHT_TYPE].strip() in _DIMENSIONAL_TYPES else "actual")
        if weight is not None
        else None,
        length=dims[0] if dims else None,
        width=dims[1] if dims else None,
        height=dims[2] if dims else None,
        dimension_unit=dim_unit,
        zone=cells[ZONE].strip() or None,
        service=description[:100] if cls == charges.BASE and description else None,
        ship_date=ship_date,
        invoice_date=values.parse_date(cells[INVOICE_DATE], "Invoice Date"),
        account_number=cells[ACCOUNT_NUMBER].strip() or None,
    )


def parse(lines: Iterable[str]) -> Iterator[Line | RowError]:
    """Yield one Line per UPS charge row, or a RowError saying why a row cannot be read."""
    reader = csv.reader(lines)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RowError(reader.line_num, f"not valid CSV: {exc}")
            continue
        row = reader.line_num
        if not any(c.strip() for c in cells):
            continue  # blank line
        if cells[0].strip().lower() == "version":
            continue  # a header row someone added
        try:
            yield _line(row, cells)
        except ValueError as exc:
            yield RowError(row, str(exc))
