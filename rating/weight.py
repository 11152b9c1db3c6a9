"""Parcel measures in a card's units, and billable weight = max(actual, dimensional), rounded."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import NamedTuple

from schemas import types, units

# Converting kg to lb (or cm to in) yields long fractions: 4.536 kg is 10.00016 lb. Carriers
# round up to the next pound, so without this step a parcel weighed as 10 lb and stored in kg
# would be billed 11 lb. A thousandth of a pound or inch is far below any scale's resolution.
_CONVERTED = Decimal("0.001")
_MODES = {"up": ROUND_CEILING, "nearest": ROUND_HALF_UP}


@dataclass(frozen=True, slots=True)
class Rounding:
    """Round to a multiple of ``increment``: ``up`` (any fraction counts) or ``nearest`` (half up)."""

    increment: Decimal
    mode: str

    def apply(self, value: Decimal) -> Decimal:
        """Return the value rounded to this rule."""
        steps = (value / self.increment).to_integral_value(rounding=_MODES[self.mode])
        return steps * self.increment


@dataclass(frozen=True, slots=True)
class WeightRule:
    """How a card measures: its units and its dimensional-weight and rounding rules."""

    weight_unit: str
    length_unit: str
    dim_divisor: Decimal | None = None
    dim_over_volume: Decimal | None = None
    dimension_rounding: Rounding | None = None
    weight_rounding: Rounding | None = None


class Measured(NamedTuple):
    """One parcel in a card's units, sides longest first (a tuple: built once per parcel per quote)."""

    weight: Decimal
    longest: Decimal
    middle: Decimal
    shortest: Decimal

    @property
    def length_plus_girth(self) -> Decimal:
        return self.longest + 2 * (self.middle + self.shortest)


def measure(rule: WeightRule, parcel: types.Parcel) -> Measured:
    """Return the parcel's actual weight and sides in the card's units."""
    a, b, c = sorted((parcel.length_cm, parcel.width_cm, parcel.height_cm), reverse=True)
    w = parcel.weight_kg
    if rule.weight_unit != "kg":
        w = (w / units.WEIGHT_UNITS[rule.weight_unit]).quantize(_CONVERTED, ROUND_HALF_EVEN)
    if rule.length_unit != "cm":
        f = units.LENGTH_UNITS[rule.length_unit]
        a = (a / f).quantize(_CONVERTED, ROUND_HALF_EVEN)
        b = (b / f).quantize(_CONVERTED, ROUND_HALF_EVEN)
        c = (c / f).quantize(_CONVERTED, ROUND_HALF_EVEN)
    return Measured(w, a, b, c)


def dimensional(rule: WeightRule, m: Measured) -> Decimal | None:
    """Return the unrounded dimensional weight, or None when the card does not apply one."""
    if rule.dim_divisor is None:
        return None
    a, b, c = m.longest, m.middle, m.shortest
    r = rule.dimension_rounding
    if r is not None:
        inc, mode = r.increment, _MODES[r.mode]
        a = (a / inc).to_integral_value(mode) * inc
        b = (b / inc).to_integral_value(mode) * inc
        c = (c / inc).to_integral_value(mode) * inc
    volume = a * b * c
    if rule.dim_over_volume is not None and volume <= rule.dim_over_volume:
        return None
    return volume / rule.dim_divisor


def billable(rule: WeightRule, m: Measured) -> Decimal:
    """Return max(actual, dimensional) rounded by the card's rule (rounding max == max of roundings)."""
    dim = dimensional(rule, m)
    w = m.weight if dim is None or dim <= m.weight else dim
    if rule.weight_rounding is not None:
        w = rule.weight_rounding.apply(w)
    return w
