"""The day's phases, each through the public HTTP API only.

A phase returns a one-line outcome or raises ``Skipped`` when the API it needs is not in this
installation (found from the gateway's own OpenAPI document), so the run says so loudly instead of
pretending. Each phase leaves what it learned in ``Context.data`` for the summary and the report.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TextIO

from adapters.base import Capability
from demo import api, carriers, day, invoices, progress
from demo.receiver import Receiver
from gateway.launcher.simulator import SIM_FLEET_PUSH_SECRET as FLEET_SECRET

FLEET = carriers.FLEET
# What each shop's order system listens to; one of them also tells its customers "delivered".
WEBHOOK_EVENTS = ["label.failed", "tracking.exception", "reconciliation.completed"]
DELIVERED_TOO = "copperleaf"
ATTEMPT_REASONS = (
    ("recipient_unavailable", 55),
    ("business_closed", 15),
    ("location_inaccessible", 10),
    ("address_issue", 12),
    ("refused", 8),
)
DEPOT_POSITION = (float(day.DEPOT["latitude"]), float(day.DEPOT["longitude"]))
HANDED_TO = (("recipient", 68), ("neighbor", 10), ("safe_place", 12), ("reception", 5), ("locker", 5))


class Skipped(Exception):
    """The phase cannot run here; the message says which API is missing."""


@dataclass
class Tenant:
    shop: day.Shop
    tenant_id: str
    key: str
    client: api.Client
    orders: list[day.Order] = field(default_factory=list)
    depot_id: str | None = None
    vans: int = 0
    plan: dict[str, Any] | None = None
    endpoint_id: str | None = None


@dataclass
class Context:
    base_url: str
    sim_url: str | None
    the_day: day.Day
    tenants: dict[str, Tenant]
    receiver: Receiver | None
    apis: set[str]
    out: TextIO
    workers: int = 8
    seed: int = 7
    plan_seconds: float = 10
    plan_iterations: int | None = None
    # The simulator's world (docs/WORLDS.md), a shipped name or a path; None: next-day deliveries.
    world: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    # The partner carriers the gateway sells labels for, learnt from the rates it quotes (``book``).
    partners: list[str] = field(default_factory=list)

    def has(self, path: str) -> bool:
        return path in self.apis

    def say(self, text: str) -> None:
        self.out.write(f"  {text}\n")
        self.out.flush()

    @property
    def orders(self) -> list[day.Order]:
        return [o for t in self.tenants.values() for o in t.orders]

    def sim(self) -> api.Client:
        if not self.sim_url:
            raise Skipped("the carrier simulator is not running")
        return api.Client(self.sim_url)


STALL_SECONDS = 180.0
# SQLite answers "database is locked" (a 500) when writers queue longer than its busy timeout.
BOOKING_TRIES = 8  # a wait gives up only when nothing moved for this long


def _wait(
    check: Callable[[], tuple[int, int, bool]],
    bar: progress.Bar,
    *,
    stall: float = STALL_SECONDS,
    every: float = 0.5,
) -> bool:
    """Poll ``check() -> (done, total, finished)`` into ``bar`` until finished, or until it stalls.

    A slow machine only makes the day slower: the wait gives up when ``done`` has not moved for
    ``stall`` seconds, never because the whole step takes long.
    """
    last, moved = -1, time.monotonic()
    while True:
        done, total, finished = check()
        bar.set(done, total)
        if finished:
            return True
        if done != last:
            last, moved = done, time.monotonic()
        elif time.monotonic() - moved > stall:
            return False
        time.sleep(every)


# --- contracts -------------------------------------------------------------------------------------

# The shops' negotiated cards: every bundled sample card of a carrier that has an adapter (or of the
# fleet), at the factors the shops negotiated on rates and accessorials. A card not listed here is
# contracted at DEFAULT_TERMS; a card of a carrier without an adapter (a rate-only card) is left alone.
CONTRACT_TERMS: dict[str, tuple[Decimal, Decimal]] = {
    "ups_ground": (Decimal("0.42"), Decimal("0.50")),
    "ups_2nd_day_air_am": (Decimal("0.45"), Decimal("0.50")),
    "ups_next_day_air_saver": (Decimal("0.40"), Decimal("0.50")),
    "dhl_express_domestic": (Decimal("0.48"), Decimal("0.60")),
    "fleet_metro": (Decimal("1"), Decimal("1")),
}
DEFAULT_TERMS = (Decimal("0.45"), Decimal("0.55"))
CENT = Decimal("0.01")


def contract_terms() -> list[tuple[str, Decimal, Decimal]]:
    """(sample card name, rate factor, accessorial factor) for each card the shops hold a contract on."""
    from adapters import registry
    from rating import cards as sample_cards

    known = set(registry.available()) | {FLEET}
    out = []
    for name in sample_cards.sample_names():
        if sample_cards.load_sample(name).carrier in known:
            rates, extras = CONTRACT_TERMS.get(name, DEFAULT_TERMS)
            out.append((name, rates, extras))
    return out


def _scaled(value: str, factor: Decimal) -> str:
    return str((Decimal(value) * factor).quantize(CENT))


def contract_card(name: str, rates: Decimal, extras: Decimal, effective_from: date) -> dict[str, Any]:
    """A sample list card turned into a shop's contract: discounted, in force from ``effective_from``."""
    from importlib import resources

    doc = json.loads((resources.files("rating") / "cards" / f"{name}.json").read_text())
    doc["id"] = f"{doc['id']}-contract"
    doc["effective_from"] = effective_from.isoformat()
    doc.pop("effective_to", None)
    table = doc.get("rates") or {}
    if "minimum_charge" in table:
        table["minimum_charge"] = _scaled(table["minimum_charge"], rates)
    for zone in (table.get("by_zone") or {}).values():
        for brk in zone.get("breaks") or []:
            brk["price"] = _scaled(brk["price"], rates)
        if "per_unit_over" in zone:
            zone["per_unit_over"] = _scaled(zone["per_unit_over"], rates)
    for surcharge in doc.get("surcharges") or []:
        if "amount" in surcharge:
            surcharge["amount"] = _scaled(surcharge["amount"], extras)
    return doc


