"""Builders of realistic carrier invoice files for the reconciliation tests (and the benchmark's shape).

UPS Billing Data rows are 250 positional columns, headerless; FedEx rows follow a header with
repeating ``Tracking ID Charge Description``/``Amount`` pairs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from gateway.reconciliation.parsers import ups

UPS_WIDTH = 250


def ups_row(
    *,
    invoice_number: str,
    tracking: str,
    amount: Decimal | str,
    classification: str = "FRT",
    description_code: str = "",
    description: str = "",
    category: str = "SHP",
    detail: str = "",
    weight: str = "",
    weight_unit: str = "L",
    weight_type: str = "1",
    dimensions: str = "",
    zone: str = "",
    ship_date: date | None = date(2026, 3, 2),
    invoice_date: date = date(2026, 3, 9),
    currency: str = "USD",
    account: str = "0000A1B2C3",
    incentive: str = "0.00",
) -> list[str]:
    """One UPS Billing Data charge row (version 2.1 column positions)."""
    cells = [""] * UPS_WIDTH
    cells[ups.VERSION] = "2.1"
    cells[1] = account
    cells[ups.ACCOUNT_NUMBER] = account
    cells[3] = "US"
    cells[ups.INVOICE_DATE] = invoice_date.isoformat()
    cells[ups.INVOICE_NUMBER] = invoice_number
    cells[6] = "E"
    cells[ups.INVOICE_CURRENCY] = currency
    cells[ups.TRANSACTION_DATE] = (ship_date or invoice_date).isoformat()
    cells[ups.LEAD_SHIPMENT_NUMBER] = tracking
    cells[17] = "P/P"
    cells[18] = "1"
    cells[ups.TRACKING_NUMBER] = tracking
    cells[ups.BILLED_WEIGHT] = weight
    cells[ups.BILLED_WEIGHT_UNIT] = weight_unit if weight else ""
    cells[30] = "PKG"
    cells[ups.BILLED_WEIGHT_TYPE] = weight_type if weight else ""
    cells[ups.PACKAGE_DIMENSIONS] = dimensions
    cells[ups.ZONE] = zone
    cells[ups.CHARGE_CATEGORY] = category
    cells[ups.CHARGE_CATEGORY_DETAIL] = detail or category
    cells[ups.CHARGE_CLASSIFICATION] = classification
    cells[ups.CHARGE_DESCRIPTION_CODE] = description_code
    cells[ups.CHARGE_DESCRIPTION] = description
    cells[ups.TRANSACTION_CURRENCY] = currency
    cells[ups.INCENTIVE_AMOUNT] = incentive
    cells[ups.NET_AMOUNT] = str(amount)
    if ship_date is not None:
        cells[ups.SHIPMENT_DATE] = ship_date.isoformat()
    if dimensions:
        cells[ups.PACKAGE_DIMENSION_UNIT] = "IN"
    return cells


# How a quote line code of the sample UPS cards appears on a UPS invoice.
UPS_CODES: dict[str, dict[str, str]] = {
    "BASE": {"classification": "FRT", "description_code": "", "description": "Ground Commercial"},
    "FSC": {"classification": "FSC", "description_code": "FSC", "description": "Fuel Surcharge"},
    "RES": {"classification": "ACC", "description_code": "RES", "description": "Residential Surcharge"},
    "DAS": {"classification": "ACC", "description_code": "RDR", "description": "Delivery Area Surcharge"},
    "EDAS": {"classification": "ACC", "description_code": "EDR", "description": "Extended Area Surcharge"},
    "AHS": {"classification": "ACC", "description_code": "AHS", "description": "Additional Handling"},
    "LPS": {"classification": "ACC", "description_code": "LPS", "description": "Large Package Surcharge"},
    "SIG": {
        "classification": "ACC",
        "description_code": "SIG",
        "description": "Delivery Confirmation Signature",
    },
    "SAT": {"classification": "ACC", "description_code": "SAT", "description": "Saturday Delivery"},
    "DV": {"classification": "ACC", "description_code": "DVL", "description": "Declared Value"},
}


def to_csv(rows: Iterable[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue().encode()


FEDEX_HEADER = [
    "Bill to Account Number",
    "Invoice Date",
    "Invoice Number",
    "Store ID",
    "Original Amount Due",
    "Current Balance",
    "Payor",
    "Ground Tracking ID Prefix",
    "Express or Ground Tracking ID",
    "Transportation Charge Amount",
    "Net Charge Amount",
    "Service Type",
    "Ground Service",
    "Shipment Date",
    "POD Delivery Date",
    "POD Delivery Time",
    "Actual Weight Amount",
    "Actual Weight Units",
    "Rated Weight Amount",
    "Rated Weight Units",
    "Number of Pieces",
    "Dim Length",
    "Dim Width",
    "Dim Height",
    "Dim Divisor",
    "Dim Unit",
    "Recipient Zip Code",
    "Zone Code",
] + [name for _ in range(4) for name in ("Tracking ID Charge Description", "Tracking ID Charge Amount")]


def fedex_row(
    *,
    invoice_number: str,
    tracking: str,
    transport: str,
    charges: Sequence[tuple[str, str]] = (),
    net: str | None = None,
    service: str = "FedEx Ground",
    weight: str = "3",
    zone: str = "02",
    dims: tuple[str, str, str] = ("12", "9", "4"),
) -> list[str]:
    pairs = list(charges) + [("", "")] * (4 - len(charges))
    total = Decimal(transport) + sum((Decimal(a) for _, a in charges), Decimal(0))
    return [
        "123456789",
        "2026-03-09",
        invoice_number,
        "",
        "",
        "",
        "Shipper",
        "",
        tracking,
        transport,
        net if net is not None else str(total),
        service,
        "",
        "2026-03-02",
        "2026-03-04",
        "10:12",
        weight,
        "LB",
        weight,
        "LB",
        "1",
        *dims,
        "139",
        "IN",
        "10019",
        zone,
        *[v for pair in pairs for v in pair],
    ]
