"""The allocation model: a day of packages, the fleet, partner options, rules and the plan.

Plain frozen dataclasses in and out. Money is ``money.Money`` (Decimal) everywhere; times are
whole minutes since midnight of the plan's day; distances are kilometres. ``Plan.to_dict``
gives a JSON-serialisable result for the API and RQ jobs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from schemas import money

FLEET = "fleet"  # the target name of the own fleet in rules and decisions

DistanceModel = Literal["euclidean", "haversine"]
Reason = Literal["rule", "cost", "capacity", "eligibility", "infeasible"]


class ModelError(ValueError):
    """A day's input is inconsistent (unknown ids, negative sizes, windows that end before they start)."""


def check_probability(value: float | None, what: str) -> None:
    """Raise ``ModelError`` unless ``value`` is None (unknown) or a probability in [0, 1]."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal) or not 0 <= value <= 1:
        raise ModelError(f"{what}: on-time probability must be between 0 and 1, got {value!r}")


@dataclass(frozen=True, slots=True)
class Location:
    """A point: planar x/y in km, or longitude/latitude in degrees when the problem is haversine."""

    x: float
    y: float


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A delivery window in minutes since midnight, both ends inclusive."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ModelError(f"time window ends ({self.end}) before it starts ({self.start})")


@dataclass(frozen=True, slots=True)
class Package:
    """One package to deliver today, by the fleet or a partner."""

    id: str
    location: Location
    weight_kg: Decimal
    volume_m3: Decimal = Decimal(0)
    window: TimeWindow | None = None
    promise_days: int | None = None  # business days the customer was promised; the fleet delivers today
    service_level: str = "standard"
    group: str | None = None  # ship-together group: every member goes with the same carrier
    hazmat: bool = False
    fragile: bool = False
    value: money.Money | None = None
    tags: frozenset[str] = frozenset()
    tenant: str | None = None
    postal_code: str | None = None
    zone: str | None = None
    dims_cm: tuple[Decimal, Decimal, Decimal] | None = None
    service_minutes: int = 3
    # The least chance of arriving on time this package accepts (see ``rules.evaluate``); None: any.
    min_on_time_probability: float | None = None

    def __post_init__(self) -> None:
        if self.weight_kg < 0 or self.volume_m3 < 0:
            raise ModelError(f"package {self.id}: weight and volume must not be negative")
        if self.service_minutes < 0:
            raise ModelError(f"package {self.id}: service time must not be negative")
        check_probability(self.min_on_time_probability, f"package {self.id}: minimum")

    @property
    def longest_side_cm(self) -> Decimal | None:
        return max(self.dims_cm) if self.dims_cm else None


@dataclass(frozen=True, slots=True)
class Depot:
    """Where vans load in the morning and return at night."""

    id: str
    location: Location
    opens: int = 0
    closes: int = 24 * 60


@dataclass(frozen=True, slots=True)
class Vehicle:
    """One van of the own fleet, with its capacity, shift and cost model."""

    id: str
    capacity_kg: Decimal
    capacity_m3: Decimal
    shift_start: int
    shift_end: int
    cost_per_km: Decimal
    cost_per_hour: Decimal
    fixed_cost: Decimal  # per day the van is used
    speed_kmh: Decimal = Decimal(30)
    max_stops: int | None = None

    def __post_init__(self) -> None:
        if self.shift_end <= self.shift_start:
            raise ModelError(f"vehicle {self.id}: shift must end after it starts")
        if self.speed_kmh <= 0:
            raise ModelError(f"vehicle {self.id}: speed must be positive")


@dataclass(frozen=True, slots=True)
class PartnerOption:
    """A partner's offer for one package, as the rate engine quoted it."""

    carrier: str
    service: str
    cost: money.Money
    eligible: bool = True
    reason: str | None = None  # why it is ineligible
    transit_days: int | None = None
    meets_promise: bool = True
    # The chance it arrives by the promise (the ETA model's); None: unknown, never assumed to be enough.
    on_time_probability: float | None = None

    def __post_init__(self) -> None:
        check_probability(self.on_time_probability, f"{self.carrier}/{self.service}")

    @property
    def usable(self) -> bool:
        return self.eligible and self.meets_promise


# ---- rules (parsed from JSON by allocation.rules) -------------------------------------------


