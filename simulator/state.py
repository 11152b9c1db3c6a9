"""The simulator's shared state: config, clock, ledger, faults, tokens, subscriptions, pushes."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as day_time
from typing import Any

from simulator import clock as sim_clock
from simulator import config as sim_config
from simulator import faults as sim_faults
from simulator import ledger as sim_ledger
from simulator import numbers as sim_numbers
from simulator import progressions
from simulator import warehouse as sim_warehouse
from simulator import world as sim_world


@dataclass
class Subscription:
    """A Track Alert subscription for one tracking number."""

    tracking_number: str
    version: str  # "v1" or "v2"
    subscribed_at: datetime
    expires_at: datetime
    url: str | None = None  # v1 carries the destination in the request; v2 uses the configured URL
    credential: str | None = None
    credential_type: str | None = None


@dataclass
class PushRecord:
    """One delivery attempt of a tracking push."""

    kind: str  # "ups", "dhl_express" or "fleet"
    url: str
    key: str
    status: int | None
    error: str | None
    at: str
    payload: dict[str, Any] = field(default_factory=dict)


class Simulator:
    """Everything the endpoints share. One per app; thread-safe where the server is threaded."""

    def __init__(
        self,
        config: sim_config.SimConfig,
        real_time: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        import time

        self.config = config
        self.real_time = real_time or time.monotonic
        self.clock = sim_clock.SimClock(config.day_seconds, start=config.clock_start(), real=self.real_time)
        self.ledger = sim_ledger.Ledger(config.ledger_path)
        self.faults = sim_faults.FaultInjector(config.seed, config.faults)
        self.sleep = sleep or time.sleep
        self._lock = threading.Lock()
        # Never reset (not even by reset()): a number once issued stays issued, across restarts too.
        self.numbers = sim_numbers.Counters(config.data_dir, config.seed)
        self.tokens: dict[str, float] = {}  # token -> real-time expiry
        self.token_carriers: dict[str, str] = {}  # token -> the carrier that issued it
        # USPS payment authorization token -> the PAYER role it was issued for (accountNumber, MID, ...).
        self.payment_tokens: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, Subscription] = {}
        # USPS Subscriptions - Tracking, by id (``simulator.usps_subscriptions.TrackingSubscription``).
        self.usps_subscriptions: dict[str, Any] = {}
        self.pushes: list[PushRecord] = []
        self.pushed_keys: set[str] = set()
        self.routes: dict[str, dict[str, Any]] = {}
        # Pickups booked, FedEx Ground closes and USPS SCAN forms (GET /_sim/warehouse).
        self.warehouse = sim_warehouse.Book()
        # The world model, when one is set: "+N" dates in it count from the simulated day of the start.
        self.world: sim_world.World | None = (
            sim_world.load_world(config.world, anchor=self.clock.now().date()) if config.world else None
        )
        self._outcomes: dict[str, sim_world.Outcome] = {}

    # -- numbers ---------------------------------------------------------------------------------
    def serials(self, counter: str, count: int = 1) -> range:
        """Reserve serials for new tracking numbers (``numbers.Counters``: never the same one twice)."""
        return self.numbers.take(counter, count)

    # -- OAuth (UPS, FedEx, USPS) --------------------------------------------------------------------
    def issue_token(self, ttl: int | None = None, carrier: str = "ups") -> tuple[str, int]:
        """Issue a carrier's bearer token valid for ``ttl`` (default: the UPS lifetime) real seconds."""
        # Real time, not simulated: a compressed day must not expire tokens every few seconds.
        lifetime = self.config.ups_token_ttl if ttl is None else ttl
        token = secrets.token_urlsafe(32)
        with self._lock:
            self.tokens[token] = self.real_time() + lifetime
            self.token_carriers[token] = carrier
        return token, lifetime

    def token_is_valid(self, token: str, carrier: str = "ups") -> bool:
        """Return whether a bearer token was issued here, for this carrier, and has not expired."""
        with self._lock:
            expires = self.tokens.get(token)
            issued_for = self.token_carriers.get(token)
        return expires is not None and expires > self.real_time() and issued_for == carrier

    def expire_tokens(self) -> int:
        """Revoke every token (lets tests exercise the adapters' refresh-on-401)."""
        with self._lock:
            count = len(self.tokens)
            self.tokens.clear()
            self.token_carriers.clear()
        return count

    # -- tracking --------------------------------------------------------------------------------
    def steps_for(self, label: sim_ledger.LabelRecord) -> list[progressions.Step]:
        """Return the full scripted progression of a label, oldest first."""
        origin = progressions.Place(
            label.origin_city or "Origin",
            label.origin_country,
            label.origin_state,
            label.origin_postal_code,
            service_area=(label.origin_city or "ORG")[:3].upper(),
        )
        destination = progressions.Place(
            label.destination_city or "Destination",
            label.destination_country,
            label.destination_state,
            label.destination_postal_code,
            service_area=(label.destination_city or "DST")[:3].upper(),
        )
        build = {
            "ups": progressions.ups_steps,
            "fedex": progressions.fedex_steps,
            "usps": progressions.usps_steps,
        }.get(label.carrier, progressions.dhl_steps)
        outcome = self.world_outcome(label)
        if outcome is None:
            return build(label.scenario, origin, destination, self.config.seed, label.tracking_number)
        # Under a world, the world decides failed attempts; the other exceptions (customs, returns,
        # missorts) still come from exception_share.
        scenario = "normal" if label.scenario in progressions.ATTEMPT_SCENARIOS else label.scenario
        if scenario == "normal" and outcome.failed_attempt:
            scenario = progressions.attempt_scenario(
                label.carrier, outcome.address_type == sim_world.RESIDENTIAL
            )
        steps = build(scenario, origin, destination, self.config.seed, label.tracking_number)
        sold = datetime.fromisoformat(label.requested_at)
        ship_at = None
        if outcome.ship_date > sold.date():
            ship_at = datetime.combine(outcome.ship_date, day_time(8, 0), tzinfo=sold.tzinfo)
        return progressions.retime(steps, sold, outcome.first_attempt_at, outcome.delivered_at, ship_at)

    # -- world model -----------------------------------------------------------------------------
    def world_facts(self, label: sim_ledger.LabelRecord) -> sim_world.LabelFacts:
        """Return what the world model needs about a label; the day rank counts the carrier's labels
        sold on the label's (UTC) day up to and including it, so it never changes afterwards."""
        sold = datetime.fromisoformat(label.requested_at)
        rank = 0
        for other in self.ledger.all():
            if other.carrier == label.carrier and other.requested_at[:10] == label.requested_at[:10]:
                rank += 1
            if other.tracking_number == label.tracking_number:
                break
        return sim_world.LabelFacts(
            carrier=label.carrier,
            service=label.service,
            tracking_number=label.tracking_number,
            sold_at=sold,
            origin_country=label.origin_country,
            destination_country=label.destination_country,
            destination_state=label.destination_state,
            day_rank=max(rank, 1),
        )

    def world_outcome(self, label: sim_ledger.LabelRecord) -> sim_world.Outcome | None:
        """Return the world's outcome for a label (None without a world), drawn once and kept."""
        if self.world is None:
            return None
        with self._lock:
            cached = self._outcomes.get(label.tracking_number)
        if cached is not None:
            return cached
        outcome = self.world.sample(self.world_facts(label), self.config.seed)
        with self._lock:
            self._outcomes[label.tracking_number] = outcome
        return outcome

    def estimated_delivery(self, label: sim_ledger.LabelRecord) -> datetime | None:
        """Return the carrier's own estimate for a label under the world, or None without a world."""
        outcome = self.world_outcome(label)
        return outcome.estimate.at if outcome is not None else None

    def quoted_estimate(
        self, carrier: str, service: str, origin_country: str, destination_country: str, now: datetime
    ) -> sim_world.Estimate | None:
        """Return the carrier's estimate for a rate quote under the world, or None without a world."""
        if self.world is None:
            return None
        return self.world.carrier_estimate(carrier, service, origin_country, destination_country, now)

    def events_so_far(
        self, label: sim_ledger.LabelRecord, now: datetime | None = None
    ) -> list[tuple[datetime, progressions.Step]]:
        """Return the events that have happened by now (simulated), oldest first."""
        now = now or self.clock.now()
        sold = datetime.fromisoformat(label.requested_at)
        voided = datetime.fromisoformat(label.voided_at) if label.voided_at else None
        events = []
        for step in self.steps_for(label):
            when = step.at(sold)
            if when > now or (voided is not None and when > voided):
                break
            events.append((when, step))
        if voided is not None and voided <= now and label.carrier == "ups":
            # A voided UPS label ends with Manifest Void and nothing after it.
            events.append(
                (
                    voided,
                    progressions.Step(
                        0, "MV", "Manifest Void", progressions.Place("", label.origin_country), type="MV"
                    ),
                )
            )
        return events

    def record_push(self, record: PushRecord) -> None:
        """Keep a push attempt for GET /_sim/pushes."""
        with self._lock:
            self.pushes.append(record)

    def reset(self) -> None:
        """Forget labels, tokens, subscriptions, pushes, routes, faults, pickups and closes."""
        self.ledger.clear()
        self.warehouse.clear()
        self.faults.clear()
        with self._lock:
            self.tokens.clear()
            self.token_carriers.clear()
            self.payment_tokens.clear()
            self.subscriptions.clear()
            self.usps_subscriptions.clear()
            self.pushes.clear()
            self.pushed_keys.clear()
            self.routes.clear()
            self._outcomes.clear()