def contracts(ctx: Context) -> str:
    """Ops upload each shop's negotiated rate cards and put them in force (they replace the samples)."""
    if not ctx.has("/v1/rate-cards") or not ctx.has("/v1/rate-cards/{card_id}/versions/{version}/activate"):
        raise Skipped("rate-card API not available; the bundled sample list prices are quoted")
    since = ctx.the_day.date - timedelta(days=30)
    terms = contract_terms()

    def upload(slug: str) -> int:
        tenant = ctx.tenants[slug]
        for name, rates, extras in terms:
            doc = contract_card(name, rates, extras, since)
            row = tenant.client.post("/v1/rate-cards", doc, idempotency_key=f"card-{slug}-{name}-{ctx.seed}")
            tenant.client.post(
                f"/v1/rate-cards/{row['card_id']}/versions/{row['version']}/activate",
                {},
                idempotency_key=f"activate-{slug}-{name}-{ctx.seed}",
            )
        return len(terms)

    cards = 0
    for slug, result in api.parallel(upload, list(ctx.tenants), workers=len(ctx.tenants)):
        if isinstance(result, BaseException):
            raise RuntimeError(f"{slug}: {result}") from result
        cards += result
    names = ", ".join(n for n, _, _ in terms)
    return f"{cards} contract cards in force ({names}), beside the carriers' live list prices"


# --- booking ---------------------------------------------------------------------------------------


def book(ctx: Context) -> str:
    """Every shop books its orders; each booking returns the rates it can ship at."""
    if not ctx.has("/v1/shipments"):
        raise Skipped("shipments API not available")
    orders = ctx.orders
    by_ref = {o.reference: (t, o) for t in ctx.tenants.values() for o in t.orders}
    failures: list[str] = []
    quoted: Counter[str] = Counter()
    retried: list[str] = []
    sellable: set[str] = set()

    def one(order: day.Order) -> dict[str, Any]:
        tenant, _ = by_ref[order.reference]
        for attempt in range(BOOKING_TRIES):
            try:
                return tenant.client.post(
                    "/v1/shipments", order.body(), idempotency_key=f"book-{order.reference}"
                )
            except api.ApiError as exc:
                # A 500 released its Idempotency-Key, so the same request may run again; counted, not hidden.
                if exc.status != 500 or attempt == BOOKING_TRIES - 1:
                    raise
                retried.append(order.reference)
                time.sleep(min(4.0, 0.5 * (attempt + 1)))
        raise AssertionError("unreachable")

    with progress.Bar("Booking orders", len(orders), ctx.out) as bar:
        for order, result in api.parallel(one, orders, workers=ctx.workers, on_done=bar.advance):
            if isinstance(result, BaseException):
                failures.append(f"{order.reference}: {result}")
                continue
            order.shipment_id = result["id"]
            order.rates = list((result.get("rates") or {}).get("rates") or [])
            for r in order.rates:
                quoted[r["carrier"]] += 1
            sellable.update(carriers.partners_from_rates(order.rates))
    ctx.partners = sorted(sellable)
    ctx.data["partners"] = ctx.partners
    ctx.data["booking"] = {
        "booked": len(orders) - len(failures),
        "failed": failures[:20],
        "retried_after_500": len(retried),
        "quoted": dict(quoted),
    }
    if retried:
        ctx.say(f"{len(retried)} bookings answered 500 and were sent again with the same Idempotency-Key")
    quoted_by = ", ".join(f"{c} {n}" for c, n in quoted.most_common())
    line = (
        f"{len(orders) - len(failures)} shipments booked across {len(ctx.tenants)} tenants; rates quoted: "
        f"{quoted_by}; labels sold by {', '.join(ctx.partners) or 'no partner'} and the fleet"
    )
    if failures:
        raise RuntimeError(f"{line}; {len(failures)} bookings failed, e.g. {failures[0]}")
    return line


def cheapest_partner(order: day.Order) -> dict[str, Any] | None:
    """The cheapest quoted rate of a partner we can buy labels from: what rate shopping picks."""
    rates = [r for r in order.rates if r["carrier"] != FLEET and r.get("purchasable", True)]
    return min(rates, key=lambda r: Decimal(r["total_cost"]["amount"]), default=None)


# --- allocation ------------------------------------------------------------------------------------


def _vans_for(tenant: Tenant) -> int:
    near = sum(1 for o in tenant.orders if day.km_from_depot(o.lat, o.lon) <= 45)
    return max(2, math.ceil(near / 80))


