"""UPS bills the day: a Billing Data CSV built from what was booked, with the mistakes carriers make.

Each shipment's rows are its frozen quote's lines, laid out as UPS's headerless Billing Data file
(version 2.1 column positions, as ``gateway/reconciliation/parsers/ups.py`` reads them). A seeded few get what
audit firms find on real invoices: a re-weigh, re-measured dimensions, another zone, a base price
off the contract, a fuel surcharge at the wrong percentage, a residential surcharge on a business
address, an address correction, a line billed twice, labels that were voided, parcels the own
fleet delivered, and tracking numbers nobody shipped. ``injected`` lists them, so the report can
show what reconciliation caught.
"""

from __future__ import annotations

import csv
import io
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from demo import day

WIDTH = 250
VERSION, ACCOUNT, INVOICE_DATE, INVOICE_NUMBER, INVOICE_CURRENCY, TRANSACTION_DATE = 0, 2, 4, 5, 9, 11
LEAD, TRACKING, WEIGHT, WEIGHT_UNIT, WEIGHT_TYPE, DIMS, ZONE = 13, 20, 28, 29, 31, 32, 33
CATEGORY, DETAIL, CLASSIFICATION, DESC_CODE, DESCRIPTION = 34, 35, 43, 44, 45
CURRENCY, INCENTIVE, NET, SHIP_DATE, DIM_UNIT = 50, 51, 52, 116, 195
CENT = Decimal("0.01")

# How a quote line code of a UPS card appears on the invoice: classification, description code, text.
UPS_CODES: dict[str, tuple[str, str, str]] = {
    "BASE": ("FRT", "", "Transportation"),
    "TOTAL": ("FRT", "", "Transportation"),
    "FSC": ("FSC", "FSC", "Fuel Surcharge"),
    "RES": ("ACC", "RES", "Residential Surcharge"),
    "DAS": ("ACC", "RDR", "Delivery Area Surcharge"),
    "EDAS": ("ACC", "EDR", "Extended Area Surcharge"),
    "AHS": ("ACC", "AHS", "Additional Handling"),
    "LPS": ("ACC", "LPS", "Large Package Surcharge"),
    "SIG": ("ACC", "SIG", "Delivery Confirmation Signature"),
    "SAT": ("ACC", "SAT", "Saturday Delivery"),
    "DV": ("ACC", "DVL", "Declared Value"),
    "ADC": ("ACC", "ADC", "Address Correction"),
}
# Share of billed shipments that get each mistake.
MISTAKES: tuple[tuple[str, float], ...] = (
    ("weight_over_declared", 0.015),
    ("dimensions_over_declared", 0.008),
    ("zone_mismatch", 0.008),
    ("base_rate_mismatch", 0.015),
    ("fuel_mismatch", 0.01),
    ("duplicate_charge", 0.01),
    ("address_correction", 0.006),
)


# Mistakes made on the base line: only a quote with a BASE line (a card quote) can carry them.
BASE_MISTAKES = frozenset(kind for kind, _ in MISTAKES) - {"duplicate_charge", "address_correction"}

# The discrepancy class reconciliation files each mistake under, where it is not the mistake's name.
RECONCILIATION_CLASS = {
    "address_correction": "surcharge_not_quoted",
    "residential_on_commercial": "surcharge_not_quoted",
}


@dataclass
class InvoiceDoc:
    csv: str
    lines: int
    shipments: int
    injected: list[dict[str, Any]] = field(default_factory=list)


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT, ROUND_HALF_EVEN))


def _fuel_percent(lines: list[dict[str, Any]]) -> Decimal | None:
    for line in lines:
        if line["code"] == "FSC":
            m = re.search(r"([0-9]+(?:\.[0-9]+)?)\s*%", line.get("description") or "")
            if m:
                return Decimal(m.group(1))
    return None


def quote_of(order: day.Order) -> dict[str, Any] | None:
    """The rate frozen on the shipment: the plan's choice, else the cheapest of its carrier service."""
    for r in order.rates:
        if r["id"] == order.rate_id:
            return r
    same = [r for r in order.rates if r["carrier"] == order.carrier and r["service_code"] == order.service]
    return min(same, key=lambda r: Decimal(r["total_cost"]["amount"]), default=None)


