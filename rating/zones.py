"""Postal areas and zones: prefix/range tables built once per card, looked up by bisection."""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

from rating import errors

V = TypeVar("V")

_STRIP = str.maketrans("", "", " -")


def normalize_postal(postal: str | None) -> str:
    """Return a postal code upper-cased without spaces or hyphens, so 'sw1a 1aa' matches 'SW1A'."""
    return (postal or "").translate(_STRIP).upper()


class _Table(Generic[V]):
    """Non-overlapping inclusive ranges of equal-length keys, searched by bisection."""

    __slots__ = ("ends", "length", "starts", "values")

    def __init__(self, length: int, ranges: list[tuple[str, str, V]], where: str) -> None:
        ranges.sort(key=lambda r: (r[0], r[1]))
        merged: list[tuple[str, str, V]] = []
        for lo, hi, value in ranges:
            if merged and lo <= merged[-1][1]:
                plo, phi, pvalue = merged[-1]
                if pvalue != value:
                    raise errors.CardError(
                        [f"{where}: postal range {lo}-{hi} overlaps {plo}-{phi} with a different value"]
                    )
                merged[-1] = (plo, max(phi, hi), pvalue)
            else:
                merged.append((lo, hi, value))
        self.length = length
        self.starts = [r[0] for r in merged]
        self.ends = [r[1] for r in merged]
        self.values = [r[2] for r in merged]

    def find(self, postal: str) -> V | None:
        if len(postal) < self.length:
            return None
        key = postal[: self.length]
        i = bisect.bisect_right(self.starts, key) - 1
        if i >= 0 and key <= self.ends[i]:
            return self.values[i]
        return None


class AreaIndex(Generic[V]):
    """Map (country, postal code) to a value; the longest matching postal prefix wins."""

    __slots__ = ("_countries",)

    def __init__(self, entries: Iterable[tuple[Mapping[str, Any], V]], where: str = "areas") -> None:
        whole: dict[str, V] = {}
        ranges: dict[str, dict[int, list[tuple[str, str, V]]]] = {}
        for area, value in entries:
            country = area["country"]
            prefixes = area.get("postal_prefixes", ())
            spans = area.get("postal_ranges", ())
            if not prefixes and not spans:
                if country in whole and whole[country] != value:
                    raise errors.CardError(
                        [f"{where}: country {country} is listed twice with different values"]
                    )
                whole[country] = value
                continue
            by_len = ranges.setdefault(country, {})
            for prefix in prefixes:
                by_len.setdefault(len(prefix), []).append((prefix, prefix, value))
            for span in spans:
                lo, hi = span["from"], span["to"]
                if len(lo) != len(hi) or lo > hi:
                    raise errors.CardError(
                        [f"{where}: postal range {lo}-{hi} needs equal-length bounds with from <= to"]
                    )
                by_len.setdefault(len(lo), []).append((lo, hi, value))
        countries: dict[str, tuple[tuple[_Table[V], ...], V | None]] = {}
        for country in set(whole) | set(ranges):
            tables = tuple(
                _Table(length, spans_, where)
                for length, spans_ in sorted(ranges.get(country, {}).items(), reverse=True)
            )
            countries[country] = (tables, whole.get(country))
        self._countries = countries

    def lookup(self, country: str, postal: str) -> V | None:
        """Return the value for a country and a normalized postal code, or None when not covered."""
        entry = self._countries.get(country)
        if entry is None:
            return None
        tables, default = entry
        for table in tables:
            found = table.find(postal)
            if found is not None:
                return found
        return default

    def covers(self, country: str, postal: str) -> bool:
        """Return whether the area list covers this country and normalized postal code."""
        return self.lookup(country, postal) is not None


@dataclass(frozen=True, slots=True)
class PostalZones:
    """Zone charts: the origin picks a chart, the destination picks the zone within it."""

    origins: AreaIndex[int]
    charts: tuple[AreaIndex[str], ...]

    def zone_for(self, o_country: str, o_postal: str, d_country: str, d_postal: str) -> str | None:
        """Return the zone for normalized origin and destination, or None when not served."""
        chart = self.origins.lookup(o_country, o_postal)
        if chart is None:
            return None
        return self.charts[chart].lookup(d_country, d_postal)


@dataclass(frozen=True, slots=True)
class DistanceZones:
    """Distance bands in road km, ascending."""

    upper_km: tuple[Decimal, ...]
    zones: tuple[str, ...]
    road_factor: Decimal

    def zone_for_km(self, km: Decimal) -> str | None:
        """Return the band a road distance falls in (inclusive upper bound), or None beyond the last."""
        i = bisect.bisect_left(self.upper_km, km)
        return self.zones[i] if i < len(self.zones) else None


def build_postal_zones(charts: Sequence[Mapping[str, Any]]) -> PostalZones:
    """Build zone lookup tables from the card's ``zones.charts``."""
    origin_entries: list[tuple[Mapping[str, Any], int]] = []
    tables: list[AreaIndex[str]] = []
    for i, chart in enumerate(charts):
        origin_entries.extend((area, i) for area in chart["origins"])
        tables.append(
            AreaIndex(
                ((area, dest["zone"]) for dest in chart["destinations"] for area in dest["areas"]),
                where=f"zones.charts[{i}].destinations",
            )
        )
    return PostalZones(AreaIndex(origin_entries, where="zones.charts[].origins"), tuple(tables))


def build_distance_zones(bands: Sequence[Mapping[str, Any]], road_factor: str | None) -> DistanceZones:
    """Build distance bands from the card's ``zones.bands``."""
    upper = tuple(Decimal(b["up_to_km"]) for b in bands)
    if any(b <= a for a, b in itertools.pairwise(upper)):
        raise errors.CardError(["zones.bands: up_to_km must be strictly ascending"])
    return DistanceZones(upper, tuple(b["zone"] for b in bands), Decimal(road_factor or "1.3"))


_EARTH_KM = 6371.0088


def straight_line_km(lat1: Decimal, lon1: Decimal, lat2: Decimal, lon2: Decimal) -> Decimal:
    """Return the great-circle distance in km, to 0.1 km (a distance, not money, so floats are fine)."""
    p1, p2 = math.radians(float(lat1)), math.radians(float(lat2))
    dp, dl = p2 - p1, math.radians(float(lon2) - float(lon1))
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return Decimal(f"{2 * _EARTH_KM * math.asin(math.sqrt(h)):.1f}")
