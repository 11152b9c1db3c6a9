"""Predictions: the model a tenant's deliveries are predicted with, at booking (rates) and in flight.

A tenant's own latest model when it has one; else the pooled one (every tenant's deliveries) when the
operator allows pooling (``ETA_POOLED``); else none, and each rate carries the carrier's (or the rate
card's) estimate as its prediction, saying so (``basis: carrier_estimate``).

The latest model is of either kind (``gateway.predictions.training`` stores the gradient-boosted
challenger only where it measured better than the baseline): ``current`` returns a ``Predictor`` that
predicts with whichever it is, in the shapes the API has always had. A challenger (kind ``gbm``) reads
the features training used; what a caller does not pass is looked up (the sale's rank of the day,
the destination region's recent delay) or left missing (the destination, when a rate is read without
it). A carrier service the challenger never saw is predicted by the baseline stored with it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from gateway.kernel import config, models
from gateway.kernel.types import utcnow
from gateway.labels.tables import Label
from gateway.predictions import training
from gateway.predictions.tables import EtaModel
from gateway.rates.tables import ShipmentQuoteSnapshot
from rating import eta

if TYPE_CHECKING:  # LightGBM is loaded with the first challenger, never at import time
    from rating import eta_gbm

Loaded = tuple[eta.Model, "eta_gbm.GbmModel | None"]
_CACHE: dict[str, Loaded] = {}  # model id -> models: a version never changes once stored
_CACHE_LOCK = threading.Lock()
_CACHE_MAX = 256
# (model id, day) -> (read at, recent-delay signal): a day's signal reads deliveries completed before
# it, so it only changes as late tracking arrives; read again after a few minutes.
_SIGNALS: dict[tuple[str, date], tuple[float, Any]] = {}
_SIGNAL_TTL_SECONDS = 600.0
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class Predictor(tuple[str, eta.Model]):
    """A stored model version ready to predict with; still the (model id, baseline model) pair it was.

    ``baseline`` is the empirical model (for a challenger, the one fitted on the same window); ``gbm``
    the challenger when ``kind`` is ``gbm``. The session and tenant are those of the caller, for the
    look-ups a challenger's features need.
    """

    kind: str
    gbm: eta_gbm.GbmModel | None
    scope: str | None  # the model's tenant; None: pooled
    tenant_id: str | None  # whose deliveries are predicted
    session: Session | None
    ranks: dict[tuple[str, date], int]  # (carrier, day) -> rank of its next label: one count a request

    def __new__(
        cls,
        model_id: str,
        baseline: eta.Model,
        kind: str = training.BASELINE,
        gbm: eta_gbm.GbmModel | None = None,
        *,
        scope: str | None = None,
        tenant_id: str | None = None,
        session: Session | None = None,
    ) -> Predictor:
        self = super().__new__(cls, (model_id, baseline))
        self.kind, self.gbm, self.scope, self.tenant_id, self.session = kind, gbm, scope, tenant_id, session
        self.ranks = {}
        return self

    @property
    def id(self) -> str:
        return self[0]

    @property
    def baseline(self) -> eta.Model:
        return self[1]

    def _challenger(self, carrier: str, service: str) -> eta_gbm.GbmModel | None:
        if self.gbm is not None and training.gbm_knows(self.gbm, carrier, service):
            return self.gbm
        return None

    # -- at booking -----------------------------------------------------------------------------------
    def predict_rate(
        self,
        carrier: str,
        service: str,
        lane: str,
        ship_day: date,
        estimate: date | None,
        promise: date | None,
        *,
        destination_country: str | None = None,
        destination_state: str | None = None,
        residential: bool | None = None,
        sold_at: datetime | None = None,
    ) -> dict[str, Any]:
        """The prediction a rate carries in the API (never None: the estimate is the fallback)."""
        gbm = self._challenger(carrier, service)
        if gbm is None:
            return _baseline_rate(self.baseline, self.id, carrier, service, lane, ship_day, estimate, promise)
        if sold_at is None:
            now = utcnow()
            sold_at = now if now.date() == ship_day else datetime.combine(ship_day, datetime.min.time(), UTC)
        delivery = training.Delivery(
            delivered_at=sold_at,
            observation=eta.Observation(carrier, service, lane, 0),
            ship_day=ship_day,
            sold_at=sold_at,
            destination_country=destination_country or "",
            destination_state=destination_state or "",
            residential=residential,
            estimate=estimate,
            day_rank=self._rank_of_next(carrier, sold_at),
        )
        features = self._features(delivery, ship_day)
        p = gbm.predict(features, ship_day, promise=promise)
        return {
            "p50": p.p50,
            "p80": p.p80,
            "p95": p.p95,
            "on_time_probability": p.on_time_probability,
            "basis": "gbm",
            "samples": gbm.size,
            "model": self.id,
        }

    def _rank_of_next(self, carrier: str, sold_at: datetime) -> int:
        """The rank a label of ``carrier`` sold at ``sold_at`` would have among the tenant's that day."""
        if self.session is None or self.tenant_id is None:
            return 1
        known = self.ranks.get((carrier, sold_at.date()))
        if known is not None:
            return known
        start = sold_at.replace(hour=0, minute=0, second=0, microsecond=0)
        before = self.session.execute(
            sa.select(sa.func.count(Label.id)).where(
                Label.tenant_id == self.tenant_id,
                Label.carrier == carrier,
                Label.purchased_at >= start,
                Label.purchased_at < sold_at,
            )
        ).scalar_one()
        self.ranks[(carrier, sold_at.date())] = int(before) + 1
        return int(before) + 1

    def _features(self, delivery: training.Delivery, on: date) -> eta_gbm.Features:
        signal = None
        if delivery.destination_country and self.session is not None:
            signal = _signal(self.session, self.id, self.scope, self.baseline, on)
        return training.gbm_features(delivery, signal, on)

    # -- in flight ------------------------------------------------------------------------------------
    def predict_in_flight(
        self,
        carrier: str,
        service: str,
        lane: str,
        ship_day: date,
        today: date,
        milestone: str,
        *,
        carrier_estimate: date | None = None,
        promise: date | None = None,
        shipment_id: str | None = None,
    ) -> eta.InFlight | None:
        """Predict again knowing the parcel has not arrived by ``today`` (``rating.eta.InFlight``)."""
        gbm = self._challenger(carrier, service)
        delivery = None
        if gbm is not None and shipment_id is not None and milestone not in eta.ON_THE_VAN:
            delivery = self._booked(shipment_id)
        if gbm is None or delivery is None:
            return eta.predict_in_flight(
                self.baseline,
                carrier,
                service,
                lane,
                ship_day,
                today,
                milestone,
                carrier_estimate=carrier_estimate,
                promise=promise,
            )
        features = self._features(delivery, today)  # the region's recent delay as of today
        predicted = gbm.predict_in_flight(features, ship_day, today, milestone, promise=promise)
        factors = [f for f in predicted.factors if f != "gradient-boosted quantiles"]
        factors += explain(features, gbm.size)
        return eta.InFlight(
            predicted.p10,
            predicted.p50,
            predicted.p90,
            predicted.on_time_probability,
            predicted.basis,
            predicted.samples,
            tuple(factors),
        )

    def _booked(self, shipment_id: str) -> training.Delivery | None:
        """The challenger's view of a shipment's label as it was bought (None: no purchased label)."""
        if self.session is None:
            return None
        origin, destination = aliased(models.Address), aliased(models.Address)
        s = models.Shipment
        found = self.session.execute(
            sa.select(
                Label.tenant_id,
                Label.carrier,
                Label.service,
                Label.purchased_at,
                origin.country_code,
                destination.country_code,
                destination.state,
                destination.residential,
                ShipmentQuoteSnapshot.estimated_delivery,
            )
            .join(s, s.id == Label.shipment_id)
            .join(origin, origin.id == s.origin_id)
            .join(destination, destination.id == s.destination_id)
            .outerjoin(ShipmentQuoteSnapshot, ShipmentQuoteSnapshot.shipment_id == s.id)
            .where(Label.shipment_id == shipment_id, Label.status == "purchased")
            .limit(1)
        ).first()
        if found is None:
            return None
        tenant, carrier, service, sold, from_country, to_country, state, home, quoted = found
        start = sold.replace(hour=0, minute=0, second=0, microsecond=0)
        before = self.session.execute(
            sa.select(sa.func.count(Label.id)).where(
                Label.tenant_id == tenant,
                Label.carrier == carrier,
                Label.purchased_at >= start,
                Label.purchased_at < sold,
            )
        ).scalar_one()
        return training.Delivery(
            delivered_at=sold,
            observation=eta.Observation(carrier, service or "", eta.lane(from_country, to_country), 0),
            ship_day=sold.date(),
            sold_at=sold,
            destination_country=to_country,
            destination_state=state or "",
            residential=home,
            estimate=quoted,
            day_rank=int(before) + 1,
        )


