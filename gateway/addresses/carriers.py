"""The carriers' address services behind one call: UPS, FedEx and USPS answers as one canonical type.

FedEx (``validate_address``) and USPS (``check_address``) offer address checks on their adapters;
UPS's lives in ``adapters.ups.address``. Each answer becomes ``schemas.carrier.AddressValidation``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from adapters import base
from schemas import carrier, types

Check = Callable[[base.Adapter, types.Address], carrier.AddressValidation]

_FEDEX_CLASSES = {
    "RESIDENTIAL": carrier.AddressClass.RESIDENTIAL,
    "BUSINESS": carrier.AddressClass.COMMERCIAL,
}


def _ups(adapter: base.Adapter, address: types.Address) -> carrier.AddressValidation:
    from adapters.ups import address as ups_address
    from adapters.ups.client import UpsAdapter

    assert isinstance(adapter, UpsAdapter)
    return ups_address.validate_address(adapter, address)


def _fedex(adapter: base.Adapter, address: types.Address) -> carrier.AddressValidation:
    checks = adapter.validate_address([address])  # type: ignore[attr-defined]  # FedexAdapter only
    if not checks:
        raise base.CarrierUnavailable(
            "fedex", "FedEx returned no resolved address", code="malformed_response"
        )
    check = checks[0]
    kind = _FEDEX_CLASSES.get(check.classification, carrier.AddressClass.UNKNOWN)  # MIXED: unknown
    return carrier.AddressValidation(
        carrier="fedex",
        address=check.address,
        classification=kind,
        valid=bool(check.resolved),
        messages=tuple(check.messages),
    )


def _usps(adapter: base.Adapter, address: types.Address) -> carrier.AddressValidation:
    check = adapter.check_address(address)  # type: ignore[attr-defined]  # UspsAdapter only
    if check.business is True:
        kind = carrier.AddressClass.COMMERCIAL
    elif check.business is False:
        kind = carrier.AddressClass.RESIDENTIAL
    else:
        kind = carrier.AddressClass.UNKNOWN
    messages = tuple(check.corrections) + tuple(check.warnings)
    if check.vacant:
        messages = (*messages, "USPS: the delivery point is vacant")
    return carrier.AddressValidation(
        carrier="usps",
        address=check.address,
        classification=kind,
        valid=check.deliverable,
        messages=messages,
    )


# Adapter name -> its address check. The order is the default's preference when none is asked.
CHECKS: dict[str, Check] = {"ups": _ups, "fedex": _fedex, "usps": _usps}


def can_validate(adapter: Any) -> bool:
    """Whether an enabled adapter offers an address check."""
    return getattr(adapter, "name", None) in CHECKS


def enabled(registry: Any) -> Iterator[tuple[str, base.Adapter]]:
    """Every enabled adapter (id, adapter) that can check addresses, in id order."""
    for key in registry:
        adapter = registry.get(key)
        if can_validate(adapter):
            yield key, adapter


def validate(adapter: base.Adapter, address: types.Address) -> carrier.AddressValidation:
    """Ask one adapter's carrier to validate and classify an address."""
    return CHECKS[adapter.name](adapter, address)
