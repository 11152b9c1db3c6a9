"""Train delivery-time models from the gateway's own deliveries, measure them, keep them as versions.

A delivery is a carrier label (not the own fleet) whose shipment reached ``delivered``: its transit is
counted in business days from the day the label was bought to the day it was delivered (UTC days).
Each model is fitted on the window's deliveries but the latest fifth, which it then predicts (the
holdout: mean absolute error of the p50 date, and how often the p80 date was not exceeded); the model
kept is then fitted on the whole window.

Two models compete. The baseline (``rating.eta``, kind ``empirical_quantile``) is always fitted and
stored. When the training part holds at least ``rating.eta_gbm.MIN_ROWS`` deliveries, the challenger
(``rating.eta_gbm``, kind ``gbm``) is fitted on the same split and predicts the same holdout; it is
stored too, as its own (later) version, only when it beats the baseline on the holdout deliveries
both predicted (``beats``: by ``MARGIN_SHARE`` and ``MARGIN_DAYS`` of mean absolute error, and by a
sign test), so a tenant keeps the baseline wherever it is as good. Each version's holdout figures
are its own, over the holdout deliveries it predicted. Its features are read from what the gateway stores (``Delivery``, ``gbm_features``):

- carrier, service, lane; the destination address's country, state and ``residential`` flag;
- the sale time (the label's ``purchased_at``) and its rank among the tenant's labels of that
  carrier that UTC day;
- the quoted carrier estimate (``ShipmentQuoteSnapshot.estimated_delivery``) in business days from
  the sale day, when the shipment was booked from a quote;
- the destination region's recent delay (``rating.eta_gbm.DelaySignal``): deliveries completed in the
  three days before the prediction day, each counted by how many business days it took beyond the
  baseline's p50 for its segment (else its quoted estimate). The overdue signal
  (``OverdueSignal``) would need every label due, delivered or not, at every prediction: it is left
  at its neutral value (0) in training and in predictions alike.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from gateway.kernel import config, models
from gateway.kernel.types import utcnow
from gateway.labels.tables import Label
from gateway.predictions.tables import EtaModel
from gateway.rates.tables import ShipmentQuoteSnapshot
from gateway.tracking.tables import ShipmentTracking
from rating import eta

if TYPE_CHECKING:  # LightGBM is imported when a challenger is fitted, never at import time
    from rating import eta_gbm

log = logging.getLogger(__name__)

OWN_FLEET = "fleet"
HOLDOUT_SHARE = 5  # the latest 1/5 of the deliveries measure the model
BASELINE, GBM = "empirical_quantile", "gbm"
# The challenger is kept only when its holdout MAE is at most 95 % of the baseline's, at least 0.02
# business days lower, and closer on enough more deliveries than farther (``beats``): a tie, or a gain
# smaller than the noise of a small holdout, keeps the baseline (simpler, and it says how many
# deliveries each prediction is read from).
MARGIN_SHARE = Decimal("0.95")
MARGIN_DAYS = Decimal("0.02")
SIGN_TEST_Z = 1.645  # one-sided, 5 %


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivered carrier label: what the baseline sees (``observation``) and what the challenger sees."""

    delivered_at: datetime
    observation: eta.Observation
    ship_day: date
    sold_at: datetime
    destination_country: str
    destination_state: str
    residential: bool | None
    estimate: date | None  # the quoted carrier estimate, when booked from a quote
    label_id: str = ""
    day_rank: int = 1


