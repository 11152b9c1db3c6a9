"""Delivery-time prediction benchmark: the carrier's estimate, the empirical baseline and the GBM challenger.

Usage: python bench/eta.py [--days 60] [--next 20] [--seed 7] [--quick] [--worlds steady,metro,storm]
                           [--no-past-disruption] [--threshold 0.5]

For each shipped world (``simulator/worlds``), in one run and from the same seed, it sells ``--days``
days of history and ``--next`` days of test labels (each carrier 1 to 60 labels a weekday, 1 to 10 on
weekend days, at hours weighted towards the working day and some after the 17:00 cut-off; UPS, FedEx,
USPS and DHL Express services in a realistic mix, US destinations weighted by state population, UPS and
DHL Express also abroad; the address type known on 70 % of labels) and lets ``World.sample`` decide
each label's delivery and the carrier's own estimate. Transit is counted as ``rating.eta`` counts it:
business days (Monday to Friday) from the day the label was bought to the day it was delivered.

The models learn only from deliveries completed before the first test day: the baseline
(``rating.eta.fit``, per-segment empirical quantiles) and the challenger (``rating.eta_gbm.fit``,
LightGBM quantile models on features known at booking, and per destination region the recent delay of
deliveries completed before the prediction day and the share of parcels due lately still not delivered). The world's ``+N`` dates count from the
first test day, so the storm world's storm strikes the test window on its second day; unless
``--no-past-disruption``, the same disruptions also happened once in the history (four weeks earlier,
or half the history when it is shorter), so a model could have learnt what a storm looks like.

Reported per world, beside the carrier's estimate and the baseline measured in the same run:

* MAE, in business days, of the booking-time p50 date against the actual delivery date (and per carrier);
* calibration: the share of deliveries on or before the p80 date, on or before the p95 date, and inside
  the p10-p90 band (both ends included);
* MAE as the parcel moves: re-predicted each morning (08:00 UTC) of every business day it is not yet
  delivered, with ``predict_in_flight`` (milestone ``in_transit``; ``exception`` after a failed first
  attempt; ``out_for_delivery`` on the morning of an attempt), by stage and by business days left;
* at-risk alerts: the promise is the carrier's estimate at booking; an alert is raised the first time
  (at booking or on a morning re-prediction) the predicted risk of missing the promise exceeds the
  threshold; a parcel is late when delivered after the promise date. Precision and recall of alerts
  raised at least 24 hours before the end (midnight UTC) of the promise day, over a sweep of thresholds,
  and the median lead time.

Nothing is timed here: the figures are accuracies, and they depend only on ``--seed``.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rating import eta, eta_gbm
from simulator.world import LabelFacts, Outcome, World, load_world

TEST_START = date(2027, 5, 3)  # a Monday clear of the worlds' holidays (history runs back from it)
ORIGIN = "US"
WORLDS = ("steady", "metro", "storm")
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
ORACLE_DRAWS = 31
THRESHOLD = 0.5  # "more likely late than not": chosen before looking, the sweep shows the neighbours
LEAD_HOURS = 24
MORNING = time(8, 0)

# carrier -> (service, weight, international?)
SERVICES: dict[str, tuple[tuple[str, float, bool], ...]] = {
    "ups": (
        ("03", 0.45, False),
        ("12", 0.1, False),
        ("02", 0.15, False),
        ("01", 0.15, False),
        ("07", 0.15, True),
    ),
    "fedex": (("FEDEX_GROUND", 0.5, False), ("FEDEX_2_DAY", 0.3, False), ("PRIORITY_OVERNIGHT", 0.2, False)),
    "usps": (
        ("USPS_GROUND_ADVANTAGE", 0.5, False),
        ("PRIORITY_MAIL", 0.4, False),
        ("PRIORITY_MAIL_EXPRESS", 0.1, False),
    ),
    "dhl_express": (("P", 0.8, True), ("N", 0.2, False)),
}
# population in millions, roughly: where US parcels go
STATES = {
    "CA": 39, "TX": 30, "FL": 22, "NY": 20, "PA": 13, "IL": 12.5, "OH": 11.8, "GA": 11, "NC": 10.8,
    "MI": 10, "NJ": 9.3, "VA": 8.7, "WA": 7.8, "AZ": 7.4, "TN": 7, "MA": 7, "IN": 6.8, "MO": 6.2,
    "MD": 6.2, "WI": 5.9, "CO": 5.8, "MN": 5.7, "SC": 5.3, "AL": 5.1, "LA": 4.6, "KY": 4.5, "OR": 4.2,
    "OK": 4, "CT": 3.6, "UT": 3.4, "IA": 3.2, "NV": 3.2, "AR": 3, "KS": 2.9, "MS": 2.9, "NM": 2.1,
    "NE": 2, "ID": 1.9, "WV": 1.8, "HI": 1.4, "NH": 1.4, "ME": 1.4, "RI": 1.1, "MT": 1.1, "DE": 1,
    "SD": 0.9, "ND": 0.8, "AK": 0.7, "VT": 0.6, "WY": 0.6,
}  # fmt: skip
ABROAD = {"DE": 0.3, "GB": 0.2, "CA": 0.2, "FR": 0.1, "MX": 0.1, "JP": 0.1}
# UTC hour of sale: mostly the working day, a tail after the 17:00 cut-off, a little at night
HOURS = {
    h: w for h, w in enumerate([1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 10, 10, 10, 10, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1])
}


# -- the labels ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Label:
    facts: LabelFacts
    outcome: Outcome
    lane: str

    @property
    def sale_day(self) -> date:
        return self.facts.sold_at.date()

    @property
    def delivered_on(self) -> date:
        return self.outcome.delivered_at.date()

    @property
    def transit(self) -> int:
        return eta.business_days_between(self.sale_day, self.delivered_on)

    @property
    def promise(self) -> date:
        return self.outcome.estimate.date

    @property
    def late(self) -> bool:
        return self.delivered_on > self.promise


def _pick(rng: random.Random, weights: Mapping[Any, float]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def sell(start: date, days: int, seed: int) -> list[LabelFacts]:
    """Every label sold from ``start`` for ``days`` days, with its carrier's rank of the day."""
    rng = random.Random(f"{seed}:bench-eta:labels")
    out: list[LabelFacts] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        for carrier, services in SERVICES.items():
            count = rng.randint(1, 60) if day.weekday() < 5 else rng.randint(1, 10)
            sold = []
            for _ in range(count):
                service, _w, abroad = rng.choices(services, weights=[s[1] for s in services])[0]
                country = _pick(rng, ABROAD) if abroad else "US"
                state = "" if abroad else _pick(rng, STATES)
                known = rng.random() < 0.7
                address = ("residential" if rng.random() < 0.6 else "commercial") if known else None
                at = datetime.combine(day, time(_pick(rng, HOURS), rng.randrange(60)), tzinfo=UTC)
                sold.append((at, service, country, state, address))
            for rank, (at, service, country, state, address) in enumerate(
                sorted(sold, key=lambda s: s[0]), start=1
            ):
                out.append(
                    LabelFacts(
                        carrier=carrier,
                        service=service,
                        tracking_number=f"{carrier}-{day.isoformat()}-{rank}",
                        sold_at=at,
                        origin_country=ORIGIN,
                        destination_country=country,
                        destination_state=state,
                        address_type=address,
                        day_rank=rank,
                    )
                )
    return out


