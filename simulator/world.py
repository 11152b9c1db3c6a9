"""A world model for delivery times: transit distributions, calendar, congestion, disruptions, failed
attempts, and each carrier's own (possibly biased or over-confident) estimate.

Pure: no Flask, no I/O at import time. A world is a JSON file (``docs/WORLDS.md``) validated against
``simulator/worlds/world.schema.json``; ``load_world`` reads one by shipped name or by path. Every draw
for a label comes from generators seeded with (seed, aspect, tracking number), so the same label always
gets the same outcome however many other labels were sampled, and in whatever order.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import jsonschema

WORLDS_DIR = Path(__file__).resolve().parent / "worlds"
SCHEMA_PATH = WORLDS_DIR / "world.schema.json"
RESIDENTIAL, COMMERCIAL = "residential", "commercial"
DOMESTIC, INTERNATIONAL = "domestic", "international"


class WorldError(ValueError):
    """A world file that cannot be read or does not follow the format."""


# -- the file, parsed ------------------------------------------------------------------------------------
Distribution = dict[int, float]


def _distribution(raw: dict[str, float], where: str) -> Distribution:
    dist = {int(days): float(p) for days, p in raw.items()}
    total = sum(dist.values())
    if abs(total - 1.0) > 1e-6:
        raise WorldError(f"{where}: the probabilities add up to {total:g}, not 1")
    return dict(sorted(dist.items()))


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def draw(dist: Distribution, u: float) -> int:
    """Return the value of a discrete distribution at cumulative probability ``u`` in [0, 1)."""
    cumulative = 0.0
    for value, p in dist.items():
        cumulative += p
        if u < cumulative:
            return value
    return next(reversed(dist))


def quantile(dist: Distribution, q: float) -> int:
    """Return the smallest value whose cumulative probability reaches ``q``."""
    cumulative = 0.0
    for value, p in dist.items():
        cumulative += p
        if cumulative >= q - 1e-9:
            return value
    return next(reversed(dist))


@dataclass(frozen=True)
class Window:
    """A delivery time window: deliveries in it happen uniformly between ``start`` and ``end``."""

    name: str
    start: int  # minutes after midnight
    end: int
    weight: float


@dataclass(frozen=True)
class Congestion:
    """Extra delay on heavy days: more than ``threshold`` labels of the carrier sold that day."""

    threshold: int
    probability: float
    extra_days: Distribution


@dataclass(frozen=True)
class Profile:
    """Everything the model needs for one carrier and service, once the layers are merged."""

    transit_layers: tuple[dict[str, Distribution], ...]  # most specific first
    cutoff: int
    saturday_delivery: bool
    windows: tuple[Window, ...]
    residential_share: float
    failed_attempt: dict[str, dict[str, float]]
    congestion: Congestion | None
    estimate_quantile: float
    estimate_bias_days: int

    def transit(self, lane_keys: tuple[str, ...]) -> Distribution:
        """Return the transit distribution of the first level and lane key that has one."""
        for layer in self.transit_layers:
            for key in lane_keys:
                if key in layer:
                    return layer[key]
        raise WorldError(f"no transit_days entry for any of {lane_keys}")  # the schema makes this unreachable

    def failure_rate(self, address_type: str, window: str) -> float:
        """Return the failed-first-attempt probability for an address type and a delivery window."""
        rates = self.failed_attempt.get(address_type, {})
        return float(rates.get(window, rates.get("default", 0.0)))


@dataclass(frozen=True)
class Disruption:
    """Days when a region sees no normal service: labels in transit then to it take extra days."""

    name: str
    start: date
    end: date
    countries: frozenset[str]
    states: frozenset[str]
    carriers: frozenset[str]
    probability: float
    extra_days: Distribution

    def hits(self, carrier: str, country: str, state: str, first: date, last: date) -> bool:
        """Return whether a parcel of ``carrier`` to (country, state), moving from ``first`` to ``last``
        (inclusive), meets this disruption."""
        if self.carriers and carrier not in self.carriers:
            return False
        if self.countries and country.upper() not in self.countries:
            return False
        if self.states and state.upper() not in self.states:
            return False
        return first <= self.end and self.start <= last


@dataclass(frozen=True)
class LabelFacts:
    """What the model needs to know about one label."""

    carrier: str
    service: str
    tracking_number: str
    sold_at: datetime
    origin_country: str
    destination_country: str
    destination_state: str = ""
    address_type: str | None = None  # residential / commercial, when the label record knows it
    day_rank: int = 1  # this label is the n-th of its carrier sold on its (UTC) day


@dataclass(frozen=True)
class Estimate:
    """A carrier's own estimate: a date, a number of delivery days, and the datetime it quotes."""

    days: int
    date: date
    at: datetime


