"""Find shipments (by reference or tracking number, carrier, milestone) and gather one for its page.

The timeline is ``gateway.tracking.reads.timeline_for`` (what ``GET /v1/shipments/{id}/tracking``
serves: canonical meaning beside the carrier's raw code); the proof of delivery is read from its events
(one-time codes masked), the allocation through ``gateway.allocation.decisions.present_allocation``, the
carrier exchanges through ``gateway.exchanges.service.for_shipment``; predictions, label, rates and
exceptions are read from their capabilities' tables. Every query is scoped to the tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.allocation import decisions
from gateway.allocation.tables import ShipmentAllocation
from gateway.console import _maps, queue
from gateway.exceptions import store
from gateway.exceptions.tables import ShipmentException
from gateway.exchanges import service as exchange_service
from gateway.exchanges.tables import CarrierExchange
from gateway.kernel import models
from gateway.labels.tables import Label
from gateway.predictions.tables import ShipmentPrediction
from gateway.rates.tables import RateQuote, ShipmentQuoteSnapshot
from gateway.tracking import pod as pod_checks
from gateway.tracking import reads
from gateway.tracking.tables import ShipmentTracking
from schemas import money

PAGE_SIZE = 25


@dataclass(frozen=True)
class Found:
    """One page of a search: rows of (shipment, milestone), the page number and whether more follow."""

    rows: list[tuple[models.Shipment, str | None]]
    page: int
    more: bool


def search(
    session: Session,
    tenant_id: str,
    *,
    q: str = "",
    carrier: str = "",
    milestone: str = "",
    booked_from: str = "",
    booked_to: str = "",
    merchant: str = "",
    page: int = 1,
) -> Found:
    """Shipments matching the filters, newest first, ``PAGE_SIZE`` a page.

    ``booked_from`` and ``booked_to`` are UTC days (``YYYY-MM-DD``, both included; anything else is
    no bound); ``merchant`` matches ``metadata["merchant"]`` exactly, as the exception queue does.
    """
    page = max(1, page)
    query = (
        sa.select(models.Shipment, ShipmentTracking.milestone)
        .outerjoin(ShipmentTracking, ShipmentTracking.shipment_id == models.Shipment.id)
        .where(models.Shipment.tenant_id == tenant_id)
    )
    text = q.strip()
    if text:
        query = query.where(
            sa.or_(models.Shipment.reference == text, models.Shipment.tracking_number == text)
        )
    if carrier:
        query = query.where(models.Shipment.carrier == carrier)
    if milestone:
        query = query.where(ShipmentTracking.milestone == milestone)
    start, end = queue.parse_day(booked_from), queue.parse_day(booked_to)
    if start is not None:
        query = query.where(models.Shipment.created_at >= datetime.combine(start, time(), UTC))
    if end is not None:
        query = query.where(
            models.Shipment.created_at < datetime.combine(end + timedelta(days=1), time(), UTC)
        )
    if merchant.strip():
        query = query.where(models.Shipment.metadata_[queue.MERCHANT_KEY].as_string() == merchant.strip())
    query = query.order_by(models.Shipment.created_at.desc(), models.Shipment.id.desc())
    found = session.execute(query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).all()
    rows = [(shipment, ms) for shipment, ms in found[:PAGE_SIZE]]
    return Found(rows, page, len(found) > PAGE_SIZE)


def carriers(session: Session, tenant_id: str) -> list[str]:
    """The carriers the tenant's shipments use, for the filter."""
    return [
        c
        for c in session.execute(
            sa.select(models.Shipment.carrier)
            .where(models.Shipment.tenant_id == tenant_id, models.Shipment.carrier.is_not(None))
            .distinct()
            .order_by(models.Shipment.carrier)
        ).scalars()
        if c
    ]


@dataclass(frozen=True)
class Detail:
    """Everything a shipment's page shows."""

    shipment: models.Shipment
    timeline: dict[str, Any]
    predictions: list[ShipmentPrediction]
    label: Label | None
    exceptions: list[ShipmentException]
    proof: Proof | None
    rates: list[RateRow]
    allocation: dict[str, Any] | None
    exchanges: list[CarrierExchange]


