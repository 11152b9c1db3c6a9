"""Delivery-time predictions from history: per-segment empirical quantiles of business days in transit.

Pure (no I/O). A segment is (carrier, service, lane); ``lane`` is "domestic" or "international". A
model keeps, per segment with enough deliveries, the sorted transit times it saw, in business days
from the day the label was bought to the day it was delivered (Saturdays and Sundays do not count).
A prediction gives the p50, p80 and p95 delivery dates and the probability of arriving by a promise
date, read off those samples:

- the ``p``-quantile is the smallest transit time ``t`` with at least a share ``p`` of the samples
  at or below it (the inverse of the empirical distribution: never a time nobody saw);
- the on-time probability is the share of samples that, shipped on this day, would arrive by the
  promise.

With too few deliveries in the segment, the carrier and service over every lane stand in; with too
few there either, the carrier's own estimate is given for every percentile, with no probability
(``basis = "carrier_estimate"``): it is a single date, not a distribution, and saying how likely it is
would be invented.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from rating import promise

DOMESTIC, INTERNATIONAL = "domestic", "international"
ANY_LANE = "*"
QUANTILES = (0.5, 0.8, 0.95)
MIN_SAMPLES = 20  # below this a segment's quantiles say more about luck than about the carrier


def lane(origin_country: str, destination_country: str) -> str:
    return (
        DOMESTIC if origin_country.strip().upper() == destination_country.strip().upper() else INTERNATIONAL
    )


# Monday to Friday; carriers' holidays are not known here, so they count as business days.
_WEEKDAYS = promise.Calendar(frozenset(range(5)))


def _ship_day(day: date) -> date:
    """The day a parcel handed over on ``day`` starts moving: that day, or the Monday after a weekend."""
    return day if _WEEKDAYS.is_business_day(day) else _WEEKDAYS.next_business_day(day)


def add_business_days(day: date, days: int) -> date:
    """The date ``days`` business days after ``day`` (a weekend ship day counts from the Monday)."""
    return _WEEKDAYS.add_business_days(_ship_day(day), days)


def business_days_between(start: date, end: date) -> int:
    """Business days from ``start`` to ``end``: the ``t`` with ``add_business_days(start, t) == end`` for a
    business day ``end`` (0 when delivered the day it shipped, the next Monday of a weekend, or earlier)."""
    current, days = _ship_day(start), 0
    while current < end:
        current = _WEEKDAYS.next_business_day(current)
        if current <= end:
            days += 1
    return days


@dataclass(frozen=True, slots=True)
class Observation:
    """One delivered shipment: its segment and how many business days it took."""

    carrier: str
    service: str
    lane: str
    transit_days: int


@dataclass(frozen=True, slots=True)
class Model:
    """Sorted transit samples per segment, and the least count a segment needs to be used."""

    samples: Mapping[tuple[str, str, str], tuple[int, ...]]
    min_samples: int = MIN_SAMPLES

    def to_document(self) -> dict[str, Any]:
        return {
            "min_samples": self.min_samples,
            "segments": [
                {"carrier": c, "service": s, "lane": ln, "transit_days": list(days)}
                for (c, s, ln), days in sorted(self.samples.items())
            ],
        }

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Model:
        samples = {
            (str(seg["carrier"]), str(seg["service"]), str(seg["lane"])): tuple(
                int(d) for d in seg["transit_days"]
            )
            for seg in document.get("segments", [])
        }
        return cls(samples, int(document.get("min_samples", MIN_SAMPLES)))

    @property
    def size(self) -> int:
        return sum(len(v) for (_c, _s, ln), v in self.samples.items() if ln != ANY_LANE)


def fit(observations: Iterable[Observation], min_samples: int = MIN_SAMPLES) -> Model:
    """Keep every segment's samples (and each carrier service over all lanes), sorted."""
    by: dict[tuple[str, str, str], list[int]] = {}
    for o in observations:
        days = max(0, int(o.transit_days))
        by.setdefault((o.carrier, o.service, o.lane), []).append(days)
        by.setdefault((o.carrier, o.service, ANY_LANE), []).append(days)
    return Model({k: tuple(sorted(v)) for k, v in by.items()}, min_samples)


def _share_by(samples: tuple[int, ...], ship_day: date, promise: date) -> float:
    """The share of (sorted) transit samples that, shipped on ``ship_day``, arrive by ``promise``."""
    # The longest transit that still arrives by the promise; samples are sorted, so those are a prefix.
    allowed, t = -1, 0
    while t <= samples[-1] and add_business_days(ship_day, t) <= promise:
        allowed, t = t, t + 1
    return round(bisect.bisect_right(samples, allowed) / len(samples), 4)


def quantile(samples: tuple[int, ...], p: float) -> int:
    """The smallest sample ``t`` with a share of at least ``p`` of the samples at or below it."""
    if not samples:
        raise ValueError("no samples")
    # ceil(p * n) - 1, rounded first so that 0.8 * 5 is 4 and not 4.000000000000001
    index = max(0, math.ceil(round(p * len(samples), 9)) - 1)
    return samples[min(index, len(samples) - 1)]