def _query(
    session: Session,
    tenant_id: str | None,
    *,
    bought: tuple[datetime, datetime] | None = None,
    delivered: tuple[datetime, datetime] | None = None,
) -> list[Delivery]:
    origin, destination = aliased(models.Address), aliased(models.Address)
    s, t = models.Shipment, ShipmentTracking
    query = (
        sa.select(
            Label.id,
            Label.carrier,
            Label.service,
            Label.purchased_at,
            t.delivered_at,
            origin.country_code,
            destination.country_code,
            destination.state,
            destination.residential,
            ShipmentQuoteSnapshot.estimated_delivery,
        )
        .join(s, s.id == Label.shipment_id)
        .join(t, t.shipment_id == s.id)
        .join(origin, origin.id == s.origin_id)
        .join(destination, destination.id == s.destination_id)
        .outerjoin(ShipmentQuoteSnapshot, ShipmentQuoteSnapshot.shipment_id == s.id)
        .where(Label.carrier != OWN_FLEET, t.milestone == "delivered", t.delivered_at.is_not(None))
    )
    if bought is not None:
        query = query.where(Label.purchased_at >= bought[0], Label.purchased_at < bought[1])
    if delivered is not None:
        query = query.where(t.delivered_at >= delivered[0], t.delivered_at < delivered[1])
    if tenant_id is not None:
        query = query.where(Label.tenant_id == tenant_id)
    found = []
    for (
        label_id,
        carrier_code,
        service,
        sold,
        at,
        from_country,
        to_country,
        state,
        home,
        quoted,
    ) in session.execute(query):
        ship_day = sold.date()
        observation = eta.Observation(
            carrier_code,
            service or "",
            eta.lane(from_country, to_country),
            eta.business_days_between(ship_day, at.date()),
        )
        found.append(
            Delivery(at, observation, ship_day, sold, to_country, state or "", home, quoted, label_id)
        )
    found.sort(key=lambda d: (d.delivered_at, d.sold_at))
    return found


def deliveries(session: Session, tenant_id: str | None, since: datetime, until: datetime) -> list[Delivery]:
    """Each delivered carrier label bought in [since, until), by delivery time, with its day rank."""
    found = _query(session, tenant_id, bought=(since, until))
    ranks = _day_ranks(session, tenant_id, since, until)
    return [replace(d, day_rank=ranks.get(d.label_id, 1)) for d in found]


def delivered_between(
    session: Session, tenant_id: str | None, since: datetime, until: datetime
) -> list[Delivery]:
    """Each delivered carrier label delivered in [since, until) (what a recent-delay signal reads)."""
    return _query(session, tenant_id, delivered=(since, until))


def _day_ranks(session: Session, tenant_id: str | None, since: datetime, until: datetime) -> dict[str, int]:
    """Label id -> the label's rank among its tenant's labels of that carrier that UTC day (1: the first)."""
    start = since.replace(hour=0, minute=0, second=0, microsecond=0)  # the first day's earlier labels count
    query = sa.select(Label.tenant_id, Label.carrier, Label.purchased_at, Label.id).where(
        Label.purchased_at >= start, Label.purchased_at < until
    )
    if tenant_id is not None:
        query = query.where(Label.tenant_id == tenant_id)
    rows = sorted(session.execute(query), key=lambda r: (r[0], r[1], r[2], r[3]))
    out: dict[str, int] = {}
    previous: tuple[str, str, date] | None = None
    rank = 0
    for tenant, carrier_code, sold, label_id in rows:
        key = (tenant, carrier_code, sold.date())
        rank = rank + 1 if key == previous else 1
        previous = key
        out[label_id] = rank
    return out


# -- the challenger's features ------------------------------------------------------------------------
def usual_days(model: eta.Model, d: Delivery) -> int | None:
    """The segment's usual transit: the baseline's p50, else the quoted estimate, else None."""
    o = d.observation
    p = eta.predict(model, o.carrier, o.service, o.lane, d.ship_day, carrier_estimate=d.estimate)
    return None if p is None else eta.business_days_between(d.ship_day, p.p50)


def delay_signal(model: eta.Model, delivered: Iterable[Delivery]) -> eta_gbm.DelaySignal:
    """The recent-delay signal of ``delivered``, each measured against ``model``'s usual transit."""
    from rating import eta_gbm

    signal = eta_gbm.DelaySignal()
    for d in delivered:
        usual = usual_days(model, d)
        if usual is not None:
            region = eta_gbm.region(d.destination_country, d.destination_state)
            signal.add(eta_gbm.Completed(region, d.delivered_at.date(), d.observation.transit_days - usual))
    return signal


