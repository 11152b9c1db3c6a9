"""Label documents: the own fleet's label (PDF, PNG, ZPL, with a Code 128 barcode of the tracking
number), conversions between formats where a well-kept library can do it, and merged batch PDFs.

Libraries, and why: ReportLab draws the PDF and its Code 128 barcode (the symbology every parcel
scanner reads); pypdfium2 (Google's PDFium) rasterises PDF pages to PNG and merges PDFs; Pillow
turns carrier PNG/GIF labels into PDF pages and thresholds images for ZPL's ``^GF`` graphic field.
ZPL, EPL and SPL are printer languages: no maintained offline library renders them, so a label bought
as ZPL is served as ZPL only (``ConversionUnavailable``), and the API says so.

Labels are 4 x 6 inches, the thermal stock carriers print on; rasters are 203 dpi (8 dots/mm).
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pypdfium2 as pdfium
from PIL import Image
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode import createBarcodeDrawing
from reportlab.lib.units import inch
from reportlab.pdfgen import canvas

FORMATS = ("PDF", "PNG", "ZPL")  # what the API serves
IMAGE_FORMATS = ("PNG", "GIF")
PRINTER_FORMATS = ("ZPL", "EPL", "SPL")
DPI = 203
WIDTH_IN, HEIGHT_IN = 4, 6
_PT = 72  # PDF points per inch
CONTENT_TYPES = {
    "PDF": "application/pdf",
    "PNG": "image/png",
    "GIF": "image/gif",
    "ZPL": "application/zpl",  # the registered-by-use type; printers and Labelary accept it
    "EPL": "text/plain",
    "SPL": "text/plain",
}
EXTENSIONS = {"PDF": "pdf", "PNG": "png", "GIF": "gif", "ZPL": "zpl", "EPL": "epl", "SPL": "spl"}

# PDFium is not thread-safe; gunicorn's gthread workers may render concurrently.
_PDFIUM_LOCK = threading.Lock()


class ConversionUnavailable(Exception):
    """No well-kept library converts between these two formats."""

    def __init__(self, source: str, target: str) -> None:
        self.source, self.target = source, target
        super().__init__(f"a {source} label cannot be converted to {target}")


@dataclass(frozen=True)
class FleetLabel:
    """What the own fleet prints on a parcel."""

    tracking_number: str
    shipment_id: str
    reference: str
    service: str
    ship_from: Sequence[str]
    ship_to: Sequence[str]
    weight: str = ""
    parcel_count: int = 1
    date: str = ""
    notes: Sequence[str] = field(default_factory=tuple)
    # Where the parcel is on its van, from the applied plan ("STOP 12 - VAN NORTH 1"); "" when not planned.
    stop: str = ""


def check_digit(digits: str) -> str:
    """Return the Luhn (mod 10) check digit of a digit string."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def fleet_tracking_number(shipment_id: str) -> str:
    """Return the own fleet's tracking number for a shipment: stable, so a re-run job mints the same one.

    ``HF`` + the 13-digit millisecond timestamp and 7 digits of randomness taken from the shipment's
    ULID + a Luhn check digit: 23 characters, scanned as Code 128 (mostly subset C, two digits a bar).
    """
    ulid = shipment_id.rsplit("_", 1)[-1].upper()
    if len(ulid) != 26 or any(c not in _CROCKFORD for c in ulid):
        raise ValueError(f"not a ULID-based shipment id: {shipment_id!r}")
    value = 0
    for c in ulid:
        value = value * 32 + _CROCKFORD.index(c)
    millis = value >> 80
    randomness = value & ((1 << 80) - 1)
    digits = f"{millis % 10**13:013d}{randomness % 10**7:07d}"
    return f"HF{digits}{check_digit(digits)}"


# -- the own fleet's label ---------------------------------------------------------------------------------


