"""Weight-break price tables: the price of the first break at or above the billable weight."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class ZoneRates:
    """One zone's ascending weight breaks, plus an optional rate per weight unit above the top."""

    upper: tuple[Decimal, ...]
    prices: tuple[Decimal, ...]
    per_unit_over: Decimal | None

    def price_for(self, weight: Decimal) -> Decimal | None:
        """Return the transportation price for a billable weight, or None above the card's range."""
        i = bisect.bisect_left(self.upper, weight)
        if i < len(self.prices):
            return self.prices[i]
        if self.per_unit_over is None:
            return None
        return self.prices[-1] + (weight - self.upper[-1]) * self.per_unit_over
