"""Ops settle a flagged proof of delivery (docs/DRIVER_APP.md).

A delivery whose proof failed its checks (a ``pod_suspicious`` exception after it) counts as nobody's
delivery until ops look at it. They either accept the proof, and the parcel is delivered as of its
first delivery scan, or reject it, and the parcel is missing: an open exception (``lost``) for the
shipper to act on (re-ship, claim). Either decision is one manual event on the shipment's timeline,
naming who decided and why, so the timeline, webhooks and KPIs all follow from the same record.
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow
from gateway.tracking import ingest, tables
from schemas import events, taxonomy

Decision = Literal["accepted", "rejected"]

# The raw code of the manual event a review stores; its raw subcode is the decision.
REVIEW_CODE = "pod_review"


def review_proof(
    session: Session, shipment: models.Shipment, *, decision: Decision, actor: str, note: str | None
) -> None:
    """Record ops' decision on the shipment's flagged proof; 409 ``no-proof-in-review`` if none waits."""
    status = session.execute(
        sa.select(tables.ShipmentTracking)
        .where(
            tables.ShipmentTracking.shipment_id == shipment.id,
            tables.ShipmentTracking.tenant_id == shipment.tenant_id,
        )
        .with_for_update()
    ).scalar_one_or_none()
    if (
        status is None
        or status.reason != taxonomy.ExceptionReason.POD_SUSPICIOUS.value
        or not shipment.tracking_number
        or not shipment.carrier
    ):
        raise Problem(
            "no-proof-in-review",
            f"Shipment {shipment.id} has no flagged proof of delivery waiting for review.",
            extra={"milestone": status.milestone if status else "pending"},
        )
    now = utcnow()
    accepted = decision == "accepted"
    event = events.CanonicalEvent(
        tracking_number=shipment.tracking_number,
        carrier=shipment.carrier,
        occurred_at=now,
        raw_code=REVIEW_CODE,
        raw_subcode=decision,
        raw_message=f"proof {decision} by {actor}" + (f": {note}" if note else ""),
        milestone=taxonomy.Milestone.DELIVERED if accepted else taxonomy.Milestone.EXCEPTION,
        detail="delivered" if accepted else "exception",
        reason=None if accepted else taxonomy.ExceptionReason.LOST,
        source=events.EventSource.MANUAL,
        source_event_id=f"{REVIEW_CODE}:{decision}:{now.isoformat()}",
    )
    status.pod_flags = [
        {**flag, "review": {"decision": decision, "by": actor, "at": now.isoformat(), "note": note}}
        if "review" not in flag
        else flag
        for flag in status.pod_flags or []
    ]
    ingest.ingest(session, [event])
