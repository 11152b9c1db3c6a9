"""Proof-of-delivery checks on stored deliveries reported by a courier (the own fleet's driver app).

``gateway.tracking.pod`` holds the pure checks; this module feeds them the shipment, its history and the
driver's shift (the allocation fleet's vehicles and depots), and stores the flags it raises.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.allocation import tables as fleet
from gateway.kernel import models
from gateway.kernel.types import utcnow
from gateway.tracking import _store, pod, tables
from schemas import events
from schemas import types as canonical

log = logging.getLogger(__name__)


def _address(a: models.Address) -> canonical.Address | None:
    try:
        return canonical.Address(
            street_lines=tuple(x for x in (a.street1, a.street2, a.street3) if x),
            city=a.city,
            postal_code=a.postal_code,
            country_code=a.country_code,
            state=a.state,
            latitude=a.latitude,
            longitude=a.longitude,
        )
    except (TypeError, ValueError):
        return None


def _shifts(
    session: Session, deliveries: Sequence[tuple[models.Shipment, _store.Incoming, events.CanonicalEvent]]
) -> list[pod.Shift]:
    """The delivering drivers' shifts, from the van each event names (``vehicle_id``: the allocation
    fleet's vehicle id or name) and its depot's time zone; overnight shifts end the next day."""
    wanted = {
        (shipment.tenant_id, item.courier.vehicle_id): (item.courier.driver_id, event.occurred_at)
        for shipment, item, event in deliveries
        if item.courier is not None and item.courier.vehicle_id
    }
    shifts: list[pod.Shift] = []
    for (tenant_id, vehicle_ref), (driver_id, proof_at) in wanted.items():
        found = session.execute(
            sa.select(fleet.Vehicle.shift_start, fleet.Vehicle.shift_end, fleet.Depot.timezone)
            .join(fleet.Depot, fleet.Depot.id == fleet.Vehicle.depot_id)
            .where(
                fleet.Vehicle.tenant_id == tenant_id,
                sa.or_(fleet.Vehicle.id == vehicle_ref, fleet.Vehicle.name == vehicle_ref),
            )
            .order_by(fleet.Vehicle.active.desc())
            .limit(1)
        ).first()
        if found is None:
            continue  # a van the fleet config does not know: no shift to check against
        try:
            zone = ZoneInfo(found.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            continue
        local_day = proof_at.astimezone(zone).date()
        for day in (local_day - timedelta(days=1), local_day):  # yesterday's overnight shift too
            midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
            end = found.shift_end if found.shift_end > found.shift_start else found.shift_end + 24 * 60
            shifts.append(
                pod.Shift(
                    driver_id=driver_id,
                    starts_at=(midnight + timedelta(minutes=found.shift_start)).astimezone(UTC),
                    ends_at=(midnight + timedelta(minutes=end)).astimezone(UTC),
                )
            )
    return shifts


def check_proofs(
    session: Session,
    deliveries: Sequence[tuple[models.Shipment, _store.Incoming, events.CanonicalEvent]],
    policy: pod.PodPolicy | None = None,
) -> list[pod.PodFlag]:
    """Run the proof-of-delivery checks on driver-reported deliveries; flag, never block ingestion."""
    try:
        built = []
        for shipment, item, event in deliveries:
            history = tuple(
                events.CanonicalEvent.from_dict(e)
                for e in session.execute(
                    sa.select(tables.TrackingEvent.event).where(
                        tables.TrackingEvent.shipment_id == shipment.id
                    )
                ).scalars()
            )
            courier = item.courier
            built.append(
                pod.Delivery(
                    event=event,
                    address=_address(shipment.destination),
                    issued_code=(shipment.metadata_ or {}).get("one_time_code"),
                    driver_id=courier.driver_id if courier else None,
                    route_id=courier.route_id if courier else None,
                    stop_sequence=courier.stop_sequence if courier else None,
                    history=history,
                )
            )
        flags = pod.check_deliveries(built, shifts=_shifts(session, deliveries), policy=policy)
        by_number: dict[str, list[pod.PodFlag]] = defaultdict(list)
        for flag in flags:
            by_number[flag.tracking_number].append(flag)
        rows = []
        now = utcnow()
        for (shipment, _item, event), delivery in zip(deliveries, built, strict=True):
            mine = by_number.get(delivery.tracking_number, [])
            if not mine:
                continue
            flagged = pod.flag_event(event, mine, now)
            rows.append(_store.event_values(shipment, flagged, None))
            status = _store.status_row(session, shipment)
            known = {(f.get("code"), f.get("event_id")) for f in status.pod_flags or []}
            # A re-delivered proof is checked again but must not list its flags twice.
            fresh = [
                {
                    "code": f.code.value,
                    "message": f.message,
                    "event_id": event.source_event_id,
                    "flagged_at": now.isoformat(),
                }
                for f in mine
                if (f.code.value, event.source_event_id) not in known
            ]
            if fresh:
                status.pod_flags = [*(status.pod_flags or []), *fresh]
        _store.insert_ignoring_duplicates(session, tables.TrackingEvent.__table__, rows)
        return flags
    except Exception:  # a broken check must never lose the delivery itself
        log.exception("proof-of-delivery checks failed")
        return []
