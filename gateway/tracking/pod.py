"""Proof-of-delivery plausibility checks for the own fleet.

Pure and forgiving: every check returns flags and none raises or blocks ingestion. A delivery
with flags gets a ``pod_suspicious`` exception event (``flag_event``) that ops review.
"""

from __future__ import annotations

import functools
import hmac
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from schemas import events, taxonomy, types

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)


class FlagCode(StrEnum):
    """Why a proof of delivery looks wrong."""

    CODE_MISMATCH = "code_mismatch"
    CODE_MISSING = "code_missing"
    GPS_TOO_FAR = "gps_too_far"
    GPS_MISSING = "gps_missing"
    CLUSTERED = "clustered"
    NO_OUT_FOR_DELIVERY = "no_out_for_delivery"
    OUTSIDE_SHIFT = "outside_shift"
    OUT_OF_ROUTE_ORDER = "out_of_route_order"
    CHECK_FAILED = "check_failed"


@dataclass(frozen=True, slots=True)
class PodFlag:
    """One suspicious finding about one delivery."""

    code: FlagCode
    tracking_number: str
    message: str


@dataclass(frozen=True, slots=True)
class PodPolicy:
    """Thresholds, set per deployment."""

    max_distance_m: Decimal = Decimal(200)
    max_accuracy_credit_m: Decimal = Decimal(50)  # reported GPS accuracy forgiven, up to this much
    cluster_radius_m: Decimal = Decimal(30)
    cluster_min_addresses: int = 3
    cluster_window: timedelta = timedelta(hours=2)
    route_order_tolerance: int = 2  # stops a driver may reasonably swap
    shift_grace: timedelta = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Shift:
    """A driver's working time."""

    driver_id: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivered event with what the gateway knows about its shipment."""

    event: events.CanonicalEvent
    address: types.Address | None = None
    issued_code: str | None = None  # one-time code issued to the recipient at booking
    driver_id: str | None = None
    route_id: str | None = None
    stop_sequence: int | None = None
    history: tuple[events.CanonicalEvent, ...] = field(default=())  # the shipment's other events

    @property
    def tracking_number(self) -> str:
        return self.event.tracking_number

    @property
    def proof_time(self) -> datetime:
        pod = self.event.pod
        return pod.captured_at if pod is not None and pod.captured_at is not None else self.event.occurred_at


def haversine_m(lat1: Decimal, lon1: Decimal, lat2: Decimal, lon2: Decimal) -> Decimal:
    """Return the great-circle distance in metres between two WGS84 points."""
    p1, p2 = math.radians(float(lat1)), math.radians(float(lat2))
    dp, dl = p2 - p1, math.radians(float(lon2) - float(lon1))
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    metres = 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))
    return Decimal(str(round(metres, 1)))


def _proof_point(d: Delivery) -> tuple[Decimal, Decimal] | None:
    pod = d.event.pod
    if pod is None or pod.latitude is None or pod.longitude is None:
        return None
    return pod.latitude, pod.longitude


def _address_point(d: Delivery) -> tuple[Decimal, Decimal] | None:
    if d.address is None or d.address.latitude is None or d.address.longitude is None:
        return None
    return d.address.latitude, d.address.longitude


def _address_key(d: Delivery) -> str:
    a = d.address
    if a is None:
        return f"tn:{d.tracking_number}"
    return "|".join((a.country_code, a.postal_code, a.city, *a.street_lines)).upper()


def check_code(d: Delivery) -> list[PodFlag]:
    """Flag a one-time code that is missing or differs from the one issued at booking."""
    if not d.issued_code:
        return []
    given = (d.event.pod.one_time_code if d.event.pod else None) or ""
    if not given:
        return [PodFlag(FlagCode.CODE_MISSING, d.tracking_number, "no one-time code captured")]
    # Constant-time so that response timing never hints at how much of a guess was right.
    if not hmac.compare_digest(given.strip().upper().encode(), d.issued_code.strip().upper().encode()):
        return [PodFlag(FlagCode.CODE_MISMATCH, d.tracking_number, "one-time code does not match")]
    return []


def check_distance(d: Delivery, policy: PodPolicy) -> list[PodFlag]:
    """Flag a proof position farther than the policy allows from the address's coordinates."""
    target = _address_point(d)
    if target is None:
        return []
    proof = _proof_point(d)
    if proof is None:
        return [PodFlag(FlagCode.GPS_MISSING, d.tracking_number, "no GPS position with the proof")]
    distance = haversine_m(*proof, *target)
    accuracy = d.event.pod.accuracy_m if d.event.pod and d.event.pod.accuracy_m is not None else Decimal(0)
    allowed = policy.max_distance_m + min(accuracy, policy.max_accuracy_credit_m)
    if distance > allowed:
        return [
            PodFlag(
                FlagCode.GPS_TOO_FAR,
                d.tracking_number,
                f"proof {distance} m from the address (max {allowed})",
            )
        ]
    return []


def check_out_for_delivery(d: Delivery) -> list[PodFlag]:
    """Flag a delivery with no out-for-delivery event before it."""
    before = (e for e in d.history if e.occurred_at <= d.event.occurred_at and e is not d.event)
    if any(e.milestone is taxonomy.Milestone.OUT_FOR_DELIVERY for e in before):
        return []
    return [PodFlag(FlagCode.NO_OUT_FOR_DELIVERY, d.tracking_number, "delivered without out-for-delivery")]


