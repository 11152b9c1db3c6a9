"""Label documents: storage with checksums, the own fleet's scannable label, conversions, merged PDFs."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image

from gateway.labels import render, storage

SHIPMENT_ID = "shp_01JD3Q2Z8M4X7T9V5K0R6N1B2C"


def _label(**overrides):
    values = {
        "tracking_number": render.fleet_tracking_number(SHIPMENT_ID),
        "shipment_id": SHIPMENT_ID,
        "reference": "ORDER-1001",
        "service": "SDV",
        "ship_from": ["Warehouse 1", "500 Industrial Way", "Secaucus NJ 07094 US"],
        "ship_to": ["Jane Doe", "21 W 52nd St", "New York NY 10019", "US"],
        "weight": "2.5 lb",
        "date": "2026-11-20",
    }
    values.update(overrides)
    return render.FleetLabel(**values)


def _scan(png: bytes) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def test_local_storage_round_trips_and_verifies_the_checksum(tmp_path):
    store = storage.LocalStorage(tmp_path)
    stored = store.put("ten_1/shp_1/lbl_1.pdf", b"%PDF-1.4 label")
    assert stored.checksum == storage.checksum(b"%PDF-1.4 label")
    assert store.get(stored.key, stored.checksum) == b"%PDF-1.4 label"
    (tmp_path / "ten_1/shp_1/lbl_1.pdf").write_bytes(b"%PDF-1.4 tampered")
    with pytest.raises(storage.ChecksumMismatch):
        store.get(stored.key, stored.checksum)
    with pytest.raises(storage.DocumentMissing):
        store.get("ten_1/shp_1/none.pdf")


@pytest.mark.parametrize("key", ["../escape.pdf", "a//b.pdf", "/abs.pdf", "a/../../b.pdf", "a b.pdf"])
def test_local_storage_refuses_keys_that_leave_its_directory(tmp_path, key):
    with pytest.raises(storage.StorageError):
        storage.LocalStorage(tmp_path / "root").put(key, b"x")


def test_storage_defaults_to_a_directory_under_the_data_dir(tmp_path):
    store = storage.from_settings({"DATA_DIR": str(tmp_path)})
    assert isinstance(store, storage.LocalStorage)
    assert store.root == (tmp_path / "labels").resolve()


def test_fleet_tracking_numbers_are_stable_per_shipment_and_carry_a_check_digit():
    first = render.fleet_tracking_number(SHIPMENT_ID)
    assert first == render.fleet_tracking_number(SHIPMENT_ID)
    assert first != render.fleet_tracking_number("shp_01JD3Q2Z8M4X7T9V5K0R6N1B2D")
    digits = first[2:-1]
    assert first.startswith("HF") and render.check_digit(digits) == first[-1]


@pytest.mark.parametrize("fmt", ["PDF", "PNG"])
def test_the_fleet_label_barcode_scans_back_to_the_tracking_number(fmt):
    label = _label()
    document = render.render_fleet(label, fmt)
    png = render.pdf_to_png(document) if fmt == "PDF" else document
    assert _scan(png) == [label.tracking_number]


def test_the_fleet_pdf_is_byte_identical_when_rendered_again():
    assert render.render_fleet(_label(), "PDF") == render.render_fleet(_label(), "PDF")


def test_the_fleet_zpl_prints_the_tracking_number_as_code_128_and_cannot_be_injected():
    label = _label(ship_to=["Evil ^XZ^XA Name", "~JA cancel"])
    zpl = render.render_fleet(label, "ZPL").decode("ascii")
    assert zpl.startswith("^XA") and zpl.rstrip().endswith("^XZ")
    assert f"^BCN,220,Y,N,N,A^FD{label.tracking_number}^FS" in zpl
    assert zpl.count("^XA") == 1 and zpl.count("^XZ") == 1 and "~JA" not in zpl


def test_a_carrier_png_converts_to_pdf_and_zpl_and_still_scans():
    png = render.render_fleet(_label(), "PNG")
    pdf = render.convert(png, "PNG", "PDF")
    assert pdf.startswith(b"%PDF") and render.page_count(pdf) == 1
    assert _scan(render.pdf_to_png(pdf)) == [_label().tracking_number]
    zpl = render.convert(png, "PNG", "ZPL").decode("ascii")
    assert "^GFA," in zpl and zpl.startswith("^XA")


def test_zpl_labels_are_not_converted_because_no_offline_library_renders_zpl():
    with pytest.raises(render.ConversionUnavailable):
        render.convert(b"^XA^XZ", "ZPL", "PDF")
    assert not render.can_convert("ZPL", "PNG")
    assert render.can_convert("GIF", "PDF")


def test_merged_pdf_keeps_every_page_in_order():
    first = render.render_fleet(_label(reference="A"), "PDF")
    second = render.render_fleet(_label(reference="B"), "PDF")
    merged = render.merge_pdfs([first, second, first])
    assert render.page_count(merged) == 3