@dataclass(frozen=True, slots=True)
class Range:
    """Inclusive bounds; None means open."""

    min: Decimal | None = None
    max: Decimal | None = None

    def contains(self, value: Decimal | None) -> bool:
        if value is None:
            return False
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


@dataclass(frozen=True, slots=True)
class Condition:
    """What a package must match; every given field must hold (empty condition matches all)."""

    zones: frozenset[str] | None = None
    postal_prefixes: tuple[str, ...] | None = None
    weight_kg: Range | None = None
    longest_side_cm: Range | None = None
    volume_m3: Range | None = None
    value: Range | None = None  # in the problem's currency
    service_levels: frozenset[str] | None = None
    tags_any: frozenset[str] | None = None
    tags_all: frozenset[str] | None = None
    tenants: frozenset[str] | None = None
    hazmat: bool | None = None
    fragile: bool | None = None


ActionType = Literal["require", "forbid", "prefer", "cap", "commit", "ship_together", "min_on_time"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One ops rule: a condition and one action."""

    id: str
    action: ActionType
    when: Condition = field(default_factory=Condition)
    target: str | None = None  # "fleet" or a carrier, for require/forbid/prefer/cap/commit
    bias: Decimal = Decimal(0)  # prefer: added to the target's cost while optimising (negative favours)
    max_packages: int | None = None  # cap
    max_kg: Decimal | None = None  # cap
    min_packages: int | None = None  # commit: minimum for the period
    min_kg: Decimal | None = None  # commit
    period: str | None = None  # commit: e.g. "2026-11"
    by: str = "group"  # ship_together: the package attribute that forms the groups
    probability: float | None = None  # min_on_time: the least on-time probability an option needs
    description: str = ""
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A versioned set of rules; order matters only for the first-matching-rule baseline."""

    version: int = 1
    rules: tuple[Rule, ...] = ()
    name: str = ""


@dataclass(frozen=True, slots=True)
class PeriodProgress:
    """What a carrier has already shipped this commitment period, and the days left in it."""

    carrier: str
    shipped_packages: int = 0
    shipped_kg: Decimal = Decimal(0)
    days_left: int = 1  # including today; the remaining minimum is spread evenly over them


@dataclass(frozen=True, slots=True)
class Problem:
    """Everything needed to plan one depot's day."""

    depot: Depot
    vehicles: tuple[Vehicle, ...]
    packages: tuple[Package, ...]
    options: dict[str, tuple[PartnerOption, ...]]  # package id -> partner offers
    rules: RuleSet = field(default_factory=RuleSet)
    currency: str = "EUR"
    distance_model: DistanceModel = "euclidean"
    road_factor: Decimal = Decimal(1)  # road km per straight-line km
    progress: tuple[PeriodProgress, ...] = ()
    # The chance a van delivers a package it is planned for on time (today, within the package's
    # window): the fleet's operational reliability (breakdowns, failed attempts), since a planned
    # route meets every window by construction. None: unknown, never assumed to be enough.
    fleet_on_time_probability: float | None = None

    def __post_init__(self) -> None:
        check_probability(self.fleet_on_time_probability, FLEET)
        ids = [p.id for p in self.packages]
        if len(set(ids)) != len(ids):
            raise ModelError("package ids must be unique")
        vids = [v.id for v in self.vehicles]
        if len(set(vids)) != len(vids):
            raise ModelError("vehicle ids must be unique")
        unknown = set(self.options) - set(ids)
        if unknown:
            raise ModelError(f"partner options for unknown packages: {sorted(unknown)[:5]}")
        for pid, opts in self.options.items():
            for o in opts:
                if o.carrier == FLEET:
                    raise ModelError(f"package {pid}: {FLEET!r} is reserved for the own fleet")
                if o.cost.currency != self.currency:
                    raise ModelError(f"package {pid}: option in {o.cost.currency}, plan in {self.currency}")

    def km_between(self, a: Location, b: Location) -> float:
        """Return the road distance estimate in km between two points."""
        if self.distance_model == "haversine":
            lat1, lat2 = math.radians(a.y), math.radians(b.y)
            dlat, dlon = lat2 - lat1, math.radians(b.x - a.x)
            h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
            straight = 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))
        else:
            straight = math.hypot(a.x - b.x, a.y - b.y)
        return straight * float(self.road_factor)