@dataclass(frozen=True)
class Outcome:
    """What happens to one label in this world."""

    ship_date: date
    transit_days: int  # drawn from the transit distribution
    congestion_days: int
    disruption_days: int
    disruption: str | None
    address_type: str
    window: str
    failed_attempt: bool
    first_attempt_at: datetime  # the first delivery attempt (the delivery when it did not fail)
    delivered_at: datetime
    estimate: Estimate

    @property
    def total_days(self) -> int:
        """Delivery days from the ship date to the first attempt."""
        return self.transit_days + self.congestion_days + self.disruption_days


@dataclass(frozen=True)
class World:
    """A parsed, validated world file."""

    name: str
    description: str
    holidays: frozenset[date]
    disruptions: tuple[Disruption, ...]
    raw: dict[str, Any] = field(repr=False)
    _profiles: dict[tuple[str, str], Profile] = field(default_factory=dict, repr=False, compare=False)

    # -- calendar ------------------------------------------------------------------------------------
    def is_business_day(self, day: date) -> bool:
        """Monday to Friday, not a holiday: a day parcels are picked up and move."""
        return day.weekday() < 5 and day not in self.holidays

    def is_delivery_day(self, day: date, saturday: bool) -> bool:
        """A business day, or a Saturday (not a holiday) for services that deliver on Saturday. Never Sunday."""
        if day in self.holidays or day.weekday() == 6:
            return False
        return day.weekday() < 5 or saturday

    def ship_date(self, sold_at: datetime, cutoff: int) -> date:
        """The day the parcel leaves: the day of sale if it is a business day before the cut-off, else the
        next business day."""
        day = sold_at.date()
        if self.is_business_day(day) and sold_at.hour * 60 + sold_at.minute < cutoff:
            return day
        day += timedelta(days=1)
        while not self.is_business_day(day):
            day += timedelta(days=1)
        return day

    def add_delivery_days(self, start: date, days: int, saturday: bool) -> date:
        """Return the ``days``-th delivery day after ``start``."""
        day = start
        for _ in range(days):
            day += timedelta(days=1)
            while not self.is_delivery_day(day, saturday):
                day += timedelta(days=1)
        return day

    # -- profiles ------------------------------------------------------------------------------------
    def profile(self, carrier: str, service: str) -> Profile:
        """Merge defaults, the carrier's fields and the service's fields (the most specific wins)."""
        key = (carrier, service)
        cached = self._profiles.get(key)
        if cached is not None:
            return cached
        defaults = self.raw["defaults"]
        carrier_raw = self.raw.get("carriers", {}).get(carrier, {})
        service_raw = carrier_raw.get("services", {}).get(service, {})
        layers = [service_raw, {k: v for k, v in carrier_raw.items() if k != "services"}, defaults]
        merged: dict[str, Any] = {}
        for layer in reversed(layers):
            merged.update(layer)
        where = f"world {self.name!r}, {carrier}/{service}"
        transit_layers = tuple(
            {lane: _distribution(dist, f"{where} transit_days.{lane}") for lane, dist in layer.items()}
            for layer in (lay.get("transit_days") for lay in layers)
            if layer
        )
        congestion_raw = merged.get("congestion")
        congestion = (
            Congestion(
                int(congestion_raw["threshold"]),
                float(congestion_raw["probability"]),
                _distribution(congestion_raw["extra_days"], f"{where} congestion.extra_days"),
            )
            if congestion_raw
            else None
        )
        estimate = merged["estimate"]
        profile = Profile(
            transit_layers=transit_layers,
            cutoff=_minutes(merged["cutoff"]),
            saturday_delivery=bool(merged.get("saturday_delivery", False)),
            windows=tuple(
                Window(w["name"], _minutes(w["start"]), _minutes(w["end"]), float(w["weight"]))
                for w in merged["delivery_windows"]
            ),
            residential_share=float(merged.get("residential_share", 0.5)),
            failed_attempt={
                kind: {name: float(p) for name, p in rates.items()}
                for kind, rates in merged.get("failed_attempt", {}).items()
            },
            congestion=congestion,
            estimate_quantile=float(estimate.get("quantile", 0.5)),
            estimate_bias_days=int(estimate.get("bias_days", 0)),
        )
        self._profiles[key] = profile
        return profile

    @staticmethod
    def lane_keys(origin_country: str, destination_country: str) -> tuple[str, ...]:
        """Lane keys from the most specific: the destination country, domestic/international, default."""
        destination = destination_country.upper()
        lane = DOMESTIC if origin_country.upper() == destination else INTERNATIONAL
        return (destination, lane, "default") if destination else (lane, "default")

    # -- sampling ------------------------------------------------------------------------------------
    def carrier_estimate(
        self, carrier: str, service: str, origin_country: str, destination_country: str, sold_at: datetime
    ) -> Estimate:
        """The carrier's own estimate: the configured quantile of the transit distribution plus its bias
        (at least one day), counted in delivery days from the ship date. Knows nothing of congestion or
        disruptions, and is the same for every label of a lane sold at the same time."""
        profile = self.profile(carrier, service)
        dist = profile.transit(self.lane_keys(origin_country, destination_country))
        days = max(1, quantile(dist, profile.estimate_quantile) + profile.estimate_bias_days)
        shipped = self.ship_date(sold_at, profile.cutoff)
        day = self.add_delivery_days(shipped, days, profile.saturday_delivery)
        end = max(w.end for w in profile.windows)
        at = datetime.combine(day, time(end // 60, end % 60), tzinfo=sold_at.tzinfo or UTC)
        return Estimate(days, day, at)

    def sample(self, facts: LabelFacts, seed: int) -> Outcome:
        """Draw one label's outcome, deterministically from (seed, tracking number)."""

        def rng(aspect: str) -> random.Random:
            return random.Random(f"{seed}:world:{aspect}:{facts.tracking_number}")

        profile = self.profile(facts.carrier, facts.service)
        dist = profile.transit(self.lane_keys(facts.origin_country, facts.destination_country))
        shipped = self.ship_date(facts.sold_at, profile.cutoff)
        transit = draw(dist, rng("transit").random())
        congestion_days = 0
        if profile.congestion and facts.day_rank > profile.congestion.threshold:
            jam = rng("congestion")
            if jam.random() < profile.congestion.probability:
                congestion_days = draw(profile.congestion.extra_days, jam.random())
        planned = self.add_delivery_days(shipped, transit + congestion_days, profile.saturday_delivery)
        disruption_days, disruption_name = 0, None
        for disruption in self.disruptions:
            if disruption.hits(
                facts.carrier, facts.destination_country, facts.destination_state, shipped, planned
            ):
                hit = rng(f"disruption:{disruption.name}")
                if hit.random() < disruption.probability:
                    disruption_days += draw(disruption.extra_days, hit.random())
                    disruption_name = disruption_name or disruption.name
        first_day = self.add_delivery_days(planned, disruption_days, profile.saturday_delivery)
        address_type = facts.address_type
        if address_type not in (RESIDENTIAL, COMMERCIAL):
            address_type = RESIDENTIAL if rng("address").random() < profile.residential_share else COMMERCIAL
        window, first_at = self._when(profile, first_day, rng("window"), facts.sold_at)
        failed = rng("attempt").random() < profile.failure_rate(address_type, window.name)
        delivered_at = first_at
        if failed:
            second_day = self.add_delivery_days(first_day, 1, profile.saturday_delivery)
            _window, delivered_at = self._when(profile, second_day, rng("reattempt"), facts.sold_at)
        return Outcome(
            ship_date=shipped,
            transit_days=transit,
            congestion_days=congestion_days,
            disruption_days=disruption_days,
            disruption=disruption_name,
            address_type=address_type,
            window=window.name,
            failed_attempt=failed,
            first_attempt_at=first_at,
            delivered_at=delivered_at,
            estimate=self.carrier_estimate(
                facts.carrier,
                facts.service,
                facts.origin_country,
                facts.destination_country,
                facts.sold_at,
            ),
        )

    @staticmethod
    def _when(profile: Profile, day: date, rng: random.Random, sold_at: datetime) -> tuple[Window, datetime]:
        windows = profile.windows
        total = sum(w.weight for w in windows)
        u, cumulative, chosen = rng.random() * total, 0.0, windows[-1]
        for window in windows:
            cumulative += window.weight
            if u < cumulative:
                chosen = window
                break
        minute = chosen.start + int(rng.random() * max(1, chosen.end - chosen.start))
        at = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=sold_at.tzinfo or UTC)
        return chosen, at


# -- loading ---------------------------------------------------------------------------------------------
def shipped_worlds() -> list[str]:
    """Return the names of the worlds shipped in ``simulator/worlds/``."""
    return sorted(p.stem for p in WORLDS_DIR.glob("*.json") if p.name != SCHEMA_PATH.name)


def _schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


def _day(text: str, anchor: date, where: str) -> date:
    """A date, or "+N": N days after the anchor (the simulated day the simulator started)."""
    if text.startswith("+"):
        return anchor + timedelta(days=int(text[1:]))
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise WorldError(f"{where}: {text!r} is not a date: {exc}") from None


def parse_world(data: Any, source: str = "<world>", anchor: date | None = None) -> World:
    """Validate a world document (already parsed JSON) and return the World; WorldError says what is wrong.

    ``anchor`` is the day "+N" dates count from (default: today, UTC)."""
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        path = "/".join(str(part) for part in first.absolute_path) or "(top level)"
        raise WorldError(f"{source}: {path}: {first.message}")
    anchor = anchor or datetime.now(UTC).date()
    holidays = frozenset(_day(d, anchor, f"{source}: holidays") for d in data.get("holidays", []))
    disruptions = []
    for index, raw in enumerate(data.get("disruptions", [])):
        where = f"{source}: disruptions/{index}"
        start, end = _day(raw["start"], anchor, where), _day(raw["end"], anchor, where)
        if end < start:
            raise WorldError(f"{source}: disruptions/{index}: end {end} is before start {start}")
        disruptions.append(
            Disruption(
                name=raw["name"],
                start=start,
                end=end,
                countries=frozenset(c.upper() for c in raw.get("countries", [])),
                states=frozenset(s.upper() for s in raw.get("states", [])),
                carriers=frozenset(raw.get("carriers", [])),
                probability=float(raw.get("probability", 1.0)),
                extra_days=_distribution(raw["extra_days"], f"{source}: disruptions/{index}/extra_days"),
            )
        )
    world = World(
        name=data["name"],
        description=data.get("description", ""),
        holidays=holidays,
        disruptions=tuple(disruptions),
        raw=data,
    )
    for where, profile_raw in _profiles_raw(data):
        for lane, dist in profile_raw.get("transit_days", {}).items():
            _distribution(dist, f"{source}: {where}/transit_days/{lane}")
        if "congestion" in profile_raw:
            _distribution(profile_raw["congestion"]["extra_days"], f"{source}: {where}/congestion/extra_days")
        for window in profile_raw.get("delivery_windows", []):
            if _minutes(window["end"]) <= _minutes(window["start"]):
                raise WorldError(
                    f"{source}: {where}: delivery window {window['name']!r} ends before it starts"
                )
    # Build every configured profile now, so a bad distribution fails at load, not on the first label.
    world.profile("", "")
    for carrier, carrier_raw in data.get("carriers", {}).items():
        world.profile(carrier, "")
        for service in carrier_raw.get("services", {}):
            world.profile(carrier, service)
    return world


def _profiles_raw(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = [("defaults", data["defaults"])]
    for carrier, carrier_raw in data.get("carriers", {}).items():
        found.append((f"carriers/{carrier}", carrier_raw))
        for service, service_raw in carrier_raw.get("services", {}).items():
            found.append((f"carriers/{carrier}/services/{service}", service_raw))
    return found


def load_world(name_or_path: str, anchor: date | None = None) -> World:
    """Load a shipped world by name (``metro``) or any world file by path."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = WORLDS_DIR / f"{name_or_path}.json"
        if not path.exists():
            raise WorldError(
                f"no world {name_or_path!r}: give a path or one of {', '.join(shipped_worlds())}"
            )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WorldError(f"cannot read world file {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise WorldError(f"{path} is not JSON: {exc}") from exc
    return parse_world(data, str(path), anchor)
