"""Unit conversion to the canonical units: kilograms and centimetres, as Decimal."""

from __future__ import annotations

from decimal import Decimal

WEIGHT_UNITS: dict[str, Decimal] = {
    "kg": Decimal(1),
    "g": Decimal("0.001"),
    "lb": Decimal("0.45359237"),
    "oz": Decimal("0.028349523125"),
}
LENGTH_UNITS: dict[str, Decimal] = {
    "cm": Decimal(1),
    "mm": Decimal("0.1"),
    "m": Decimal(100),
    "in": Decimal("2.54"),
}


def to_kg(value: Decimal, unit: str) -> Decimal:
    """Convert a weight to kilograms."""
    return value * WEIGHT_UNITS[unit]


def to_cm(value: Decimal, unit: str) -> Decimal:
    """Convert a length to centimetres."""
    return value * LENGTH_UNITS[unit]


def from_kg(value: Decimal, unit: str) -> Decimal:
    """Convert kilograms to another weight unit."""
    return value / WEIGHT_UNITS[unit]


def from_cm(value: Decimal, unit: str) -> Decimal:
    """Convert centimetres to another length unit."""
    return value / LENGTH_UNITS[unit]
