"""The day's carriers are data: whatever the gateway has enabled, named and coloured from that.

The demo never lists carriers. It learns them from the gateway's answers (the carriers of the rates a
booking returns, and whether each rate can be bought), and reads what a carrier *is* from its adapter
class: a display name, what it declares it can do (``capabilities``), and the invoice layout its bills
come in. A carrier the installation adds is shown, coloured and billed with no change here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from adapters import base, registry

FLEET = "fleet"
UNASSIGNED = "unassigned"
FIXED_NAMES = {FLEET: "Own fleet", UNASSIGNED: "Not dispatched"}
FIXED_COLOURS = {FLEET: "#16a34a", UNASSIGNED: "#9ca3af"}
# Partners take these in the order they are first seen (sorted by code: stable from run to run).
PARTNER_COLOURS = (
    "#92400e", "#eab308", "#4f46e5", "#0891b2", "#c026d3", "#dc2626", "#65a30d", "#0f766e",
    "#7c2d12", "#1d4ed8",
)  # fmt: skip
OTHER_COLOUR = "#6b7280"


def _adapter(code: str) -> type[base.Adapter] | None:
    """The adapter class registered under a carrier code, or None (a card-only carrier, an unknown id)."""
    try:
        return registry.adapter_class(code)
    except registry.RegistryError:
        return None


def display_name(code: str) -> str:
    """How people write the carrier: its adapter's ``display_name``, else a readable form of the code."""
    if code in FIXED_NAMES:
        return FIXED_NAMES[code]
    cls = _adapter(code)
    declared = getattr(cls, "display_name", None) if cls is not None else None
    if isinstance(declared, str) and declared:
        return declared
    # Short words in carrier codes are initialisms (ups, dhl, usps); longer ones are words.
    return " ".join(w.upper() if len(w) <= 4 else w.capitalize() for w in code.split("_") if w) or code


def can(code: str, capability: base.Capability) -> bool:
    """Whether the carrier's adapter declares ``capability`` (False for a carrier without an adapter)."""
    cls = _adapter(code)
    return cls is not None and capability in cls.capabilities


def invoice_layout(code: str) -> str | None:
    """The gateway invoice layout the carrier bills in: the adapter's ``invoice_layout`` when it declares
    one, else the layout named like the carrier (the gateway's own rule for its built-in layouts)."""
    cls = _adapter(code)
    if cls is None:
        return None
    declared = getattr(cls, "invoice_layout", code)
    return declared if isinstance(declared, str) and declared else None


def partners_from_rates(rates: Iterable[dict[str, Any]]) -> list[str]:
    """The partner carriers the gateway sells labels for, as its rates show them (sorted codes)."""
    return sorted({r["carrier"] for r in rates if r["carrier"] != FLEET and r.get("purchasable", True)})


def legend(codes: Iterable[str]) -> dict[str, dict[str, str]]:
    """Name and colour for each carrier code: the fleet and "unassigned" fixed, partners in code order."""
    out: dict[str, dict[str, str]] = {}
    partners = sorted({c for c in codes if c not in FIXED_COLOURS})
    for code in codes:
        if code in FIXED_COLOURS:
            colour = FIXED_COLOURS[code]
        else:
            colour = PARTNER_COLOURS[partners.index(code) % len(PARTNER_COLOURS)]
        out[code] = {"name": display_name(code), "colour": colour}
    return out
