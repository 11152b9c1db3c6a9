"""Realistic tracking progressions with real UPS, DHL Express and FedEx event codes.

Every code here comes from ../shared/carriers/EVENT_CODES.md. A progression is chosen per label
from a generator seeded with (seed, tracking number), so the same label always tells the same
story however many other labels were sold, and a configured share of labels hits an exception.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Place:
    """Where an event happened."""

    city: str
    country: str
    state: str = ""
    postal_code: str = ""
    service_area: str = ""  # DHL 3-letter service area code


@dataclass(frozen=True)
class Step:
    """One tracking event, ``hours`` simulated hours after the label was sold."""

    hours: float
    code: str
    description: str
    place: Place
    type: str = ""  # UPS activity status type (M, I, X, D, U, MV, RS)
    status_code: str = ""  # UPS 3-digit descriptionCode / statusCode
    delivered: bool = False
    signatory: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    # Set by ``retime`` (a world model): the event's exact time, whatever ``hours`` says.
    fixed_at: datetime | None = None

    def at(self, sold_at: datetime) -> datetime:
        """Return the simulated time of this event for a label sold at ``sold_at``."""
        if self.fixed_at is not None:
            return self.fixed_at
        return sold_at + timedelta(hours=self.hours)


NOT_AVAILABLE = (
    "The receiver was not available for delivery. We'll make a second attempt the next business day."
)
RECEIVERS = ("J. SMITH", "M. MUELLER", "A. DUPONT", "FRONT DESK", "K. TANAKA")


def _hub(origin: Place, destination: Place) -> Place:
    if origin.country == destination.country == "US":
        return Place("Louisville", "US", "KY", service_area="SDF")
    return Place("Leipzig", "DE", service_area="LEJ")


def choose_scenario(
    seed: int, tracking_number: str, exception_share: float, scenarios: tuple[str, ...]
) -> str:
    """Pick "normal" or one of the exception scenarios, deterministically per label."""
    rng = random.Random(f"{seed}:scenario:{tracking_number}")
    if rng.random() < exception_share:
        return rng.choice(scenarios)
    return "normal"


UPS_EXCEPTIONS: tuple[str, ...] = ("failed_attempt", "customs", "returned")


def ups_steps(
    scenario: str, origin: Place, destination: Place, seed: int, tracking_number: str
) -> list[Step]:
    """Return the UPS activity sequence for a scenario, oldest first."""
    hub = _hub(origin, destination)
    receiver = random.Random(f"{seed}:receiver:{tracking_number}").choice(RECEIVERS)
    on_the_way = "On the Way"
    steps = [
        Step(0.0, "MP", "Shipment Ready for UPS", Place("", origin.country), type="M", status_code="003"),
        Step(3.0, "OR", on_the_way, origin, type="I", status_code="005"),
        Step(5.0, "DP", on_the_way, origin, type="I", status_code="005"),
        Step(9.0, "AR", on_the_way, hub, type="I", status_code="005"),
        Step(11.0, "DP", on_the_way, hub, type="I", status_code="005"),
    ]
    if scenario == "customs":
        steps.append(
            Step(
                12.5,
                "SR",
                "Your package was released by the customs agency.",
                hub,
                type="X",
                status_code="003",
            )
        )
    out_for_delivery = Step(17.0, "OT", "Out for Delivery", destination, type="I", status_code="021")
    steps += [
        Step(15.0, "YP", "Preparing for Delivery", destination, type="I", status_code="071"),
        out_for_delivery,
    ]
    if scenario == "failed_attempt":
        steps += [
            Step(
                19.5,
                "UR",
                NOT_AVAILABLE,
                destination,
                type="X",
            ),
            Step(22.5, "OT", "Out for Delivery", destination, type="I", status_code="021"),
        ]
    if scenario == "returned":
        steps += [
            Step(
                19.5,
                "UR",
                "The address is incorrect and the receiver could not be found.",
                destination,
                type="X",
            ),
            Step(23.0, "RS", "Returning to Sender", destination, type="X"),
        ]
        return steps
    delivered_at = 23.5 if scenario == "failed_attempt" else 19.0
    steps.append(
        Step(
            delivered_at,
            "FS",
            "Delivered",
            destination,
            type="D",
            status_code="011",
            delivered=True,
            signatory=receiver,
        )
    )
    return steps


DHL_EXCEPTIONS: tuple[str, ...] = ("not_home", "closed_on_arrival", "bad_address", "customs")


def dhl_steps(
    scenario: str, origin: Place, destination: Place, seed: int, tracking_number: str
) -> list[Step]:
    """Return the DHL Express checkpoint sequence for a scenario, oldest first."""
    hub = _hub(origin, destination)
    receiver = random.Random(f"{seed}:receiver:{tracking_number}").choice(RECEIVERS)

    def at(place: Place) -> str:
        return f"{place.city.upper()} - {place.country}"

    steps = [
        Step(2.0, "PU", "Shipment picked up", origin),
        Step(3.5, "PL", f"Processed at {at(origin)}", origin),
        Step(5.0, "DF", f"Departed from DHL facility in {at(origin)}", origin),
        Step(8.0, "AF", f"Arrived at DHL facility in {at(hub)}", hub),
        Step(9.0, "PL", f"Processed at {at(hub)}", hub),
    ]
    if scenario == "customs":
        steps += [
            Step(10.0, "CD", "Clearance delay", hub),
            Step(13.0, "CR", "Clearance processing complete", hub),
        ]
    steps += [
        Step(14.0, "DF", f"Departed from DHL facility in {at(hub)}", hub),
        Step(16.0, "AR", f"Arrived at DHL Delivery Facility in {at(destination)}", destination),
        Step(17.0, "WC", "With delivery courier", destination),
    ]
    if scenario == "not_home":
        steps += [
            Step(19.0, "NH", "Delivery attempted; recipient not home", destination),
            Step(22.0, "WC", "With delivery courier", destination),
        ]
    elif scenario == "closed_on_arrival":
        steps += [
            Step(19.0, "CA", "Closed on arrival", destination),
            Step(22.0, "WC", "With delivery courier", destination),
        ]
    elif scenario == "bad_address":
        steps += [
            Step(19.0, "BA", "Bad address", destination),
            Step(23.0, "RT", "Returned to consignor", destination),
        ]
        return steps
    delivered_at = 23.0 if scenario in ("not_home", "closed_on_arrival") else 19.5
    steps.append(
        Step(
            delivered_at,
            "OK",
            f"Delivered - Signed for by : {receiver}",
            destination,
            delivered=True,
            signatory=receiver,
        )
    )
    return steps


FEDEX_EXCEPTIONS: tuple[str, ...] = ("failed_attempt", "customs", "returned")


def fedex_steps(
    scenario: str, origin: Place, destination: Place, seed: int, tracking_number: str
) -> list[Step]:
    """Return the FedEx scan events (Track API eventType codes) for a scenario, oldest first.

    ``extra`` carries the FedEx scan's ``exceptionCode``/``exceptionDescription`` on DE events.
    """
    hub = _hub(origin, destination)
    receiver = random.Random(f"{seed}:receiver:{tracking_number}").choice(RECEIVERS)
    steps = [
        Step(0.0, "OC", "Shipment information sent to FedEx", Place("", origin.country)),
        Step(2.0, "PU", "Picked up", origin),
        Step(4.0, "DP", "Left FedEx origin facility", origin),
        Step(8.0, "AR", "Arrived at FedEx hub", hub),
        Step(10.0, "DP", "Departed FedEx hub", hub),
    ]
    if scenario == "customs":
        steps += [
            Step(11.0, "CD", "Clearance delay", hub),
            Step(13.0, "CC", "International shipment release - Import", hub),
        ]
    steps += [
        Step(15.0, "AR", "At local FedEx facility", destination),
        Step(17.0, "OD", "On FedEx vehicle for delivery", destination),
    ]
    if scenario == "failed_attempt":
        steps += [
            Step(
                19.5,
                "DE",
                "Delivery exception",
                destination,
                extra={
                    "exceptionCode": "08",
                    "exceptionDescription": "Customer not available or business closed",
                },
            ),
            Step(22.5, "OD", "On FedEx vehicle for delivery", destination),
        ]
    if scenario == "returned":
        steps += [
            Step(
                19.5,
                "DE",
                "Delivery exception",
                destination,
                extra={"exceptionCode": "03", "exceptionDescription": "Incorrect address"},
            ),
            Step(23.0, "RS", "Return to shipper", destination),
        ]
        return steps
    delivered_at = 23.5 if scenario == "failed_attempt" else 19.0
    steps.append(Step(delivered_at, "DL", "Delivered", destination, delivered=True, signatory=receiver))
    return steps


USPS_EXCEPTIONS: tuple[str, ...] = ("failed_attempt", "missent", "returned")


def usps_steps(
    scenario: str, origin: Place, destination: Place, seed: int, tracking_number: str
) -> list[Step]:
    """Return the USPS tracking events (v3r2 eventCode values) for a scenario, oldest first."""
    hub = _hub(origin, destination)
    receiver = random.Random(f"{seed}:receiver:{tracking_number}").choice(RECEIVERS)
    steps = [
        Step(0.0, "GX", "Shipping Label Created, USPS Awaiting Item", origin),
        Step(2.0, "03", "USPS in possession of item", origin),
        Step(5.0, "10", "Processed through USPS Facility", origin),
        Step(9.0, "10", "Arrived at USPS Regional Facility", hub),
    ]
    if scenario == "missent":
        steps += [
            Step(11.0, "08", "Missent", hub),
            Step(13.0, "10", "Processed through USPS Facility", hub),
        ]
    steps += [
        Step(14.0, "EF", "Departed USPS Regional Facility", hub),
        Step(16.0, "07", "Arrived at Post Office", destination),
        Step(17.0, "OF", "Out for Delivery", destination),
    ]
    if scenario == "failed_attempt":
        steps += [
            Step(19.5, "02", "Notice Left (No Authorized Recipient Available)", destination),
            Step(22.5, "OF", "Out for Delivery", destination),
        ]
    if scenario == "returned":
        steps += [
            Step(19.5, "05", "Undeliverable as Addressed", destination),
            Step(23.0, "09", "Return to Sender", destination),
        ]
        return steps
    delivered_at = 23.5 if scenario == "failed_attempt" else 19.0
    steps.append(
        Step(delivered_at, "01", "Delivered, In/At Mailbox", destination, delivered=True, signatory=receiver)
    )
    return steps


# -- retiming a progression to a world's outcome (simulator/world.py) --------------------------------------
OUT_FOR_DELIVERY: frozenset[str] = frozenset({"OT", "WC", "OD", "OF"})  # UPS, DHL, FedEx, USPS
# Scenarios that are a failed first attempt then a delivery: under a world, the world decides these.
ATTEMPT_SCENARIOS: frozenset[str] = frozenset({"failed_attempt", "not_home", "closed_on_arrival"})


def attempt_scenario(carrier: str, residential: bool) -> str:
    """Return the scenario that plays a failed first attempt with the carrier's own attempt codes."""
    if carrier == "dhl_express":
        return "not_home" if residential else "closed_on_arrival"
    return "failed_attempt"