def _configure_fleet(ctx: Context, tenant: Tenant) -> None:
    depot = tenant.client.post(
        "/v1/allocation/depots",
        {
            "name": "Secaucus depot",
            "latitude": day.DEPOT["latitude"],
            "longitude": day.DEPOT["longitude"],
            "opens": "07:00",
            "closes": "21:00",
            "timezone": "America/New_York",
            "currency": "USD",
            "road_factor": "1.35",
        },
        idempotency_key=f"depot-{tenant.shop.slug}-{ctx.seed}",
    )
    tenant.depot_id = depot["id"]
    tenant.vans = _vans_for(tenant)
    for i in range(tenant.vans):
        tenant.client.post(
            "/v1/allocation/vehicles",
            {
                "depot_id": depot["id"],
                "name": f"{tenant.shop.name.split()[0]} van {i + 1}",
                "capacity_kg": "750",
                "capacity_m3": "9",
                "shift_start": "08:00",
                "shift_end": "18:00",
                "max_stops": 120,
                "speed_kmh": "24",
                "cost_per_km": "0.58",
                "cost_per_hour": "27.50",
                "cost_per_day": "96.00",
            },
            idempotency_key=f"van-{tenant.shop.slug}-{ctx.seed}-{i}",
        )


def allocate(ctx: Context) -> str:
    """Ops plan the day per depot (fleet routes plus partner handovers) and apply the plan."""
    if not ctx.has("/v1/allocation/plans") or not ctx.has("/v1/allocation/plans/{plan_id}/apply"):
        _select_cheapest(ctx)
        raise Skipped(
            "allocation API not available; every shipment takes its cheapest partner rate (rate shopping)"
        )
    for tenant in ctx.tenants.values():
        _configure_fleet(ctx, tenant)
    policies = _apply_policies(ctx)
    plans: dict[str, str] = {}
    for slug, tenant in ctx.tenants.items():
        body = {
            "day": ctx.the_day.date.isoformat(),
            "depot_id": tenant.depot_id,
            "time_limit_s": str(ctx.plan_seconds),
            "seed": ctx.seed,
        }
        if ctx.plan_iterations:
            body["max_iterations"] = ctx.plan_iterations
        run = tenant.client.post("/v1/allocation/plans", body, idempotency_key=f"plan-{slug}-{ctx.seed}")
        plans[slug] = run["id"]
    states: dict[str, dict[str, Any]] = {}

    def check() -> tuple[int, int, bool]:
        for slug, plan_id in plans.items():
            if states.get(slug, {}).get("state") in ("done", "failed", "applied"):
                continue
            states[slug] = ctx.tenants[slug].client.get(f"/v1/allocation/plans/{plan_id}")
        done = sum(int(s.get("progress") or 0) for s in states.values())
        finished = all(s.get("state") in ("done", "failed") for s in states.values()) and len(states) == len(
            plans
        )
        return done, 100 * len(plans), finished

    with progress.Bar("Planning routes", 100 * len(plans), ctx.out, unit="%") as bar:
        if not _wait(check, bar):
            raise RuntimeError(f"the allocation plans made no progress for {STALL_SECONDS:.0f} s")
    failed = [f"{slug}: {s.get('error')}" for slug, s in states.items() if s.get("state") == "failed"]
    if failed:
        raise RuntimeError(f"allocation failed for {'; '.join(failed)}")
    applied = Counter()
    for slug, plan_id in plans.items():
        tenant = ctx.tenants[slug]
        tenant.plan = states[slug]
        result = tenant.client.post(
            f"/v1/allocation/plans/{plan_id}/apply", idempotency_key=f"apply-{plan_id}"
        )
        for a in result.get("applied") or []:
            applied[a["carrier"]] += 1
    by_id = {o.shipment_id: o for o in ctx.orders}
    for tenant in ctx.tenants.values():
        for p in (tenant.plan or {}).get("result", {}).get("packages", []):
            order = by_id.get(p["shipment_id"])
            if order is not None and p.get("carrier"):
                order.carrier = p["carrier"]
                order.service = p.get("service")
                order.rate_id = p.get("rate_id")
    ctx.data["allocation"] = {slug: t.plan for slug, t in ctx.tenants.items()}
    totals = Counter()
    for t in ctx.tenants.values():
        r = (t.plan or {}).get("result") or {}
        totals["routes"] += sum(1 for x in r.get("routes", []) if x.get("stops"))
        totals["vans"] += t.vans
    split = ", ".join(f"{c} {n}" for c, n in applied.most_common())
    return f"{totals['routes']} van routes from {totals['vans']} vans; dispatch: {split}{policies}"


def _apply_policies(ctx: Context) -> str:
    """Each shop's shipping policy becomes its allocation rule set; rules for carriers not sold are left out."""
    kept, left_out = [], []
    for slug, tenant in ctx.tenants.items():
        rules = []
        for rule_id, when, target, why in tenant.shop.policy:
            if target not in ctx.partners:
                left_out.append(f"{rule_id} ({target} not enabled)")
                continue
            rules.append(
                {
                    "id": rule_id,
                    "description": why,
                    "when": when,
                    "action": {"type": "require", "target": target},
                }
            )
            kept.append(f"{rule_id} → {carriers.display_name(target)}")
        if rules:
            tenant.client.post(
                "/v1/allocation/rule-sets",
                {"name": f"{slug} shipping policy", "rules": rules},
                idempotency_key=f"policy-{slug}-{ctx.seed}",
            )
    said = f"; shop policies: {', '.join(kept)}" if kept else ""
    return said + (f"; left out: {', '.join(left_out)}" if left_out else "")


