"""FedEx invoice CSV (FedEx Billing Online "All Columns" download): a header row, one row per tracking ID.

Each row carries the transportation charge and up to 25 ``Tracking ID Charge Description`` /
``Tracking ID Charge Amount`` pairs. A row becomes one canonical line for the transportation
charge (net of the discounts FedEx lists as pairs: earned, grace, performance pricing) and one
line per other charge pair, all with the row's number. ``Net Charge Amount``, when present, must
equal the sum of the row's charges, or the row is reported.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from decimal import Decimal

from gateway.reconciliation.parsers import LayoutError, Line, RowError, charges, csv_header, csv_rows, values

REQUIRED = ("invoice number", "express or ground tracking id", "transportation charge amount")
CHARGE_DESCRIPTION = "tracking id charge description"
CHARGE_AMOUNT = "tracking id charge amount"
_CURRENCY_HEADERS = ("currency code", "currency", "invoice currency code")


class _Columns:
    def __init__(self, header: list[str]) -> None:
        names = [h.strip().lower() for h in header]
        self.index: dict[str, int] = {}
        for i, name in enumerate(names):
            self.index.setdefault(name, i)
        missing = [r for r in REQUIRED if r not in self.index]
        if missing:
            raise LayoutError(
                "the FedEx header lacks required columns: " + ", ".join(f"'{m.title()}'" for m in missing)
            )
        descriptions = [i for i, n in enumerate(names) if n == CHARGE_DESCRIPTION]
        amounts = [i for i, n in enumerate(names) if n == CHARGE_AMOUNT]
        if len(descriptions) != len(amounts):
            raise LayoutError("the FedEx header has unpaired Tracking ID Charge Description/Amount columns")
        self.pairs = list(zip(descriptions, amounts, strict=True))
        self.currency = next((self.index[h] for h in _CURRENCY_HEADERS if h in self.index), None)

    def get(self, cells: list[str], name: str) -> str:
        i = self.index.get(name)
        return cells[i] if i is not None and i < len(cells) else ""


def _lines(row: int, cells: list[str], cols: _Columns) -> list[Line]:
    invoice_number = cols.get(cells, "invoice number").strip()
    if not invoice_number:
        raise ValueError("Invoice Number is empty")
    tracking = cols.get(cells, "express or ground tracking id").strip()
    if not tracking:
        raise ValueError("Express or Ground Tracking ID is empty")
    currency = values.currency(
        cells[cols.currency] if cols.currency is not None and cols.currency < len(cells) else "", "USD"
    )
    transport = values.amount(cols.get(cells, "transportation charge amount"), "Transportation Charge Amount")
    pairs: list[tuple[str, Decimal]] = []
    for d, a in cols.pairs:
        description = cells[d].strip() if d < len(cells) else ""
        raw_amount = cells[a] if a < len(cells) else ""
        if not description and not raw_amount.strip():
            continue
        if not description:
            raise ValueError(f"a charge amount {raw_amount.strip()!r} has no Tracking ID Charge Description")
        pairs.append((description, values.amount(raw_amount, f"charge {description!r}")))
    discounts = sum((amt for desc, amt in pairs if charges.fedex_is_discount(desc)), Decimal(0))
    total = transport + sum((amt for _, amt in pairs), Decimal(0))
    net_text = cols.get(cells, "net charge amount")
    if net_text.strip():
        net = values.amount(net_text, "Net Charge Amount")
        if net != total:
            raise ValueError(f"Net Charge Amount {net} is not the sum of its charges {total}")
    weight, weight_unit = values.weight(
        values.optional_decimal(cols.get(cells, "rated weight amount"), "Rated Weight Amount"),
        values.weight_unit(cols.get(cells, "rated weight units"), default="lb"),
    )
    dims = [
        values.optional_decimal(cols.get(cells, f"dim {side}"), f"Dim {side.title()}")
        for side in ("length", "width", "height")
    ]
    has_dims = all(d is not None and d > 0 for d in dims)
    dim_unit = values.length_unit(cols.get(cells, "dim unit"), default="in") if has_dims else None
    service = (cols.get(cells, "service type") or cols.get(cells, "ground service")).strip() or None
    common = {
        "row": row,
        "invoice_number": invoice_number,
        "tracking_number": tracking,
        "currency": currency,
        "zone": (cols.get(cells, "zone code") or cols.get(cells, "zone")).strip() or None,
        "service": service[:100] if service else None,
        "ship_date": values.parse_date(cols.get(cells, "shipment date"), "Shipment Date"),
        "invoice_date": values.parse_date(cols.get(cells, "invoice date"), "Invoice Date"),
        "account_number": cols.get(cells, "bill to account number").strip() or None,
    }
    base_amount = transport + discounts
    out = [
        Line(
            charge_code="TRANSPORTATION",
            charge_class=charges.REFUND if base_amount < 0 else charges.BASE,
            description="Transportation charge" + (f" (net of discounts {discounts})" if discounts else ""),
            amount=base_amount,
            billed_weight=weight,
            weight_unit=weight_unit if weight is not None else None,
            weight_type=("dimensional" if has_dims and weight is not None else "actual")
            if weight is not None
            else None,
            length=dims[0] if has_dims else None,
            width=dims[1] if has_dims else None,
            height=dims[2] if has_dims else None,
            dimension_unit=dim_unit,
            **common,  # type: ignore[arg-type]  # common: the fields every line shares, of mixed types
        )
    ]
    for description, amount in pairs:
        if charges.fedex_is_discount(description) or amount == 0:
            continue
        cls = charges.fedex_class(description)
        if amount < 0 and cls not in (charges.REFUND, charges.TAX):
            cls = charges.REFUND
        out.append(
            Line(
                charge_code=charges.fedex_code(description),
                charge_class=cls,
                description=description[:200],
                amount=amount,
                **common,  # type: ignore[arg-type]  # common: the fields every line shares, of mixed types
            )
        )
    return out


def looks_like(cells: list[str]) -> bool:
    """Whether a first row is a FedEx invoice CSV header (it names the tracking ID column)."""
    return any(c.strip().lower() == "express or ground tracking id" for c in cells)


def parse(lines: Iterable[str]) -> Iterator[Line | RowError]:
    """Yield canonical lines for each FedEx row, or a RowError per unreadable row."""
    reader = csv.reader(lines)
    cols = _Columns(csv_header(reader))
    for record in csv_rows(reader):
        if isinstance(record, RowError):
            yield record
            continue
        row, cells = record
        try:
            yield from _lines(row, cells, cols)
        except ValueError as exc:
            yield RowError(row, str(exc))