def _knots_map(knots: list[tuple[float, float]], hours: float) -> float:
    for (a, x), (b, y) in itertools.pairwise(knots):
        if hours <= b:
            return x + (hours - a) * (y - x) / (b - a) if b > a else y
    a, x = knots[-1]
    return x + (hours - a)


def retime(
    steps: list[Step],
    sold_at: datetime,
    first_attempt_at: datetime,
    delivered_at: datetime,
    ship_at: datetime | None = None,
) -> list[Step]:
    """Move a progression's step times so its first attempt (or delivery) lands at ``first_attempt_at``
    and its delivery, after a failed attempt, at ``delivered_at``.

    A monotone piecewise-linear map of the step hours: the label stays at the sale, the first scan moves
    to ``ship_at`` (the ship date, after a cut-off or a weekend), the arrival at the destination and the
    out-for-delivery keep their lead before the attempt, a re-attempt's out-for-delivery keeps its lead
    before the delivery, and anything after the last anchor (a return) keeps its spacing.
    """
    ofd = next((i for i, s in enumerate(steps) if s.code in OUT_FOR_DELIVERY), None)
    if ofd is None or ofd + 1 >= len(steps):
        return steps
    first = steps[ofd + 1]
    destination = steps[ofd].place
    arrival = next(i for i, s in enumerate(steps) if s.place == destination)

    def offset(when: datetime) -> float:
        return (when - sold_at).total_seconds() / 3600.0

    target_first = offset(first_attempt_at)
    knots: list[tuple[float, float]] = [(0.0, 0.0)]
    candidates: list[tuple[float, float]] = []
    if ship_at is not None and len(steps) > 1 and steps[1].hours > 0:
        candidates.append((steps[1].hours, max(steps[1].hours, offset(ship_at))))
    candidates.append((steps[arrival].hours, target_first - (first.hours - steps[arrival].hours)))
    candidates.append((steps[ofd].hours, target_first - (first.hours - steps[ofd].hours)))
    for h, x in candidates:
        if h > knots[-1][0] and knots[-1][1] < x < target_first and h < first.hours:
            knots.append((h, x))
    knots.append((first.hours, target_first))
    delivered = next((i for i, s in enumerate(steps) if s.delivered), None)
    if delivered is not None and delivered > ofd + 1:
        target = offset(delivered_at)
        before = steps[delivered - 1]
        if before.code in OUT_FOR_DELIVERY:
            lead = target - (steps[delivered].hours - before.hours)
            if lead > target_first and before.hours > first.hours:
                knots.append((before.hours, lead))
        knots.append((steps[delivered].hours, max(target, knots[-1][1])))
    anchors = {first.hours: first_attempt_at}
    if delivered is not None and delivered > ofd + 1:
        anchors[steps[delivered].hours] = max(delivered_at, first_attempt_at)
    retimed = []
    for step in steps:
        hours = _knots_map(knots, step.hours)
        # The anchors land exactly on the sampled times; the others on whole seconds.
        when = anchors.get(step.hours) or (sold_at + timedelta(hours=hours)).replace(microsecond=0)
        if step.hours <= 0:
            when = sold_at
        retimed.append(dataclasses.replace(step, hours=hours, fixed_at=when))
    return retimed