def detail(session: Session, tenant_id: str, shipment_id: str) -> Detail | None:
    """A tenant's shipment with its timeline, latest predictions, label and open exceptions; None if not theirs."""
    shipment = session.execute(
        sa.select(models.Shipment).where(
            models.Shipment.id == shipment_id, models.Shipment.tenant_id == tenant_id
        )
    ).scalar_one_or_none()
    if shipment is None:
        return None
    predictions = list(
        session.execute(
            sa.select(ShipmentPrediction)
            .where(ShipmentPrediction.shipment_id == shipment.id, ShipmentPrediction.tenant_id == tenant_id)
            .order_by(ShipmentPrediction.made_at.desc())
            .limit(5)
        ).scalars()
    )
    label = session.execute(
        sa.select(Label).where(Label.shipment_id == shipment.id, Label.tenant_id == tenant_id)
    ).scalar_one_or_none()
    timeline = reads.timeline_for(session, shipment)
    timeline["events"] = list(reversed(timeline["events"]))  # newest first, as people read a history
    return Detail(
        shipment,
        timeline,
        predictions,
        label,
        store.open_for(session, shipment.id),
        proof_of(shipment, timeline),
        rates_of(session, tenant_id, shipment.id),
        allocation_of(session, tenant_id, shipment.id),
        exchanges_of(session, tenant_id, shipment.id),
    )


# -- the rest of the shipment page: proof of delivery, rates, allocation, carrier exchanges ----------------

MAP_WIDTH, MAP_HEIGHT, MAP_MARGIN = 480, 300, 30


PodMap = _maps.PointsMap  # the proof's point (and the destination's, when geocoded), with a scale


@dataclass(frozen=True)
class Proof:
    """The proof of delivery of the latest event that carries one (one-time codes are never shown)."""

    occurred_at: str
    signature_sha256: str | None
    photo_sha256: str | None
    signed_by: str | None
    captured_at: str | None
    code_given: bool
    latitude: float | None
    longitude: float | None
    accuracy_m: str | None
    distance_m: float | None  # to the destination's geocode, when both are known
    flags: list[dict[str, Any]]
    map: PodMap | None


@dataclass(frozen=True)
class RateRow:
    """One rate quoted for the shipment; ``selected`` for the one its label was bought on."""

    id: str
    source: str
    carrier: str
    service_code: str
    service_name: str
    currency: str
    cost_minor: int
    sell_minor: int
    estimated_delivery: Any
    quoted_at: Any
    selected: bool

    @property
    def cost(self) -> str:
        return _amount(self.cost_minor, self.currency)

    @property
    def sell(self) -> str:
        return _amount(self.sell_minor, self.currency)


def _amount(minor: int, currency: str) -> str:
    try:
        return f"{money.Money.from_minor(minor, currency).amount} {currency}"
    except (KeyError, ValueError, TypeError):
        return f"{minor} (minor units, {currency})"


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def pod_map(proof: tuple[float, float], destination: tuple[float, float] | None) -> PodMap:
    """Project the proof's point (lat, lon) and the destination's onto a flat map, north up, with a scale.

    Kilometres east and north (longitude scaled by the cosine of the latitude) are scaled uniformly, as
    the demo report and the allocation plan map do; tiles only where a tile server is configured.
    """
    named = [("P", "Proof of delivery", proof)]
    if destination is not None:
        named.append(("D", "Destination address", destination))
    lat0, lon0 = proof
    frame = _maps.fit(
        lon0,
        lat0,
        [(lon, lat) for _, _, (lat, lon) in named],
        width=MAP_WIDTH,
        height=MAP_HEIGHT,
        margin=MAP_MARGIN,
        min_span_km=0.2,
    )
    return _maps.points_map(frame, [(lon, lat, label, title) for label, title, (lat, lon) in named])


