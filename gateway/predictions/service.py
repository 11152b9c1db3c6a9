"""Predictions at booking: the model a tenant's rates are read with, and the prediction of each rate.

A tenant's own latest model when it has one; else the pooled one (every tenant's deliveries) when the
operator allows pooling (``ETA_POOLED``); else none, and each rate carries the carrier's (or the rate
card's) estimate as its prediction, saying so (``basis: carrier_estimate``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.kernel import config
from gateway.predictions.tables import EtaModel
from rating import eta

_CACHE: dict[str, eta.Model] = {}  # model id -> model: a version never changes once stored
_CACHE_LOCK = threading.Lock()
_CACHE_MAX = 256


def current(session: Session, settings: Mapping[str, Any], tenant_id: str) -> tuple[str, eta.Model] | None:
    """(model id, model) to predict this tenant's deliveries with, or None."""
    candidates = [EtaModel.tenant_id == tenant_id]
    if config.read(settings, "ETA_POOLED"):
        candidates.append(EtaModel.tenant_id.is_(None))
    for where in candidates:
        found = session.execute(
            sa.select(EtaModel.id)
            .where(where)
            .order_by(EtaModel.trained_at.desc(), EtaModel.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if found is not None:
            return found, _load(session, found)
    return None


def _load(session: Session, model_id: str) -> eta.Model:
    with _CACHE_LOCK:
        cached = _CACHE.get(model_id)
    if cached is not None:
        return cached
    document = session.execute(sa.select(EtaModel.document).where(EtaModel.id == model_id)).scalar_one()
    model = eta.Model.from_document(document)
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[model_id] = model
    return model


def for_rate(
    chosen: tuple[str, eta.Model] | None,
    carrier: str,
    service: str,
    lane: str,
    ship_day: date,
    estimate: date,
    promise: date | None,
) -> dict[str, Any]:
    """The prediction a rate carries in the API (never None: the estimate is the fallback)."""
    model_id, model = chosen if chosen is not None else (None, None)
    predicted = eta.predict(
        model, carrier, service, lane, ship_day, carrier_estimate=estimate, promise=promise
    )
    assert predicted is not None  # the estimate is always there
    out = predicted.to_dict()
    out["model"] = model_id if predicted.basis != "carrier_estimate" else None
    return out
