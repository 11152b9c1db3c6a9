"""ETA accuracy: each delivered shipment's booking prediction and carrier estimate, and at-risk alerts."""

from __future__ import annotations

from datetime import UTC, date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.kpis._rows import Row, chunks, one_of, table


def fill_eta(session: Session, tenant_id: str, rows: dict[str, Row], notes: list[str]) -> None:
    """Set each row's booking prediction, the carrier's estimate then, and whether an alert preceded the promise."""
    predictions, exceptions = table("shipment_predictions"), table("shipment_exceptions")
    labels = table("labels")
    if predictions is None or exceptions is None or labels is None:
        notes.append("ETA accuracy is not available in this installation")
        return
    p, x = predictions.c, exceptions.c
    ids = [r.id for r in rows.values() if r.delivered_at is not None]
    for chunk in chunks(ids, session):
        for r in session.execute(
            sa.select(p.shipment_id, labels.c.purchased_at, p.p10, p.p50, p.p90, p.basis, p.carrier_estimate)
            .join(labels, labels.c.shipment_id == p.shipment_id)
            .where(one_of(session, p.shipment_id, chunk), p.tenant_id == tenant_id, p.trigger == "booking")
        ):
            row = rows[r.shipment_id]
            bought = r.purchased_at if r.purchased_at.tzinfo else r.purchased_at.replace(tzinfo=UTC)
            row.ship_day = bought.date()  # the day transit is counted from, as the models count it
            row.predicted = (_day(r.p10), _day(r.p50), _day(r.p90))
            row.predicted_basis = r.basis
            row.quoted_estimate = _day(r.carrier_estimate) if r.carrier_estimate else None
        for r in session.execute(
            sa.select(x.shipment_id, x.created_at).where(
                one_of(session, x.shipment_id, chunk), x.tenant_id == tenant_id, x.reason == "at_risk"
            )
        ):
            row = rows[r.shipment_id]
            opened = r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC)
            if row.promise is not None and opened.date() <= row.promise:
                row.alerted_before_promise = True


def _day(value: date | str) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value
