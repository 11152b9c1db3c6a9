"""The exceptions watch: predict each shipment in flight again, open and close its exceptions, escalate.

Run every minute by the scheduler (``gateway.exceptions.jobs.watch``). Each run:

1. takes the shipments whose status was derived again since the last run (a new event: the tracking
   row's ``reassess_due``), and those in flight whose last prediction is older than ``REPREDICT_AFTER``
   (days pass without events, and a parcel that has not moved is later than it was);
2. predicts each again (``rating.eta.predict_in_flight`` with the tenant's model), keeps the prediction
   (the first is the booking prediction), and copies it onto the tracking row;
3. opens an exception for a tracking reason someone must act on, with the owner, timer and automatic
   actions of the tenant's playbook, and resolves exceptions whose reason has cleared or whose
   shipment was delivered;
4. opens ``at_risk`` (and sends ``shipment.at_risk``) when the chance of missing the promise date
   reaches the playbook's threshold while the promise can still be kept;
5. escalates open exceptions whose timer ran out (``exception.escalated``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from gateway import webhooks
from gateway.exceptions import actions, playbooks, store
from gateway.exceptions.tables import ShipmentException
from gateway.kernel import models
from gateway.kernel.types import utcnow
from gateway.labels.tables import Label
from gateway.predictions import service as predictions
from gateway.predictions.tables import ShipmentPrediction
from gateway.rates.tables import ShipmentQuoteSnapshot
from gateway.tracking.tables import ShipmentTracking
from rating import eta

log = logging.getLogger(__name__)

REPREDICT_AFTER = timedelta(hours=6)
# No delivery to predict any more: the parcel arrived, is going back, or its life ended.
ENDED = frozenset({"delivered", "returning", "returned", "failed", "cancelled", "expired"})
# Milestones whose reason opens an exception even when nobody is required to act (a failed attempt).
EXCEPTION_MILESTONES = frozenset({"exception", "attempt_failed"})
SYSTEM = "system"


@dataclass
class Counts:
    seen: int = 0
    predicted: int = 0
    opened: int = 0
    resolved: int = 0
    at_risk: int = 0
    escalated: int = 0
    skipped: int = 0
    by_trigger: dict[str, int] = field(default_factory=dict)


def run(
    session: Session, settings: Mapping[str, Any], now: datetime | None = None, limit: int = 500
) -> Counts:
    """One pass of the watch over at most ``limit`` shipments, then escalation; the caller commits."""
    now = now or utcnow()
    counts = Counts()
    rows = _due(session, now, limit)
    models_by_tenant: dict[str, tuple[str, eta.Model] | None] = {}
    books: dict[str, playbooks.Playbook] = {}
    counts.seen = len(rows)
    known = _Known.of(session, [row.ShipmentTracking.shipment_id for row in rows])
    for row in rows:
        tenant = row.ShipmentTracking.tenant_id
        if tenant not in models_by_tenant:
            models_by_tenant[tenant] = predictions.current(session, settings, tenant)
            books[tenant] = store.current(session, tenant)
        _reassess(session, row, models_by_tenant[tenant], books[tenant], now, counts, known)
    counts.escalated = escalate(session, now)
    return counts


def _due(session: Session, now: datetime, limit: int) -> list[Any]:
    t, s = ShipmentTracking, models.Shipment
    origin, destination = aliased(models.Address), aliased(models.Address)
    query = (
        sa.select(
            t,
            s.promise_date,
            s.carrier.label("shipment_carrier"),
            Label.carrier.label("label_carrier"),
            Label.service,
            Label.purchased_at,
            ShipmentQuoteSnapshot.estimated_delivery.label("quoted_estimate"),
            origin.country_code.label("origin_country"),
            destination.country_code.label("destination_country"),
        )
        .join(s, s.id == t.shipment_id)
        .join(origin, origin.id == s.origin_id)
        .join(destination, destination.id == s.destination_id)
        .outerjoin(Label, sa.and_(Label.shipment_id == s.id, Label.status == "purchased"))
        .outerjoin(ShipmentQuoteSnapshot, ShipmentQuoteSnapshot.shipment_id == s.id)
        .where(
            sa.or_(
                t.reassess_due.is_(True),
                sa.and_(t.milestone.not_in(ENDED), t.predicted_at < now - REPREDICT_AFTER),
            )
        )
        .order_by(t.reassess_due.desc(), t.predicted_at.asc().nulls_first(), t.shipment_id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=t, skip_locked=True)
    return list(session.execute(query))


@dataclass
class _Known:
    """What a pass knows of its shipments before it starts, read in two queries rather than two each:
    which were predicted before (the next prediction is not the booking one), and their open exceptions."""

    predicted: set[str]
    opened: dict[str, list[ShipmentException]]

    @classmethod
    def of(cls, session: Session, ids: list[str]) -> _Known:
        if not ids:
            return cls(set(), {})
        predicted = set(
            session.execute(
                sa.select(ShipmentPrediction.shipment_id)
                .where(ShipmentPrediction.shipment_id.in_(ids))
                .distinct()
            ).scalars()
        )
        opened: dict[str, list[ShipmentException]] = {}
        for exc in store.open_for_all(session, ids):
            opened.setdefault(exc.shipment_id, []).append(exc)
        return cls(predicted, opened)


def _reassess(
    session: Session,
    row: Any,
    chosen: tuple[str, eta.Model] | None,
    book: playbooks.Playbook,
    now: datetime,
    counts: Counts,
    known: _Known,
) -> None:
    tracking: ShipmentTracking = row.ShipmentTracking
    event_driven = tracking.reassess_due
    tracking.reassess_due = False
    tracking.predicted_at = now
    opened = known.opened.get(tracking.shipment_id, [])
    if tracking.milestone in ENDED:
        why = "delivered" if tracking.milestone == "delivered" else f"shipment {tracking.milestone}"
        for exc in opened:
            if not (tracking.milestone == "delivered" and exc.reason == "pod_suspicious"):
                counts.resolved += store.resolve(exc, SYSTEM, why, now)
        if tracking.reason and tracking.milestone != "delivered":
            counts.opened += _open_for_reason(session, tracking, book, opened, now)
        if row.purchased_at is not None:
            # A parcel that ended before any watch saw it (a fast day, or a backlog) still gets the
            # booking prediction, from booking facts only, so that ETA accuracy can count it.
            _predict(session, row, chosen, now, event_driven, counts, known, only_booking=True)
        return
    _clear_reasons(tracking, opened, now, counts)
    counts.opened += _open_for_reason(session, tracking, book, opened, now)
    if row.purchased_at is None:  # no label (yet): nothing to predict
        counts.skipped += 1
        return
    predicted = _predict(session, row, chosen, now, event_driven, counts, known)
    if predicted is not None and predicted.risk is not None and row.promise_date is not None:
        _watch_risk(session, tracking, row.promise_date, predicted, book, opened, now, counts)


def _predict(
    session: Session,
    row: Any,
    chosen: tuple[str, eta.Model] | None,
    now: datetime,
    event_driven: bool,
    counts: Counts,
    known: _Known,
    only_booking: bool = False,
) -> eta.InFlight | None:
    tracking: ShipmentTracking = row.ShipmentTracking
    predictor = predictions.as_predictor(chosen)
    model_id = None if predictor is None else predictor.id
    first = tracking.shipment_id not in known.predicted
    if only_booking and not first:
        return None
    ship_day = row.purchased_at.date()
    # The booking prediction is made as of the purchase, whatever has happened since; one made for an
    # event as of that event (or now, if later); one made because time passed, as of now.
    if first:
        today, milestone = ship_day, "pending"
    else:
        as_of = max(now, tracking.status_at) if event_driven and tracking.status_at else now
        today, milestone = as_of.date(), tracking.milestone
    estimate = row.quoted_estimate if first else (tracking.estimated_delivery or row.quoted_estimate)
    lane = eta.lane(row.origin_country, row.destination_country)
    # The tenant's model of either kind (a gradient-boosted one reads the label's booking features)
    if predictor is None:
        predicted = eta.predict_in_flight(
            None,
            row.label_carrier,
            row.service or "",
            lane,
            ship_day,
            today,
            milestone,
            carrier_estimate=estimate,
            promise=row.promise_date,
        )
    else:
        predicted = predictor.predict_in_flight(
            row.label_carrier,
            row.service or "",
            lane,
            ship_day,
            today,
            milestone,
            carrier_estimate=estimate,
            promise=row.promise_date,
            shipment_id=tracking.shipment_id,
        )
    if predicted is None:
        counts.skipped += 1
        return None
    trigger = "booking" if first else ("event" if event_driven else "time")
    counts.by_trigger[trigger] = counts.by_trigger.get(trigger, 0) + 1
    counts.predicted += 1
    probability = predicted.on_time_probability
    session.add(
        ShipmentPrediction(
            tenant_id=tracking.tenant_id,
            shipment_id=tracking.shipment_id,
            made_at=now,
            trigger=trigger,
            milestone=milestone,
            p10=predicted.p10,
            p50=predicted.p50,
            p90=predicted.p90,
            promise_date=row.promise_date,
            carrier_estimate=estimate,
            on_time_probability=None if probability is None else Decimal(str(probability)),
            basis=predicted.basis,
            samples=predicted.samples,
            model_id=model_id if predicted.basis not in ("carrier_estimate", "out_for_delivery") else None,
            factors=list(predicted.factors),
        )
    )
    tracking.predicted_p10, tracking.predicted_p50, tracking.predicted_p90 = (
        predicted.p10,
        predicted.p50,
        predicted.p90,
    )
    risk = predicted.risk
    tracking.delivery_risk = None if risk is None else Decimal(str(risk))
    return predicted


def _clear_reasons(
    tracking: ShipmentTracking, opened: list[ShipmentException], now: datetime, counts: Counts
) -> None:
    """Resolve tracking-reason exceptions whose reason the shipment no longer carries."""
    for exc in opened:
        if exc.reason != playbooks.AT_RISK and exc.reason != tracking.reason:
            counts.resolved += store.resolve(
                exc, SYSTEM, f"cleared: the shipment is now {tracking.milestone}", now
            )


def _open_for_reason(
    session: Session,
    tracking: ShipmentTracking,
    book: playbooks.Playbook,
    opened: list[ShipmentException],
    now: datetime,
) -> int:
    reason = tracking.reason
    if not reason or not (tracking.action_required or tracking.milestone in EXCEPTION_MILESTONES):
        return 0
    if any(exc.reason == reason and exc.status == "open" for exc in opened):
        return 0
    exc = store.open_exception(session, tracking, reason, book, now, {})
    opened.append(exc)
    actions.run(session, exc, book, now)
    return 1


def _watch_risk(
    session: Session,
    tracking: ShipmentTracking,
    promise: date,
    predicted: eta.InFlight,
    book: playbooks.Playbook,
    opened: list[ShipmentException],
    now: datetime,
    counts: Counts,
) -> None:
    risk = predicted.risk
    assert risk is not None
    current = next((e for e in opened if e.reason == playbooks.AT_RISK and e.status == "open"), None)
    if current is not None:
        if risk < book.at_risk_threshold / 2:  # well clear of the threshold: not a flapping alert
            counts.resolved += store.resolve(current, SYSTEM, f"risk fell to {risk:.2f}", now)
        return
    if risk < book.at_risk_threshold or now.date() > promise:
        return  # safe enough, or already late (then it is not a risk but a broken promise)
    detail = {
        "risk": risk,
        "threshold": book.at_risk_threshold,
        "promise_date": promise.isoformat(),
        "predicted_delivery": predicted.p50.isoformat(),
        "window": [predicted.p10.isoformat(), predicted.p90.isoformat()],
        "factors": list(predicted.factors),
    }
    exc = store.open_exception(session, tracking, playbooks.AT_RISK, book, now, detail)
    opened.append(exc)
    counts.opened += 1
    counts.at_risk += 1
    webhooks.emit(
        session,
        tracking.tenant_id,
        "shipment.at_risk",
        {
            "shipment_id": tracking.shipment_id,
            "exception_id": exc.id,
            "carrier": tracking.carrier,
            "tracking_number": tracking.tracking_number,
            "milestone": tracking.milestone,
            "promise_date": promise.isoformat(),
            "predicted_delivery": predicted.p50.isoformat(),
            "predicted_window": {"p10": predicted.p10.isoformat(), "p90": predicted.p90.isoformat()},
            "risk": _decimal(risk),
            "threshold": _decimal(book.at_risk_threshold),
            "owner": exc.owner,
            "due_at": exc.due_at.isoformat() if exc.due_at else None,
            "factors": list(predicted.factors),
        },
        occurred_at=now,
    )
    actions.run(session, exc, book, now)


def _decimal(value: float) -> str:
    """A probability as a decimal string (the API never puts binary floats on the wire)."""
    return format(Decimal(str(round(value, 4))).normalize(), "f")


def escalate(session: Session, now: datetime, limit: int = 500) -> int:
    """Escalate open exceptions whose timer ran out: the next owner, a new timer, a webhook."""
    query = (
        sa.select(ShipmentException)
        .where(ShipmentException.status == "open", ShipmentException.due_at <= now)
        .order_by(ShipmentException.due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    done = 0
    books: dict[str, playbooks.Playbook] = {}
    for exc in session.execute(query).scalars():
        if exc.tenant_id not in books:
            books[exc.tenant_id] = store.current(session, exc.tenant_id)
        store.escalate(session, exc, books[exc.tenant_id], now)
        done += 1
    return done
