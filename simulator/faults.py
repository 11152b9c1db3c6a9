"""Seeded, deterministic fault injection, per carrier, changeable at runtime."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

KINDS: tuple[str, ...] = ("error_5xx", "timeout", "malformed", "charged_timeout")
# Operations that sell a label: only these can be "charged then timed out".
PURCHASES: frozenset[str] = frozenset({"ship", "label"})


class FaultConfigError(ValueError):
    """A fault configuration the simulator cannot honour."""


@dataclass(frozen=True)
class CarrierFaults:
    """Failure rates (0..1) for one carrier, optionally limited to some operations."""

    error_5xx: float = 0.0
    timeout: float = 0.0
    malformed: float = 0.0
    charged_timeout: float = 0.0
    operations: frozenset[str] | None = None  # None: every operation

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {kind: getattr(self, kind) for kind in KINDS}
        data["operations"] = sorted(self.operations) if self.operations is not None else None
        return data


def parse_carrier_faults(data: dict[str, Any]) -> CarrierFaults:
    """Validate one carrier's fault settings and return them."""
    if not isinstance(data, dict):
        raise FaultConfigError("fault settings must be an object")
    unknown = set(data) - set(KINDS) - {"operations"}
    if unknown:
        raise FaultConfigError(f"unknown fault settings {sorted(unknown)}; use {list(KINDS)} and operations")
    rates: dict[str, float] = {}
    for kind in KINDS:
        value = data.get(kind, 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
            raise FaultConfigError(f"{kind} must be a number between 0 and 1, got {value!r}")
        rates[kind] = float(value)
    if sum(rates.values()) > 1.0 + 1e-9:
        raise FaultConfigError("the fault rates of one carrier must add up to at most 1")
    operations = data.get("operations")
    if operations is not None and (
        not isinstance(operations, list) or not all(isinstance(op, str) for op in operations)
    ):
        raise FaultConfigError("operations must be a list of operation names")
    return CarrierFaults(operations=frozenset(operations) if operations is not None else None, **rates)


class FaultInjector:
    """Decide, per request, whether and how a carrier call fails.

    Each carrier draws from its own generator seeded with (seed, carrier), so one carrier's
    sequence of faults does not depend on how its calls interleave with another carrier's.
    """

    def __init__(self, seed: int, carriers: dict[str, dict[str, Any]] | None = None) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._faults: dict[str, CarrierFaults] = {}
        self._rngs: dict[str, random.Random] = {}
        self.injected: dict[str, dict[str, int]] = {}
        self.configure(carriers or {}, seed=seed)

    def configure(self, carriers: dict[str, dict[str, Any]], seed: int | None = None) -> None:
        """Replace the fault settings of the given carriers (and reseed every generator if seed given)."""
        parsed = {carrier: parse_carrier_faults(settings) for carrier, settings in carriers.items()}
        with self._lock:
            if seed is not None:
                self._seed = seed
                self._rngs.clear()
                self.injected.clear()
            self._faults.update(parsed)

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    def snapshot(self) -> dict[str, Any]:
        """Return the current settings and how many faults were injected so far."""
        with self._lock:
            return {
                "seed": self._seed,
                "carriers": {carrier: faults.to_json() for carrier, faults in self._faults.items()},
                "injected": {carrier: dict(counts) for carrier, counts in self.injected.items()},
            }

    def decide(self, carrier: str, operation: str) -> str | None:
        """Return the fault kind to inject into this call, or None to answer normally."""
        with self._lock:
            faults = self._faults.get(carrier)
            if faults is None or (faults.operations is not None and operation not in faults.operations):
                return None
            rng = self._rngs.setdefault(carrier, random.Random(f"{self._seed}:{carrier}"))
            draw = rng.random()
            threshold = 0.0
            chosen = None
            for kind in KINDS:
                rate = getattr(faults, kind)
                # A lost-but-charged answer only makes sense for a purchase; elsewhere it is a timeout.
                threshold += rate
                if draw < threshold:
                    chosen = kind if kind != "charged_timeout" or operation in PURCHASES else "timeout"
                    break
            if chosen is not None:
                counts = self.injected.setdefault(carrier, {})
                counts[chosen] = counts.get(chosen, 0) + 1
            return chosen