def _select_cheapest(ctx: Context) -> None:
    """Without allocation, freeze each shipment's cheapest partner rate, as a rate-shopping API would."""
    if not ctx.has("/v1/shipments/{shipment_id}/rate"):
        return
    todo = [(o, cheapest_partner(o)) for o in ctx.orders if o.shipment_id]
    todo = [(o, r) for o, r in todo if r is not None]
    tenant_of = {o.reference: t for t in ctx.tenants.values() for o in t.orders}

    def one(item: tuple[day.Order, dict[str, Any]]) -> None:
        order, rate = item
        tenant_of[order.reference].client.post(
            f"/v1/shipments/{order.shipment_id}/rate",
            {"rate_id": rate["id"]},
            idempotency_key=f"rate-{order.reference}",
        )
        order.carrier, order.service, order.rate_id = rate["carrier"], rate["service_code"], rate["id"]

    with progress.Bar("Selecting cheapest", len(todo), ctx.out) as bar:
        for _, result in api.parallel(one, todo, workers=ctx.workers, on_done=bar.advance):
            if isinstance(result, BaseException):
                ctx.say(f"rate selection failed: {result}")


# --- labels ----------------------------------------------------------------------------------------


# When the partners collect their parcels at the depot. Without a world: the evening pickup, so their
# scans follow the vans' day. Under a world: late morning, before the carriers' cut-off (the world's
# 17:00 is UTC, noon at the depot), so the parcels ship on the day and transit counts from it.
PICKUP_HOUR = 18
PICKUP_HOUR_IN_WORLD = 11


def _advance_sim_to_handover(ctx: Context) -> None:
    """Move the simulator's clock to the partners' pickup (``PICKUP_HOUR``, ``PICKUP_HOUR_IN_WORLD``)."""
    if not ctx.sim_url:
        return
    sim = ctx.sim()
    now = datetime.fromisoformat(sim.get("/_sim/health")["now"])
    hour = PICKUP_HOUR_IN_WORLD if ctx.world else PICKUP_HOUR
    pickup = datetime.combine(ctx.the_day.date, datetime.min.time(), tzinfo=day.DEPOT_TZ) + timedelta(
        hours=hour
    )
    ahead = (pickup.astimezone(UTC) - now).total_seconds()
    if ahead > 0:
        sim.post("/_sim/clock", {"advance_seconds": int(ahead)})


def labels(ctx: Context) -> str:
    """Buy every dispatched shipment's label through the background jobs (batches of up to 1,000)."""
    if not ctx.has("/v1/batches") and not ctx.has("/v1/shipments/{shipment_id}/label"):
        raise Skipped("label jobs API not available")
    _advance_sim_to_handover(ctx)
    use_batches = ctx.has("/v1/batches") and ctx.has("/v1/batches/{batch_id}")
    wanted = {slug: [o for o in t.orders if o.shipment_id and o.carrier] for slug, t in ctx.tenants.items()}
    total = sum(len(v) for v in wanted.values())
    trackers: list[Callable[[], tuple[int, int]]] = []
    for slug, orders in wanted.items():
        client = ctx.tenants[slug].client
        if use_batches:
            for i in range(0, len(orders), 1000):
                chunk = orders[i : i + 1000]
                batch = client.post(
                    "/v1/batches",
                    {"shipment_ids": [o.shipment_id for o in chunk], "label_format": "zpl"},
                    idempotency_key=f"batch-{slug}-{ctx.seed}-{i}",
                )

                def tracker(client: api.Client = client, batch_id: str = batch["id"]) -> tuple[int, int]:
                    b = client.get(f"/v1/batches/{batch_id}")
                    return int(b["progress"]["finished"]), int(b["progress"]["succeeded"])

                trackers.append(tracker)
        else:
            jobs = []
            for o in orders:
                jobs.append(
                    client.request(
                        "POST", f"/v1/shipments/{o.shipment_id}/label", idempotency_key=f"label-{o.reference}"
                    ).body["id"]
                )

            def tracker(client: api.Client = client, jobs: list[str] = jobs) -> tuple[int, int]:
                states = [client.get(f"/v1/jobs/{j}")["state"] for j in jobs]
                finished = sum(s in ("succeeded", "failed", "needs_review") for s in states)
                return finished, sum(s == "succeeded" for s in states)

            trackers.append(tracker)
    succeeded = 0

    def check() -> tuple[int, int, bool]:
        nonlocal succeeded
        seen = [t() for t in trackers]
        finished, succeeded = sum(f for f, _ in seen), sum(s for _, s in seen)
        return finished, total, finished >= total

    with progress.Bar("Buying labels", total, ctx.out) as bar:
        done = _wait(check, bar, every=3.0)
    _collect_tracking_numbers(ctx)
    voided = _cancel_a_few(ctx)
    labelled = Counter(o.carrier for o in ctx.orders if o.tracking_number)
    ctx.data["labels"] = {
        "requested": total,
        "succeeded": succeeded,
        "by_carrier": dict(labelled),
        "voided": voided,
        "complete": done,
    }
    split = ", ".join(f"{c} {n}" for c, n in labelled.most_common())
    line = f"{succeeded}/{total} labels bought ({split}); {len(voided)} cancelled orders voided"
    if not done:
        raise RuntimeError(f"{line}; the jobs made no progress for {STALL_SECONDS:.0f} s")
    return line


