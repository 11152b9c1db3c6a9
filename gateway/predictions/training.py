"""Train delivery-time models from the gateway's own deliveries, measure them, keep them as versions.

A delivery is a carrier label (not the own fleet) whose shipment reached ``delivered``: its transit is
counted in business days from the day the label was bought to the day it was delivered (UTC days).
Each model is fitted on the window's deliveries but the latest fifth, which it then predicts (the
holdout: mean absolute error of the p50 date, and how often the p80 date was not exceeded); the model
kept is then fitted on the whole window.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from gateway.kernel import config, models
from gateway.kernel.types import utcnow
from gateway.labels.tables import Label
from gateway.predictions.tables import EtaModel
from gateway.tracking.tables import ShipmentTracking
from rating import eta

log = logging.getLogger(__name__)

OWN_FLEET = "fleet"
HOLDOUT_SHARE = 5  # the latest 1/5 of the deliveries measure the model


def deliveries(
    session: Session, tenant_id: str | None, since: datetime, until: datetime
) -> list[tuple[datetime, eta.Observation, date]]:
    """(delivered at, observation, ship day) of each delivered carrier label bought in [since, until)."""
    origin, destination = aliased(models.Address), aliased(models.Address)
    s, t = models.Shipment, ShipmentTracking
    query = (
        sa.select(
            Label.carrier,
            Label.service,
            Label.purchased_at,
            t.delivered_at,
            origin.country_code,
            destination.country_code,
        )
        .join(s, s.id == Label.shipment_id)
        .join(t, t.shipment_id == s.id)
        .join(origin, origin.id == s.origin_id)
        .join(destination, destination.id == s.destination_id)
        .where(
            Label.carrier != OWN_FLEET,
            Label.purchased_at >= since,
            Label.purchased_at < until,
            t.milestone == "delivered",
            t.delivered_at.is_not(None),
        )
    )
    if tenant_id is not None:
        query = query.where(Label.tenant_id == tenant_id)
    found = []
    for carrier_code, service, bought, delivered, from_country, to_country in session.execute(query):
        ship_day = bought.date()
        observation = eta.Observation(
            carrier_code,
            service or "",
            eta.lane(from_country, to_country),
            eta.business_days_between(ship_day, delivered.date()),
        )
        found.append((delivered, observation, ship_day))
    found.sort(key=lambda row: row[0])
    return found


def _holdout(
    rows: list[tuple[datetime, eta.Observation, date]], min_samples: int
) -> tuple[int, Decimal | None, Decimal | None]:
    cut = len(rows) - len(rows) // HOLDOUT_SHARE
    model = eta.fit((o for _, o, _ in rows[:cut]), min_samples)
    errors, covered, predicted = 0, 0, 0
    for delivered, o, ship_day in rows[cut:]:
        p = eta.predict(model, o.carrier, o.service, o.lane, ship_day)
        if p is None or p.basis == "carrier_estimate":
            continue
        predicted += 1
        actual = delivered.date()
        errors += abs(
            eta.business_days_between(ship_day, p.p50) - eta.business_days_between(ship_day, actual)
        )
        covered += actual <= p.p80
    if not predicted:
        return len(rows) - cut, None, None
    return (
        len(rows) - cut,
        (Decimal(errors) / predicted).quantize(Decimal("0.001")),
        (Decimal(covered) / predicted).quantize(Decimal("0.0001")),
    )


def train(
    session: Session, settings: Mapping[str, Any], tenant_id: str | None, now: datetime | None = None
) -> EtaModel | None:
    """Fit, measure and store a model on the last ``ETA_WINDOW_DAYS``; None when nothing was delivered."""
    now = now or utcnow()
    window = timedelta(days=int(config.read(settings, "ETA_WINDOW_DAYS")))
    min_samples = int(config.read(settings, "ETA_MIN_SAMPLES"))
    rows = deliveries(session, tenant_id, now - window, now)
    if not rows:
        return None
    held, mae, coverage = _holdout(rows, min_samples)
    model = eta.fit((o for _, o, _ in rows), min_samples)
    row = EtaModel(
        tenant_id=tenant_id,
        trained_at=now,
        window_from=(now - window).date(),
        window_to=now.date(),
        deliveries=len(rows),
        holdout=held,
        holdout_mae_days=mae,
        holdout_p80_coverage=coverage,
        document=model.to_document(),
    )
    session.add(row)
    session.flush()
    log.info(
        "delivery-time model trained",
        extra={
            "tenant_id": tenant_id,
            "model": row.id,
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