def world_for(name: str, test_start: date, history_days: int, past_disruption: bool) -> World:
    """The world with its "+N" dates counted from ``test_start``; its disruptions also once in the history."""
    world = load_world(name, anchor=test_start)
    if past_disruption and world.disruptions:
        weeks = max(1, min(4, history_days // 14))
        past = load_world(name, anchor=test_start - timedelta(weeks=weeks))
        world = replace(world, disruptions=past.disruptions + world.disruptions)
    return world


# -- features --------------------------------------------------------------------------------------------
def reference_days(model: eta.Model, label: Label) -> int:
    """The segment's usual transit: the baseline's p50 (the carrier's estimate when it has too little history)."""
    f = label.facts
    p = eta.predict(model, f.carrier, f.service, label.lane, label.sale_day, carrier_estimate=label.promise)
    return eta.business_days_between(label.sale_day, label.promise if p is None else p.p50)


@dataclass
class Signals:
    """What the GBM reads of the recent past, per destination region: late deliveries and overdue parcels."""

    delay: eta_gbm.DelaySignal = field(default_factory=eta_gbm.DelaySignal)
    overdue: eta_gbm.OverdueSignal = field(default_factory=eta_gbm.OverdueSignal)


def features(label: Label, signal: Signals, on: date) -> eta_gbm.Features:
    f = label.facts
    region = eta_gbm.region(f.destination_country, f.destination_state)
    delay, count = signal.delay.value(region, on)
    return eta_gbm.Features(
        carrier=f.carrier,
        service=f.service,
        lane=label.lane,
        destination_country=f.destination_country,
        destination_state=f.destination_state,
        sold_at=f.sold_at,
        day_rank=f.day_rank,
        residential=None if f.address_type is None else f.address_type == "residential",
        carrier_estimate_days=eta.business_days_between(label.sale_day, label.promise),
        recent_delay=delay,
        recent_count=count,
        recent_overdue=signal.overdue.value(region, on),
    )


# -- measuring ------------------------------------------------------------------------------------------
def bdays(label: Label, day: date) -> int:
    return eta.business_days_between(label.sale_day, day)


def mae(errors: Iterable[float]) -> float | None:
    values = list(errors)
    return round(statistics.fmean(values), 3) if values else None


def share(flags: Iterable[bool]) -> float | None:
    values = list(flags)
    return round(sum(values) / len(values), 3) if values else None


@dataclass
class Booking:
    """Booking-time predictions of one test label, in business days from its sale day."""

    label: Label
    carrier_p50: int
    base_p50: int
    base_p80: int
    base_p95: int
    base_p10: int
    base_p90: int
    base_risk: float | None
    gbm_p10: int
    gbm_p50: int
    gbm_p80: int
    gbm_p90: int
    gbm_p95: int
    gbm_risk: float | None
    gbm_dist: eta_gbm.Distribution
    base_by_p80: float | None = None  # the model's own P(delivered by its p80 date)
    gbm_by_p80: float | None = None
    oracle_p50: int = 0
    oracle_p80: int = 0
    oracle_risk: float | None = None


@dataclass
class Check:
    """One morning re-prediction of a parcel still on its way."""

    label: Label
    today: date
    at: datetime
    stage: str
    carrier: int
    base: int
    gbm: int
    base_risk: float | None
    gbm_risk: float | None


@dataclass
class WorldResult:
    world: str
    history_labels: int
    trained_on: int
    test_labels: int
    rows: dict[str, Any] = field(default_factory=dict)


def in_flight_days(label: Label) -> list[tuple[datetime, str]]:
    """When the parcel is predicted again, with its milestone then: 08:00 on every business day after the
    sale day until delivery (``out_for_delivery`` on the morning of an attempt, ``exception`` between a
    failed attempt and the next), and right after a failed attempt."""
    first = label.outcome.first_attempt_at
    attempts = {first.date(), label.delivered_on}
    days: set[date] = set(attempts)
    day = label.sale_day + timedelta(days=1)
    while day < label.delivered_on:
        if day.weekday() < 5:
            days.add(day)
        day += timedelta(days=1)
    out = []
    for day in sorted(days):
        if day in attempts:
            stage = "out_for_delivery"
        elif label.outcome.failed_attempt and day > first.date():
            stage = "exception"
        else:
            stage = "in_transit"
        out.append((datetime.combine(day, MORNING, tzinfo=UTC), stage))
    if label.outcome.failed_attempt:
        out.append((first + timedelta(minutes=1), "exception"))
    return sorted(out)


def run_world(
    name: str,
    days: int,
    next_days: int,
    seed: int,
    *,
    past_disruption: bool = True,
    test_start: date = TEST_START,
    rounds: int = eta_gbm.ROUNDS,
    thresholds: Sequence[float] = THRESHOLDS,
    threshold: float = THRESHOLD,
    oracle_draws: int = ORACLE_DRAWS,
) -> WorldResult:
    """Sell, sample, train on the history, predict the test days; return the figures."""
    world = world_for(name, test_start, days, past_disruption)
    history_start = test_start - timedelta(days=days)
    labels = []
    for facts in sell(history_start, days + next_days, seed):
        outcome = world.sample(facts, seed)
        labels.append(Label(facts, outcome, eta.lane(facts.origin_country, facts.destination_country)))
    history = [lb for lb in labels if lb.sale_day < test_start]
    test = [lb for lb in labels if lb.sale_day >= test_start]
    known = [lb for lb in history if lb.delivered_on < test_start]  # what the models may learn from

    base = eta.fit(eta.Observation(lb.facts.carrier, lb.facts.service, lb.lane, lb.transit) for lb in known)
    signal = Signals()
    for lb in labels:  # every label; the signals only read what was known on the morning of the day
        region, usual = (
            eta_gbm.region(lb.facts.destination_country, lb.facts.destination_state),
            reference_days(base, lb),
        )
        signal.delay.add(eta_gbm.Completed(region, lb.delivered_on, lb.transit - usual))
        signal.overdue.add(region, eta.add_business_days(lb.sale_day, usual), lb.delivered_on)
    gbm = eta_gbm.fit(
        (eta_gbm.Row(features(lb, signal, lb.sale_day), lb.transit) for lb in known), rounds=rounds
    )

    bookings = _bookings(test, base, gbm, signal)
    for bk in bookings:
        # The same label redrawn in the same world: what knowing the world's probabilities (even of a
        # disruption still to come, which no model can know at booking) would give.
        draws = tuple(
            sorted(
                eta.business_days_between(
                    bk.label.sale_day, world.sample(bk.label.facts, seed + 1 + k).delivered_at.date()
                )
                for k in range(oracle_draws)
            )
        )
        bk.oracle_p50, bk.oracle_p80 = eta.quantile(draws, 0.5), eta.quantile(draws, 0.8)
        bk.oracle_risk = sum(1 for t in draws if t > bk.carrier_p50) / len(draws)
    checks = _checks(bookings, base, gbm, signal)
    result = WorldResult(name, len(history), len(known), len(test))
    result.rows = {
        "mae": _mae_rows(bookings),
        "calibration": _calibration_rows(bookings),
        "in_flight": _in_flight_rows(bookings, checks),
        "alerts": _alert_rows(bookings, checks, thresholds),
        "threshold": threshold,
        "late_share": share(b.label.late for b in bookings),
        "disruptions": [f"{d.name} {d.start}..{d.end}" for d in world.disruptions],
    }
    result.rows["targets"] = _targets(result.rows, threshold)
    return result


def _bookings(
    test: Sequence[Label], base: eta.Model, gbm: eta_gbm.GbmModel, signal: Signals
) -> list[Booking]:
    feats = [features(lb, signal, lb.sale_day) for lb in test]
    dists = gbm.distributions(feats)
    out = []
    gbm_preds = gbm.predict_many(feats, [lb.sale_day for lb in test], [lb.promise for lb in test])
    for lb, dist, g in zip(test, dists, gbm_preds, strict=True):
        f = lb.facts
        b = eta.predict(
            base, f.carrier, f.service, lb.lane, lb.sale_day, carrier_estimate=lb.promise, promise=lb.promise
        )
        band = eta.predict_in_flight(
            base, f.carrier, f.service, lb.lane, lb.sale_day, lb.sale_day, "label_created",
            carrier_estimate=lb.promise, promise=lb.promise,
        )  # fmt: skip
        assert b is not None and band is not None  # the carrier estimate stands in without history
        by_p80 = eta.predict(base, f.carrier, f.service, lb.lane, lb.sale_day, promise=b.p80)
        out.append(
            Booking(
                label=lb,
                carrier_p50=bdays(lb, lb.promise),
                base_p50=bdays(lb, b.p50),
                base_p80=bdays(lb, b.p80),
                base_p95=bdays(lb, b.p95),
                base_p10=bdays(lb, band.p10),
                base_p90=bdays(lb, band.p90),
                base_risk=None if b.on_time_probability is None else 1 - b.on_time_probability,
                gbm_p10=bdays(lb, g.p10),
                gbm_p50=bdays(lb, g.p50),
                gbm_p80=bdays(lb, g.p80),
                gbm_p90=bdays(lb, g.p90),
                gbm_p95=bdays(lb, g.p95),
                gbm_risk=g.risk,
                gbm_dist=dist,
                base_by_p80=None if by_p80 is None else by_p80.on_time_probability,
                gbm_by_p80=dist.at(bdays(lb, g.p80)),
            )
        )
    return out


def _checks(
    bookings: Sequence[Booking], base: eta.Model, gbm: eta_gbm.GbmModel, signal: Signals
) -> list[Check]:
    queries = [(bk, at, stage) for bk in bookings for at, stage in in_flight_days(bk.label)]
    # the GBM sees the region's recent delay as of that day, not as of the sale
    dists = gbm.distributions([features(bk.label, signal, at.date()) for bk, at, _stage in queries])
    out = []
    for (bk, at, stage), dist in zip(queries, dists, strict=True):
        lb, f, day = bk.label, bk.label.facts, at.date()
        b = eta.predict_in_flight(
            base, f.carrier, f.service, lb.lane, lb.sale_day, day, stage,
            carrier_estimate=lb.promise, promise=lb.promise,
        )  # fmt: skip
        g = gbm.predict_in_flight(
            features(lb, signal, day), lb.sale_day, day, stage, promise=lb.promise, distribution=dist
        )
        assert b is not None
        out.append(
            Check(
                label=lb,
                today=day,
                at=at,
                stage=stage,
                carrier=bdays(lb, max(lb.promise, day)),  # a passed estimate reads as "today at the earliest"
                base=bdays(lb, b.p50),
                gbm=bdays(lb, g.p50),
                base_risk=b.risk,
                gbm_risk=g.risk,
            )
        )
    return out


def _mae_rows(bookings: Sequence[Booking]) -> list[dict[str, Any]]:
    groups: dict[str, list[Booking]] = defaultdict(list)
    for bk in bookings:
        groups["all"].append(bk)
        groups[bk.label.facts.carrier].append(bk)
        if bk.label.outcome.congestion_days:
            groups["congested (known after)"].append(bk)
        if bk.label.outcome.disruption_days:
            groups["disrupted (known after)"].append(bk)
    rows = []
    order = ["all", *SERVICES, "congested (known after)", "disrupted (known after)"]
    for group, items in sorted(groups.items(), key=lambda g: order.index(g[0])):
        carrier = mae(abs(b.carrier_p50 - b.label.transit) for b in items)
        base = mae(abs(b.base_p50 - b.label.transit) for b in items)
        gbm = mae(abs(b.gbm_p50 - b.label.transit) for b in items)
        oracle = mae(abs(b.oracle_p50 - b.label.transit) for b in items)
        rows.append(
            {
                "group": group,
                "labels": len(items),
                "carrier": carrier,
                "baseline": base,
                "gbm": gbm,
                "oracle": oracle,
                "gbm_vs_carrier": _change(gbm, carrier),
                "baseline_vs_carrier": _change(base, carrier),
            }
        )
    return rows


def _change(ours: float | None, theirs: float | None) -> float | None:
    """Relative change of ``ours`` against ``theirs`` (-0.3 = 30 % lower); None when theirs is 0."""
    if ours is None or theirs is None or theirs == 0:
        return None
    return round(ours / theirs - 1, 3)


def _calibration_rows(bookings: Sequence[Booking]) -> list[dict[str, Any]]:
    rows = []
    for model in ("baseline", "gbm"):
        pre = "base" if model == "baseline" else "gbm"
        rows.append(
            {
                "model": model,
                "p80": share(b.label.transit <= getattr(b, f"{pre}_p80") for b in bookings),
                # the mean of the model's own P(by p80): what it claims the column before is
                "p80_predicted": mae(v for b in bookings if (v := getattr(b, f"{pre}_by_p80")) is not None),
                "p95": share(b.label.transit <= getattr(b, f"{pre}_p95") for b in bookings),
                "p10_p90": share(
                    getattr(b, f"{pre}_p10") <= b.label.transit <= getattr(b, f"{pre}_p90") for b in bookings
                ),
            }
        )
    rows.append(
        {
            "model": "carrier",
            "p80": share(b.label.transit <= b.carrier_p50 for b in bookings),
            "p80_predicted": None,
            "p95": None,
            "p10_p90": None,
        }
    )
    rows.append(
        {
            "model": "oracle",
            "p80": share(b.label.transit <= b.oracle_p80 for b in bookings),
            "p80_predicted": None,
            "p95": None,
            "p10_p90": None,
        }
    )
    return rows


def _in_flight_rows(bookings: Sequence[Booking], checks: Sequence[Check]) -> dict[str, list[dict[str, Any]]]:
    by_stage: dict[str, list[tuple[int, int, int, int]]] = defaultdict(list)
    by_left: dict[str, list[tuple[int, int, int, int]]] = defaultdict(list)
    for bk in bookings:
        lb = bk.label
        entry = (lb.transit, bk.carrier_p50, bk.base_p50, bk.gbm_p50)
        by_stage["booking"].append(entry)
        by_left[_left(bdays(lb, lb.sale_day), lb.transit)].append(entry)
    for ck in checks:
        entry = (ck.label.transit, ck.carrier, ck.base, ck.gbm)
        by_stage[ck.stage].append(entry)
        by_left[_left(bdays(ck.label, ck.today), ck.label.transit)].append(entry)

    def rows(
        groups: dict[str, list[tuple[int, int, int, int]]], order: Sequence[str]
    ) -> list[dict[str, Any]]:
        return [
            {
                "group": g,
                "predictions": len(groups[g]),
                "carrier": mae(abs(c - t) for t, c, _b, _g in groups[g]),
                "baseline": mae(abs(b - t) for t, _c, b, _g in groups[g]),
                "gbm": mae(abs(m - t) for t, _c, _b, m in groups[g]),
            }
            for g in order
            if groups.get(g)
        ]

    return {
        "stage": rows(by_stage, ("booking", "in_transit", "exception", "out_for_delivery")),
        "left": rows(by_left, ("5+", "4", "3", "2", "1", "0")),
    }


def _left(elapsed: int, transit: int) -> str:
    left = max(0, transit - elapsed)
    return "5+" if left >= 5 else str(left)


def _alerts(
    bookings: Sequence[Booking],
    checks: Sequence[Check],
    risk: Callable[[Any], float | None],
    threshold: float,
) -> dict[str, Any]:
    """The first alert per parcel (booking or a morning), its lead before the promise day's end, and scores."""
    timeline: dict[str, list[tuple[datetime, float | None]]] = defaultdict(list)
    for bk in bookings:
        timeline[bk.label.facts.tracking_number].append((bk.label.facts.sold_at, risk(bk)))
    for ck in checks:
        timeline[ck.label.facts.tracking_number].append((ck.at, risk(ck)))
    leads: dict[str, float] = {}
    labels = {bk.label.facts.tracking_number: bk.label for bk in bookings}
    for number, points in timeline.items():
        deadline = datetime.combine(labels[number].promise + timedelta(days=1), time(0), tzinfo=UTC)
        for at, r in sorted(points, key=lambda p: p[0]):
            if at < deadline and r is not None and r > threshold:
                leads[number] = (deadline - at).total_seconds() / 3600
                break
    late = {n for n, lb in labels.items() if lb.late}
    early = {n for n, h in leads.items() if h >= LEAD_HOURS}
    hits = early & late
    return {
        "threshold": threshold,
        "alerts": len(leads),
        "alerts_24h": len(early),
        "late": len(late),
        "precision_24h": round(len(hits) / len(early), 3) if early else None,
        "recall_24h": round(len(hits) / len(late), 3) if late else None,
        "precision_any": round(len(set(leads) & late) / len(leads), 3) if leads else None,
        "recall_any": round(len(set(leads) & late) / len(late), 3) if late else None,
        "median_lead_h": round(statistics.median(leads[n] for n in hits), 1) if hits else None,
    }


def _alert_rows(
    bookings: Sequence[Booking], checks: Sequence[Check], thresholds: Sequence[float]
) -> list[dict[str, Any]]:
    rows = []
    for model, risk in (
        ("baseline", lambda x: x.base_risk),
        ("gbm", lambda x: x.gbm_risk),
        ("oracle (at booking)", lambda x: getattr(x, "oracle_risk", None)),
    ):
        for threshold in thresholds:
            rows.append({"model": model, **_alerts(bookings, checks, risk, threshold)})
    return rows


def _targets(rows: dict[str, Any], threshold: float) -> dict[str, dict[str, Any]]:
    overall = next(r for r in rows["mae"] if r["group"] == "all")
    out: dict[str, dict[str, Any]] = {}
    calib = {r["model"]: r for r in rows["calibration"]}
    for model in ("baseline", "gbm"):
        ours, carrier = overall[model], overall["carrier"]
        # None: not measurable (the carrier is exact, or no parcel is late)
        mae_met = None if not carrier or ours is None else ours <= 0.7 * carrier
        p80 = calib[model]["p80"]
        alert = next(r for r in rows["alerts"] if r["model"] == model and r["threshold"] == threshold)
        alerts_met = (
            None
            if not alert["late"]
            else (alert["precision_24h"] or 0) >= 0.7 and (alert["recall_24h"] or 0) >= 0.7
        )
        out[model] = {
            "mae_30pct_below_carrier": mae_met,
            "p80_within_75_85": p80 is not None and 0.75 <= p80 <= 0.85,
            "alerts_p_r_0.7_24h": alerts_met,
        }
    return out


# -- printing --------------------------------------------------------------------------------------------
def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _target(value: bool | None) -> str:
    return "n/a" if value is None else ("met" if value else "missed")


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _rel(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:+.0f} %"


def report(result: WorldResult) -> str:
    r = result.rows
    parts = [
        f"## {result.world}: {result.history_labels} history labels ({result.trained_on} delivered before "
        f"the test window, trained on), {result.test_labels} test labels, {_pct(r['late_share'])} late "
        f"against the carrier's estimate"
        + (f"; disruptions: {', '.join(r['disruptions'])}" if r["disruptions"] else ""),
        "",
        "MAE of the booking-time p50 date, business days (carrier = the carrier's own estimate; oracle = the "
        "median of the same label redrawn in the same world, a floor no model reaches):",
        "",
        _table(
            (
                "group",
                "labels",
                "carrier",
                "baseline",
                "GBM",
                "baseline vs carrier",
                "GBM vs carrier",
                "oracle",
            ),
            (
                (
                    x["group"],
                    x["labels"],
                    _fmt(x["carrier"]),
                    _fmt(x["baseline"]),
                    _fmt(x["gbm"]),
                    _rel(x["baseline_vs_carrier"]),
                    _rel(x["gbm_vs_carrier"]),
                    _fmt(x["oracle"]),
                )
                for x in r["mae"]
            ),
        ),
        "",
        "Calibration at booking: delivered on or before the p80 date, the p95 date, inside p10-p90 "
        "(carrier: on or before its estimate; oracle: on or before the p80 of the redraws):",
        "",
        _table(
            ("model", "<= p80", "model's own P(<= p80)", "<= p95", "in p10-p90"),
            (
                (x["model"], _pct(x["p80"]), _pct(x["p80_predicted"]), _pct(x["p95"]), _pct(x["p10_p90"]))
                for x in r["calibration"]
            ),
        ),
        "",
        "MAE as the parcel moves (re-predicted each morning it is not delivered), by stage and by business "
        "days left:",
        "",
        _table(
            ("stage", "predictions", "carrier", "baseline", "GBM"),
            (
                (x["group"], x["predictions"], _fmt(x["carrier"]), _fmt(x["baseline"]), _fmt(x["gbm"]))
                for x in r["in_flight"]["stage"]
                + [{"group": "—", "predictions": "", "carrier": None, "baseline": None, "gbm": None}]
                + [{**y, "group": f"{y['group']} days left"} for y in r["in_flight"]["left"]]
            ),
        ),
        "",
        f"At-risk alerts (promise = the carrier's estimate at booking; late = delivered after it; counted "
        f"when raised >= {LEAD_HOURS} h before the promise day ends):",
        "",
        _table(
            (
                "model",
                "threshold",
                "alerts >= 24 h",
                "late",
                "precision",
                "recall",
                "median lead (h)",
                "precision (any lead)",
                "recall (any lead)",
            ),
            (
                (
                    x["model"],
                    f"{x['threshold']:g}" + (" ←" if x["threshold"] == r["threshold"] else ""),
                    x["alerts_24h"],
                    x["late"],
                    _fmt(x["precision_24h"]),
                    _fmt(x["recall_24h"]),
                    _fmt(x["median_lead_h"]),
                    _fmt(x["precision_any"]),
                    _fmt(x["recall_any"]),
                )
                for x in r["alerts"]
            ),
        ),
        "",
        "Targets (MAE >= 30 % below the carrier; p80 coverage 80 ± 5 %; alert precision and recall >= 0.7 "
        f"raised >= 24 h ahead, at threshold {r['threshold']:g}):",
        "",
        _table(
            ("model", "MAE", "p80", "alerts"),
            (
                (
                    m,
                    _target(t["mae_30pct_below_carrier"]),
                    _target(t["p80_within_75_85"]),
                    _target(t["alerts_p_r_0.7_24h"]),
                )
                for m, t in r["targets"].items()
            ),
        ),
    ]
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--days", type=int, default=60, help="days of history to train on")
    parser.add_argument("--next", type=int, default=20, dest="next_days", help="days of labels to predict")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="28 days of history, 10 to predict, fewer trees")
    parser.add_argument("--worlds", default=",".join(WORLDS))
    parser.add_argument(
        "--no-past-disruption", action="store_true", help="no earlier occurrence in the history"
    )
    parser.add_argument(
        "--oracle-draws", type=int, default=ORACLE_DRAWS, help="redraws per label for the oracle"
    )
    parser.add_argument(
        "--threshold", type=float, default=THRESHOLD, help="the risk an alert is raised above"
    )
    args = parser.parse_args(argv)
    days, next_days, rounds = args.days, args.next_days, eta_gbm.ROUNDS
    if args.quick:
        days, next_days, rounds = 28, 10, 100
        args.oracle_draws = min(args.oracle_draws, 11)
    thresholds = tuple(sorted({*THRESHOLDS, args.threshold}))
    print(
        f"# bench/eta.py --days {days} --next {next_days} --seed {args.seed}"
        f"{' --quick' if args.quick else ''}{' --no-past-disruption' if args.no_past_disruption else ''}"
        f" (test window from {TEST_START}; {platform.python_version()}, {platform.machine()}, "
        f"{rounds} boosting rounds per quantile)\n"
    )
    for name in args.worlds.split(","):
        result = run_world(
            name.strip(),
            days,
            next_days,
            args.seed,
            past_disruption=not args.no_past_disruption,
            rounds=rounds,
            thresholds=thresholds,
            threshold=args.threshold,
            oracle_draws=args.oracle_draws,
        )
        print(report(result), end="\n\n", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
