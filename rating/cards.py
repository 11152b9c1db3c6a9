"""Rate cards: load, validate against the JSON Schema, and precompile into frozen lookups."""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema

from rating import breaks, errors, fleet, promise, surcharges, weight, zones
from rating.surcharges import Surcharge
from schemas import money

BASE = "BASE"  # the line code of the transportation charge
_MONEY_HINT = "must be a decimal string such as '12.50' (JSON numbers are refused so amounts stay exact)"
_MAX_PROBLEMS = 25


@dataclass(frozen=True, slots=True)
class Limits:
    """What a service accepts: per-package weight and size, and served origin/destination areas."""

    max_weight: Decimal | None = None
    max_length: Decimal | None = None
    max_length_plus_girth: Decimal | None = None
    origins: zones.AreaIndex[bool] | None = None
    destinations: zones.AreaIndex[bool] | None = None


@dataclass(frozen=True, slots=True)
class RateCard:
    """One version of a carrier service's price list, compiled for fast pricing."""

    id: str
    version: int
    carrier: str
    service_code: str
    service_name: str
    currency: str
    effective_from: date
    effective_to: date | None
    guaranteed: bool
    weight_rule: weight.WeightRule
    zones: zones.PostalZones | zones.DistanceZones
    rates: Mapping[str, breaks.ZoneRates] | None
    minimum_charge: Decimal
    fleet_cost: fleet.CostModel | None
    surcharges: tuple[Surcharge, ...]
    schedule: promise.Schedule
    limits: Limits
    # Partitions of ``surcharges`` in card order, precomputed so pricing does not re-sort them.
    package_surcharges: tuple[Surcharge, ...] = ()
    flat_surcharges: tuple[Surcharge, ...] = ()
    fuel_surcharges: tuple[Surcharge, ...] = ()
    offers_saturday: bool = False

    def is_effective(self, on: date) -> bool:
        """Return whether the card applies on this day (both ends inclusive)."""
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)


@functools.cache
def schema() -> dict[str, Any]:
    """Return the rate card JSON Schema document."""
    text = resources.files("schemas").joinpath("json/rate_card.schema.json").read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.FormatChecker())