@dataclass(frozen=True, slots=True)
class Prediction:
    """When a shipment should arrive: percentile dates, the chance of meeting the promise, and why."""

    p50: date
    p80: date
    p95: date
    on_time_probability: float | None  # None: no promise date, or no history to say it with
    basis: str  # "history" (this segment), "history_any_lane" or "carrier_estimate"
    samples: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "p50": self.p50,
            "p80": self.p80,
            "p95": self.p95,
            "on_time_probability": self.on_time_probability,
            "basis": self.basis,
            "samples": self.samples,
        }


def predict(
    model: Model | None,
    carrier: str,
    service: str,
    lane_name: str,
    ship_day: date,
    *,
    carrier_estimate: date | None = None,
    promise: date | None = None,
) -> Prediction | None:
    """Predict a delivery from ``model``; the carrier's estimate when history is too thin (None: neither)."""
    found, basis = _segment(model, carrier, service, lane_name)
    if not found:
        if carrier_estimate is None:
            return None
        return Prediction(carrier_estimate, carrier_estimate, carrier_estimate, None, "carrier_estimate", 0)
    p50, p80, p95 = (add_business_days(ship_day, quantile(found, p)) for p in QUANTILES)
    probability = None if promise is None else _share_by(found, ship_day, promise)
    return Prediction(p50, p80, p95, probability, basis, len(found))


# -- in flight -----------------------------------------------------------------------------------------
IN_FLIGHT_QUANTILES = (0.1, 0.5, 0.9)
# Milestones after which the parcel is on the van today, or must wait for another attempt.
ON_THE_VAN = frozenset({"out_for_delivery"})
ANOTHER_ATTEMPT = frozenset({"exception", "attempt_failed"})


@dataclass(frozen=True, slots=True)
class InFlight:
    """A shipment's expected delivery as it moves: the p10-p90 window and its chance of meeting the promise.

    ``risk`` is the chance of missing the promise (1 - on-time probability); None when there is no
    promise or no distribution to say it with. ``factors`` says what moved the prediction, most
    important first, as short phrases a person can read.
    """

    p10: date
    p50: date
    p90: date
    on_time_probability: float | None
    basis: str  # "history", "history_any_lane", "overdue", "out_for_delivery" or "carrier_estimate"
    samples: int
    factors: tuple[str, ...] = ()

    @property
    def risk(self) -> float | None:
        return None if self.on_time_probability is None else round(1 - self.on_time_probability, 4)

    def to_dict(self) -> dict[str, Any]:
        return {
            "p10": self.p10,
            "p50": self.p50,
            "p90": self.p90,
            "on_time_probability": self.on_time_probability,
            "risk": self.risk,
            "basis": self.basis,
            "samples": self.samples,
            "factors": list(self.factors),
        }


def _segment(model: Model | None, carrier: str, service: str, lane_name: str) -> tuple[tuple[int, ...], str]:
    """The samples to predict with and their basis: the lane's, else the service's over every lane."""
    if model is not None:
        for key, name in (
            ((carrier, service, lane_name), "history"),
            ((carrier, service, ANY_LANE), "history_any_lane"),
        ):
            samples = model.samples.get(key, ())
            if len(samples) >= model.min_samples:
                return samples, name
    return (), ""


def predict_in_flight(
    model: Model | None,
    carrier: str,
    service: str,
    lane_name: str,
    ship_day: date,
    today: date,
    milestone: str,
    *,
    carrier_estimate: date | None = None,
    promise: date | None = None,
) -> InFlight | None:
    """Predict again, knowing the parcel has not arrived by ``today`` and is at ``milestone``.

    The segment's transit samples are conditioned on what is known: only deliveries that took at
    least as long as this one already has (``today`` counted in business days from ``ship_day``)
    remain; one more day after a failed attempt or a hold. Out for delivery means today. When every
    sample is shorter (the parcel is later than any seen), the next business day is the p50 with no
    window (basis ``overdue``). Without enough history: the carrier's latest estimate, no probability.
    """
    elapsed = business_days_between(ship_day, today)
    factors: list[str] = []
    if milestone in ON_THE_VAN:
        day = today
        probability = None if promise is None else (1.0 if day <= promise else 0.0)
        return InFlight(day, day, day, probability, "out_for_delivery", 0, ("out for delivery today",))
    found, basis = _segment(model, carrier, service, lane_name)
    if not found:
        if carrier_estimate is None:
            return None
        day = max(carrier_estimate, today)
        return InFlight(day, day, day, None, "carrier_estimate", 0, ("too little history: carrier estimate",))
    least = elapsed + (1 if milestone in ANOTHER_ATTEMPT else 0)
    if milestone in ANOTHER_ATTEMPT:
        factors.append("waiting for another attempt")
    remaining = found[bisect.bisect_left(found, least) :]
    if elapsed:
        factors.append(f"{elapsed} business day{'s' if elapsed != 1 else ''} in transit")
    if not remaining:
        day = _WEEKDAYS.next_business_day(today) if least > elapsed else _ship_day(today)
        factors.insert(0, "later than every delivery in the history")
        probability = None if promise is None else (1.0 if day <= promise else 0.0)
        return InFlight(day, day, day, probability, "overdue", len(found), tuple(factors))
    p10, p50, p90 = (add_business_days(ship_day, quantile(remaining, p)) for p in IN_FLIGHT_QUANTILES)
    probability = None if promise is None else _share_by(remaining, ship_day, promise)
    factors.append(f"{len(found)} past deliveries of {carrier} {service} ({basis.replace('_', ' ')})")
    return InFlight(p10, p50, p90, probability, basis, len(remaining), tuple(factors))
