"""Tracking: deliveries (held while their proof is under review), failed attempts, exceptions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.kpis._rows import PROBLEM_MILESTONES, Row, chunks, one_of
from gateway.tracking import tables as tracking_tables
from gateway.tracking.proof_review import REVIEW_CODE
from schemas import taxonomy


def delivered(
    session: Session, tenant_id: str, ids: Sequence[str]
) -> dict[str, tuple[datetime | None, bool]]:
    """Shipment id -> (first delivery time, proof under review) for the ids with a delivery event.

    A delivery whose proof was flagged (a ``pod_suspicious`` event after the last delivery event)
    is not delivered until ops clear it with a later ``delivered`` event (an accepted proof review,
    docs/DRIVER_APP.md); once cleared, the parcel arrived at its first delivery event. A rejected
    review leaves it undelivered and no longer under review.
    """
    ev = tracking_tables.TrackingEvent.__table__
    out: dict[str, tuple[datetime | None, bool]] = {}

    def utc(at: Any) -> datetime:
        if isinstance(at, str):  # SQLite returns aggregates of typed columns as text
            at = datetime.fromisoformat(at)
        return at if at.tzinfo else at.replace(tzinfo=UTC)

    flag = ev.c.reason == taxonomy.ExceptionReason.POD_SUSPICIOUS.value
    rejection = sa.and_(ev.c.raw_code == REVIEW_CODE, ev.c.raw_subcode == "rejected")
    for chunk in chunks(ids, session):
        # The latest flag and the latest rejected review per shipment, in one pass over its events.
        flagged: dict[str, datetime] = {}
        rejected: dict[str, datetime] = {}
        for r in session.execute(
            sa.select(
                ev.c.shipment_id,
                sa.func.max(sa.case((flag, ev.c.occurred_at))).label("flagged"),
                sa.func.max(sa.case((rejection, ev.c.occurred_at))).label("rejected"),
            )
            .where(
                one_of(session, ev.c.shipment_id, chunk), ev.c.tenant_id == tenant_id, sa.or_(flag, rejection)
            )
            .group_by(ev.c.shipment_id)
        ):
            if r.flagged is not None:
                flagged[r.shipment_id] = utc(r.flagged)
            if r.rejected is not None:
                rejected[r.shipment_id] = utc(r.rejected)
        for r in session.execute(
            sa.select(
                ev.c.shipment_id,
                sa.func.min(ev.c.occurred_at).label("first"),
                sa.func.max(ev.c.occurred_at).label("last"),
            )
            .where(
                one_of(session, ev.c.shipment_id, chunk),
                ev.c.tenant_id == tenant_id,
                ev.c.milestone == "delivered",
            )
            .group_by(ev.c.shipment_id)
        ):
            flagged_at = flagged.get(r.shipment_id)
            if flagged_at is not None and flagged_at > utc(r.last):
                refused = rejected.get(r.shipment_id)
                out[r.shipment_id] = (None, refused is None or refused < flagged_at)
            else:
                out[r.shipment_id] = (utc(r.first), False)
    return out


def fill_tracking(session: Session, tenant_id: str, rows: dict[str, Row]) -> None:
    st = tracking_tables.ShipmentTracking.__table__
    ev = tracking_tables.TrackingEvent.__table__
    ids = list(rows)
    for shipment_id, (at, review) in delivered(session, tenant_id, ids).items():
        rows[shipment_id].delivered_at, rows[shipment_id].proof_under_review = at, review
    for chunk in chunks(ids, session):
        for r in session.execute(
            sa.select(st.c.shipment_id, st.c.milestone, st.c.delivered_at, st.c.event_count).where(
                one_of(session, st.c.shipment_id, chunk), st.c.tenant_id == tenant_id
            )
        ):
            row = rows[r.shipment_id]
            row.tracked = bool(r.event_count)
            row.milestone = r.milestone
        for r in session.execute(
            sa.select(ev.c.shipment_id, ev.c.milestone, ev.c.reason, ev.c.occurred_at).where(
                one_of(session, ev.c.shipment_id, chunk),
                ev.c.tenant_id == tenant_id,
                ev.c.milestone.in_(PROBLEM_MILESTONES),
            )
        ):
            row = rows[r.shipment_id]
            row.with_exception = True
            if r.reason:
                row.reasons.add(r.reason)
            if r.milestone == "attempt_failed":
                row.failed_attempt = True
                occurred = r.occurred_at if r.occurred_at.tzinfo else r.occurred_at.replace(tzinfo=UTC)
                if row.delivered_at is None or occurred < row.delivered_at:
                    row.attempt_failed_before_delivery = True
    for row in rows.values():
        if row.delivered_at is None:
            row.attempt_failed_before_delivery = False