def explain(features: eta_gbm.Features, size: int) -> list[str]:
    """The challenger's main features for one label, as short phrases a person can read."""
    out = []
    if abs(features.recent_delay) >= 0.1:
        out.append(f"region delay {features.recent_delay:+.1f} days ({features.region})")
    if features.carrier_estimate_days is not None:
        n = features.carrier_estimate_days
        out.append(f"carrier estimate {n} day{'s' if n != 1 else ''}")
    sold = features.sold_at
    out.append(f"sold {_WEEKDAYS[sold.weekday()]} {sold:%H:%M} UTC")
    if features.day_rank > 1:
        out.append(f"label {features.day_rank} of the day for {features.carrier}")
    out.append(f"gradient-boosted model of {size} past deliveries")
    return out


def _signal(
    session: Session, model_id: str, scope: str | None, baseline: eta.Model, day: date
) -> eta_gbm.DelaySignal:
    """The recent-delay signal on ``day``: the scope's deliveries completed in the window before it."""
    from rating import eta_gbm

    key = (model_id, day)
    with _CACHE_LOCK:
        cached = _SIGNALS.get(key)
    if cached is not None and time.monotonic() - cached[0] < _SIGNAL_TTL_SECONDS:
        signal: eta_gbm.DelaySignal = cached[1]
        return signal
    until = datetime.combine(day, datetime.min.time(), UTC)
    since = until - timedelta(days=eta_gbm.SIGNAL_WINDOW_DAYS)
    signal = training.delay_signal(baseline, training.delivered_between(session, scope, since, until))
    with _CACHE_LOCK:
        if len(_SIGNALS) >= _CACHE_MAX:
            _SIGNALS.clear()
        _SIGNALS[key] = (time.monotonic(), signal)
    return signal


