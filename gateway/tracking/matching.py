"""Match events to the shipments holding their tracking numbers: attach, park, flag reissued numbers.

A number issued to several shipments sends its events to the holder alone (the live label that took it
first); every shipment sharing it is flagged for ops (``number_conflict``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.kernel import models
from gateway.kernel.types import utcnow
from gateway.labels import tables as label_tables
from gateway.tracking import _store, mappings, proofs, tables
from schemas import events, taxonomy

log = logging.getLogger(__name__)


def _heads(where: Any) -> Any:
    """Shipment heads with what decides who holds their number: the label's status and when it was bought."""
    s, lbl = models.Shipment, label_tables.Label
    return (
        sa.select(
            s.id,
            s.tenant_id,
            s.carrier,
            s.tracking_number,
            s.created_at,
            lbl.status.label("label_status"),
            lbl.purchased_at,
            lbl.account,
        )
        .outerjoin(lbl, lbl.shipment_id == s.id)
        .where(where)
    )


def _holder_order(head: Any) -> tuple[Any, ...]:
    """Sort key: the live label that took the number first holds it (a voided one yields it)."""
    return (head.label_status == "voided", head.purchased_at or head.created_at, head.id)


def _shipments_by_number(session: Session, numbers: Iterable[str]) -> dict[str, list[Any]]:
    """Return tracking number -> shipment heads (id, tenant_id, carrier, tracking_number, ...), holder first."""
    found: dict[str, list[Any]] = defaultdict(list)
    wanted = sorted(set(numbers))
    s = models.Shipment
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for head in session.execute(_heads(s.tracking_number.in_(chunk))):
            found[head.tracking_number or ""].append(head)
    for heads in found.values():
        if len(heads) > 1:
            heads.sort(key=_holder_order)
    return found


def holders(session: Session, carrier: str | None, tracking_number: str) -> list[Any]:
    """Return the shipment heads holding this carrier's tracking number, the one that gets its events first."""
    heads = [
        h
        for h in session.execute(_heads(models.Shipment.tracking_number == tracking_number))
        if carrier is None or _matches(h, carrier)
    ]
    return sorted(heads, key=_holder_order)


REISSUED = "tracking-number-reissued"


def _conflict(head: Any, group: Sequence[Any], carrier: str) -> dict[str, Any]:
    """What one shipment's ops see about a number it shares: never another tenant's ids."""
    holds = head.id == group[0].id
    others = [g for g in group if g.id != head.id]
    number = head.tracking_number
    if holds:
        detail = (
            f"{carrier} issued tracking number {number} to another shipment too. This shipment's label took "
            "it first and keeps receiving its events; the other label gets none."
        )
    else:
        detail = (
            f"{carrier} issued tracking number {number} to another shipment first: its events go to that "
            "shipment, never to this one. Void this label and buy another, or ask the carrier."
        )
    return {
        "type": REISSUED,
        "carrier": carrier,
        "tracking_number": number,
        "receives_events": holds,
        "account": head.account,
        "same_tenant_shipments": sorted(o.id for o in others if o.tenant_id == head.tenant_id),
        "other_tenants": any(o.tenant_id != head.tenant_id for o in others),
        "detail": detail,
    }


def flag_reissued(session: Session, carrier: str, group: Sequence[Any]) -> int:
    """Flag every shipment sharing a number (holder first in ``group``) for ops; return how many changed."""
    if len(group) < 2:
        return 0
    now = utcnow()
    changed = 0
    for head in group:
        flag = _conflict(head, group, carrier)
        row = _store.status_row(session, head)
        known = {k: v for k, v in (row.number_conflict or {}).items() if k != "detected_at"}
        if known == flag:
            continue
        row.number_conflict = {**flag, "detected_at": now.isoformat()}
        row.number_conflict_at = row.number_conflict_at or now
        changed += 1
    if changed:
        log.error(
            "a carrier issued one tracking number to several shipments",
            extra={"carrier": carrier, "shipment_ids": [h.id for h in group]},
        )
    return changed


def _matches(shipment: Any, carrier: str) -> bool:
    return shipment.carrier is None or shipment.carrier == carrier


@dataclass
class Stored:
    """What ``store_events`` did: shipments touched, rows stored and parked, and the new events."""

    touched: set[str]
    stored: int
    parked: int
    # shipment id -> the events newly stored for it (absent: re-derive that shipment from the table).
    added: dict[str, list[events.CanonicalEvent]]


def store_events(session: Session, incoming: Sequence[_store.Incoming]) -> Stored:
    """Attach events to their shipments (or park them), deduplicated by the table's unique key."""
    by_number = _shipments_by_number(session, (i.event.tracking_number for i in incoming))
    translator = mappings.Tables(session)
    attached: dict[tuple[str, str], dict[str, Any]] = {}
    translated: dict[tuple[str, str], events.CanonicalEvent] = {}
    parked: dict[str, dict[str, Any]] = {}
    deliveries: list[tuple[models.Shipment, _store.Incoming, events.CanonicalEvent]] = []
    shared: dict[tuple[str, str], list[Any]] = {}
    for item in incoming:
        owners = [s for s in by_number.get(item.event.tracking_number, []) if _matches(s, item.event.carrier)]
        if len(owners) > 1:
            # A number issued twice: its events go to the holder alone (never shared), the rest are flagged.
            shared.setdefault((item.event.carrier, item.event.tracking_number), owners)
            owners = owners[:1]
        if not owners:
            key = _store.dedup_key(item.event)
            parked.setdefault(
                key,
                {
                    "carrier": item.event.carrier,
                    "tracking_number": item.event.tracking_number,
                    "dedup_key": key,
                    "event": item.event.to_dict(),
                    "inbox_id": item.inbox_id,
                    "parked_at": utcnow(),
                },
            )
            continue
        for shipment in owners:
            event = translator.translate(shipment.tenant_id, item.event)
            values = _store.event_values(shipment, event, item.inbox_id)
            if (shipment.id, values["dedup_key"]) not in attached:
                attached[(shipment.id, values["dedup_key"])] = values
                translated[(shipment.id, values["dedup_key"])] = event
            if item.courier is not None and event.milestone is taxonomy.Milestone.DELIVERED:
                delivered = session.get(models.Shipment, shipment.id)
                if delivered is not None:
                    deliveries.append((delivered, item, event))
    new_keys = _store.insert_new(
        session, tables.TrackingEvent.__table__, list(attached.values()), "shipment_id", "dedup_key"
    )
    n_parked = _store.insert_ignoring_duplicates(session, tables.ParkedEvent.__table__, list(parked.values()))
    touched = {shipment_id for shipment_id, _ in attached}
    added: dict[str, list[events.CanonicalEvent]] = {shipment_id: [] for shipment_id in touched}
    for shipment_id, key in new_keys:
        added[shipment_id].append(translated[(shipment_id, key)])
    if deliveries:
        proofs.check_proofs(session, deliveries)
        for shipment, _item, _event in deliveries:
            added.pop(shipment.id, None)  # flagged copies were stored too: read this one back
    for (carrier_name, _number), group in shared.items():
        if flag_reissued(session, carrier_name, group):
            for head in group:
                added.pop(head.id, None)  # its status row moved: let rederive read it back
    return Stored(touched, len(new_keys), n_parked, added)