def _collect_tracking_numbers(ctx: Context) -> None:
    by_id = {o.shipment_id: o for o in ctx.orders}
    for tenant in ctx.tenants.values():
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 200, "status": "purchased"}
            if cursor:
                params["cursor"] = cursor
            page = tenant.client.get("/v1/shipments", params=params)
            for s in page["data"]:
                order = by_id.get(s["id"])
                if order is not None:
                    order.tracking_number = s.get("tracking_number")
                    order.carrier = s.get("carrier")
                    order.service = s.get("service")
            cursor = page.get("next_cursor")
            if not cursor:
                break


def _cancel_a_few(ctx: Context) -> list[str]:
    """A few customers cancel after labelling: void those labels, at partners whose adapters can void."""
    if not ctx.has("/v1/shipments/{shipment_id}/void"):
        return []
    rng = random.Random(f"{ctx.seed}:cancel")
    voidable = {c for c in ctx.partners if carriers.can(c, Capability.VOID)}
    pool = [o for o in ctx.orders if o.carrier in voidable and o.tracking_number]
    chosen = rng.sample(pool, k=min(len(pool), max(1, len(pool) // 150))) if pool else []
    tenant_of = {o.reference: t for t in ctx.tenants.values() for o in t.orders}
    voided = []
    for o in chosen:
        try:
            tenant_of[o.reference].client.post(
                f"/v1/shipments/{o.shipment_id}/void", idempotency_key=f"void-{o.reference}"
            )
            o.voided = True
            voided.append(o.shipment_id or "")
        except api.ApiError as exc:
            ctx.say(f"void of {o.reference} refused: {exc}")
    return voided


# --- tracking --------------------------------------------------------------------------------------


def _weighted(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([k for k, _ in table], [w for _, w in table])[0]


def _sign(secret: str, body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {
        "X-Handoff-Timestamp": stamp,
        "X-Handoff-Signature": f"sha256={digest}",
        "Content-Type": "application/json",
    }


def driver_batches(ctx: Context) -> list[dict[str, Any]]:
    """The drivers' app syncs: for every planned route, the day's events as the driver lived it."""
    from simulator import driver as app  # the driver-app event builder (docs/DRIVER_APP.md)

    by_id = {o.shipment_id: o for o in ctx.orders}
    batches: list[dict[str, Any]] = []
    retry_day = ctx.the_day.date + timedelta(days=1)
    for tenant in ctx.tenants.values():
        result = (tenant.plan or {}).get("result") or {}
        for n, route in enumerate(r for r in result.get("routes", []) if r.get("stops")):
            route_id = f"{tenant.shop.slug}-{ctx.the_day.date:%Y%m%d}-{n + 1:02d}"
            driver_id = f"drv-{tenant.shop.slug[:3]}-{n + 1:02d}"
            events: list[dict[str, Any]] = []
            retries: list[dict[str, Any]] = []
            numbers = iter(range(1, 1_000_000))
            depart = datetime.fromisoformat(route["depart"])
            stops = [(s, by_id.get(s["shipment_id"])) for s in route["stops"]]
            stops = [(s, o) for s, o in stops if o is not None and o.tracking_number and not o.voided]

            def add(
                kind: str,
                sequence: int,
                order: day.Order,
                at: datetime,
                into: list[dict[str, Any]],
                *,
                route_id: str = route_id,
                driver_id: str = driver_id,
                vehicle_id: str = route["vehicle_id"],
                numbers: Any = numbers,
                **kw: Any,
            ) -> None:
                into.append(
                    app.build_driver_event(
                        event_type=kind,
                        route_id=route_id,
                        driver_id=driver_id,
                        vehicle_id=vehicle_id,
                        tracking_number=order.tracking_number or "",
                        occurred_at=at.astimezone(day.DEPOT_TZ),
                        stop_sequence=sequence,
                        event_number=next(numbers),
                        seed=ctx.seed,
                        **kw,
                    )
                )

            for s, o in stops:
                add("loaded", s["sequence"], o, depart - timedelta(minutes=25), events)
            for s, o in stops:
                add("out_for_delivery", s["sequence"], o, depart, events)
            again: list[tuple[datetime, day.Order, tuple[float, float]]] = []
            for s, o in stops:
                rng = random.Random(f"{ctx.seed}:stop:{o.reference}")
                arrived = datetime.fromisoformat(s["arrival"])
                served = datetime.fromisoformat(s["eta"])
                spot = (o.lat + rng.gauss(0, 0.00008), o.lon + rng.gauss(0, 0.0001))
                seq = s["sequence"]
                add("arrived", seq, o, max(arrived, served - timedelta(minutes=1)), events, position=spot)
                if rng.random() < 0.055:
                    reason = _weighted(rng, ATTEMPT_REASONS)
                    add(
                        "attempt", seq, o, served + timedelta(minutes=2), events, position=spot, reason=reason
                    )
                    if reason != "refused" and rng.random() < 0.85:  # tried again the next morning
                        nxt = datetime.combine(retry_day, datetime.min.time(), tzinfo=day.DEPOT_TZ)
                        again.append((nxt + timedelta(hours=9, minutes=rng.randint(0, 180)), o, spot))
                else:
                    handed = _weighted(rng, HANDED_TO)
                    if handed == "reception" and o.destination.get("residential"):
                        handed = "recipient"
                    signer = o.destination["name"].split()[-1].upper()
                    at = served + timedelta(minutes=rng.randint(1, 4))
                    add("delivered", seq, o, at, events, position=spot, handed_to=handed, signed_by=signer)
            back = datetime.fromisoformat(route["back"])
            for s, o in stops:
                if any(e["type"] == "attempt" and e["tracking_number"] == o.tracking_number for e in events):
                    add("returned_to_depot", s["sequence"], o, back, events, position=DEPOT_POSITION)
            # Next morning's second attempts are a short route of their own, in the order driven.
            for seq, (at, o, spot) in enumerate(sorted(again, key=lambda a: a[0]), start=1):
                add("out_for_delivery", seq, o, at - timedelta(minutes=40), retries, route_id=f"{route_id}-R")
                add("delivered", seq, o, at, retries, route_id=f"{route_id}-R", position=spot, handed_to="recipient",
                    signed_by="RECIPIENT")  # fmt: skip
            # The app syncs as it goes: roughly every ten stops' worth of events.
            for i in range(0, len(events), 40):
                batches.append(app.build_batch(events[i : i + 40], device_id=f"app-{driver_id}"))
            if retries:
                batches.append(app.build_batch(retries, device_id=f"app-{driver_id}"))
    return batches


WORLD_STEP_HOURS = 6
WORLD_MAX_DAYS = 21  # never run the simulator further than this past the day, whatever the world says


def _world_steps(ctx: Context, sim: api.Client, partners: list[day.Order]) -> tuple[int, int]:
    """Ask the simulator what its world decided for every partner label; return how many steps of
    ``WORLD_STEP_HOURS`` take its clock past the last delivery (at most ``WORLD_MAX_DAYS``), and keep
    the world's figures (``ctx.data["world"]``) for the report."""
    info = sim.get("/_sim/world")
    live = [o for o in partners if o.tracking_number and not o.voided]
    outcomes: dict[str, dict[str, Any]] = {}

    def one(order: day.Order) -> dict[str, Any]:
        return dict(sim.get(f"/_sim/world/{order.tracking_number}"))

    for order, result in api.parallel(one, live, workers=ctx.workers):
        if not isinstance(result, BaseException):
            outcomes[order.tracking_number or ""] = result
    if not outcomes:  # the simulator has no world after all: its next 30 hours, as without one
        ctx.say("the simulator reports no world outcome; its clock runs through the next day only")
        return 15, 2
    now = datetime.fromisoformat(sim.get("/_sim/health")["now"])
    last = max(datetime.fromisoformat(o["delivered_at"]) for o in outcomes.values())
    horizon = min(last + timedelta(hours=1), now + timedelta(days=WORLD_MAX_DAYS))
    steps = max(1, math.ceil((horizon - now).total_seconds() / 3600 / WORLD_STEP_HOURS))
    carrier_of = {o.tracking_number: o.carrier for o in live}
    by_carrier: dict[str, Counter[str]] = {}
    for tn, o in outcomes.items():
        c = by_carrier.setdefault(carrier_of.get(tn) or "?", Counter())
        c["labels"] += 1
        c["failed_first_attempt"] += bool(o.get("failed_attempt"))
        c["delayed"] += bool(o.get("congestion_days") or o.get("disruption_days"))
        c["transit_days"] += int(o.get("transit_days") or 0)
    ctx.data["world"] = {
        "name": info.get("world") or ctx.world,
        "description": info.get("description") or "",
        "labels": len(outcomes),
        "last_delivery": last.isoformat(),
        "by_carrier": {k: dict(v) for k, v in sorted(by_carrier.items())},
    }
    return steps, WORLD_STEP_HOURS


def _tracking_totals(ctx: Context) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for tenant in ctx.tenants.values():
        k = tenant.client.get(
            "/v1/kpis",
            params={
                "from": ctx.the_day.date.isoformat(),
                "to": ctx.the_day.date.isoformat(),
                "tz": "America/New_York",
            },
        )["totals"]
        for key in ("tracked", "delivered", "with_exception", "in_flight"):
            totals[key] += int(k[key])
    return dict(totals)


def tracking(ctx: Context) -> str:
    """Drivers sync their app; the partners push scans as simulated time runs through the next day (under
    a world, through the days until the world's last delivery)."""
    if not ctx.has("/v1/callbacks/{carrier}"):
        raise Skipped("carrier callbacks API not available")
    labelled = [o for o in ctx.orders if o.tracking_number]
    if not labelled:
        raise Skipped("no labels were bought, so there is nothing to track")
    batches = driver_batches(ctx) if any(t.plan for t in ctx.tenants.values()) else []
    fleet_events = sum(len(b["events"]) for b in batches)
    client = api.Client(ctx.base_url)
    sent: Counter[str] = Counter()
    refused: list[str] = []
    partners = [o for o in labelled if o.carrier != FLEET]
    expected_pushes = 8 * len(partners)

    def push(batch: dict[str, Any]) -> int:
        body = json.dumps(batch, separators=(",", ":")).encode()
        client.request(
            "POST", "/v1/callbacks/fleet", data=body, headers=_sign(FLEET_SECRET, body), expect=(202,)
        )
        return len(batch["events"])

    with progress.Bar("Tracking callbacks", fleet_events + expected_pushes, ctx.out) as bar:

        def drivers() -> None:
            for _, result in api.parallel(push, batches, workers=3):
                if isinstance(result, BaseException):
                    refused.append(str(result))
                else:
                    sent["fleet"] += result
                    bar.advance(result)

        # The drivers' apps sync while the carriers push: two independent senders, as in real life.
        driver_thread = threading.Thread(target=drivers, name="driver-apps")
        driver_thread.start()
        if ctx.sim_url and partners:
            sim = api.Client(ctx.sim_url, timeout=600, retries=0)
            if ctx.world:
                # The partners' next days, until the world's last delivery: six simulated hours at a time.
                steps, step_hours = _world_steps(ctx, sim, partners)
            else:
                steps, step_hours = 15, 2  # the partners' next 30 hours, two simulated hours at a time
            for _ in range(steps):
                sim.post("/_sim/clock", {"advance_hours": step_hours})
                n = int(sim.post("/_sim/push/tick")["sent"])
                sent["carriers"] += n
                bar.advance(n)
            ctx.data.setdefault("world", {})["simulated_days"] = round(steps * step_hours / 24, 1)
        driver_thread.join()
        bar.set(sum(sent.values()), sum(sent.values()))
    if refused:
        ctx.say(f"{len(refused)} driver batches were refused, e.g. {refused[0]}")
    # Normalisation runs in the workers, behind whatever else they have queued: wait until every
    # labelled shipment has its events and has settled (or nothing moved for three minutes).
    last: dict[str, int] = {}
    stable, moved = 0, time.monotonic()
    with progress.Bar("Normalising events", len(labelled), ctx.out) as bar:
        while True:
            now = _tracking_totals(ctx)
            tracked = now.get("tracked", 0)
            bar.set(tracked, max(tracked, len(labelled)), note=f"delivered {now.get('delivered', 0)}")
            if now == last:
                stable += 1
            else:
                stable, moved = 0, time.monotonic()
            last = now
            # Settled: every label has events and (nearly) all are delivered, returned or cancelled.
            settled = tracked >= len(labelled) and now.get("in_flight", 0) <= len(labelled) * 0.03
            if (stable >= 2 and settled) or time.monotonic() - moved > STALL_SECONDS:
                break
            time.sleep(3.0)
    if last.get("tracked", 0) < len(labelled):
        ctx.say(f"{len(labelled) - last.get('tracked', 0)} labelled shipments have no tracking event yet")
    ctx.data["tracking"] = {"fleet_events": sent["fleet"], "carrier_pushes": sent["carriers"], "totals": last}
    line = (
        f"{sent['fleet']} driver-app events in {len(batches)} syncs, {sent['carriers']} carrier pushes; "
        f"{last.get('delivered', 0)} delivered, {last.get('with_exception', 0)} with an exception"
    )
    if refused:
        raise RuntimeError(f"{line}; {len(refused)} driver batches refused")
    return line


# --- webhooks --------------------------------------------------------------------------------------


def subscribe_webhooks(ctx: Context) -> None:
    """Each platform subscribes its endpoint (on the local receiver) to the events it acts on."""
    if ctx.receiver is None or not ctx.has("/v1/webhook-endpoints"):
        return
    for slug, tenant in ctx.tenants.items():
        created = tenant.client.post(
            "/v1/webhook-endpoints",
            {
                "url": ctx.receiver.url(slug),
                "event_types": WEBHOOK_EVENTS + (["shipment.delivered"] if slug == DELIVERED_TOO else []),
                "description": f"{tenant.shop.name} OMS",
            },
            idempotency_key=f"hook-{slug}-{ctx.seed}",
        )
        tenant.endpoint_id = created["id"]
        ctx.receiver.add_secret(slug, created["secret"])


def _pending_deliveries(ctx: Context) -> int:
    """Deliveries the gateway still has to make to the demo's endpoints (up to 200 per tenant)."""
    pending = 0
    for t in ctx.tenants.values():
        if t.endpoint_id:
            page = t.client.get(
                f"/v1/webhook-endpoints/{t.endpoint_id}/deliveries", params={"state": "pending", "limit": 200}
            )
            pending += len(page.get("data") or [])
    return pending


def webhooks(ctx: Context) -> str:
    """Wait for the outbound webhooks to reach the local receiver; every signature is verified."""
    if ctx.receiver is None or not ctx.has("/v1/webhook-endpoints"):
        raise Skipped("webhooks API not available")
    if not any(t.endpoint_id for t in ctx.tenants.values()):
        raise Skipped("no endpoint was subscribed")
    pending, seen, moved = -1, (-1, -1), time.monotonic()
    with progress.Bar("Webhooks delivered", ctx.receiver.count(), ctx.out) as bar:
        while time.monotonic() - moved < STALL_SECONDS:
            pending = _pending_deliveries(ctx)
            n = ctx.receiver.count()
            bar.set(n, n + pending)
            if pending == 0:
                break
            if (n, pending) != seen:
                seen, moved = (n, pending), time.monotonic()
            time.sleep(1.0)
    stats = ctx.receiver.stats()
    stats["pending"] = max(pending, 0)
    ctx.data["webhooks"] = stats
    kinds = ", ".join(f"{k} {v}" for k, v in stats["by_type"].items())
    line = f"{stats['received']} deliveries, {stats['verified']} signatures verified: {kinds}"
    if pending > 0:
        raise RuntimeError(f"{line}; {pending} still pending after {STALL_SECONDS:.0f} s without progress")
    return line


# --- invoices --------------------------------------------------------------------------------------


def reconcile(ctx: Context) -> str:
    """Each partner bills the day in its own layout (with the usual mistakes); finance uploads and reconciles.

    A partner is billed when the demo can write its invoice layout (``invoices.LAYOUTS``); the others
    are named in the outcome, not silently left out.
    """
    if not ctx.has("/v1/invoices") or not ctx.has("/v1/invoices/{invoice_id}/reconciliation"):
        raise Skipped("invoices API not available")
    summaries = []
    incomplete = False
    found: dict[str, Any] = {}
    billing: dict[str, tuple[str, invoices.Layout]] = {}
    for code in ctx.partners:
        layout = carriers.invoice_layout(code)
        if layout is not None and layout in invoices.LAYOUTS:
            billing[code] = (layout, invoices.LAYOUTS[layout])
    unbilled = [c for c in ctx.partners if c not in billing]
    for slug, tenant in ctx.tenants.items():
        for code, (layout, writer) in billing.items():
            billed = [o for o in tenant.orders if o.carrier == code and o.tracking_number]
            if not billed:
                continue
            doc = writer.build(
                billed,
                fleet=[o for o in tenant.orders if o.carrier == FLEET and o.tracking_number],
                invoice_number=f"0000{abs(hash(slug)) % 10**6:06d}{ctx.the_day.date:%m%d}",
                account=writer.account,
                invoice_date=ctx.the_day.date + timedelta(days=7),
                seed=f"{ctx.seed}:{slug}" + ("" if len(billing) == 1 else f":{code}"),
            )
            r = tenant.client.request(
                "POST",
                "/v1/invoices",
                files={"file": (f"{code}-{slug}.csv", doc.csv.encode(), "text/csv")},
                data={"format": layout, "carrier": code},
                expect=(200, 201),
            ).body
            invoice_id = r["id"]

            def check(
                client: api.Client = tenant.client, invoice_id: str = invoice_id
            ) -> tuple[int, int, bool]:
                rec = client.get(f"/v1/invoices/{invoice_id}/reconciliation")
                pct = int(float((rec.get("progress") or {}).get("percent") or 0))
                return pct, 100, rec.get("status") in ("reconciled", "failed", "done")

            with progress.Bar(f"Reconciling {slug} {code}", 100, ctx.out, unit="%") as bar:
                finished = _wait(check, bar)
            invoice = tenant.client.get(f"/v1/invoices/{invoice_id}")
            found[f"{slug}/{code}"] = {
                "tenant": slug,
                "carrier": code,
                "invoice": invoice,
                "injected": doc.injected,
                "lines": doc.lines,
            }
            report = (invoice.get("reconciliation") or {}).get("report") or {}
            rec = (report.get("totals") or {}).get("recoverable") or {}
            if finished and rec:
                summaries.append(f"{slug} {code} ${rec['amount']} on {doc.lines} lines")
            else:
                summaries.append(
                    f"{slug} {code}: still {invoice.get('status')}, no progress for {STALL_SECONDS:.0f} s"
                )
                incomplete = True
    ctx.data["reconciliation"] = found
    not_billed = f"; the demo writes no invoices for {', '.join(unbilled)}" if unbilled else ""
    if not found:
        raise Skipped(f"no labels of a partner whose invoices the demo can write{not_billed}")
    if incomplete:
        raise RuntimeError("reconciliation did not finish: " + "; ".join(summaries))
    return "recoverable: " + ", ".join(summaries) + not_billed


# --- KPIs ------------------------------------------------------------------------------------------


def kpis(ctx: Context) -> str:
    """Ops read the day's KPIs per tenant from GET /v1/kpis."""
    if not ctx.has("/v1/kpis"):
        raise Skipped("KPI API not available")
    out = {}
    for slug, tenant in ctx.tenants.items():
        out[slug] = tenant.client.get(
            "/v1/kpis",
            params={
                "from": ctx.the_day.date.isoformat(),
                "to": ctx.the_day.date.isoformat(),
                "tz": "America/New_York",
            },
        )
    ctx.data["kpis"] = out
    delivered = sum(k["totals"]["delivered"] for k in out.values())
    etas = [k["totals"].get("eta") for k in out.values() if isinstance(k["totals"].get("eta"), dict)]
    predicted = sum(int(e.get("deliveries") or 0) for e in etas)
    eta = f", {predicted} with a booking prediction (ETA accuracy)" if etas else "; no ETA accuracy figures"
    return f"KPIs for {len(out)} tenants; {delivered} deliveries counted{eta}"
