"""One customs declaration, canonical and as the API takes it, shared by the customs tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from schemas import money, types

DECLARATION = types.Customs(
    content_type="merchandise",
    incoterm="DAP",
    items=(
        types.CustomsItem(
            description="Cotton T-shirt",
            quantity=2,
            unit_value=money.Money(Decimal("12.50"), "USD"),
            weight_kg=Decimal("0.400"),
            origin_country="US",
            hs_code="6109.10.00",
        ),
        types.CustomsItem(
            description="Ceramic mug",
            quantity=1,
            unit_value=money.Money(Decimal("8.00"), "USD"),
            weight_kg=Decimal("0.350"),
            origin_country="CN",
            hs_code="691200",
        ),
    ),
    exporter_tax_ids=(types.TaxId("EIN", "12-3456789"),),
    importer_tax_ids=(types.TaxId("EORI", "DE123456789012345"),),
    invoice_number="INV-1001",
)


def customs_body(**changes: Any) -> dict[str, Any]:
    """The same declaration as ``POST /v1/shipments`` takes it (``customs``)."""
    body: dict[str, Any] = {
        "content_type": "merchandise",
        "incoterm": "DAP",
        "invoice_number": "INV-1001",
        "items": [
            {
                "description": "Cotton T-shirt",
                "quantity": 2,
                "unit_value": {"amount": "12.50", "currency": "USD"},
                "weight": {"value": "0.4", "unit": "kg"},
                "hs_code": "6109.10.00",
                "origin_country": "US",
            },
            {
                "description": "Ceramic mug",
                "quantity": 1,
                "unit_value": {"amount": "8.00", "currency": "USD"},
                "weight": {"value": "0.35", "unit": "kg"},
                "hs_code": "691200",
                "origin_country": "CN",
            },
        ],
        "exporter_tax_ids": [{"type": "EIN", "number": "12-3456789"}],
        "importer_tax_ids": [{"type": "EORI", "number": "DE123456789012345"}],
    }
    body.update(changes)
    return body
