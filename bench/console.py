"""Console page times on a tenant with 100,000 shipments, beside the API's own list in the same run.

Usage: python bench/console.py [--database-url URL] [--redis-url URL] [--shipments 100000] [--days 90]
                               [--repeat 30] [--seed 7] [--quick]

It creates a scratch PostgreSQL database next to ``--database-url`` (default ``DATABASE_URL``, else
postgresql://postgres@127.0.0.1:5432/test), migrates it, and writes with multi-row inserts one tenant's
``--shipments`` shipments booked over the last ``--days`` days: addresses, a bought label each (four
carriers), a derived tracking status (most delivered, some in flight, a few in exception), canonical
events, a booking prediction each, and open exceptions for one shipment in fifty.

Then it signs a console user in (through the login form, as a browser does) and times, through the WSGI
app in this process (server time: no network, no browser), each page ``--repeat`` times after one
warm-up: the control tower, the shipment list (first page, a search by reference, a carrier filter), a
shipment's detail, the exception queue, a deep page of the shipment list, and each other area's first page
(allocation, what-ifs, fleet, dispatch, carriers, exchanges, finance, developers, people, your sessions;
the user holds every role). The baseline, measured the same way in the same run, is the
API's own shipment list (``GET /v1/shipments?limit=25``) for the same tenant. Reported: p50 and p95 in
milliseconds and each page's p95 over the baseline's. The control tower keeps its figures 90 s
per tenant (and a scheduler task computes them ahead while the tenant is in the console), so it is timed
twice: as it is served (figures kept) and computing them each time. The target (issue 20): every page under 300 ms at
the p95. Nothing asserts a time; the scratch database is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa

from bench.scratch import drop_database, scratch_database
from gateway import create_app
from gateway.console import accounts
from gateway.kernel import auth, migrate, models
from gateway.kernel.types import new_id
from schemas import events, taxonomy

CARRIERS = (("ups", "03"), ("fedex", "FEDEX_GROUND"), ("usps", "PRIORITY_MAIL"), ("dhl_express", "N"))
STATES = ("NY", "NJ", "PA", "MA", "CT", "IL", "CA", "TX", "FL", "WA")
PASSWORD = "a console benchmark password"
CHUNK = 5000


def _rows(n: int, days: int, seed: int, tenant_id: str, now: datetime) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    out: dict[str, list[dict[str, Any]]] = {
        k: []
        for k in (
            "addresses",
            "shipments",
            "parcels",
            "labels",
            "shipment_tracking",
            "tracking_events",
            "shipment_predictions",
            "shipment_exceptions",
        )
    }
    origin = new_id("adr")
    out["addresses"].append(
        {"id": origin, "tenant_id": tenant_id, "name": "Depot", "street1": "600 Meadowlands Pkwy",
         "city": "Secaucus", "state": "NJ", "postal_code": "07094", "country_code": "US"}
    )  # fmt: skip
    for i in range(n):
        created = now - timedelta(seconds=rng.uniform(0, days * 86400))
        carrier, service = CARRIERS[i % len(CARRIERS)]
        shipment_id, destination = new_id("shp"), new_id("adr")
        number = f"BENCH{i:012d}"
        state = STATES[i % len(STATES)]
        out["addresses"].append(
            {"id": destination, "tenant_id": tenant_id, "name": f"Customer {i}", "street1": f"{i % 900 + 1} Main St", "city": "Town",
             "state": state, "postal_code": f"{10000 + i % 80000:05d}", "country_code": "US"}
        )  # fmt: skip
        out["shipments"].append(
            {"id": shipment_id, "tenant_id": tenant_id, "reference": f"ORD-{i:07d}", "status": "purchased",
             "carrier": carrier, "service": service, "tracking_number": number,
             "promise_date": (created + timedelta(days=3)).date(), "origin_id": origin,
             "destination_id": destination, "metadata": {}, "version": 1, "created_at": created,
             "updated_at": created, "is_return": False, "return_qr": False}
        )  # fmt: skip
        out["parcels"].append(
            {"id": new_id("pcl"), "shipment_id": shipment_id, "position": 0, "weight": 2, "weight_unit": "lb",
             "length": 12, "width": 9, "height": 4, "dimension_unit": "in"}
        )  # fmt: skip
        out["labels"].append(
            {"id": new_id("lbl"), "tenant_id": tenant_id, "shipment_id": shipment_id, "carrier": carrier,
             "service": service, "tracking_number": number, "status": "purchased", "cost_minor": 900 + i % 700,
             "currency": "USD", "purchased_at": created, "tracking_numbers": [number], "source": "carrier"}
        )  # fmt: skip
        age_days = (now - created).days
        roll = rng.random()
        milestone = (
            "delivered" if age_days >= 4 or roll < 0.5 else ("exception" if roll > 0.95 else "in_transit")
        )
        delivered = (
            created + timedelta(days=rng.choice((1, 2, 2, 3, 3, 4))) if milestone == "delivered" else None
        )
        status_at = delivered or created + timedelta(hours=6)
        reason = "recipient_unavailable" if milestone == "exception" else None
        out["shipment_tracking"].append(
            {"shipment_id": shipment_id, "tenant_id": tenant_id, "carrier": carrier, "tracking_number": number,
             "milestone": milestone, "reason": reason, "action_required": reason is not None,
             "action_party": "recipient" if reason else None, "status_at": status_at, "delivered_at": delivered,
             "event_count": 2, "unmapped_count": 0, "pod_flags": [], "reassess_due": False,
             "predicted_at": created, "updated_at": status_at}
        )  # fmt: skip
        for k, (code, stage, at) in enumerate(
            (
                ("OR", "in_transit", created + timedelta(hours=6)),
                ("DL" if delivered else "IT", milestone, status_at),
            )
        ):
            out["tracking_events"].append(
                {"shipment_id": shipment_id, "tenant_id": tenant_id, "carrier": carrier, "tracking_number": number,
                 "occurred_at": at, "raw_code": code, "milestone": stage, "reason": reason if k else None,
                 "dedup_key": f"{number}:{k}", "mapping": "mapped", "unmapped": False, "source": "poll",
                 "event": events.CanonicalEvent(
                     tracking_number=number, carrier=carrier, occurred_at=at, raw_code=code,
                     milestone=taxonomy.Milestone(stage),
                     reason=taxonomy.ExceptionReason(reason) if reason and k else None,
                 ).to_dict()}
            )  # fmt: skip
        out["shipment_predictions"].append(
            {"id": new_id("prd"), "tenant_id": tenant_id, "shipment_id": shipment_id, "made_at": created,
             "trigger": "booking", "milestone": "pending", "p10": created.date() + timedelta(days=1),
             "p50": created.date() + timedelta(days=2), "p90": created.date() + timedelta(days=4),
             "promise_date": (created + timedelta(days=3)).date(), "on_time_probability": 0.8,
             "basis": "history", "samples": 60, "factors": []}
        )  # fmt: skip
        if i % 50 == 0:
            out["shipment_exceptions"].append(
                {"id": new_id("exc"), "tenant_id": tenant_id, "shipment_id": shipment_id,
                 "reason": "at_risk" if i % 100 == 0 else "address_issue", "milestone": "in_transit",
                 "status": "open", "owner": "ops", "created_at": created, "due_at": created + timedelta(hours=4),
                 "escalation_level": 0, "actions": [], "detail": {}}
            )  # fmt: skip
    return out


def _insert(engine: sa.Engine, rows: dict[str, list[dict[str, Any]]]) -> None:
    # The models' own tables, so that Python-side defaults (ids, flags) fill what a row leaves out.
    with engine.begin() as conn:
        for name, batch in rows.items():
            table = models.Base.metadata.tables[name]
            columns = {c.name for c in table.columns}
            unknown = {k for row in batch[:1] for k in row} - columns
            if unknown:
                raise SystemExit(f"bench/console.py: {name} has no columns {sorted(unknown)}")
            for start in range(0, len(batch), CHUNK):
                conn.execute(table.insert(), batch[start : start + CHUNK])


def _time(
    client: Any, path: str, repeat: int, headers: dict[str, str] | None = None, before: Any = None
) -> list[float]:
    first = client.get(path, headers=headers or {})
    if first.status_code != 200:
        raise SystemExit(f"bench/console.py: {path} answered {first.status_code}")
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        t0 = time.perf_counter()
        response = client.get(path, headers=headers or {})
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200
    return times


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    p.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13"))
    p.add_argument("--shipments", type=int, default=100_000)
    p.add_argument("--days", type=int, default=90)
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="10,000 shipments, 10 repeats")
    args = p.parse_args(argv)
    if args.quick:
        args.shipments, args.repeat = 10_000, 10
    admin, url = scratch_database(args.database_url)
    try:
        migrate.upgrade(url)
        app = create_app(
            {"DATABASE_URL": url, "REDIS_URL": args.redis_url, "CARRIERS": "[]", "LOG_LEVEL": "WARNING"}
        )
        container = app.extensions["handoff"]
        with container.sessions() as session:
            tenant = models.Tenant(name="Bench", slug="bench")
            session.add(tenant)
            session.flush()
            _, key = auth.create_key(
                session,
                tenant.id,
                ["platform", "ops"],
                name="bench",
                pepper=container.settings["SECRET_PEPPER"],
            )
            # Every role, so that every area's pages can be timed with one sign-in.
            accounts.create_user(
                session, tenant.id, "ops@bench.example", PASSWORD, ["admin", "ops", "finance"], by="bench"
            )
            session.commit()
            tenant_id = tenant.id
        now = datetime.now(UTC)
        t0 = time.perf_counter()
        rows = _rows(args.shipments, args.days, args.seed, tenant_id, now)
        _insert(container.engine, rows)
        with container.engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
        seeded = time.perf_counter() - t0
        client = app.test_client()
        page = client.get("/console/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        signed = client.post(
            "/console/login",
            data={"csrf_token": token.group(1), "email": "ops@bench.example", "password": PASSWORD},
        )
        assert signed.status_code == 303, signed.status_code
        middle = rows["shipments"][len(rows["shipments"]) // 2]
        pages = {
            "control tower (figures kept)": "/console/",
            "shipments, first page": "/console/shipments",
            "shipments, search by reference": f"/console/shipments?q={middle['reference']}",
            "shipments, carrier filter": "/console/shipments?carrier=fedex",
            "shipment detail": f"/console/shipments/{middle['id']}",
            "exception queue": "/console/exceptions",
            "shipments, page 50 (offset 2,450)": "/console/shipments?page=50",
            "allocation": "/console/allocation",
            "what-ifs": "/console/allocation/simulations",
            "fleet": "/console/fleet",
            "dispatch": "/console/dispatch",
            "carriers": "/console/carriers",
            "carrier exchanges": "/console/carriers/exchanges",
            "finance": "/console/finance",
            "developers": "/console/developers",
            "people": "/console/people",
            "your sessions": "/console/people/sessions",
        }
        baseline = _time(client, "/v1/shipments?limit=25", args.repeat, {"Authorization": f"Bearer {key}"})
        measured = {name: _time(client, path, args.repeat) for name, path in pages.items()}
        # The tower keeps its figures (gateway/console/tower.py): also time it computing them.
        tower_key = f"handoff:console:tower:{tenant_id}:{datetime.now(UTC).date().isoformat()}"
        measured["control tower, figures recomputed"] = _time(
            client, "/console/", args.repeat, before=lambda: container.redis.delete(tower_key)
        )
        base95 = _p95(baseline)
        print(
            f"console pages on PostgreSQL, {args.shipments:,} shipments over {args.days} days "
            f"(seeded in {seeded:.0f} s), {args.repeat} requests each after a warm-up, server time in-process"
        )
        print(f"{'page':34} {'p50 ms':>8} {'p95 ms':>8} {'p95 / baseline':>15} {'under 300 ms':>13}")
        print(
            f"{'baseline: GET /v1/shipments?limit=25':34} {statistics.median(baseline):8.1f} {base95:8.1f} {1:15.2f}"
        )
        for name, values in measured.items():
            p95 = _p95(values)
            print(
                f"{name:34} {statistics.median(values):8.1f} {p95:8.1f} {p95 / base95:15.2f} "
                f"{'yes' if p95 < 300 else 'NO':>13}"
            )
        app.extensions["handoff"].dispose()
    finally:
        drop_database(admin, url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
