"""A customs declaration in its three forms: the validated body, the stored JSON, the canonical type.

The body is what ``CustomsSchema`` loads (Decimals, ``unit_value`` as ``{amount, currency}``). The stored
form (``shipments.customs``) keeps money as integer minor units with its ISO 4217 currency and weights as
decimal strings; ``body`` turns it back into the loaded body, which the API renders and ``canonical``
makes the ``schemas.types.Customs`` the carriers' checks and adapters read.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from schemas import money, types, units


def stored(body: dict[str, Any] | None) -> dict[str, Any] | None:
    """The JSON a shipment row keeps for a loaded ``CustomsSchema`` body (None stays None)."""
    if not body:
        return None
    items = []
    for item in body.get("items") or ():
        value = money.Money(Decimal(item["unit_value"]["amount"]), item["unit_value"]["currency"])
        items.append(
            {
                "description": item["description"],
                "quantity": int(item["quantity"]),
                "unit_value_minor": value.to_minor(),
                "currency": value.currency,
                "weight": format(Decimal(item["weight"]["value"]), "f"),
                "weight_unit": item["weight"]["unit"],
                "hs_code": item.get("hs_code"),
                "origin_country": item["origin_country"],
            }
        )
    return {
        "content_type": body["content_type"],
        "incoterm": body.get("incoterm") or "DAP",
        "items": items,
        "exporter_tax_ids": [dict(t) for t in body.get("exporter_tax_ids") or ()],
        "importer_tax_ids": [dict(t) for t in body.get("importer_tax_ids") or ()],
        "invoice_number": body.get("invoice_number"),
    }


def body(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """The loaded body of a stored declaration (as ``CustomsSchema`` loads and dumps it)."""
    if not row:
        return None
    items = []
    for item in row.get("items") or ():
        value = money.Money.from_minor(int(item["unit_value_minor"]), item["currency"])
        items.append(
            {
                "description": item["description"],
                "quantity": int(item["quantity"]),
                "unit_value": {"amount": value.amount, "currency": value.currency},
                "weight": {"value": Decimal(item["weight"]), "unit": item["weight_unit"]},
                "hs_code": item.get("hs_code"),
                "origin_country": item["origin_country"],
            }
        )
    return {
        "content_type": row["content_type"],
        "incoterm": row.get("incoterm") or "DAP",
        "items": items,
        "exporter_tax_ids": [dict(t) for t in row.get("exporter_tax_ids") or ()],
        "importer_tax_ids": [dict(t) for t in row.get("importer_tax_ids") or ()],
        "invoice_number": row.get("invoice_number"),
    }


def canonical(data: dict[str, Any] | None) -> types.Customs | None:
    """The canonical declaration of a loaded body (weights in kg)."""
    if not data:
        return None
    items = tuple(
        types.CustomsItem(
            description=item["description"],
            quantity=int(item["quantity"]),
            unit_value=money.Money(Decimal(item["unit_value"]["amount"]), item["unit_value"]["currency"]),
            weight_kg=units.to_kg(Decimal(item["weight"]["value"]), item["weight"]["unit"]),
            origin_country=item["origin_country"],
            hs_code=item.get("hs_code"),
        )
        for item in data.get("items") or ()
    )
    return types.Customs(
        content_type=data["content_type"],
        incoterm=data.get("incoterm") or "DAP",
        items=items,
        exporter_tax_ids=tuple(
            types.TaxId(t["type"], t["number"]) for t in data.get("exporter_tax_ids") or ()
        ),
        importer_tax_ids=tuple(
            types.TaxId(t["type"], t["number"]) for t in data.get("importer_tax_ids") or ()
        ),
        invoice_number=data.get("invoice_number"),
    )
