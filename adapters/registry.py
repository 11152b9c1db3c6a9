"""Which adapters exist and which are enabled: an explicit list, loaded at bootstrap, never at import."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterable, Iterator, Mapping
from importlib import metadata
from typing import Any

from adapters import base, codes

ENTRY_POINT_GROUP = "handoff.adapters"

# Adapters shipped with Handoff. Third parties add theirs through the entry-point group above.
BUILTINS: dict[str, str] = {
    "ups": "adapters.ups.client:UpsAdapter",
    "dhl_express": "adapters.dhl_express.client:DhlExpressAdapter",
    "fleet": "adapters.fleet.adapter:FleetAdapter",
    "fedex": "adapters.fedex.client:FedexAdapter",
    "usps": "adapters.usps.client:UspsAdapter",
}


class RegistryError(base.AdapterError):
    """An adapter named in configuration cannot be found, loaded or configured."""


def _load_target(target: str) -> type[base.Adapter]:
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    cls = getattr(module, attribute)
    if not (isinstance(cls, type) and issubclass(cls, base.Adapter)):
        raise RegistryError(f"{target} is not an adapters.base.Adapter subclass")
    return cls


@functools.cache
def _entry_points() -> tuple[tuple[str, str], ...]:
    return tuple((ep.name, ep.value) for ep in metadata.entry_points(group=ENTRY_POINT_GROUP))


def available() -> dict[str, str]:
    """Return every known adapter name with its import target (built-ins, then entry points).

    Entry points are read once per process; ``reload()`` reads them again (after installing a plugin).
    """
    found = dict(BUILTINS)
    found.update(_entry_points())
    return found


def reload() -> None:
    """Forget the entry points and classes read so far: the next lookup reads the installed plugins again."""
    _entry_points.cache_clear()
    _adapter_class.cache_clear()


@functools.cache
def _adapter_class(name: str, target: str) -> type[base.Adapter]:
    return _load_target(target)


def adapter_class(name: str) -> type[base.Adapter]:
    """Return the adapter class registered under name."""
    target = available().get(name)
    if target is None:
        raise RegistryError(f"no adapter named {name!r}; known: {sorted(available())}")
    try:
        return _adapter_class(name, target)
    except (ImportError, AttributeError) as exc:
        raise RegistryError(f"adapter {name!r} ({target}) cannot be loaded: {exc}") from exc


def known(name: str) -> type[base.Adapter] | None:
    """Return the adapter class registered under name, or None (unknown, or it cannot be loaded)."""
    try:
        return adapter_class(name)
    except RegistryError:
        return None


def display_name(name: str) -> str:
    """How people call the carrier of this adapter name (its ``display_name``), else the name itself."""
    cls = known(name)
    return (cls.display_name if cls is not None else "") or name


def receiver(name: str) -> type[base.Adapter] | None:
    """Return the adapter class that receives pushes at ``/v1/callbacks/<name>``, or None (unknown carrier,
    an adapter that cannot be loaded, or one that declares no ``callback``)."""
    cls = known(name)
    return cls if cls is not None and cls.callback is not None else None


def code_table(carrier: str) -> codes.CodeTable:
    """Return a carrier's tracking code table: its adapter's own, or an in-tree table for a carrier that
    has a table but no adapter. Raises ``codes.MappingError`` when there is none."""
    if carrier in available():
        try:
            cls = adapter_class(carrier)
        except RegistryError as exc:
            raise codes.MappingError(str(exc)) from None
        return cls.code_table()
    return codes.load_table(carrier)


class Registry:
    """The enabled adapter instances, keyed by their configured id (one per carrier account)."""

    def __init__(self, adapters: Mapping[str, base.Adapter]) -> None:
        self._adapters = dict(adapters)

    def get(self, key: str) -> base.Adapter:
        """Return the enabled adapter with this id."""
        try:
            return self._adapters[key]
        except KeyError:
            raise RegistryError(f"no enabled adapter {key!r}; enabled: {sorted(self._adapters)}") from None

    def with_capability(self, capability: base.Capability) -> list[base.Adapter]:
        """Return the enabled adapters that declare capability."""
        return [a for a in self._adapters.values() if a.supports(capability)]

    def describe(self) -> list[dict[str, Any]]:
        """Return the enabled adapters with their capabilities and masked configuration."""
        return [
            {
                "id": key,
                "name": a.name,
                "capabilities": sorted(c.value for c in a.capabilities),
                "config": a.masked_config(),
            }
            for key, a in sorted(self._adapters.items())
        ]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._adapters))

    def __len__(self) -> int:
        return len(self._adapters)

    def close(self) -> None:
        """Close every adapter."""
        for adapter in self._adapters.values():
            adapter.close()


def load(entries: Iterable[Mapping[str, Any]], *, recorder: base.Recorder | None = None) -> Registry:
    """Build the registry from config entries ``{"adapter", "id"?, "enabled"?, "config"}``."""
    adapters: dict[str, base.Adapter] = {}
    for position, entry in enumerate(entries):
        name = entry.get("adapter")
        if not isinstance(name, str) or not name:
            raise RegistryError(f"adapter entry #{position} has no 'adapter' name")
        if not entry.get("enabled", True):
            continue
        key = str(entry.get("id") or name)
        if key in adapters:
            raise RegistryError(f"adapter id {key!r} is configured twice")
        cls = adapter_class(name)
        try:
            adapters[key] = cls(entry.get("config") or {}, recorder=recorder)
        except base.ConfigurationError as exc:
            raise RegistryError(f"adapter {key!r}: {exc}") from exc
    return Registry(adapters)
