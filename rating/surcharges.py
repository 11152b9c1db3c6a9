"""Surcharges: fuel, residential, remote area, oversize and handling thresholds, options, declared value."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from rating import errors, weight, zones

FUEL = "fuel"
RESIDENTIAL = "residential"
REMOTE_AREA = "remote_area"
OVERSIZE = "oversize"
ADDITIONAL_HANDLING = "additional_handling"
SATURDAY = "saturday"
SIGNATURE = "signature"
DECLARED_VALUE = "declared_value"
_THRESHOLD_KINDS = frozenset({OVERSIZE, ADDITIONAL_HANDLING})
PACKAGE_KINDS = frozenset({OVERSIZE, ADDITIONAL_HANDLING, DECLARED_VALUE})  # depend on each package
FLAT_KINDS = frozenset({RESIDENTIAL, REMOTE_AREA, SATURDAY, SIGNATURE})  # fixed amount when they apply
_HUNDRED = Decimal(100)
# The package measures thresholds can name, in the order of ``measures()``.
MEASURES = ("longest_side", "second_longest", "length_plus_girth", "weight")


@dataclass(frozen=True, slots=True)
class Surcharge:
    """One compiled surcharge rule of a card."""

    code: str
    kind: str
    description: str
    amount: Decimal = Decimal(0)
    per_package: bool = False
    percent: Decimal = Decimal(0)
    applies_to: frozenset[str] = frozenset()
    areas: zones.AreaIndex[bool] | None = None
    # (index into MEASURES, threshold): applies when any measure strictly exceeds its threshold.
    thresholds: tuple[tuple[int, Decimal], ...] = ()
    supersedes: frozenset[str] = frozenset()
    free_up_to: Decimal = Decimal(0)
    increment: Decimal = Decimal(1)
    minimum: Decimal = Decimal(0)


def compile_surcharges(
    docs: Sequence[Mapping[str, Any]], line_codes: frozenset[str]
) -> tuple[Surcharge, ...]:
    """Build surcharge rules from the card's ``surcharges``, checking codes and references."""
    problems: list[str] = []
    seen: set[str] = set()
    out: list[Surcharge] = []
    for i, doc in enumerate(docs):
        code, kind = doc["code"], doc["kind"]
        if code in seen or code in line_codes:
            problems.append(f"surcharges[{i}].code: {code!r} is used twice")
        seen.add(code)
        common: dict[str, Any] = {"code": code, "kind": kind, "description": doc["description"]}
        if kind == FUEL:
            out.append(
                Surcharge(**common, percent=Decimal(doc["percent"]), applies_to=frozenset(doc["applies_to"]))
            )
        elif kind in _THRESHOLD_KINDS:
            out.append(
                Surcharge(
                    **common,
                    amount=Decimal(doc["amount"]),
                    per_package=True,
                    thresholds=tuple(
                        (MEASURES.index(name.removesuffix("_exceeds")), Decimal(v))
                        for name, v in doc["when"].items()
                    ),
                    supersedes=frozenset(doc.get("supersedes", ())),
                )
            )
        elif kind == DECLARED_VALUE:
            out.append(
                Surcharge(
                    **common,
                    amount=Decimal(doc["amount"]),
                    per_package=True,
                    free_up_to=Decimal(doc.get("free_up_to", "0")),
                    increment=Decimal(doc["increment"]),
                    minimum=Decimal(doc.get("minimum", "0")),
                )
            )
        else:
            areas = None
            if kind == REMOTE_AREA:
                areas = zones.AreaIndex(((a, True) for a in doc["areas"]), where=f"surcharges[{i}].areas")
            out.append(
                Surcharge(
                    **common,
                    amount=Decimal(doc["amount"]),
                    per_package=doc.get("per", "shipment") == "package",
                    areas=areas,
                )
            )
    codes = seen | line_codes
    fuel_codes = {s.code for s in out if s.kind == FUEL}
    for i, s in enumerate(out):
        for ref in sorted(s.applies_to):
            if ref not in codes or ref in fuel_codes:
                problems.append(
                    f"surcharges[{i}].applies_to: {ref!r} is not a non-fuel line code of this card"
                )
        for ref in sorted(s.supersedes):
            if ref not in codes:
                problems.append(f"surcharges[{i}].supersedes: {ref!r} is not a line code of this card")
    if problems:
        raise errors.CardError(problems)
    return tuple(out)


def measures(m: weight.Measured) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """Return a package's measures in the order of MEASURES."""
    return (m.longest, m.middle, m.length_plus_girth, m.weight)


def package_charges(
    rules: Sequence[Surcharge], m: weight.Measured, declared: Decimal | None
) -> list[tuple[Surcharge, Decimal]]:
    """Return the threshold and declared-value surcharges one package triggers, after supersession."""
    hits: list[tuple[Surcharge, Decimal]] = []
    values = measures(m)
    for s in rules:
        if s.thresholds:
            for index, limit in s.thresholds:
                if values[index] > limit:
                    hits.append((s, s.amount))
                    break
        elif s.kind == DECLARED_VALUE and declared is not None and declared > s.free_up_to:
            steps = ((declared - s.free_up_to) / s.increment).to_integral_value(rounding=ROUND_CEILING)
            hits.append((s, max(steps * s.amount, s.minimum)))
    if len(hits) > 1:
        dropped = frozenset().union(*(s.supersedes for s, _ in hits))
        if dropped:
            hits = [(s, a) for s, a in hits if s.code not in dropped]
    return hits


def applies_to_shipment(
    s: Surcharge, *, residential: bool, country: str, postal: str, options: frozenset[str]
) -> bool:
    """Return whether a flat (residential, remote area, Saturday, signature) surcharge applies."""
    if s.kind == RESIDENTIAL:
        return residential
    if s.kind == REMOTE_AREA:
        return s.areas is not None and s.areas.covers(country, postal)
    if s.kind in (SATURDAY, SIGNATURE):
        return s.kind in options
    return False


def fuel_amount(s: Surcharge, lines: Mapping[str, Decimal]) -> Decimal:
    """Return the fuel surcharge as a percentage of the chosen (already rounded) lines."""
    base = sum((amount for code, amount in lines.items() if code in s.applies_to), Decimal(0))
    return base * s.percent / _HUNDRED
