"""The manifest document: a PDF listing every shipment of a closed day (or every stop of a van), with totals.

ReportLab draws it (the library the labels already use). Text is drawn in the standard Helvetica,
which covers Latin-1: anything else prints as "?" rather than failing.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from reportlab.lib.pagesizes import landscape, letter
from reportlab.pdfgen import canvas

_MARGIN = 36
_ROW = 13
_SIZE = 8


@dataclass(frozen=True)
class Document:
    """What a manifest document prints: a title, header lines, one row per shipment, the totals."""

    title: str
    header: Sequence[str]
    columns: Sequence[tuple[str, int]]  # (heading, width in points)
    rows: Sequence[Sequence[str]]
    totals: Sequence[str] = field(default_factory=tuple)


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def _fit(pdf: canvas.Canvas, text: str, width: int) -> str:
    text = _latin1(text)
    while text and pdf.stringWidth(text, "Helvetica", _SIZE) > width - 4:
        text = text[:-1]
    return text


def render(doc: Document) -> bytes:
    """The document as PDF bytes, paginated, with the column headings repeated on every page."""
    out = io.BytesIO()
    size = landscape(letter)
    pdf = canvas.Canvas(out, pagesize=size, invariant=True)
    pdf.setTitle(_latin1(doc.title))
    pdf.setAuthor("Handoff")
    width, height = size
    page = 1

    def headings(y: float) -> float:
        pdf.setFont("Helvetica-Bold", _SIZE)
        x = _MARGIN
        for heading, w in doc.columns:
            pdf.drawString(x, y, heading)
            x += w
        pdf.line(_MARGIN, y - 3, width - _MARGIN, y - 3)
        pdf.setFont("Helvetica", _SIZE)
        return y - _ROW - 2

    def footer() -> None:
        pdf.setFont("Helvetica", 7)
        pdf.drawRightString(width - _MARGIN, _MARGIN / 2, f"{_latin1(doc.title)} - page {page}")

    y = height - _MARGIN
    pdf.setFont("Helvetica-Bold", 14)
    pdf.drawString(_MARGIN, y, _latin1(doc.title))
    y -= 18
    pdf.setFont("Helvetica", 9)
    for line in doc.header:
        pdf.drawString(_MARGIN, y, _latin1(line)[:160])
        y -= 12
    y = headings(y - 8)
    for row in doc.rows:
        if y < _MARGIN + _ROW:
            footer()
            pdf.showPage()
            page += 1
            y = headings(height - _MARGIN)
        x = _MARGIN
        for (_, w), cell in zip(doc.columns, row, strict=False):
            pdf.drawString(x, y, _fit(pdf, cell, w))
            x += w
        y -= _ROW
    needed = (len(doc.totals) + 2) * 12
    if y < _MARGIN + needed:
        footer()
        pdf.showPage()
        page += 1
        y = height - _MARGIN
    pdf.line(_MARGIN, y + _ROW - 4, width - _MARGIN, y + _ROW - 4)
    pdf.setFont("Helvetica-Bold", 9)
    for line in doc.totals:
        y -= 12
        pdf.drawString(_MARGIN, y, _latin1(line)[:160])
    footer()
    pdf.showPage()
    pdf.save()
    return out.getvalue()