def current(session: Session, settings: Mapping[str, Any], tenant_id: str) -> Predictor | None:
    """The predictor of this tenant's deliveries (its own latest model, else the pooled one), or None."""
    candidates = [EtaModel.tenant_id == tenant_id]
    if config.read(settings, "ETA_POOLED"):
        candidates.append(EtaModel.tenant_id.is_(None))
    for where in candidates:
        found = session.execute(
            sa.select(EtaModel.id, EtaModel.kind, EtaModel.tenant_id)
            .where(where)
            .order_by(
                EtaModel.trained_at.desc(),
                sa.case((EtaModel.kind == training.GBM, 0), else_=1),  # one run's challenger is its choice
                EtaModel.id.desc(),
            )
            .limit(1)
        ).first()
        if found is not None:
            model_id, kind, scope = found
            baseline, gbm = _load(session, model_id, kind)
            return Predictor(
                model_id,
                baseline,
                training.GBM if gbm is not None else training.BASELINE,
                gbm,
                scope=scope,
                tenant_id=tenant_id,
                session=session,
            )
    return None


def _load(session: Session, model_id: str, kind: str) -> Loaded:
    with _CACHE_LOCK:
        cached = _CACHE.get(model_id)
    if cached is not None:
        return cached
    document = session.execute(sa.select(EtaModel.document).where(EtaModel.id == model_id)).scalar_one()
    baseline = eta.Model.from_document(document)  # a challenger's document carries its baseline too
    gbm = None
    if kind == training.GBM:
        from rating import eta_gbm

        gbm = eta_gbm.GbmModel.from_text(str(document["gbm"]))
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[model_id] = (baseline, gbm)
    return baseline, gbm


def as_predictor(chosen: tuple[str, eta.Model] | None) -> Predictor | None:
    """A predictor from what ``current`` returned (or a bare (model id, baseline model) pair)."""
    if chosen is None or isinstance(chosen, Predictor):
        return chosen
    return Predictor(chosen[0], chosen[1])


def _baseline_rate(
    model: eta.Model | None,
    model_id: str | None,
    carrier: str,
    service: str,
    lane: str,
    ship_day: date,
    estimate: date | None,
    promise: date | None,
) -> dict[str, Any]:
    predicted = eta.predict(
        model, carrier, service, lane, ship_day, carrier_estimate=estimate, promise=promise
    )
    assert predicted is not None  # the estimate is always there
    out = predicted.to_dict()
    out["model"] = model_id if predicted.basis != "carrier_estimate" else None
    return out


def for_rate(
    chosen: tuple[str, eta.Model] | None,
    carrier: str,
    service: str,
    lane: str,
    ship_day: date,
    estimate: date,
    promise: date | None,
    *,
    destination_country: str | None = None,
    destination_state: str | None = None,
    residential: bool | None = None,
    sold_at: datetime | None = None,
) -> dict[str, Any]:
    """The prediction a rate carries in the API (never None: the estimate is the fallback).

    ``chosen`` is what ``current`` returned. The destination and the sale time feed a challenger
    (left missing, and now, when not given).
    """
    predictor = as_predictor(chosen)
    if predictor is None:
        return _baseline_rate(None, None, carrier, service, lane, ship_day, estimate, promise)
    return predictor.predict_rate(
        carrier,
        service,
        lane,
        ship_day,
        estimate,
        promise,
        destination_country=destination_country,
        destination_state=destination_state,
        residential=residential,
        sold_at=sold_at,
    )