def proof_of(shipment: models.Shipment, timeline: dict[str, Any]) -> Proof | None:
    """The proof of delivery from the timeline's events (the newest that carries one), with its map."""
    carrying = [e for e in timeline.get("events", []) if e.get("pod")]
    if not carrying:
        return None
    event = max(carrying, key=lambda e: str(e.get("occurred_at") or ""))
    pod = event["pod"]
    lat, lon = _float(pod.get("latitude")), _float(pod.get("longitude"))
    dest = shipment.destination
    dest_point = None
    if dest is not None and dest.latitude is not None and dest.longitude is not None:
        dest_point = (float(dest.latitude), float(dest.longitude))
    point = (lat, lon) if lat is not None and lon is not None else None
    distance = None
    if point is not None and dest_point is not None:
        distance = float(pod_checks.haversine_m(*(Decimal(str(v)) for v in (*point, *dest_point))))
    return Proof(
        occurred_at=str(event.get("occurred_at") or ""),
        signature_sha256=pod.get("signature_sha256"),
        photo_sha256=pod.get("photo_sha256"),
        signed_by=pod.get("signed_by"),
        captured_at=pod.get("captured_at"),
        code_given=bool(pod.get("one_time_code")),  # masked to whether one was given by timeline_for
        latitude=lat,
        longitude=lon,
        accuracy_m=None if pod.get("accuracy_m") is None else str(pod.get("accuracy_m")),
        distance_m=distance,
        flags=list(timeline.get("pod_flags") or []),
        map=pod_map(point, dest_point) if point is not None else None,
    )


def rates_of(session: Session, tenant_id: str, shipment_id: str) -> list[RateRow]:
    """The rates quoted for the shipment, cheapest first, the one its label was bought on selected.

    The bought one is ``ShipmentQuoteSnapshot`` (what reconciliation checks invoices against); when its
    quote is no longer kept it is listed from the snapshot itself.
    """
    snapshot = session.execute(
        sa.select(ShipmentQuoteSnapshot).where(
            ShipmentQuoteSnapshot.shipment_id == shipment_id, ShipmentQuoteSnapshot.tenant_id == tenant_id
        )
    ).scalar_one_or_none()
    chosen = snapshot.rate_id if snapshot is not None else None
    quotes = session.execute(
        sa.select(RateQuote)
        .where(RateQuote.shipment_id == shipment_id, RateQuote.tenant_id == tenant_id)
        .order_by(RateQuote.total_sell_minor, RateQuote.created_at)
        .limit(100)
    ).scalars()
    rows = [
        RateRow(
            q.id,
            q.source,
            q.carrier,
            q.service_code,
            q.service_name,
            q.currency,
            q.total_cost_minor,
            q.total_sell_minor,
            q.estimated_delivery,
            q.created_at,
            q.id == chosen,
        )
        for q in quotes
    ]
    if snapshot is not None and not any(r.selected for r in rows):
        rows.insert(
            0,
            RateRow(
                snapshot.rate_id,
                snapshot.source,
                snapshot.carrier,
                snapshot.service_code,
                snapshot.service_name,
                snapshot.currency,
                snapshot.total_cost_minor,
                snapshot.total_sell_minor,
                snapshot.estimated_delivery,
                snapshot.created_at,
                True,
            ),
        )
    return rows


def allocation_of(session: Session, tenant_id: str, shipment_id: str) -> dict[str, Any] | None:
    """The shipment's fleet-or-partner decision and why (as ``GET /v1/shipments/{id}/allocation``), or None."""
    row = session.get(ShipmentAllocation, shipment_id)
    if row is None or row.tenant_id != tenant_id:
        return None
    return decisions.present_allocation(row)


def exchanges_of(session: Session, tenant_id: str, shipment_id: str) -> list[CarrierExchange]:
    """The shipment's carrier exchanges, oldest first, as recorded (redacted) by ``gateway.exchanges``."""
    return [
        x for x in exchange_service.for_shipment(session, tenant_id, shipment_id) if x.tenant_id == tenant_id
    ]
