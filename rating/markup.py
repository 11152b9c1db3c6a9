"""Tenant markup: the sell price of each charge line from its cost."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from rating import errors
from schemas import money

_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Markup:
    """A percentage on every line, and/or a fixed amount per shipment added to the first line."""

    percent: Decimal = Decimal(0)
    fixed: money.Money | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.percent, Decimal):
            raise TypeError("Markup.percent must be a Decimal")
        if self.percent < 0:
            raise errors.RatingError(f"markup percent must not be negative, got {self.percent}")
        if self.fixed is not None and self.fixed.amount < 0:
            raise errors.RatingError(f"fixed markup must not be negative, got {self.fixed}")


def sell_amounts(markup: Markup | None, costs: Sequence[Decimal], currency: str) -> list[Decimal]:
    """Return the sell amount of each line, rounded to the currency's minor unit (half even)."""
    if markup is None:
        return list(costs)
    quantum = Decimal(1).scaleb(-money.exponent(currency))
    factor = 1 + markup.percent / _HUNDRED
    sells = [(c * factor).quantize(quantum, rounding=ROUND_HALF_EVEN) for c in costs]
    if markup.fixed is not None and sells:
        if markup.fixed.currency != currency:
            raise money.CurrencyError(
                f"fixed markup in {markup.fixed.currency} cannot apply to a {currency} card"
            )
        sells[0] = (sells[0] + markup.fixed.amount).quantize(quantum, rounding=ROUND_HALF_EVEN)
    return sells


ANY = "*"  # a markup rule's carrier or service that matches every carrier or service


def choose(rules: Mapping[tuple[str, str], Markup], carrier: str, service_code: str) -> Markup | None:
    """Return the tenant's markup for a carrier service: the most specific rule wins.

    ``rules`` maps ``(carrier, service_code)`` to a markup, with ``ANY`` as a wildcard:
    ``(carrier, service)`` beats ``(carrier, ANY)``, which beats the default ``(ANY, ANY)``.
    A rule of zero percent and no fixed amount is a real rule (no markup), not a miss.
    """
    if not rules:
        return None
    for key in ((carrier, service_code), (carrier, ANY), (ANY, ANY)):
        found = rules.get(key)
        if found is not None:
            return found
    return None