def _fleet_pdf(label: FleetLabel) -> bytes:
    width, height = WIDTH_IN * inch, HEIGHT_IN * inch
    buf = io.BytesIO()
    # invariant: no creation date or random document id, so the same label renders to the same bytes.
    pdf = canvas.Canvas(buf, pagesize=(width, height), invariant=1, pageCompression=1)
    pdf.setTitle(f"Label {label.tracking_number}")
    margin = 0.2 * inch
    y = height - margin - 14
    pdf.setFont("Helvetica-Bold", 16)
    pdf.drawString(margin, y, "HANDOFF FLEET")
    pdf.setFont("Helvetica-Bold", 12)
    pdf.drawRightString(width - margin, y, label.service.upper()[:18])
    y -= 8
    pdf.line(margin, y, width - margin, y)
    y -= 14
    pdf.setFont("Helvetica", 8)
    pdf.drawString(margin, y, "FROM")
    for line in label.ship_from[:4]:
        y -= 10
        pdf.drawString(margin, y, _latin1(line)[:60])
    y -= 18
    pdf.setFont("Helvetica", 8)
    pdf.drawString(margin, y, "SHIP TO")
    pdf.setFont("Helvetica-Bold", 12)
    for line in label.ship_to[:5]:
        y -= 15
        pdf.drawString(margin + 8, y, _latin1(line)[:40])
    y -= 12
    pdf.line(margin, y, width - margin, y)
    barcode = createBarcodeDrawing(
        "Code128",
        value=label.tracking_number,
        barHeight=1.1 * inch,
        barWidth=0.0135 * inch,  # about 2.7 dots at 203 dpi: comfortably above scanner minimums
        humanReadable=True,
        quiet=True,
    )
    scale = min(1.0, (width - 2 * margin) / barcode.width)
    barcode.scale(scale, 1)
    barcode.width *= scale
    bx = (width - barcode.width) / 2
    by = y - barcode.height - 12
    renderPDF.draw(barcode, pdf, bx, by)
    y = by - 16
    if label.stop:  # large, so the driver finds the parcel in the van by it
        y -= 6
        pdf.setFont("Helvetica-Bold", 18)
        pdf.drawString(margin, y, _latin1(label.stop)[:28])
        y -= 16
    pdf.setFont("Helvetica", 8)
    details = [
        f"Ref {label.reference}",
        f"Shipment {label.shipment_id}",
        " ".join(p for p in (label.weight, f"{label.parcel_count} parcel(s)", label.date) if p),
        *label.notes,
    ]
    for line in details:
        pdf.drawString(margin, y, _latin1(line)[:70])
        y -= 10
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def _latin1(text: str) -> str:
    # The standard PDF fonts cover Latin-1; anything else would print as boxes.
    return text.encode("latin-1", "replace").decode("latin-1")


_ZPL_UNSAFE = re.compile(r"[\^~\\]")


def _zpl_text(text: str) -> str:
    # ^ and ~ start ZPL commands: a name like "A^B" must not inject one. Non-ASCII is dropped (ZPL's
    # default code page is not UTF-8).
    return _ZPL_UNSAFE.sub(" ", text.encode("ascii", "replace").decode("ascii"))


def _fleet_zpl(label: FleetLabel) -> bytes:
    lines = ["^XA", "^CI0", "^PW812", "^LL1218"]
    lines.append("^FO30,30^A0N,40,40^FDHANDOFF FLEET^FS")
    lines.append(f"^FO500,35^A0N,30,30^FD{_zpl_text(label.service.upper()[:16])}^FS")
    lines.append("^FO30,80^GB752,3,3^FS")
    y = 95
    lines.append(f"^FO30,{y}^A0N,20,20^FDFROM^FS")
    for line in label.ship_from[:4]:
        y += 24
        lines.append(f"^FO30,{y}^A0N,22,22^FD{_zpl_text(line)[:60]}^FS")
    y += 40
    lines.append(f"^FO30,{y}^A0N,20,20^FDSHIP TO^FS")
    for line in label.ship_to[:5]:
        y += 36
        lines.append(f"^FO50,{y}^A0N,32,32^FD{_zpl_text(line)[:36]}^FS")
    y += 50
    lines.append(f"^FO30,{y}^GB752,3,3^FS")
    y += 30
    # Code 128 (^BC) with the interpretation line; ^BY sets a 3-dot narrow bar.
    lines.append(f"^BY3,3,220^FO60,{y}^BCN,220,Y,N,N,A^FD{_zpl_text(label.tracking_number)}^FS")
    y += 300
    if label.stop:  # large, so the driver finds the parcel in the van by it
        lines.append(f"^FO30,{y}^A0N,50,50^FD{_zpl_text(label.stop)[:28]}^FS")
        y += 70
    details = [
        f"Ref {label.reference}",
        f"Shipment {label.shipment_id}",
        " ".join(p for p in (label.weight, f"{label.parcel_count} parcel(s)", label.date) if p),
        *label.notes,
    ]
    for line in details:
        lines.append(f"^FO30,{y}^A0N,22,22^FD{_zpl_text(line)[:70]}^FS")
        y += 28
    lines.append("^XZ")
    return ("\n".join(lines) + "\n").encode("ascii")