def _field(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(card)"


def _message(error: jsonschema.ValidationError) -> str:
    decimal_patterns = {
        schema()["$defs"]["decimal"]["pattern"],
        schema()["$defs"]["positive_decimal"]["pattern"],
    }
    if error.validator == "pattern" and error.validator_value in decimal_patterns:
        return f"{error.instance!r} {_MONEY_HINT}"
    if (
        error.validator == "type"
        and isinstance(error.instance, int | float | Decimal)
        and error.validator_value == "string"
    ):
        # parse_float=Decimal keeps 9.10 as written, so the error quotes the author's number.
        return f"{error.instance} {_MONEY_HINT}"
    return error.message


def validate(doc: Any) -> list[str]:
    """Return every problem with a card document as 'field: message' (empty when valid)."""
    found = sorted(_validator().iter_errors(doc), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    problems = [f"{_field(e.absolute_path)}: {_message(e)}" for e in found[:_MAX_PROBLEMS]]
    if problems:
        return problems
    try:
        _compile(doc)
    except errors.CardError as exc:
        return list(exc.problems)
    return []


def parse(doc: Mapping[str, Any]) -> RateCard:
    """Validate a card document and compile it, raising CardError that names each bad field."""
    found = sorted(_validator().iter_errors(doc), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if found:
        raise errors.CardError([f"{_field(e.absolute_path)}: {_message(e)}" for e in found[:_MAX_PROBLEMS]])
    return _compile(doc)


def loads(text: str) -> RateCard:
    """Parse a card from JSON text (floats are kept as Decimal so they fail validation clearly)."""
    try:
        doc = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise errors.CardError([f"(card): not valid JSON: {exc}"]) from exc
    return parse(doc)


def load_path(path: Path | str) -> RateCard:
    """Read and parse a card file."""
    return loads(Path(path).read_text(encoding="utf-8"))


def sample_names() -> list[str]:
    """Return the names of the bundled sample cards (file names without .json)."""
    folder = resources.files("rating").joinpath("cards")
    return sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))


def load_sample(name: str) -> RateCard:
    """Load one bundled sample card by name, e.g. 'ups_ground'."""
    return loads(resources.files("rating").joinpath(f"cards/{name}.json").read_text(encoding="utf-8"))


def load_samples() -> list[RateCard]:
    """Load every bundled sample card."""
    return [load_sample(n) for n in sample_names()]


def effective(cards: Iterable[RateCard], on: date) -> list[RateCard]:
    """Return, per carrier service, the highest version effective on ``on``."""
    best: dict[tuple[str, str], RateCard] = {}
    for card in cards:
        key = (card.carrier, card.service_code)
        if card.is_effective(on) and (key not in best or card.version > best[key].version):
            best[key] = card
    return list(best.values())


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _rounding(doc: Mapping[str, Any] | None) -> weight.Rounding | None:
    return None if doc is None else weight.Rounding(Decimal(doc["increment"]), doc["mode"])


def _compile(doc: Mapping[str, Any]) -> RateCard:
    problems: list[str] = []
    currency = doc["currency"]
    try:
        money.exponent(currency)
    except money.CurrencyError:
        problems.append(f"currency: {currency!r} is not a supported ISO 4217 code")
    start = date.fromisoformat(doc["effective_from"])
    end = date.fromisoformat(doc["effective_to"]) if doc.get("effective_to") else None
    if end is not None and end < start:
        problems.append("effective_to: must not be before effective_from")

    zdoc = doc["zones"]
    zone_table: zones.PostalZones | zones.DistanceZones
    if zdoc["by"] == "postal":
        zone_table = zones.build_postal_zones(zdoc["charts"])
        zone_names = {d["zone"] for c in zdoc["charts"] for d in c["destinations"]}
    else:
        zone_table = zones.build_distance_zones(zdoc["bands"], zdoc.get("road_factor"))
        zone_names = set(zone_table.zones)

    rates: dict[str, breaks.ZoneRates] | None = None
    minimum = Decimal(0)
    cost_model: fleet.CostModel | None = None
    if "rates" in doc:
        minimum = Decimal(doc["rates"].get("minimum_charge", "0"))
        rates = {}
        for name, zr in doc["rates"]["by_zone"].items():
            upper = tuple(Decimal(b["up_to"]) for b in zr["breaks"])
            prices = tuple(Decimal(b["price"]) for b in zr["breaks"])
            where = f"rates.by_zone.{name}.breaks"
            if any(b <= a for a, b in itertools.pairwise(upper)):
                problems.append(f"{where}: up_to must be strictly ascending")
            if any(b < a for a, b in itertools.pairwise(prices)):
                problems.append(f"{where}: a heavier break must not be cheaper than a lighter one")
            rates[name] = breaks.ZoneRates(upper, prices, _dec(zr.get("per_unit_over")))
        missing = sorted(zone_names - rates.keys())
        if missing:
            problems.append(f"rates.by_zone: no rates for zone(s) {', '.join(missing)}")
    else:
        fc = doc["fleet_cost"]
        km = {z: Decimal(v) for z, v in fc["marginal_km_by_zone"].items()}
        missing = sorted(zone_names - km.keys())
        if missing:
            problems.append(f"fleet_cost.marginal_km_by_zone: no detour for zone(s) {', '.join(missing)}")
        cost_model = fleet.CostModel(
            cost_per_km=Decimal(fc["cost_per_km"]),
            cost_per_stop=Decimal(fc["cost_per_stop"]),
            cost_per_driver_hour=Decimal(fc["cost_per_driver_hour"]),
            cost_per_vehicle_day=Decimal(fc["cost_per_vehicle_day"]),
            average_speed_kmh=Decimal(fc["average_speed_kmh"]),
            minutes_per_stop=Decimal(fc["minutes_per_stop"]),
            stops_per_vehicle_day=fc["stops_per_vehicle_day"],
            marginal_km_by_zone=km,
        )

    tdoc = doc["transit"]
    missing = sorted(zone_names - tdoc["days_by_zone"].keys())
    if missing:
        problems.append(f"transit.days_by_zone: no transit days for zone(s) {', '.join(missing)}")
    try:
        tz = ZoneInfo(tdoc["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"transit.timezone: {tdoc['timezone']!r} is not a known IANA time zone")
        tz = ZoneInfo("UTC")
    calendar = promise.Calendar(
        frozenset(promise.WEEKDAYS[d] for d in tdoc["calendar"]["business_days"]),
        frozenset(date.fromisoformat(h) for h in tdoc["calendar"].get("holidays", ())),
    )
    schedule = promise.Schedule(time.fromisoformat(tdoc["cutoff"]), tz, calendar, dict(tdoc["days_by_zone"]))

    bw = doc.get("billable_weight")
    rule = weight.WeightRule(
        weight_unit=doc["units"]["weight"],
        length_unit=doc["units"]["length"],
        dim_divisor=_dec(bw.get("dim_divisor")) if bw else None,
        dim_over_volume=_dec(bw.get("dim_applies_over_volume")) if bw else None,
        dimension_rounding=_rounding(bw.get("dimension_rounding")) if bw else None,
        weight_rounding=_rounding(bw.get("weight_rounding")) if bw else None,
    )

    ldoc = doc.get("limits", {})
    limits = Limits(
        max_weight=_dec(ldoc.get("max_weight")),
        max_length=_dec(ldoc.get("max_length")),
        max_length_plus_girth=_dec(ldoc.get("max_length_plus_girth")),
        origins=zones.AreaIndex(((a, True) for a in ldoc["origins"]), "limits.origins")
        if "origins" in ldoc
        else None,
        destinations=zones.AreaIndex(((a, True) for a in ldoc["destinations"]), "limits.destinations")
        if "destinations" in ldoc
        else None,
    )

    line_codes = frozenset({BASE}) if rates is not None else fleet.LINE_CODES
    try:
        rules = surcharges.compile_surcharges(doc.get("surcharges", ()), line_codes)
    except errors.CardError as exc:
        problems.extend(exc.problems)
        rules = ()
    if problems:
        raise errors.CardError(problems)
    return RateCard(
        id=doc["id"],
        version=doc["version"],
        carrier=doc["carrier"],
        service_code=doc["service"]["code"],
        service_name=doc["service"]["name"],
        currency=currency,
        effective_from=start,
        effective_to=end,
        guaranteed=bool(doc.get("guaranteed", False)),
        weight_rule=rule,
        zones=zone_table,
        rates=rates,
        minimum_charge=minimum,
        fleet_cost=cost_model,
        surcharges=rules,
        schedule=schedule,
        limits=limits,
        package_surcharges=tuple(s for s in rules if s.kind in surcharges.PACKAGE_KINDS),
        flat_surcharges=tuple(s for s in rules if s.kind in surcharges.FLAT_KINDS),
        fuel_surcharges=tuple(s for s in rules if s.kind == surcharges.FUEL),
        offers_saturday=any(s.kind == surcharges.SATURDAY for s in rules),
    )