def check_shift(d: Delivery, shifts: Iterable[Shift], policy: PodPolicy) -> list[PodFlag]:
    """Flag a proof time outside every shift of the delivering driver."""
    mine = [s for s in shifts if s.driver_id == d.driver_id]
    if d.driver_id is None or not mine:
        return []
    t = d.proof_time
    if any(s.starts_at - policy.shift_grace <= t <= s.ends_at + policy.shift_grace for s in mine):
        return []
    return [PodFlag(FlagCode.OUTSIDE_SHIFT, d.tracking_number, f"proof at {t.isoformat()} outside the shift")]


def check_route_order(deliveries: Sequence[Delivery], policy: PodPolicy) -> list[PodFlag]:
    """Flag deliveries proven long after later stops of the same route."""
    flags: list[PodFlag] = []
    routes: dict[tuple[str | None, str], list[Delivery]] = {}
    for d in deliveries:
        if d.route_id is not None and d.stop_sequence is not None:
            routes.setdefault((d.driver_id, d.route_id), []).append(d)
    for stops in routes.values():
        highest = 0
        for d in sorted(stops, key=lambda x: (x.proof_time, x.stop_sequence or 0, x.tracking_number)):
            seq = d.stop_sequence or 0
            if seq < highest - policy.route_order_tolerance:
                flags.append(
                    PodFlag(
                        FlagCode.OUT_OF_ROUTE_ORDER,
                        d.tracking_number,
                        f"stop {seq} proven after stop {highest} of route {d.route_id}",
                    )
                )
            highest = max(highest, seq)
    return flags


def check_clusters(deliveries: Sequence[Delivery], policy: PodPolicy) -> list[PodFlag]:
    """Flag proofs for many different addresses captured at one spot within a short window."""
    # A proof near its own address is legitimate even in a crowd (a tower block, a mall).
    candidates = []
    for d in deliveries:
        point, home = _proof_point(d), _address_point(d)
        if point is None:
            continue
        if home is not None and haversine_m(*point, *home) <= policy.max_distance_m:
            continue
        candidates.append((d, point))
    flagged: set[str] = set()
    flags: list[PodFlag] = []
    for d, point in candidates:
        near = [
            other
            for other, other_point in candidates
            if abs(other.proof_time - d.proof_time) <= policy.cluster_window
            and haversine_m(*point, *other_point) <= policy.cluster_radius_m
        ]
        addresses = {_address_key(o) for o in near}
        if len(addresses) >= policy.cluster_min_addresses and d.tracking_number not in flagged:
            flagged.add(d.tracking_number)
            flags.append(
                PodFlag(
                    FlagCode.CLUSTERED,
                    d.tracking_number,
                    f"{len(addresses)} addresses proven within {policy.cluster_radius_m} m",
                )
            )
    return flags


def _safely(tracking_number: str, check: Callable[[], list[PodFlag]]) -> list[PodFlag]:
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 - a broken check must flag, never stop ingestion
        return [PodFlag(FlagCode.CHECK_FAILED, tracking_number, f"check failed: {type(exc).__name__}: {exc}")]


def check_deliveries(
    deliveries: Sequence[Delivery], shifts: Iterable[Shift] = (), policy: PodPolicy | None = None
) -> list[PodFlag]:
    """Run every check over a batch of deliveries (e.g. one day of one depot) and return all flags."""
    policy = policy or PodPolicy()
    shifts = tuple(shifts)
    flags: list[PodFlag] = []
    for d in deliveries:
        tn = d.tracking_number
        flags += _safely(tn, functools.partial(check_code, d))
        flags += _safely(tn, functools.partial(check_distance, d, policy))
        flags += _safely(tn, functools.partial(check_out_for_delivery, d))
        flags += _safely(tn, functools.partial(check_shift, d, shifts, policy))
    flags += _safely("*", lambda: check_route_order(deliveries, policy))
    flags += _safely("*", lambda: check_clusters(deliveries, policy))
    return flags


def flag_event(
    delivered: events.CanonicalEvent, flags: Sequence[PodFlag], raised_at: datetime
) -> events.CanonicalEvent:
    """Return the pod_suspicious exception event that records ``flags`` against a delivery."""
    # Strictly after the delivery so that, in the derived timeline, it reopens the delivered state.
    when = max(raised_at, delivered.occurred_at + timedelta(microseconds=1))
    codes = sorted({f.code.value for f in flags if f.tracking_number == delivered.tracking_number})
    return events.CanonicalEvent(
        tracking_number=delivered.tracking_number,
        carrier=delivered.carrier,
        occurred_at=when,
        raw_code="pod_check",
        raw_subcode=",".join(codes) or None,
        raw_message="; ".join(f.message for f in flags if f.tracking_number == delivered.tracking_number),
        milestone=taxonomy.Milestone.EXCEPTION,
        detail="proof_flagged",
        reason=taxonomy.ExceptionReason.POD_SUSPICIOUS,
        source=events.EventSource.MANUAL,
        source_event_id=f"pod_check:{delivered.source_event_id or delivered.occurred_at.isoformat()}",
    )