def render_fleet(label: FleetLabel, fmt: str) -> bytes:
    """Render the own fleet's label as PDF, PNG (the PDF rasterised at 203 dpi) or native ZPL."""
    fmt = fmt.upper()
    if fmt == "PDF":
        return _fleet_pdf(label)
    if fmt == "PNG":
        return pdf_to_png(_fleet_pdf(label))
    if fmt == "ZPL":
        return _fleet_zpl(label)
    raise ConversionUnavailable("fleet", fmt)


# -- conversions --------------------------------------------------------------------------------------------


def pdf_to_png(data: bytes, dpi: int = DPI) -> bytes:
    """Rasterise every page of a PDF and stack them into one PNG."""
    with _PDFIUM_LOCK:
        doc = pdfium.PdfDocument(data)
        try:
            images = [page.render(scale=dpi / _PT, grayscale=True).to_pil() for page in doc]
        finally:
            doc.close()
    if not images:
        raise ValueError("PDF has no pages")
    width = max(i.width for i in images)
    sheet = Image.new("L", (width, sum(i.height for i in images)), 255)
    top = 0
    for image in images:
        sheet.paste(image.convert("L"), (0, top))
        top += image.height
    out = io.BytesIO()
    sheet.save(out, "PNG", optimize=True, dpi=(dpi, dpi))
    return out.getvalue()


def image_to_pdf(data: bytes) -> bytes:
    """Wrap a PNG/GIF label into a one-page PDF (portrait; a landscape carrier image is rotated)."""
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        image = img.convert("L")
    if image.width > image.height:
        image = image.rotate(90, expand=True)
    # Fit the image onto a 4x6 page at whatever resolution it was drawn.
    dpi = max(image.width / WIDTH_IN, image.height / HEIGHT_IN, 1)
    out = io.BytesIO()
    image.save(out, "PDF", resolution=dpi)
    return out.getvalue()


def image_to_png(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        out = io.BytesIO()
        img.convert("L").save(out, "PNG", optimize=True)
    return out.getvalue()


def png_to_zpl(data: bytes) -> bytes:
    """Encode a raster label as a ZPL ``^GFA`` graphic field, scaled to 4x6 at 203 dpi."""
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        image = img.convert("L")
    if image.width > image.height:
        image = image.rotate(90, expand=True)
    max_w, max_h = WIDTH_IN * DPI, HEIGHT_IN * DPI
    ratio = min(max_w / image.width, max_h / image.height, 1.0)
    if ratio < 1.0:
        image = image.resize((int(image.width * ratio), int(image.height * ratio)), Image.Resampling.LANCZOS)
    # Threshold, not dither: barcodes must keep crisp edges. In ZPL a set bit prints black.
    mono = image.point(lambda v: 255 if v < 128 else 0, mode="1")
    row_bytes = (mono.width + 7) // 8
    raw = mono.tobytes()  # mode "1" packs 8 pixels a byte, rows padded to whole bytes
    total = row_bytes * mono.height
    body = raw.hex().upper()
    zpl = f"^XA^PW{max_w}^LL{max_h}^FO0,0^GFA,{total},{total},{row_bytes},{body}^FS^XZ\n"
    return zpl.encode("ascii")


def convert(data: bytes, source: str, target: str) -> bytes:
    """Return the document in ``target`` format, or raise ConversionUnavailable."""
    source, target = source.upper(), target.upper()
    if source == target:
        return data
    if source in PRINTER_FORMATS:
        raise ConversionUnavailable(source, target)
    if source == "PDF":
        if target == "PNG":
            return pdf_to_png(data)
        if target == "ZPL":
            return png_to_zpl(pdf_to_png(data))
    if source in IMAGE_FORMATS:
        if target == "PDF":
            return image_to_pdf(data)
        if target == "PNG":
            return image_to_png(data)
        if target == "ZPL":
            return png_to_zpl(data)
    raise ConversionUnavailable(source, target)


def can_convert(source: str, target: str) -> bool:
    source, target = source.upper(), target.upper()
    if source == target:
        return True
    if source in PRINTER_FORMATS or target not in FORMATS:
        return False
    return source in ("PDF", *IMAGE_FORMATS)


def merge_pdfs(documents: Iterable[bytes]) -> bytes:
    """Concatenate PDFs into one document, in order."""
    with _PDFIUM_LOCK:
        merged = pdfium.PdfDocument.new()
        try:
            for data in documents:
                source = pdfium.PdfDocument(data)
                try:
                    merged.import_pages(source)
                finally:
                    source.close()
            out = io.BytesIO()
            merged.save(out)
        finally:
            merged.close()
    return out.getvalue()


def page_count(data: bytes) -> int:
    with _PDFIUM_LOCK:
        doc = pdfium.PdfDocument(data)
        try:
            return len(doc)
        finally:
            doc.close()