@dataclass(frozen=True, slots=True)
class SolveOptions:
    """Solver knobs: routing engine, time limit, seed and an optional iteration cap for determinism."""

    engine: str = "pyvrp"
    time_limit_s: float = 30.0
    seed: int = 0
    max_iterations: int | None = None
    max_rounds: int = 3  # route / assign rounds when assignment constraints push packages back to the fleet
    # PyVRP searches run side by side (seeds seed, seed + 1, ...), one per core: the best is kept.
    workers: int = 1


# ---- results ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Issue:
    """A rule conflict, an infeasibility or an unmet commitment, with the rules involved."""

    kind: Literal[
        "conflict",
        "no_feasible_option",
        "cap_exceeded",
        "commitment_shortfall",
        "group_split",
        "on_time_risk",
    ]
    message: str
    rule_ids: tuple[str, ...] = ()
    package_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    """Who carries one package, at what cost, and why."""

    package_id: str
    assignee: str  # FLEET or a carrier
    service: str | None
    vehicle_id: str | None
    cost: money.Money  # partner price, or the package's share of fleet cost (its removal saving)
    reason: Reason
    detail: str
    rule_ids: tuple[str, ...] = ()
    best_partner_cost: money.Money | None = None


@dataclass(frozen=True, slots=True)
class Stop:
    """One delivery on a route."""

    package_id: str
    sequence: int
    arrival: int  # minutes since midnight
    service_start: int
    location: Location


@dataclass(frozen=True, slots=True)
class Route:
    """One van's day: stops in order, load, duration, distance and cost."""

    vehicle_id: str
    stops: tuple[Stop, ...]
    depart: int
    back: int
    load_kg: Decimal
    load_m3: Decimal
    distance_km: Decimal
    cost: money.Money

    @property
    def duration_minutes(self) -> int:
        return self.back - self.depart


@dataclass(frozen=True, slots=True)
class Handover:
    """What one partner collects: package ids, count, weight and total price."""

    carrier: str
    package_ids: tuple[str, ...]
    weight_kg: Decimal
    cost: money.Money


@dataclass(frozen=True, slots=True)
class Plan:
    """The day's allocation: decisions, routes, handovers, totals and issues."""

    decisions: tuple[Decision, ...]
    routes: tuple[Route, ...]
    handovers: tuple[Handover, ...]
    unassigned: tuple[str, ...]  # packages no option could take; see issues
    fleet_cost: money.Money
    partner_cost: money.Money
    issues: tuple[Issue, ...] = ()
    late: tuple[str, ...] = ()  # handed to a partner that misses the promise (baselines only)
    lower_bound: money.Money | None = None
    engine: str = ""
    solve_seconds: float = 0.0
    method: str = ""

    @property
    def total_cost(self) -> money.Money:
        return self.fleet_cost + self.partner_cost

    @property
    def gap(self) -> Decimal | None:
        """Return (total - bound) / total when a lower bound is known."""
        if self.lower_bound is None or self.total_cost.amount == 0:
            return None
        return (self.total_cost.amount - self.lower_bound.amount) / self.total_cost.amount

    def decision(self, package_id: str) -> Decision:
        """Return the decision for one package."""
        for d in self.decisions:
            if d.package_id == package_id:
                return d
        raise KeyError(package_id)

    def fleet_share_percent(self) -> float:
        """Return the share of decided packages the fleet delivers, in percent."""
        if not self.decisions:
            return 0.0
        return 100.0 * sum(1 for d in self.decisions if d.assignee == FLEET) / len(self.decisions)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable form: money as decimal strings plus currency."""
        out: dict[str, Any] = _jsonable(self)
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, money.Money):
        return {
            "amount": str(value.amount.quantize(Decimal(1).scaleb(-money.exponent(value.currency)))),
            "currency": value.currency,
        }
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        out = {name: _jsonable(getattr(value, name)) for name in value.__dataclass_fields__}
        if isinstance(value, Plan):
            out["total_cost"] = _jsonable(value.total_cost)
            out["gap"] = None if value.gap is None else str(value.gap)
        if isinstance(value, Route):
            out["duration_minutes"] = value.duration_minutes
        return out
    return value