class _Writer:
    def __init__(self, invoice_number: str, account: str, invoice_date: date, ship_date: date) -> None:
        self.rows: list[list[str]] = []
        self.invoice_number, self.account = invoice_number, account
        self.invoice_date, self.ship_date = invoice_date, ship_date

    def row(
        self,
        tracking: str,
        amount: Decimal,
        code: str,
        *,
        category: str = "SHP",
        detail: str = "",
        weight: str = "",
        weight_type: str = "1",
        dims: str = "",
        zone: str = "",
        service: str = "",
    ) -> None:
        classification, desc_code, text = UPS_CODES.get(code, ("ACC", code, code.title()))
        if code in ("BASE", "TOTAL") and service:
            text = service
        c = [""] * WIDTH
        c[VERSION], c[1], c[ACCOUNT], c[3] = "2.1", self.account, self.account, "US"
        c[INVOICE_DATE], c[INVOICE_NUMBER], c[6] = self.invoice_date.isoformat(), self.invoice_number, "E"
        c[INVOICE_CURRENCY], c[TRANSACTION_DATE] = "USD", self.ship_date.isoformat()
        c[LEAD], c[17], c[18], c[TRACKING] = tracking, "P/P", "1", tracking
        if weight:
            c[WEIGHT], c[WEIGHT_UNIT], c[WEIGHT_TYPE] = weight, "L", weight_type
        c[30], c[DIMS], c[ZONE] = "PKG", dims, zone
        c[CATEGORY], c[DETAIL] = category, detail or category
        c[CLASSIFICATION], c[DESC_CODE], c[DESCRIPTION] = classification, desc_code, text
        c[CURRENCY], c[INCENTIVE], c[NET] = "USD", "0.00", _money(amount)
        c[SHIP_DATE] = self.ship_date.isoformat()
        if dims:
            c[DIM_UNIT] = "IN"
        self.rows.append(c)

    def text(self) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(self.rows)
        return buffer.getvalue()


def _inches(order: day.Order) -> tuple[Decimal, Decimal, Decimal]:
    # Rounded down to 0.1 in, so a correctly measured parcel never looks bigger than declared.
    return tuple(  # type: ignore[return-value]
        (Decimal(side) / Decimal("2.54")).quantize(Decimal("0.1"), rounding="ROUND_DOWN")
        for side in order.dims_cm
    )


