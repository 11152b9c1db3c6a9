"""Delivery-time predictions by gradient boosting: a challenger to the empirical baseline (rating/eta.py).

Pure (no I/O, nothing trained or read at import). One LightGBM model per quantile level, each trained
with the quantile (pinball) loss on the business days (Monday to Friday, as in ``rating.eta``) from the
day a label was bought to the day it was delivered. Unlike the baseline, which only knows the segment
(carrier, service, lane), the features are everything known at booking time (``Features``): the
destination country and state, the weekday and hour of sale (a label sold after the cut-off ships the
next day), the label's rank among its carrier's labels that day (heavy days clog depots), whether the
address is a home when known, the carrier's own estimate in business days, and two signals of the
destination region (the US Census division, else the country) known on the morning of the prediction
day: the recent excess delay of deliveries completed before it (``DelaySignal``) and the share of
parcels due in the last days still not delivered (``OverdueSignal``). That is how a model can see a
disruption coming (``docs/benchmarks/eta.md`` measures how much it does).

The predicted quantiles of one label are sorted (quantile models can cross), then read as a
distribution over whole business days: the targets are spread uniformly over [t - 0.5, t + 0.5) for
training (``fit`` says why), so P(T <= t) is the level at which the quantile curve reaches t + 0.5, linearly interpolated between the fitted levels (and to 0 one day below the lowest, to 1 one
day above the highest). The percentile dates, the on-time probability and the in-flight re-prediction
(conditioned on the days already waited, as ``rating.eta.predict_in_flight`` does) all come from it.

A model serialises to plain text (``GbmModel.to_text``: JSON holding LightGBM's own text model format
for each level and the category codes), so it can be stored in a database column without pickle.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from rating import eta

FORMAT = "handoff-eta-gbm/1"
# 0.1/0.5/0.9 are the in-flight window, 0.8/0.95 the booking percentiles; the rest refine the
# distribution the on-time probability is read from.
LEVELS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
CATEGORICAL = ("carrier", "service", "country", "region")
COLUMNS = (
    "carrier",
    "service",
    "country",
    "region",
    "international",
    "weekday",
    "hour",
    "day_rank",
    "residential",
    "estimate_days",
    "recent_delay",
    "recent_count",
    "recent_overdue",
)
PARAMS: dict[str, Any] = {
    "objective": "quantile",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "feature_fraction": 1.0,
    "bagging_fraction": 1.0,
    "cat_smooth": 10.0,
    "verbosity": -1,
    "num_threads": 1,
    "deterministic": True,
    "seed": 7,
}
ROUNDS = 200
JITTER_SEED = 7
MIN_ROWS = 50  # below this the trees have nothing to split; fit() refuses
SIGNAL_WINDOW_DAYS = 3
SIGNAL_PRIOR = 5.0  # deliveries' worth of "no delay" mixed into the recent-delay mean


@dataclass(frozen=True, slots=True)
class Features:
    """What is known about a label when it is bought (and, for ``recent_delay``, on the prediction day)."""

    carrier: str
    service: str
    lane: str  # rating.eta.DOMESTIC or INTERNATIONAL
    destination_country: str
    destination_state: str
    sold_at: datetime
    day_rank: int = 1  # the n-th label of its carrier sold that (UTC) day
    residential: bool | None = None  # None: the label record does not say
    carrier_estimate_days: int | None = None  # the carrier's estimate, in business days from the sale day
    recent_delay: float = 0.0  # DelaySignal.value for the destination region on the prediction day
    recent_count: int = 0  # how many deliveries that value is made of
    recent_overdue: float = 0.0  # OverdueSignal.value for the destination region on the prediction day

    @property
    def region(self) -> str:
        return region(self.destination_country, self.destination_state)

    @property
    def place(self) -> str:
        """The destination country and state, as a category of its own."""
        country, state = self.destination_country.strip().upper(), self.destination_state.strip().upper()
        return f"{country}-{state}" if state else country


# The US Census Bureau's nine divisions: a state alone sees too few parcels a day for its recent delays
# to say more than luck, and weather and hub trouble rarely stop at a state line.
_DIVISIONS = {
    "new_england": "CT ME MA NH RI VT",
    "middle_atlantic": "NJ NY PA",
    "east_north_central": "IL IN MI OH WI",
    "west_north_central": "IA KS MN MO NE ND SD",
    "south_atlantic": "DE DC FL GA MD NC SC VA WV",
    "east_south_central": "AL KY MS TN",
    "west_south_central": "AR LA OK TX",
    "mountain": "AZ CO ID MT NV NM UT WY",
    "pacific": "AK CA HI OR WA",
}
US_DIVISION = {state: name for name, states in _DIVISIONS.items() for state in states.split()}


def region(country: str, state: str) -> str:
    """The region a recent-delay signal is kept for: the US Census division of a US state, else the country."""
    country, state = country.strip().upper(), state.strip().upper()
    division = US_DIVISION.get(state) if country == "US" else None
    return f"{country}-{division}" if division else country


@dataclass(frozen=True, slots=True)
class Row:
    """One delivered label to learn from: its features and the business days it took."""

    features: Features
    transit_days: int


# -- the recent-delay signal ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Completed:
    """A delivery, as the signal sees it: where, on which day, and how many days later than usual."""

    region: str
    delivered_on: date
    excess_days: float  # actual business days minus the segment's usual (e.g. the baseline's p50)


@dataclass(slots=True)
class DelaySignal:
    """Per region, the mean excess days of deliveries completed in the ``window`` days before a day.

    Only deliveries completed strictly before the day asked about count, so the value is known on the
    morning of that day. The mean is shrunk towards 0 by ``prior`` deliveries' worth of "no delay", so a
    single late parcel to a quiet region does not look like a storm.
    """

    window: int = SIGNAL_WINDOW_DAYS
    prior: float = SIGNAL_PRIOR
    _by_day: dict[str, dict[date, list[float]]] = field(default_factory=dict)

    def add(self, completed: Completed) -> None:
        days = self._by_day.setdefault(completed.region, defaultdict(list))
        days[completed.delivered_on].append(float(completed.excess_days))

    def extend(self, completed: Iterable[Completed]) -> None:
        for c in completed:
            self.add(c)

    def value(self, region_name: str, day: date) -> tuple[float, int]:
        """The shrunk mean excess and the number of deliveries behind it, for ``region_name`` on ``day``."""
        days = self._by_day.get(region_name)
        if not days:
            return 0.0, 0
        total, count = 0.0, 0
        for back in range(1, self.window + 1):
            for excess in days.get(day - timedelta(days=back), ()):
                total, count = total + excess, count + 1
        return (round(total / (count + self.prior), 4) if count else 0.0), count


@dataclass(slots=True)
class OverdueSignal:
    """Per region, the share of parcels due in the ``window`` days before a day still not delivered then.

    The leading twin of ``DelaySignal``: a storm shows first as parcels that do not arrive, and only
    days later as late deliveries. A parcel counts when it was due (``add(region, due_on, delivered_on)``,
    the due day being, e.g., the baseline's p50 date) on one of the ``window`` days before the day
    asked about; it is overdue if it was not delivered before that day, which is known on its morning.
    Shrunk towards 0 by ``prior`` parcels' worth of "on time".
    """

    window: int = SIGNAL_WINDOW_DAYS
    prior: float = SIGNAL_PRIOR
    _by_due: dict[str, dict[date, list[date | None]]] = field(default_factory=dict)

    def add(self, region_name: str, due_on: date, delivered_on: date | None) -> None:
        """A parcel to ``region_name`` due on ``due_on``, delivered on ``delivered_on`` (None: not yet)."""
        self._by_due.setdefault(region_name, defaultdict(list))[due_on].append(delivered_on)

    def value(self, region_name: str, day: date) -> float:
        days = self._by_due.get(region_name)
        if not days:
            return 0.0
        late = count = 0
        for back in range(1, self.window + 1):
            for delivered in days.get(day - timedelta(days=back), ()):
                count += 1
                late += delivered is None or delivered >= day
        return round(late / (count + self.prior), 4) if count else 0.0


# -- fitting ------------------------------------------------------------------------------------------
def _vector(f: Features, codes: Mapping[str, Mapping[str, int]]) -> list[float]:
    def code(column: str, value: str) -> float:
        return float(codes[column].get(value, -1))  # unseen: LightGBM treats a negative category as missing

    return [
        code("carrier", f.carrier),
        code("service", f"{f.carrier}/{f.service}"),
        code("country", f.destination_country.strip().upper()),
        code("region", f.place),
        1.0 if f.lane == eta.INTERNATIONAL else 0.0,
        float(f.sold_at.weekday()),
        f.sold_at.hour + f.sold_at.minute / 60,
        float(f.day_rank),
        math.nan if f.residential is None else float(f.residential),
        math.nan if f.carrier_estimate_days is None else float(f.carrier_estimate_days),
        float(f.recent_delay),
        float(f.recent_count),
        float(f.recent_overdue),
    ]


def _category_values(f: Features) -> dict[str, str]:
    return {
        "carrier": f.carrier,
        "service": f"{f.carrier}/{f.service}",
        "country": f.destination_country.strip().upper(),
        "region": f.place,
    }


def _matrix(features: Sequence[Features], codes: Mapping[str, Mapping[str, int]]) -> npt.NDArray[np.float64]:
    return np.array([_vector(f, codes) for f in features], dtype=np.float64).reshape(-1, len(COLUMNS))


def fit(
    rows: Iterable[Row],
    levels: Sequence[float] = LEVELS,
    rounds: int = ROUNDS,
    params: Mapping[str, Any] | None = None,
) -> GbmModel:
    """Train one quantile model per level on ``rows`` (at least MIN_ROWS of them)."""
    data = list(rows)
    if len(data) < MIN_ROWS:
        raise ValueError(f"{len(data)} deliveries: a gradient-boosted model needs at least {MIN_ROWS}")
    values: dict[str, set[str]] = {c: set() for c in CATEGORICAL}
    for row in data:
        for column, value in _category_values(row.features).items():
            values[column].add(value)
    codes = {c: {v: i for i, v in enumerate(sorted(vs))} for c, vs in values.items()}
    x = _matrix([r.features for r in data], codes)
    # Whole days spread uniformly over [t - 0.5, t + 0.5): with most labels on one whole day the pinball
    # loss's gradient is the same for every row (LightGBM counts "equal" as "above") and no tree splits;
    # spread, P(T <= t) is the level where the quantile curve reaches t + 0.5, as _cdf reads it.
    jitter = np.random.default_rng(JITTER_SEED).uniform(-0.5, 0.5, len(data))
    y = np.array([max(0, r.transit_days) for r in data], dtype=np.float64) + jitter
    base = {**PARAMS, **(params or {})}  # (LightGBM refuses monotone constraints with the quantile loss)
    boosters: dict[float, lgb.Booster] = {}
    for level in sorted(set(levels)):
        dataset = lgb.Dataset(
            x,
            y,
            feature_name=list(COLUMNS),
            categorical_feature=list(CATEGORICAL),
            free_raw_data=False,
            params={"verbosity": -1},
        )
        boosters[level] = lgb.train({**base, "alpha": level}, dataset, num_boost_round=rounds)
    return GbmModel(boosters, codes, len(data))


# -- predictions --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GbmPrediction:
    """A booking-time prediction: percentile dates and the chance of arriving by the promise."""

    p10: date
    p50: date
    p80: date
    p90: date
    p95: date
    on_time_probability: float | None  # None without a promise

    @property
    def risk(self) -> float | None:
        return None if self.on_time_probability is None else round(1 - self.on_time_probability, 4)


def _cdf(levels: Sequence[float], values: Sequence[float]) -> list[float]:
    """P(T <= t) for t = 0, 1, ... from sorted quantile values: the level where the curve reaches t + 0.5.

    The curve is the fitted (level, value) points, with (0, lowest - 1) and (1, highest + 1) added so
    that the tails have somewhere to go; flat stretches (several levels on one whole day) take their
    highest level, as an empirical distribution would.
    """
    points = [(0.0, values[0] - 1.0), *zip(levels, values, strict=True), (1.0, values[-1] + 1.0)]
    top = max(0, math.ceil(values[-1] + 1.0))
    out: list[float] = []
    for t in range(top + 1):
        x = t + 0.5
        p = 0.0
        for (q0, v0), (q1, v1) in itertools.pairwise(points):
            if v1 <= x:
                p = q1
            elif v0 <= x < v1:
                p = q0 + (q1 - q0) * (x - v0) / (v1 - v0)
                break
        out.append(min(1.0, max(p, out[-1] if out else 0.0)))
    out[-1] = 1.0
    return out


@dataclass(frozen=True, slots=True)
class Distribution:
    """One label's predicted transit: P(T <= t) for whole business days t = 0 .. len(cdf) - 1."""

    cdf: tuple[float, ...]

    def quantile(self, p: float, least: int = 0) -> int:
        """The smallest t with P(T <= t | T >= least) >= p (``least`` past the end: ``least``)."""
        below = self.at(least - 1)
        if below >= 1.0 - 1e-9:
            return least
        target = below + p * (1.0 - below)
        for t in range(max(0, least), len(self.cdf)):
            if self.cdf[t] >= target - 1e-9:
                return t
        return len(self.cdf) - 1

    def at(self, t: int) -> float:
        if t < 0:
            return 0.0
        return self.cdf[min(t, len(self.cdf) - 1)]

    def by(self, t: int, least: int = 0) -> float:
        """P(T <= t | T >= least)."""
        below = self.at(least - 1)
        if below >= 1.0 - 1e-9:
            return 1.0 if t >= least else 0.0
        return max(0.0, min(1.0, (self.at(t) - below) / (1.0 - below)))


@dataclass(slots=True)
class GbmModel:
    """One LightGBM booster per quantile level, and the category codes the features were encoded with."""

    boosters: Mapping[float, lgb.Booster]
    codes: Mapping[str, Mapping[str, int]]
    size: int

    @property
    def levels(self) -> tuple[float, ...]:
        return tuple(sorted(self.boosters))

    def quantiles(self, features: Sequence[Features]) -> npt.NDArray[np.float64]:
        """Raw quantile values (business days), one row per label and one column per level, sorted."""
        x = _matrix(features, self.codes)
        columns = [np.asarray(self.boosters[level].predict(x), dtype=np.float64) for level in self.levels]
        raw = np.column_stack(columns) if columns else np.zeros((len(features), 0))
        return np.sort(np.maximum(raw, -0.5), axis=1)

    def distributions(self, features: Sequence[Features]) -> list[Distribution]:
        levels = self.levels
        return [Distribution(tuple(_cdf(levels, list(row)))) for row in self.quantiles(features)]

    def predict(self, features: Features, ship_day: date, *, promise: date | None = None) -> GbmPrediction:
        return self.predict_many([features], [ship_day], [promise])[0]

    def predict_many(
        self, features: Sequence[Features], ship_days: Sequence[date], promises: Sequence[date | None]
    ) -> list[GbmPrediction]:
        """Booking-time predictions for many labels at once (one LightGBM call per level)."""
        out = []
        for dist, day, promised in zip(self.distributions(features), ship_days, promises, strict=True):
            p10, p50, p80, p90, p95 = (
                eta.add_business_days(day, dist.quantile(p)) for p in (0.1, 0.5, 0.8, 0.9, 0.95)
            )
            probability = None if promised is None else _probability(dist, day, promised, 0)
            out.append(GbmPrediction(p10, p50, p80, p90, p95, probability))
        return out

    def predict_in_flight(
        self,
        features: Features,
        ship_day: date,
        today: date,
        milestone: str,
        *,
        promise: date | None = None,
        distribution: Distribution | None = None,
    ) -> eta.InFlight:
        """Predict again knowing the parcel has not arrived by ``today``, as ``rating.eta.predict_in_flight``.

        Out for delivery means today; after a failed attempt or a hold, at least one more business day;
        otherwise the booking distribution conditioned on the business days already waited. Pass the
        booking ``distribution`` to skip the model call when re-predicting the same label every day.
        """
        if milestone in eta.ON_THE_VAN:
            probability = None if promise is None else (1.0 if today <= promise else 0.0)
            return eta.InFlight(
                today, today, today, probability, "out_for_delivery", 0, ("out for delivery today",)
            )
        dist = distribution or self.distributions([features])[0]
        elapsed = eta.business_days_between(ship_day, today)
        least = elapsed + (1 if milestone in eta.ANOTHER_ATTEMPT else 0)
        p10, p50, p90 = (
            eta.add_business_days(ship_day, dist.quantile(p, least)) for p in eta.IN_FLIGHT_QUANTILES
        )
        probability = None if promise is None else _probability(dist, ship_day, promise, least)
        factors = ["gradient-boosted quantiles"]
        if least:
            factors.append(f"at least {least} business day{'s' if least != 1 else ''} in transit")
        return eta.InFlight(p10, p50, p90, probability, "gbm", self.size, tuple(factors))

    # -- plain-text storage ---------------------------------------------------------------------------
    def to_text(self) -> str:
        """JSON with each level's LightGBM text model: storable in a text column, read without pickle."""
        return json.dumps(
            {
                "format": FORMAT,
                "columns": list(COLUMNS),
                "size": self.size,
                "codes": {c: dict(sorted(v.items())) for c, v in sorted(self.codes.items())},
                "boosters": [
                    {"level": level, "model": self.boosters[level].model_to_string()} for level in self.levels
                ],
            }
        )

    @classmethod
    def from_text(cls, text: str) -> GbmModel:
        document = json.loads(text)
        if document.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} model: {document.get('format')!r}")
        if list(document.get("columns", [])) != list(COLUMNS):
            raise ValueError("the model was trained on other features than this code computes")
        boosters = {float(b["level"]): lgb.Booster(model_str=str(b["model"])) for b in document["boosters"]}
        codes = {str(c): {str(k): int(v) for k, v in m.items()} for c, m in document["codes"].items()}
        return cls(boosters, codes, int(document["size"]))


def _probability(dist: Distribution, ship_day: date, promise: date, least: int) -> float:
    """P(delivered by ``promise`` | at least ``least`` business days), in business days from ``ship_day``."""
    allowed = -1
    while eta.add_business_days(ship_day, allowed + 1) <= promise and allowed + 1 < len(dist.cdf) + 30:
        allowed += 1
    return round(dist.by(allowed, least), 4)
