"""The invoice parsers read each carrier layout into canonical lines and report bad rows by number."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.reconciliation.parsers import LayoutError, Line, RowError, charges, parse, sniff
from tests.unit.reconciliation.invoice_files import FEDEX_HEADER, fedex_row, to_csv, ups_row


def _lines(data: bytes) -> list[str]:
    return data.decode().splitlines(keepends=True)


def test_a_ups_billing_data_file_becomes_one_canonical_line_per_charge_row() -> None:
    data = to_csv(
        [
            ups_row(
                invoice_number="000000A1B2C33",
                tracking="1Z999AA10123456784",
                amount="12.49",
                weight="3",
                weight_type="2",
                dimensions="12.0x  9.0x  4.0",
                zone="002",
                description="Ground Commercial",
            ),
            ups_row(
                invoice_number="000000A1B2C33",
                tracking="1Z999AA10123456784",
                amount="1.90",
                classification="FSC",
                description_code="FSC",
            ),
            ups_row(
                invoice_number="000000A1B2C33",
                tracking="1Z999AA10123456784",
                amount="17.00",
                classification="ACC",
                category="ADJ",
                detail="ADC",
                description_code="ADC",
                description="Address Correction",
            ),
        ]
    )
    assert sniff(_lines(data)[0]) == "ups"
    out = list(parse(_lines(data), "ups"))
    assert all(isinstance(x, Line) for x in out)
    base, fuel, adc = out
    assert (base.row, base.charge_class, base.amount, base.currency) == (
        1,
        charges.BASE,
        Decimal("12.49"),
        "USD",
    )
    assert (base.billed_weight, base.weight_unit, base.weight_type) == (Decimal("3"), "lb", "dimensional")
    assert (base.length, base.width, base.height, base.dimension_unit) == (
        Decimal("12.0"),
        Decimal("9.0"),
        Decimal("4.0"),
        "in",
    )
    assert base.zone == "002" and base.service == "Ground Commercial"
    assert base.ship_date is not None and base.invoice_date is not None
    assert fuel.charge_class == charges.FUEL
    assert (adc.charge_class, adc.charge_code) == (charges.ADDRESS_CORRECTION, "ADC")


def test_ups_rows_that_cannot_be_read_are_reported_with_their_line_numbers() -> None:
    good = ups_row(invoice_number="INV1", tracking="1ZA", amount="5.00")
    bad_amount = ups_row(invoice_number="INV1", tracking="1ZB", amount="12,5O")
    no_tracking = ups_row(invoice_number="INV1", tracking="", amount="3.00")
    short = good[:20]
    out = list(parse(_lines(to_csv([good, bad_amount, no_tracking, short])), "ups"))
    errors = [x for x in out if isinstance(x, RowError)]
    assert [e.row for e in errors] == [2, 3, 4]
    assert "Net Amount" in errors[0].reason
    assert "Tracking Number" in errors[1].reason
    assert "columns" in errors[2].reason


def test_a_fedex_row_becomes_a_transportation_line_net_of_discounts_and_one_line_per_charge() -> None:
    data = to_csv(
        [
            FEDEX_HEADER,
            fedex_row(
                invoice_number="7-123-45678",
                tracking="794612345678",
                transport="14.20",
                charges=[("Fuel Surcharge", "2.10"), ("Residential", "5.10"), ("Earned Discount", "-1.20")],
            ),
        ]
    )
    assert sniff(_lines(data)[0]) == "fedex"
    out = list(parse(_lines(data), "fedex"))
    assert [type(x) for x in out] == [Line, Line, Line]
    base, fuel, res = out
    assert (base.charge_class, base.amount, base.row) == (charges.BASE, Decimal("13.00"), 2)
    assert (fuel.charge_class, fuel.amount) == (charges.FUEL, Decimal("2.10"))
    assert (res.charge_class, res.amount) == (charges.RESIDENTIAL, Decimal("5.10"))
    assert base.billed_weight == Decimal("3") and base.zone == "02"


def test_a_fedex_row_whose_net_charge_does_not_add_up_is_reported() -> None:
    data = to_csv(
        [
            FEDEX_HEADER,
            fedex_row(
                invoice_number="7-1",
                tracking="7946",
                transport="10.00",
                charges=[("Fuel Surcharge", "1.00")],
                net="12.00",
            ),
        ]
    )
    (error,) = list(parse(_lines(data), "fedex"))
    assert isinstance(error, RowError) and error.row == 2 and "Net Charge Amount" in error.reason


def test_a_fedex_file_without_the_tracking_column_is_unreadable() -> None:
    header = [h for h in FEDEX_HEADER if h != "Express or Ground Tracking ID"]
    with pytest.raises(LayoutError, match="Express Or Ground Tracking Id"):
        list(parse(["\t".join(header)], "fedex"))


def test_a_generic_file_is_read_through_its_mapping_with_custom_codes_and_separators() -> None:
    mapping = {
        "columns": {
            "invoice_number": "Rechnung",
            "tracking_number": "Sendung",
            "charge_code": "Code",
            "amount": "Betrag",
            "billed_weight": "Gewicht",
            "zone": "Zone",
            "ship_date": "Datum",
        },
        "codes": {"FR": "base", "TREIB": "fuel"},
        "delimiter": ";",
        "decimal_separator": ",",
        "date_format": "%d.%m.%Y",
        "currency": "EUR",
        "weight_unit": "kg",
    }
    text = "Rechnung;Sendung;Code;Betrag;Gewicht;Zone;Datum\nR-1;JD0001;FR;1.234,50;2,5;3;02.03.2026\nR-1;JD0001;TREIB;12,10;;;02.03.2026\nR-1;JD0002;FR;abc;;;02.03.2026\n"
    out = list(parse(text.splitlines(keepends=True), "generic", mapping))
    base, fuel, error = out
    assert isinstance(base, Line) and base.amount == Decimal("1234.50") and base.charge_class == charges.BASE
    assert base.currency == "EUR" and base.weight_unit == "kg" and base.ship_date is not None
    assert isinstance(fuel, Line) and fuel.charge_class == charges.FUEL
    assert isinstance(error, RowError) and error.row == 4


def test_a_generic_mapping_that_names_a_missing_column_is_a_layout_error() -> None:
    mapping = {
        "columns": {"invoice_number": "Inv", "tracking_number": "Trk", "charge_code": "Code", "amount": "Amt"}
    }
    with pytest.raises(LayoutError, match="Amt"):
        list(parse(["Inv,Trk,Code,Total\n"], "generic", mapping))


def test_a_line_longer_than_the_limit_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(LayoutError, match="longer"):
        list(parse(["x" * 70000], "ups"))