def ups_invoice(
    billed: list[day.Order],
    *,
    fleet: list[day.Order],
    invoice_number: str,
    account: str,
    invoice_date: date,
    seed: str,
    mistakes: Mapping[str, str] | None = None,
) -> InvoiceDoc:
    """Return the UPS invoice for ``billed`` shipments, with seeded mistakes listed in ``injected``.

    ``mistakes`` (shipment id -> mistake) replaces the seeded draw, so a test can bill each kind once;
    a mistake the shipment's quote cannot carry (a base-line one on a live total) is left out.
    """
    rng = random.Random(f"invoice:{seed}")
    ship_date = invoice_date
    out = _Writer(invoice_number, account, invoice_date, ship_date)
    injected: list[dict[str, Any]] = []
    shipments = 0
    for order in billed:
        quote = quote_of(order)
        if quote is None or not order.tracking_number:
            continue
        shipments += 1
        out.ship_date = ship_date
        lines = [
            {
                "code": line["code"],
                "amount": Decimal(line["cost"]["amount"]),
                "description": line.get("description"),
            }
            for line in quote.get("lines") or []
        ]
        if not lines:
            lines = [{"code": "TOTAL", "amount": Decimal(quote["total_cost"]["amount"]), "description": ""}]
        amounts = {line["code"]: line["amount"] for line in lines}
        pct = _fuel_percent(lines)
        weight = str(quote.get("billable_weight") or "") if quote.get("weight_unit") == "lb" else ""
        zone = str(quote.get("zone") or "")
        length, width, height = _inches(order)
        dims = f"{length}x{width}x{height}"
        base_kw: dict[str, Any] = {
            "weight": weight,
            "dims": dims,
            "zone": zone,
            "service": quote["service_name"],
        }
        mistake = None
        if order.voided:
            mistake = "voided_label"
        elif mistakes is not None:
            mistake = mistakes.get(order.shipment_id or "")
            if mistake in BASE_MISTAKES and "BASE" not in amounts:
                mistake = None
            if mistake == "residential_on_commercial" and (
                "RES" in amounts or order.destination.get("residential") is not False
            ):
                mistake = None
        else:
            roll = rng.random()
            for kind, share in MISTAKES:
                if roll < share and ("BASE" in amounts or kind in ("duplicate_charge", "address_correction")):
                    mistake = kind
                    break
                roll -= share
            if mistake is None and order.destination.get("residential") is False and rng.random() < 0.05:
                mistake = "residential_on_commercial" if "RES" not in amounts else None
        over = Decimal(0)
        if mistake in ("weight_over_declared", "zone_mismatch", "base_rate_mismatch") and "BASE" in amounts:
            bump = {
                "weight_over_declared": Decimal(rng.randint(380, 900)) / 100,
                "zone_mismatch": Decimal(rng.randint(150, 420)) / 100,
                "base_rate_mismatch": Decimal(rng.randint(45, 190)) / 100,
            }[mistake]
            amounts["BASE"] += bump
            over += bump
            if mistake == "weight_over_declared" and weight:
                base_kw["weight"] = str(Decimal(weight) + rng.randint(3, 8))
                base_kw["weight_type"] = "8"
            if mistake == "zone_mismatch":
                base_kw["zone"] = f"{(int(zone) if zone.isdigit() else 2) + rng.randint(1, 3):03d}"
            if pct is not None and "FSC" in amounts:
                before = amounts["FSC"]
                fuel_base = amounts["FSC"] * 100 / pct + bump
                amounts["FSC"] = (fuel_base * pct / 100).quantize(CENT, ROUND_HALF_EVEN)
                over += amounts["FSC"] - before
        if mistake == "dimensions_over_declared":
            base_kw["dims"] = (
                f"{length + rng.randint(4, 9)}x{width + rng.randint(2, 6)}x{height + rng.randint(2, 5)}"
            )
            base_kw["weight_type"] = "9"
        if mistake == "fuel_mismatch" and "FSC" in amounts:
            bump = Decimal(rng.randint(35, 120)) / 100
            amounts["FSC"] += bump
            over += bump
        elif mistake == "fuel_mismatch":
            mistake = None
        for code, amount in amounts.items():
            if code in ("BASE", "TOTAL"):
                out.row(order.tracking_number, amount, code, **base_kw)
            else:
                out.row(order.tracking_number, amount, code)
        if mistake == "duplicate_charge":
            code = "BASE" if "BASE" in amounts else next(iter(amounts))
            out.row(
                order.tracking_number, amounts[code], code, **(base_kw if code in ("BASE", "TOTAL") else {})
            )
            over = amounts[code]
        if mistake == "address_correction":
            over = Decimal("18.50")
            out.row(order.tracking_number, over, "ADC", category="ADJ", detail="ADC")
        if mistake == "residential_on_commercial":
            over = Decimal("3.05")
            out.row(order.tracking_number, over, "RES")
        if mistake == "voided_label":
            over = sum(amounts.values(), Decimal(0))
        if mistake:
            injected.append(
                {
                    "kind": RECONCILIATION_CLASS.get(mistake, mistake),
                    "mistake": mistake,
                    "shipment_id": order.shipment_id,
                    "tracking_number": order.tracking_number,
                    "over": _money(over),
                }
            )
    # A UPS charge for parcels our own vans delivered, and two tracking numbers nobody shipped.
    for order in rng.sample(fleet, k=min(2, len(fleet))):
        amount = Decimal(rng.randint(890, 1480)) / 100
        out.row(order.tracking_number or "", amount, "BASE", service="UPS Ground")
        injected.append(
            {
                "kind": "fleet_delivered",
                "shipment_id": order.shipment_id,
                "tracking_number": order.tracking_number,
                "over": _money(amount),
            }
        )
    for _ in range(2):
        number = f"1ZH4ND0F{rng.randint(10**9, 10**10 - 1)}"
        amount = Decimal(rng.randint(1100, 2400)) / 100
        out.row(number, amount, "BASE", service="UPS Ground")
        injected.append(
            {
                "kind": "unknown_tracking",
                "shipment_id": None,
                "tracking_number": number,
                "over": _money(amount),
            }
        )
    return InvoiceDoc(csv=out.text(), lines=len(out.rows), shipments=shipments, injected=injected)


@dataclass(frozen=True)
class Layout:
    """An invoice layout the demo can write: how to build a file, and the account its carrier bills."""

    build: Callable[..., InvoiceDoc]
    account: str


# The layouts the demo writes, by the gateway's layout name (``format`` of ``POST /v1/invoices``). A
# carrier is billed when its layout is here (``demo.carriers.invoice_layout``); the rest are not.
LAYOUTS: dict[str, Layout] = {
    "ups": Layout(ups_invoice, account="H4ND0F"),  # the account the launcher configures for the simulator
}
