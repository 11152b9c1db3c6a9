"""Invoice layouts are data: each names the carrier it bills for, and a new one needs no code elsewhere."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterable, Iterator
from decimal import Decimal

import pytest

from gateway.reconciliation import parsers
from gateway.reconciliation.parsers import FORMATS, GENERIC, LAYOUTS, Layout, Line, RowError, parse, sniff
from tests.unit.reconciliation.invoice_files import FEDEX_HEADER, fedex_row, to_csv, ups_row


def _first_line(data: bytes) -> str:
    return data.decode().splitlines()[0]


def test_every_carrier_layout_names_its_carrier_and_the_formats_are_the_layouts_then_generic() -> None:
    assert FORMATS == ("ups", "fedex", GENERIC)  # the carrier layouts, then the mapped generic CSV
    assert {name: layout.carrier for name, layout in LAYOUTS.items()} == {"ups": "ups", "fedex": "fedex"}


def test_the_built_in_layouts_are_sniffed_from_their_first_line() -> None:
    ups = to_csv([ups_row(invoice_number="000000A1B2C33", tracking="1Z999AA10123456784", amount="12.49")])
    fedex = to_csv([FEDEX_HEADER])
    assert sniff(_first_line(ups)) == "ups"
    assert sniff(_first_line(fedex)) == "fedex"
    assert sniff("hello,world") is None


def _acme_module() -> types.ModuleType:
    """A stand-in parser module for a carrier layout added later (``ACME,<invoice>,<tracking>,<amount>``)."""
    module = types.ModuleType("gateway.reconciliation.parsers.acme_layout")

    def looks_like(cells: list[str]) -> bool:
        return bool(cells) and cells[0] == "ACME"

    def parse_lines(lines: Iterable[str]) -> Iterator[Line | RowError]:
        for row, text in enumerate(lines, start=1):
            _, invoice, tracking, amount = text.strip().split(",")
            yield Line(row, invoice, tracking, "FRT", "base", "Transport", Decimal(amount), "USD")

    module.looks_like = looks_like  # type: ignore[attr-defined]
    module.parse = parse_lines  # type: ignore[attr-defined]
    return module


def test_a_layout_added_to_the_table_is_sniffed_and_parsed_with_no_other_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "gateway.reconciliation.parsers.acme_layout", _acme_module())
    monkeypatch.setitem(LAYOUTS, "acme", Layout("acme", "Acme CSV", "acme_layout"))
    first = "ACME,INV-1,ACME0001,7.25\n"
    assert sniff(first) == "acme"
    lines = list(parse([first, "ACME,INV-1,ACME0002,3.10\n"], "acme"))
    assert [(ln.tracking_number, ln.amount) for ln in lines if isinstance(ln, Line)] == [
        ("ACME0001", Decimal("7.25")),
        ("ACME0002", Decimal("3.10")),
    ]


def test_an_unknown_layout_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(parsers.LayoutError, match="ups, fedex, generic"):
        list(parse(["a,b\n"], "usps"))


def test_a_fedex_file_still_parses_through_the_table() -> None:
    data = to_csv(
        [
            FEDEX_HEADER,
            fedex_row(
                invoice_number="7-1",
                tracking="794600000001",
                transport="14.20",
                charges=[("Fuel Surcharge", "2.10")],
            ),
        ]
    )
    lines = [ln for ln in parse(data.decode().splitlines(keepends=True), "fedex") if isinstance(ln, Line)]
    assert {(ln.charge_class, ln.amount) for ln in lines} == {
        ("base", Decimal("14.20")),
        ("fuel", Decimal("2.10")),
    }
