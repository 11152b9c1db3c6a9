"""Tiny but well-formed label documents: GIF, PNG, ZPL, EPL and PDF, carrying the tracking number."""

from __future__ import annotations

import base64
import struct
import zlib

# The smallest valid GIF89a: one white pixel. Image content is irrelevant to the gateway; a
# decoder must still accept it, so it is a real GIF rather than random bytes.
_GIF = bytes.fromhex("47494638396101000100800000ffffff00000021f90401000000002c00000000010001000002024401003b")


def _png(text: str) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)  # 1x1, 8-bit greyscale
    text_chunk = chunk(b"tEXt", b"Comment\x00" + text.encode("latin-1", "replace"))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + text_chunk
        + chunk(b"IDAT", zlib.compress(b"\x00\xff"))
        + chunk(b"IEND", b"")
    )


def _zpl(tracking_number: str, carrier: str) -> bytes:
    return (
        f"^XA^CF0,40^FO50,50^FD{carrier.upper()} SIMULATOR^FS"
        f"^BY3^FO50,120^BCN,120,Y,N,N^FD{tracking_number}^FS^XZ"
    ).encode("ascii")


def _epl(tracking_number: str, carrier: str) -> bytes:
    lines = [
        "N",
        f'A50,50,0,4,1,1,N,"{carrier.upper()} SIMULATOR"',
        f'B50,120,0,1,3,7,120,B,"{tracking_number}"',
        "P1",
    ]
    return ("\n".join(lines) + "\n").encode("ascii")


def _pdf(tracking_number: str, carrier: str, title: str = "SIMULATOR") -> bytes:
    content = f"BT /F1 18 Tf 40 250 Td ({carrier.upper()} {title} {tracking_number}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 288 432] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


FORMATS: frozenset[str] = frozenset({"GIF", "PNG", "ZPL", "EPL", "SPL", "PDF"})


def render(label_format: str, tracking_number: str, carrier: str) -> bytes:
    """Return the label document bytes in the given format (GIF, PNG, ZPL, EPL, SPL or PDF)."""
    fmt = label_format.upper()
    if fmt == "GIF":
        return _GIF
    if fmt == "PNG":
        return _png(f"{carrier} {tracking_number}")
    if fmt == "ZPL":
        return _zpl(tracking_number, carrier)
    if fmt in ("EPL", "SPL"):
        return _epl(tracking_number, carrier)
    if fmt == "PDF":
        return _pdf(tracking_number, carrier)
    raise ValueError(f"unsupported label format {label_format!r}")


def invoice_base64(tracking_number: str, carrier: str) -> str:
    """Return a carrier's paperless-trade commercial invoice (a one-page PDF) base64-encoded."""
    return base64.b64encode(_pdf(tracking_number, carrier, "SIMULATOR COMMERCIAL INVOICE")).decode("ascii")


def render_base64(label_format: str, tracking_number: str, carrier: str) -> str:
    """Return the label document base64-encoded, as carriers send it."""
    return base64.b64encode(render(label_format, tracking_number, carrier)).decode("ascii")
