"""Ask carriers about shipments: subscribe those that push, poll those that don't, on a schedule.

The carrier's enabled adapter is found by its name in the registry (``TRACK_PUSH``/``TRACK_POLL``);
what it answers is ingested like any push.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from adapters import base
from adapters import registry as adapter_registry
from gateway.exchanges import service as exchanges
from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow
from gateway.tracking import _store, ingest, tables
from schemas import carrier, events, taxonomy

log = logging.getLogger(__name__)


# How often to ask a carrier without push, by the shipment's derived milestone (None: stop polling).
POLL_INTERVALS: dict[taxonomy.Milestone, timedelta | None] = {
    taxonomy.Milestone.PENDING: timedelta(hours=6),
    taxonomy.Milestone.INFO_RECEIVED: timedelta(hours=4),
    taxonomy.Milestone.IN_TRANSIT: timedelta(hours=2),
    taxonomy.Milestone.OUT_FOR_DELIVERY: timedelta(minutes=30),
    taxonomy.Milestone.AVAILABLE_FOR_PICKUP: timedelta(hours=6),
    taxonomy.Milestone.ATTEMPT_FAILED: timedelta(hours=1),
    taxonomy.Milestone.EXCEPTION: timedelta(hours=1),
    taxonomy.Milestone.RETURNING: timedelta(hours=4),
}


def poll_interval(milestone: taxonomy.Milestone) -> timedelta | None:
    """Return how long to wait before polling a shipment in this state again (None: never)."""
    if milestone.terminal:
        return None
    return POLL_INTERVALS.get(milestone, timedelta(hours=4))


# A push subscription is renewed after 13 days (Track Alert's last 14) while the shipment is not terminal.
SUBSCRIPTION_RENEWAL = timedelta(days=13)


RETRY_AFTER_FAILURE = timedelta(minutes=15)


RETRY_AFTER_REFUSAL = timedelta(hours=6)


def _trackers(registry: Any) -> dict[str, Any]:
    """Return carrier name -> adapter for enabled adapters that push (subscribed) or can be polled."""
    found: dict[str, Any] = {}
    for key in registry:
        adapter = registry.get(key)
        if _tracks(adapter):
            found.setdefault(adapter.name, adapter)
    return found


def _tracking_carriers() -> list[str]:
    """Every installed adapter name whose class tracks (push or poll), whatever is configured."""
    found = []
    for name in adapter_registry.available():
        cls = adapter_registry.known(name)
        if cls is not None and cls.capabilities & {base.Capability.TRACK_PUSH, base.Capability.TRACK_POLL}:
            found.append(name)
    return sorted(found)


def _milestone(session: Session, shipment: models.Shipment) -> taxonomy.Milestone:
    row = session.get(tables.ShipmentTracking, shipment.id, populate_existing=True)
    return taxonomy.Milestone(row.milestone) if row is not None else taxonomy.Milestone.PENDING


def track_now(
    session: Session, adapter: Any, shipment: models.Shipment, *, history: bool
) -> timedelta | None:
    """Ask the carrier about one shipment now; return when to ask again (None: never again).

    A carrier that pushes is subscribed (renewed before the subscription lapses) and, the first time
    (``history``), polled once as well when it can be: Track Alert sends nothing from before the
    subscription. A carrier without push is polled at a rate that depends on the shipment's state.
    Carrier failures raise ``adapters.base.AdapterError``.
    """
    number = shipment.tracking_number or ""
    pushes = adapter.supports(base.Capability.TRACK_PUSH)
    with exchanges.scope(tenant_id=shipment.tenant_id, shipment_id=shipment.id):
        if pushes:
            accepted, _refused = adapter.subscribe_tracking([number])
            if number not in accepted:
                log.warning("carrier refused a tracking subscription", extra={"shipment_id": shipment.id})
                return RETRY_AFTER_REFUSAL
        if (history or not pushes) and adapter.supports(base.Capability.TRACK_POLL):
            result = adapter.track(carrier.TrackRequest(tracking_number=number))
            ingest.ingest(session, [ingest.from_raw(raw, events.EventSource.POLL) for raw in result.events])
            _keep_warnings(session, shipment, result.warnings)
    milestone = _milestone(session, shipment)
    if milestone.terminal:
        return None
    return SUBSCRIPTION_RENEWAL if pushes else poll_interval(milestone)


def _keep_warnings(session: Session, shipment: models.Shipment, warnings: tuple[str, ...]) -> None:
    """Keep what the carrier warned about the number in its last answer (cleared when it warns no more)."""
    row = _store.status_row(session, shipment)
    if warnings:
        if list(warnings) != (row.carrier_warnings or []):
            row.carrier_warnings, row.carrier_warnings_at = list(warnings), utcnow()
            log.info(
                "carrier warned about a tracking number",
                extra={"shipment_id": shipment.id, "warnings": list(warnings)},
            )
    else:
        row.carrier_warnings = row.carrier_warnings_at = None
    session.flush()  # status_row() reloads the row from the database (populate_existing)


def _schedule(session: Session, shipment: models.Shipment, now: datetime, interval: timedelta | None) -> None:
    row = _store.status_row(session, shipment)
    if row.milestone is None:
        row.milestone = taxonomy.Milestone.PENDING.value
    row.last_polled_at = now
    row.next_poll_at = now + interval if interval is not None else None


def _tracks(adapter: Any) -> bool:
    return bool(adapter.supports(base.Capability.TRACK_PUSH) or adapter.supports(base.Capability.TRACK_POLL))


def poll_due(
    session: Session,
    registry: Any,
    now: datetime | None = None,
    limit: int = 200,
    account_adapter: Callable[[models.Shipment], Any] | None = None,
) -> int:
    """Subscribe or poll the shipments whose next tracking check is due; return how many were checked.

    With ``account_adapter``, every shipment is asked through the adapter it gives for it: the tenant's
    own account the label was bought on, else what the tenant may fall back on (the operator's accounts
    of its mode, live or test). Without, through the operator's ``registry``.
    """
    now = now or utcnow()
    trackers = _trackers(registry)
    if not trackers and account_adapter is None:
        return 0
    s, t = models.Shipment, tables.ShipmentTracking
    terminal = [m.value for m in taxonomy.TERMINAL_MILESTONES]
    names = sorted(trackers) if account_adapter is None else _tracking_carriers()
    due = session.execute(
        sa.select(s, t)
        .outerjoin(t, t.shipment_id == s.id)
        .where(
            s.tracking_number.is_not(None),
            s.carrier.in_(names),
            sa.or_(
                t.shipment_id.is_(None),
                sa.and_(
                    t.milestone.not_in(terminal), sa.or_(t.next_poll_at.is_(None), t.next_poll_at <= now)
                ),
            ),
        )
        .order_by(t.next_poll_at.asc().nulls_first(), s.id)
        .limit(limit)
    ).all()
    for shipment, status in due:
        first = status is None or status.last_polled_at is None
        interval: timedelta | None
        adapter = (
            trackers.get(shipment.carrier or "") if account_adapter is None else account_adapter(shipment)
        )
        try:
            if adapter is None or not _tracks(adapter):
                # Its account was deleted and nothing else of this tenant tracks the carrier: ask later.
                log.warning("no adapter tracks this shipment", extra={"shipment_id": shipment.id})
                interval = RETRY_AFTER_REFUSAL
            else:
                interval = track_now(session, adapter, shipment, history=first)
        except base.AdapterError as exc:  # a carrier outage delays this shipment, never the others
            log.warning("tracking check failed", extra={"shipment_id": shipment.id, "error": str(exc)})
            interval = RETRY_AFTER_FAILURE
        _schedule(session, shipment, now, interval)
    session.flush()
    return len(due)


def start(session: Session, registry: Any, shipment_id: str) -> bool:
    """Start tracking a shipment whose label was just bought (subscribe, fetch history); return whether asked."""
    shipment = session.get(models.Shipment, shipment_id)
    if shipment is None or not shipment.tracking_number:
        return False
    adapter = _trackers(registry).get(shipment.carrier or "")
    if adapter is None:
        return False
    status = session.get(tables.ShipmentTracking, shipment.id)
    if status is not None and status.last_polled_at is not None:
        return False  # already started (a re-driven job): the scheduled rounds take it from here
    now = utcnow()
    try:
        interval = track_now(session, adapter, shipment, history=True)
    except base.AdapterError as exc:
        log.warning("tracking start failed", extra={"shipment_id": shipment.id, "error": str(exc)})
        interval = RETRY_AFTER_FAILURE
    _schedule(session, shipment, now, interval)
    session.flush()
    return True


def refresh(session: Session, registry: Any, shipment: models.Shipment) -> None:
    """Ask the carrier about this shipment now (an ops tool); carrier failures are 503 or 422 problems."""
    if not shipment.tracking_number:
        raise Problem("conflict", "The shipment has no tracking number yet: buy its label first.")
    adapter = _trackers(registry).get(shipment.carrier or "")
    if adapter is None:
        raise Problem("conflict", f"No enabled adapter tracks carrier {shipment.carrier!r}.")
    now = utcnow()
    try:
        interval = track_now(session, adapter, shipment, history=True)
    except base.CarrierRejected as exc:
        raise Problem(
            "carrier-rejected", exc.message, error_source="carrier", extra={"code": exc.code}
        ) from None
    except base.AdapterError as exc:
        raise Problem("carrier-unavailable", str(exc), error_source="carrier") from None
    _schedule(session, shipment, now, interval)
    session.flush()
