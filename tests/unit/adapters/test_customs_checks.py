"""The customs rules every carrier's check shares (adapters/checks.customs): paths, codes, the small tables."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from adapters import checks
from adapters.dhl_express import mapping as dhl
from adapters.dhl_express import requirements as dhl_requirements
from schemas import money, types
from tests.customs_fixtures import DECLARATION


def spec(origin: str, destination: str, customs: types.Customs | None = DECLARATION, value: bool = False):
    parcel = types.Parcel(
        Decimal("1"),
        Decimal("10"),
        Decimal("10"),
        Decimal("10"),
        declared_value=money.Money(Decimal("10"), "USD") if value else None,
    )
    return types.ShipmentSpec(
        origin=types.Address(origin, "10001", "Somewhere"),
        destination=types.Address(destination, "04109", "Elsewhere"),
        parcels=(parcel,),
        customs=customs,
    )


def found(s: types.ShipmentSpec) -> set[tuple[str, str]]:
    return {(r.path, r.code) for r in checks.customs(s, "dhl_express", 170)}


@pytest.mark.parametrize(
    "origin,destination,needs",
    [("US", "DE", True), ("DE", "FR", False), ("DE", "CH", True), ("US", "PR", False), ("US", "VI", True)],
)
def test_a_declaration_is_needed_exactly_across_a_customs_border(origin, destination, needs):
    assert checks.needs_customs(spec(origin, destination)) is needs
    assert (("customs", "required") in found(spec(origin, destination, customs=None))) is needs


def test_parcels_with_declared_values_still_ship_without_a_declaration():
    assert found(spec("US", "DE", customs=None, value=True)) == set()


def test_a_good_declaration_passes_and_documents_need_no_items():
    assert found(spec("US", "DE")) == set()
    assert found(spec("US", "DE", types.Customs("documents", "DAP"))) == set()
    assert ("customs.items", "required") in found(spec("US", "DE", types.Customs("gift", "DAP")))


def test_each_line_is_named_by_its_path():
    bad = dataclasses.replace(
        DECLARATION.items[0], hs_code="12345", origin_country="ZZ", description=" ", weight_kg=Decimal(0)
    )
    free = dataclasses.replace(DECLARATION.items[1], unit_value=money.Money(Decimal("0"), "USD"))
    declaration = dataclasses.replace(DECLARATION, items=(bad, free))
    assert found(spec("US", "DE", declaration)) == {
        ("customs.items.0.hs_code", "invalid_format"),
        ("customs.items.0.origin_country", "invalid_format"),
        ("customs.items.0.description", "required"),
        ("customs.items.0.weight", "not_positive"),
    }
    nothing = dataclasses.replace(DECLARATION, items=(free,))
    assert found(spec("US", "DE", nothing)) == {("customs.items", "not_positive")}


@pytest.mark.parametrize(
    "destination,importer,ok",
    [
        ("DE", (types.TaxId("EORI", "DE123456789012345"),), True),
        ("DE", (types.TaxId("IOSS", "IM2760000001"),), True),
        ("DE", (types.TaxId("VAT", "DE123456789"),), False),
        ("GB", (types.TaxId("VAT", "GB123456789"),), True),
        ("CH", (), False),
        ("JP", (), True),
    ],
)
def test_ddp_needs_the_importers_tax_id_where_the_destination_asks_for_one(destination, importer, ok):
    declaration = dataclasses.replace(DECLARATION, incoterm="DDP", importer_tax_ids=importer)
    assert (
        ("customs.importer_tax_ids", "tax_id_required") not in found(spec("US", destination, declaration))
    ) is ok


def test_tax_ids_are_checked_in_their_form():
    declaration = dataclasses.replace(
        DECLARATION,
        exporter_tax_ids=(types.TaxId("EIN", "12-34"),),
        importer_tax_ids=(types.TaxId("IOSS", "X1"),),
    )
    assert found(spec("US", "DE", declaration)) == {
        ("customs.exporter_tax_ids.0.number", "invalid_format"),
        ("customs.importer_tax_ids.0.number", "invalid_format"),
    }


def test_a_dhl_label_request_refuses_what_the_check_reports():
    declaration = dataclasses.replace(
        DECLARATION, items=(dataclasses.replace(DECLARATION.items[0], hs_code="1"),)
    )
    assert ("customs.items.0.hs_code", "invalid_format") in {
        (r.path, r.code) for r in dhl_requirements.check(spec("US", "DE", declaration), "P")
    }


def test_the_dhl_contents_description_is_the_items_within_dhls_70_characters():
    assert dhl._contents(spec("US", "DE"), "Merchandise") == "Cotton T-shirt, Ceramic mug"
    many = dataclasses.replace(DECLARATION, items=DECLARATION.items * 5)
    text = dhl._contents(spec("US", "DE", many), "Merchandise")
    assert len(text) == 70 and text.endswith("...")
    assert dhl._contents(spec("US", "DE", None), "Merchandise") == "Merchandise"
