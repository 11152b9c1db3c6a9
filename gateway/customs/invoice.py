"""The commercial invoice as a PDF, rendered from a shipment's customs declaration (pure: no I/O).

A4, the standard PDF fonts (Latin-1; anything else prints as ``?``), one row per item and as many
pages as the items need; rendered with ``invariant`` so the same declaration gives the same bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from adapters import checks
from schemas import money, types

REASONS = {
    "merchandise": "Sale",
    "documents": "Documents",
    "gift": "Gift",
    "sample": "Commercial sample",
    "return": "Return",
}
_ROWS_PER_PAGE = 24


@dataclass(frozen=True)
class Invoice:
    """What a commercial invoice shows besides the declaration."""

    number: str
    date: date
    shipment_id: str
    reference: str
    exporter: tuple[str, ...]  # address lines
    importer: tuple[str, ...]
    carrier: str | None = None
    tracking_number: str | None = None
    pro_forma: bool = False  # rendered before the label was bought


def _text(value: str) -> str:
    return value.encode("latin-1", "replace").decode("latin-1")


def _amount(value: money.Money) -> str:
    return f"{value.rounded().amount:,} {value.currency}"


def _kg(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.001'))} kg"


def totals(declaration: types.Customs) -> tuple[dict[str, money.Money], Decimal, int]:
    """The declared value per currency, the total net weight (kg) and the number of units."""
    values: dict[str, money.Money] = {}
    for item in declaration.items:
        currency = item.unit_value.currency
        values[currency] = values.get(currency, money.Money.zero(currency)) + item.value
    weight = sum((item.weight_kg for item in declaration.items), Decimal(0))
    return values, weight, sum(item.quantity for item in declaration.items)


def render(invoice: Invoice, declaration: types.Customs) -> bytes:
    """The invoice's PDF."""
    width, height = A4
    margin = 15 * mm
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, invariant=1, pageCompression=1)
    title = "PRO FORMA INVOICE" if invoice.pro_forma else "COMMERCIAL INVOICE"
    pdf.setTitle(f"{title.title()} {invoice.number}")
    items = list(enumerate(declaration.items, start=1))
    pages = [items[i : i + _ROWS_PER_PAGE] for i in range(0, len(items), _ROWS_PER_PAGE)] or [[]]
    columns = (
        (margin, "#"),
        (margin + 8 * mm, "Description"),
        (margin + 75 * mm, "HS code"),
        (margin + 97 * mm, "Origin"),
        (margin + 111 * mm, "Qty"),
        (margin + 123 * mm, "Unit value"),
        (margin + 150 * mm, "Line value"),
    )
    for page_number, rows in enumerate(pages, start=1):
        y = height - margin - 6 * mm
        pdf.setFont("Helvetica-Bold", 16)
        pdf.drawString(margin, y, title)
        pdf.setFont("Helvetica", 8)
        pdf.drawRightString(width - margin, y, f"Page {page_number} of {len(pages)}")
        y -= 8 * mm
        pdf.setFont("Helvetica", 9)
        facts = [
            f"Invoice number: {invoice.number}",
            f"Invoice date: {invoice.date.isoformat()}",
            f"Shipment: {invoice.shipment_id} (reference {invoice.reference})",
            f"Terms of sale (incoterm): {declaration.incoterm}",
            f"Reason for export: {REASONS.get(declaration.content_type, declaration.content_type)}",
        ]
        if invoice.tracking_number:
            facts.append(f"Carrier: {invoice.carrier or ''}  Tracking / waybill: {invoice.tracking_number}")
        for line in facts:
            pdf.drawString(margin, y, _text(line)[:110])
            y -= 4.5 * mm
        y -= 2 * mm
        for x, heading, lines, tax_ids in (
            (margin, "EXPORTER / SHIPPER", invoice.exporter, declaration.exporter_tax_ids),
            (width / 2, "IMPORTER / CONSIGNEE", invoice.importer, declaration.importer_tax_ids),
        ):
            yy = y
            pdf.setFont("Helvetica-Bold", 9)
            pdf.drawString(x, yy, heading)
            pdf.setFont("Helvetica", 9)
            for line in [*lines, *(f"{t.type}: {checks.tax_id_number(t.number)}" for t in tax_ids)][:9]:
                yy -= 4.5 * mm
                pdf.drawString(x, yy, _text(line)[:55])
        y -= 47 * mm
        pdf.setFont("Helvetica-Bold", 8)
        for x, heading in columns:
            pdf.drawString(x, y, heading)
        y -= 2 * mm
        pdf.line(margin, y, width - margin, y)
        pdf.setFont("Helvetica", 8)
        for n, item in rows:
            y -= 5 * mm
            cells = (
                str(n),
                _text(" ".join(item.description.split()))[:44],
                checks.hs_digits(item.hs_code) if item.hs_code else "-",
                item.origin_country,
                str(item.quantity),
                _amount(item.unit_value),
                _amount(item.value),
            )
            for (x, _heading), cell in zip(columns, cells, strict=True):
                pdf.drawString(x, y, cell)
        if page_number == len(pages):
            y -= 4 * mm
            pdf.line(margin, y, width - margin, y)
            values, weight, units = totals(declaration)
            pdf.setFont("Helvetica-Bold", 9)
            y -= 6 * mm
            total_text = " + ".join(_amount(v) for v in values.values()) or "none"
            pdf.drawString(margin, y, _text(f"Total declared value: {total_text}"))
            y -= 5 * mm
            pdf.setFont("Helvetica", 9)
            pdf.drawString(margin, y, f"Total units: {units}    Total net weight: {_kg(weight)}")
            y -= 12 * mm
            pdf.drawString(margin, y, "I declare that the information on this invoice is true and correct.")
            y -= 10 * mm
            pdf.drawString(margin, y, "Signature: ______________________________    Date: ______________")
        pdf.showPage()
    pdf.save()
    return buf.getvalue()
