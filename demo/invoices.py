"""Partners bill the day: invoices built from what was booked, with the mistakes carriers make.

Each shipment's charges are its frozen quote's lines, written in the carrier's own invoice layout:
UPS's headerless Billing Data file (version 2.1 column positions, as
``gateway/reconciliation/parsers/ups.py`` reads them) and FedEx's Billing Online CSV (a header row,
one row per tracking ID with its charges as description/amount pairs, as
``gateway/reconciliation/parsers/fedex.py`` reads them). A seeded few get what audit firms find on
real invoices: a re-weigh, re-measured dimensions, another zone, a base price off the contract, a
fuel surcharge at the wrong percentage, a residential surcharge on a business address, an address
correction, a line billed twice, labels that were voided, parcels the own fleet delivered, and
tracking numbers nobody shipped. ``injected`` lists them, so the report can show what
reconciliation caught. The mistakes are drawn the same way whatever the layout.
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
from typing import Any, Protocol

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
# A live quote holds no zone, billable weight or fuel percentage (a carrier's rate reply is a price, not
# its workings), so on a live-rated shipment these show only as a total above the quote.
LIVE_TOTAL_ONLY = frozenset({"weight_over_declared", "zone_mismatch", "base_rate_mismatch", "fuel_mismatch"})


# The gateway's default GATEWAY_RECON_TOTAL_TOLERANCE_PERCENT: a total this close to its quote is not flagged.
TOTAL_TOLERANCE_PERCENT = Decimal(2)


def reconciliation_class(mistake: str, quote: Mapping[str, Any] | None, over: Decimal) -> str:
    """The class reconciliation can find ``mistake`` under, given the quote it is checked against.

    On a live quote it is the total above the quote, or ``within_tolerance`` when that is no more than
    the tolerance: reconciliation rightly lets it pass, and the report shows it beside the rest.
    """
    if quote is not None and quote.get("source") == "live" and mistake in LIVE_TOTAL_ONLY:
        total = Decimal(str(quote["total_cost"]["amount"]))
        if over * 100 <= total * TOTAL_TOLERANCE_PERCENT:
            return "within_tolerance"
        return "total_over_quote"
    return RECONCILIATION_CLASS.get(mistake, mistake)


@dataclass
class InvoiceDoc:
    csv: str
    lines: int
    shipments: int
    injected: list[dict[str, Any]] = field(default_factory=list)


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT, ROUND_HALF_EVEN))


# Quote line codes of a fuel surcharge: a card's FSC, FedEx's FUEL.
FUEL_CODES = ("FSC", "FUEL")


def _fuel_percent(lines: list[dict[str, Any]]) -> Decimal | None:
    for line in lines:
        if line["code"] in FUEL_CODES:
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


class _UpsWriter:
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
        description: str | None = None,
    ) -> None:
        classification, desc_code, text = UPS_CODES.get(code, ("ACC", code, description or code.title()))
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

    @property
    def lines(self) -> int:
        return len(self.rows)

    def text(self) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(self.rows)
        return buffer.getvalue()


# How a quote line code appears on a FedEx invoice (FedEx writes descriptions, never codes); a code not
# here keeps the quote line's own description, which for a live FedEx quote is FedEx's.
FEDEX_DESCRIPTIONS: dict[str, str] = {
    "FSC": "Fuel Surcharge",
    "FUEL": "Fuel Surcharge",
    "RES": "Residential Delivery Charge",
    "RESIDENTIAL_DELIVERY": "Residential Delivery Charge",
    "DAS": "Delivery Area Surcharge",
    "EDAS": "Delivery Area Surcharge Extended",
    "DELIVERY_AREA": "Delivery Area Surcharge",
    "AHS": "Additional Handling Surcharge",
    "ADDITIONAL_HANDLING": "Additional Handling Surcharge",
    "LPS": "Oversize Charge",
    "SIG": "Direct Signature Required",
    "SAT": "Saturday Delivery",
    "DV": "Declared Value Charge",
    "ADC": "Address Correction",
}
FEDEX_PAIRS = 25  # "Tracking ID Charge Description/Amount" pairs in an All Columns download
FEDEX_HEADER = [
    "Bill to Account Number", "Invoice Date", "Invoice Number", "Currency Code",
    "Express or Ground Tracking ID", "Shipment Date", "Service Type", "Zone Code",
    "Rated Weight Amount", "Rated Weight Units", "Dim Length", "Dim Width", "Dim Height", "Dim Unit",
    "Transportation Charge Amount", "Net Charge Amount",
] + ["Tracking ID Charge Description", "Tracking ID Charge Amount"] * FEDEX_PAIRS  # fmt: skip


@dataclass
class _FedexRow:
    tracking: str
    ship_date: date
    transport: Decimal | None = None
    weight: str = ""
    dims: str = ""
    zone: str = ""
    service: str = ""
    pairs: list[tuple[str, Decimal]] = field(default_factory=list)


class _FedexWriter:
    """One row per tracking ID: the base charge is its transportation charge, the rest charge pairs."""

    def __init__(self, invoice_number: str, account: str, invoice_date: date, ship_date: date) -> None:
        self.rows: list[_FedexRow] = []
        self.invoice_number, self.account = invoice_number, account
        self.invoice_date, self.ship_date = invoice_date, ship_date
        self.lines = 0

    def row(
        self,
        tracking: str,
        amount: Decimal,
        code: str,
        *,
        weight: str = "",
        dims: str = "",
        zone: str = "",
        service: str = "",
        description: str | None = None,
        category: str = "SHP",  # UPS's charge category and weight type: no FedEx column holds them
        detail: str = "",
        weight_type: str = "1",
    ) -> None:
        self.lines += 1
        latest = next((r for r in reversed(self.rows) if r.tracking == tracking), None)
        if code in ("BASE", "TOTAL"):
            # A second base charge for one tracking ID is a second row: a duplicate, as FedEx bills one.
            if latest is None or latest.transport is not None:
                latest = _FedexRow(tracking, self.ship_date)
                self.rows.append(latest)
            latest.transport = amount
            latest.weight, latest.dims, latest.zone, latest.service = weight, dims, zone, service
            return
        if latest is None or len(latest.pairs) >= FEDEX_PAIRS:
            latest = _FedexRow(tracking, self.ship_date)
            self.rows.append(latest)
        latest.pairs.append((FEDEX_DESCRIPTIONS.get(code) or description or code.title(), amount))

    def text(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(FEDEX_HEADER)
        for r in self.rows:
            transport = r.transport or Decimal(0)
            sides = r.dims.split("x") if r.dims else ["", "", ""]
            cells = [
                self.account, self.invoice_date.isoformat(), self.invoice_number, "USD", r.tracking,
                r.ship_date.isoformat(), r.service, r.zone, r.weight, "LB" if r.weight else "",
                *sides, "IN" if r.dims else "", _money(transport),
                _money(transport + sum((a for _, a in r.pairs), Decimal(0))),
            ]  # fmt: skip
            for description, amount in r.pairs:
                cells += [description, _money(amount)]
            writer.writerow(cells)
        return buffer.getvalue()


def _inches(order: day.Order) -> tuple[Decimal, Decimal, Decimal]:
    # Rounded down to 0.1 in, so a correctly measured parcel never looks bigger than declared.
    return tuple(  # type: ignore[return-value]
        (Decimal(side) / Decimal("2.54")).quantize(Decimal("0.1"), rounding="ROUND_DOWN")
        for side in order.dims_cm
    )


class _Writer(Protocol):
    ship_date: date

    @property
    def lines(self) -> int: ...

    def row(
        self,
        tracking: str,
        amount: Decimal,
        code: str,
        *,
        category: str = ...,
        detail: str = ...,
        weight: str = ...,
        weight_type: str = ...,
        dims: str = ...,
        zone: str = ...,
        service: str = ...,
        description: str | None = ...,
    ) -> None: ...

    def text(self) -> str: ...


class _Build(Protocol):
    def __call__(
        self,
        billed: list[day.Order],
        *,
        fleet: list[day.Order],
        invoice_number: str,
        account: str,
        invoice_date: date,
        seed: str,
        mistakes: Mapping[str, str] | None = None,
    ) -> InvoiceDoc: ...


def _invoice_in(
    writer: Callable[[str, str, date, date], _Writer], unknown: Callable[[random.Random], str], ground: str
) -> _Build:
    """An invoice builder for one layout: its writer, how its unknown tracking numbers look, its ground service.

    The builder returns the invoice for ``billed`` shipments with seeded mistakes listed in ``injected``.
    ``mistakes`` (shipment id -> mistake) replaces the seeded draw, so a test can bill each kind once;
    a mistake the shipment's quote cannot carry (a base-line one on a live total) is left out.
    """

    def build(
        billed: list[day.Order],
        *,
        fleet: list[day.Order],
        invoice_number: str,
        account: str,
        invoice_date: date,
        seed: str,
        mistakes: Mapping[str, str] | None = None,
    ) -> InvoiceDoc:
        out = writer(invoice_number, account, invoice_date, invoice_date)
        return _bill(out, billed, fleet=fleet, seed=seed, mistakes=mistakes, unknown=unknown, ground=ground)

    return build


def _bill(
    out: _Writer,
    billed: list[day.Order],
    *,
    fleet: list[day.Order],
    seed: str,
    mistakes: Mapping[str, str] | None,
    unknown: Callable[[random.Random], str],
    ground: str,
) -> InvoiceDoc:
    rng = random.Random(f"invoice:{seed}")
    ship_date = out.ship_date
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
        fuel = next((code for code in amounts if code in FUEL_CODES), None)
        descriptions = {line["code"]: line["description"] for line in lines}
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
            if pct is not None and fuel is not None:
                before = amounts[fuel]
                fuel_base = amounts[fuel] * 100 / pct + bump
                amounts[fuel] = (fuel_base * pct / 100).quantize(CENT, ROUND_HALF_EVEN)
                over += amounts[fuel] - before
        if mistake == "dimensions_over_declared":
            base_kw["dims"] = (
                f"{length + rng.randint(4, 9)}x{width + rng.randint(2, 6)}x{height + rng.randint(2, 5)}"
            )
            base_kw["weight_type"] = "9"
        if mistake == "fuel_mismatch" and fuel is not None:
            bump = Decimal(rng.randint(35, 120)) / 100
            amounts[fuel] += bump
            over += bump
        elif mistake == "fuel_mismatch":
            mistake = None
        for code, amount in amounts.items():
            if code in ("BASE", "TOTAL"):
                out.row(order.tracking_number, amount, code, **base_kw)
            else:
                out.row(order.tracking_number, amount, code, description=descriptions.get(code))
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
                    "kind": reconciliation_class(mistake, quote, over),
                    "mistake": mistake,
                    "shipment_id": order.shipment_id,
                    "tracking_number": order.tracking_number,
                    "over": _money(over),
                }
            )
    # A UPS charge for parcels our own vans delivered, and two tracking numbers nobody shipped.
    for order in rng.sample(fleet, k=min(2, len(fleet))):
        amount = Decimal(rng.randint(890, 1480)) / 100
        out.row(order.tracking_number or "", amount, "BASE", service=ground)
        injected.append(
            {
                "kind": "fleet_delivered",
                "shipment_id": order.shipment_id,
                "tracking_number": order.tracking_number,
                "over": _money(amount),
            }
        )
    for _ in range(2):
        number = unknown(rng)
        amount = Decimal(rng.randint(1100, 2400)) / 100
        out.row(number, amount, "BASE", service=ground)
        injected.append(
            {
                "kind": "unknown_tracking",
                "shipment_id": None,
                "tracking_number": number,
                "over": _money(amount),
            }
        )
    return InvoiceDoc(csv=out.text(), lines=out.lines, shipments=shipments, injected=injected)


# UPS's Billing Data file and FedEx's Billing Online CSV, with the same seeded mistakes.
ups_invoice = _invoice_in(_UpsWriter, lambda rng: f"1ZH4ND0F{rng.randint(10**9, 10**10 - 1)}", "UPS Ground")
fedex_invoice = _invoice_in(
    _FedexWriter,
    lambda rng: str(rng.randint(10**11, 10**12 - 1)),
    "FedEx Ground",  # 12-digit numbers
)


@dataclass(frozen=True)
class Layout:
    """An invoice layout the demo can write: how to build a file, and the account its carrier bills."""

    build: Callable[..., InvoiceDoc]
    account: str


# The layouts the demo writes, by the gateway's layout name (``format`` of ``POST /v1/invoices``). A
# carrier is billed when its layout is here (``demo.carriers.invoice_layout``); the rest are not.
LAYOUTS: dict[str, Layout] = {
    # the accounts the launcher configures for the simulator
    "ups": Layout(ups_invoice, account="H4ND0F"),
    "fedex": Layout(fedex_invoice, account="740561073"),
}
