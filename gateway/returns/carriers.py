"""Which carriers sell return labels: the adapters declaring ``Capability.RETURN`` (not the own fleet)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters import base, registry
from gateway.kernel.errors import Problem
from gateway.labels.states import OWN_FLEET

if TYPE_CHECKING:
    from gateway.kernel.container import Container


def _class_supports(carrier: str) -> bool | None:
    """Whether the adapter named ``carrier`` declares RETURN (None: no adapter has that name)."""
    try:
        return base.Capability.RETURN in registry.adapter_class(carrier).capabilities
    except registry.RegistryError:
        return None


def supports_returns(carrier: str, container: Container | None = None) -> bool:
    """Whether a return label can be bought from ``carrier`` (an enabled account's id or an adapter name).

    Not the own fleet: its plans route deliveries out of a depot; collecting a return is not modelled.
    """
    if carrier == OWN_FLEET:
        return False
    if container is not None:
        accounts = container.carriers
        for key in accounts:
            adapter = accounts.get(key)
            if carrier in (key, adapter.name):
                return adapter.supports(base.Capability.RETURN)
    return bool(_class_supports(carrier))


def supports_qr(carrier: str, container: Container | None = None) -> bool:
    """Whether ``carrier``'s return labels can come with a QR code (``Capability.RETURN_QR``)."""
    if container is not None:
        accounts = container.carriers
        for key in accounts:
            adapter = accounts.get(key)
            if carrier in (key, adapter.name):
                return adapter.supports(base.Capability.RETURN_QR)
    try:
        return base.Capability.RETURN_QR in registry.adapter_class(carrier).capabilities
    except registry.RegistryError:
        return False


def qr_carriers() -> list[str]:
    """The adapter names whose return labels can come with a QR code."""
    return sorted(name for name in registry.available() if supports_qr(name))


def supported() -> list[str]:
    """The adapter names that sell return labels."""
    return sorted(name for name in registry.available() if _class_supports(name))


def not_supported(carrier: str) -> Problem:
    """The 422 for a return with a carrier whose return labels the gateway cannot buy."""
    return Problem(
        "return-not-supported",
        f"{carrier} return labels cannot be bought through the gateway; name another carrier "
        f"({', '.join(supported())}).",
        errors={"carrier": ["offers no return labels"]},
        extra={"carrier": carrier, "supported_carriers": supported()},
    )


def refuse_label_unless_supported(carrier: str) -> None:
    """What a label request for a return runs: the 422 when the adapter named ``carrier`` has no returns.

    A carrier code that names no adapter (an account id) is left to the purchase, where the adapter
    itself refuses a return it does not declare (``returns_not_supported``).
    """
    if carrier == OWN_FLEET or _class_supports(carrier) is False:
        raise not_supported(carrier)