def gbm_features(d: Delivery, signal: eta_gbm.DelaySignal | None, on: date) -> eta_gbm.Features:
    """The challenger's features of a delivery, with the region's recent delay as known on ``on``."""
    from rating import eta_gbm

    delay, count = (0.0, 0)
    if signal is not None:
        delay, count = signal.value(eta_gbm.region(d.destination_country, d.destination_state), on)
    o = d.observation
    return eta_gbm.Features(
        carrier=o.carrier,
        service=o.service,
        lane=o.lane,
        destination_country=d.destination_country,
        destination_state=d.destination_state,
        sold_at=d.sold_at,
        day_rank=d.day_rank,
        residential=d.residential,
        carrier_estimate_days=None
        if d.estimate is None
        else eta.business_days_between(d.ship_day, d.estimate),
        recent_delay=delay,
        recent_count=count,
    )


def gbm_knows(model: eta_gbm.GbmModel, carrier: str, service: str) -> bool:
    """Whether the challenger saw this carrier service in training (else it is not asked about it)."""
    return f"{carrier}/{service}" in model.codes.get("service", {})


def _fit_gbm(
    rows: Sequence[Delivery], baseline: eta.Model, signal_from: Iterable[Delivery]
) -> eta_gbm.GbmModel:
    from rating import eta_gbm

    signal = delay_signal(baseline, signal_from)
    return eta_gbm.fit(
        eta_gbm.Row(gbm_features(d, signal, d.ship_day), d.observation.transit_days) for d in rows
    )


# -- measuring ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Measured:
    """Per holdout delivery, the (p50 error in business days, on or before p80) of a model; None: not predicted."""

    outcomes: tuple[tuple[int, bool] | None, ...]

    def figures(self) -> tuple[Decimal | None, Decimal | None]:
        """(mean absolute error of the p50 in business days, share on or before the p80) over those predicted."""
        picked = [o for o in self.outcomes if o is not None]
        if not picked:
            return None, None
        return (
            (Decimal(sum(e for e, _ in picked)) / len(picked)).quantize(Decimal("0.001")),
            (Decimal(sum(c for _, c in picked)) / len(picked)).quantize(Decimal("0.0001")),
        )


def _outcome(d: Delivery, p50: date, p80: date) -> tuple[int, bool]:
    actual = d.delivered_at.date()
    error = abs(eta.business_days_between(d.ship_day, p50) - eta.business_days_between(d.ship_day, actual))
    return error, actual <= p80


def _measure_baseline(model: eta.Model, held: Sequence[Delivery]) -> Measured:
    out: list[tuple[int, bool] | None] = []
    for d in held:
        o = d.observation
        p = eta.predict(model, o.carrier, o.service, o.lane, d.ship_day)
        out.append(None if p is None or p.basis == "carrier_estimate" else _outcome(d, p.p50, p.p80))
    return Measured(tuple(out))


def _measure_gbm(
    model: eta_gbm.GbmModel, baseline: eta.Model, held: Sequence[Delivery], every: Sequence[Delivery]
) -> Measured:
    signal = delay_signal(baseline, every)  # read on each sale day: only what was delivered before it
    known = [gbm_knows(model, d.observation.carrier, d.observation.service) for d in held]
    asked = [d for d, k in zip(held, known, strict=True) if k]
    predicted = iter(
        model.predict_many(
            [gbm_features(d, signal, d.ship_day) for d in asked],
            [d.ship_day for d in asked],
            [None] * len(asked),
        )
    )
    out: list[tuple[int, bool] | None] = []
    for d, k in zip(held, known, strict=True):
        if not k:
            out.append(None)
            continue
        p = next(predicted)
        out.append(_outcome(d, p.p50, p.p80))
    return Measured(tuple(out))


def beats(challenger: Measured, baseline: Measured) -> bool:
    """Whether the challenger's holdout MAE is lower than the baseline's by the margin, and not by luck.

    Both are compared on the holdout deliveries both predicted. The MAE must be at most
    ``MARGIN_SHARE`` of the baseline's and ``MARGIN_DAYS`` lower; and, delivery by delivery, the
    challenger must be closer more often than farther by ``SIGN_TEST_Z`` standard deviations of a
    coin toss (a sign test: on a small holdout, two lucky deliveries are not a better model).
    """
    both = [
        (b[0], g[0])
        for b, g in zip(baseline.outcomes, challenger.outcomes, strict=True)
        if b is not None and g is not None
    ]
    if not both:
        return False
    base_mae = Decimal(sum(b for b, _ in both)) / len(both)
    gbm_mae = Decimal(sum(g for _, g in both)) / len(both)
    better = sum(g < b for b, g in both)
    worse = sum(g > b for b, g in both)
    return (
        gbm_mae <= base_mae * MARGIN_SHARE
        and base_mae - gbm_mae >= MARGIN_DAYS
        and better - worse >= SIGN_TEST_Z * math.sqrt(better + worse)
    )


