"""The carriers' address services behind one call: whichever enabled adapters declare address validation.

An adapter that can standardise and classify an address declares ``Capability.ADDRESS_VALIDATION`` and
answers ``classify_address`` with the canonical ``schemas.carrier.AddressValidation``; the carrier's own
request and reply stay in its adapter (UPS XAV, FedEx Address Validation, USPS addresses v3).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from adapters import base
from schemas import carrier, types


def can_validate(adapter: Any) -> bool:
    """Whether an enabled adapter offers an address check."""
    supports = getattr(adapter, "supports", None)
    return bool(supports and supports(base.Capability.ADDRESS_VALIDATION))


def enabled(registry: Any) -> Iterator[tuple[str, base.Adapter]]:
    """Every enabled adapter (id, adapter) that can check addresses, in id order."""
    for key in registry:
        adapter = registry.get(key)
        if can_validate(adapter):
            yield key, adapter


def validate(adapter: base.Adapter, address: types.Address) -> carrier.AddressValidation:
    """Ask one adapter's carrier to validate and classify an address."""
    return adapter.classify_address(address)