# -- training -----------------------------------------------------------------------------------------
def train(
    session: Session, settings: Mapping[str, Any], tenant_id: str | None, now: datetime | None = None
) -> EtaModel | None:
    """Fit, measure and store the model(s) of the last ``ETA_WINDOW_DAYS``; None when nothing was delivered.

    Returns the version predictions will use: the challenger's when it won, else the baseline's.
    """
    now = now or utcnow()
    window = timedelta(days=int(config.read(settings, "ETA_WINDOW_DAYS")))
    min_samples = int(config.read(settings, "ETA_MIN_SAMPLES"))
    rows = deliveries(session, tenant_id, now - window, now)
    if not rows:
        return None
    cut = len(rows) - len(rows) // HOLDOUT_SHARE
    fitted, held = rows[:cut], rows[cut:]
    split_baseline = eta.fit((d.observation for d in fitted), min_samples)
    base_measured = _measure_baseline(split_baseline, held)
    mae, coverage = base_measured.figures()
    model = eta.fit((d.observation for d in rows), min_samples)
    row = _store(session, tenant_id, now, window, rows, held, BASELINE, mae, coverage, model.to_document())

    from rating import eta_gbm

    chosen = row
    if len(fitted) >= eta_gbm.MIN_ROWS:
        challenger = _fit_gbm(fitted, split_baseline, rows)
        gbm_measured = _measure_gbm(challenger, split_baseline, held, rows)
        won = beats(gbm_measured, base_measured)
        log.info(
            "delivery-time challenger measured",
            extra={
                "tenant_id": tenant_id,
                "baseline_mae_days": str(mae),
                "gbm_mae_days": str(gbm_measured.figures()[0]),
                "kept": GBM if won else BASELINE,
            },
        )
        if won:
            g_mae, g_coverage = gbm_measured.figures()
            final = _fit_gbm(rows, model, rows)
            document = {**model.to_document(), "baseline_model": row.id, "gbm": final.to_text()}
            chosen = _store(session, tenant_id, now, window, rows, held, GBM, g_mae, g_coverage, document)
    return chosen


def _store(
    session: Session,
    tenant_id: str | None,
    now: datetime,
    window: timedelta,
    rows: Sequence[Delivery],
    held: Sequence[Delivery],
    kind: str,
    mae: Decimal | None,
    coverage: Decimal | None,
    document: dict[str, Any],
) -> EtaModel:
    row = EtaModel(
        tenant_id=tenant_id,
        kind=kind,
        trained_at=now,
        window_from=(now - window).date(),
        window_to=now.date(),
        deliveries=len(rows),
        holdout=len(held),
        holdout_mae_days=mae,
        holdout_p80_coverage=coverage,
        document=document,
    )
    session.add(row)
    session.flush()
    log.info(
        "delivery-time model trained",
        extra={
            "tenant_id": tenant_id,
            "model": row.id,
            "kind": kind,
            "deliveries": len(rows),
            "holdout_mae_days": str(mae),
        },
    )
    return row


def retrain_all(session: Session, settings: Mapping[str, Any], now: datetime | None = None) -> list[str]:
    """Train every tenant that has deliveries in the window, and the pooled model; return the model ids."""
    now = now or utcnow()
    since = now - timedelta(days=int(config.read(settings, "ETA_WINDOW_DAYS")))
    tenants = session.execute(
        sa.select(Label.tenant_id).where(Label.purchased_at >= since, Label.carrier != OWN_FLEET).distinct()
    ).scalars()
    made = []
    for tenant_id in [*sorted(tenants), None]:
        row = train(session, settings, tenant_id, now)
        if row is not None:
            made.append(row.id)
    return made
