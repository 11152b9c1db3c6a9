"""Online allocation at booking time, through the gateway, against a planned day.

Usage: python bench/online.py [--packages 2000] [--vans 25] [--bookings 50] [--plan-seconds 20]

It creates a scratch PostgreSQL database next to ``DATABASE_URL`` (default
postgresql://postgres@127.0.0.1:5432/test) and uses ``REDIS_URL`` (default redis://127.0.0.1:6379/10),
then, in process through the Flask test client (no HTTP server, so the figures are the gateway's own):

1. books ``--packages`` shipments around the Secaucus depot for one tenant (no fleet yet, so these
   bookings make no decision);
2. adds the depot and ``--vans`` vans, and plans the day (``POST /v1/allocation/plans``, the job run
   in process by an RQ ``SimpleWorker``);
3. measures, for ``--bookings`` further shipments, ``POST /v1/shipments/{id}/allocate`` (one online
   decision against the plan and the decisions made since), and as the baseline in the same run
   ``GET /v1/shipments/{id}`` for the same shipments (authentication, a read, serialisation).

It prints the median, p90 and maximum of both, the SQL statements per decision and the load average.
The scratch database is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa
from rq import SimpleWorker

from bench.scratch import drop_database, scratch_database
from gateway import create_app
from gateway.jobs import worker
from gateway.kernel import migrate
from gateway.launcher.tenants import create_tenant_key
from tests.helpers import shipment_body
from tests.integration.test_allocation import depot_body, vehicle_body

DEPOT = depot_body()  # Secaucus, NJ


def _body(rng: random.Random, reference: str) -> dict[str, Any]:
    body = shipment_body(reference)
    # Within about 25 km of the depot: most of them van country, the far ones partner country.
    lat = float(DEPOT["latitude"]) + rng.uniform(-0.22, 0.22)
    lon = float(DEPOT["longitude"]) + rng.uniform(-0.28, 0.28)
    body["destination"].update(postal_code="10001", latitude=f"{lat:.4f}", longitude=f"{lon:.4f}")
    return body


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--packages", type=int, default=2000)
    parser.add_argument("--vans", type=int, default=25)
    parser.add_argument("--bookings", type=int, default=50)
    parser.add_argument("--plan-seconds", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    admin_url = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/10"
    engine, db_url = scratch_database(admin_url)
    try:
        migrate.upgrade(db_url)
        app = create_app(
            {
                "DATABASE_URL": db_url,
                "REDIS_URL": redis_url,
                "DATA_DIR": tempfile.mkdtemp(prefix="bench-online-"),
                "ENV": "test",
                "RATE_LIMIT_PER_MINUTE": 0,
                "LOG_LEVEL": "WARNING",
            }
        )
        container = app.extensions["handoff"]
        container.redis.flushdb()
        _, key = create_tenant_key(container, "bench", "bench", ["platform", "ops"], "bench")
        headers = {"Authorization": f"Bearer {key}"}
        client = app.test_client()
        rng = random.Random(args.seed)

        t0 = time.perf_counter()
        first = None
        for i in range(args.packages):
            resp = client.post("/v1/shipments", json=_body(rng, f"DAY-{i}"), headers=headers)
            assert resp.status_code == 201, resp.get_json()
            first = first or resp.get_json()
        booked_s = time.perf_counter() - t0
        assert first is not None
        day = datetime.fromisoformat(first["created_at"]).astimezone(ZoneInfo("America/New_York")).date()

        depot = client.post("/v1/allocation/depots", json=DEPOT, headers=headers)
        assert depot.status_code == 201, depot.get_json()
        depot_id = depot.get_json()["id"]
        for i in range(args.vans):
            van = client.post(
                "/v1/allocation/vehicles",
                json=vehicle_body(depot_id, name=f"Van {i + 1}", max_stops=120, cost_per_day="40.00"),
                headers=headers,
            )
            assert van.status_code == 201, van.get_json()

        t0 = time.perf_counter()
        plan = client.post(
            "/v1/allocation/plans",
            json={"day": day.isoformat(), "time_limit_s": str(args.plan_seconds), "seed": args.seed},
            headers=headers,
        )
        assert plan.status_code == 202, plan.get_json()
        worker.run(app, burst=True, worker_class=SimpleWorker)
        done = client.get(f"/v1/allocation/plans/{plan.get_json()['id']}", headers=headers).get_json()
        assert done["state"] == "done", done
        plan_s = time.perf_counter() - t0
        applied = client.post(f"/v1/allocation/plans/{done['id']}/apply", json={}, headers=headers)

        ids = []
        for i in range(args.bookings):
            resp = client.post("/v1/shipments", json=_body(rng, f"LATE-{i}"), headers=headers)
            assert resp.status_code == 201, resp.get_json()
            ids.append(resp.get_json()["id"])

        statements = [0]

        def count(*_a: Any, **_k: Any) -> None:
            statements[0] += 1

        decide_ms: list[float] = []
        read_ms: list[float] = []
        outcomes: dict[str, int] = {}
        sa.event.listen(container.engine, "before_cursor_execute", count)
        for shipment_id in ids:
            t = time.perf_counter()
            resp = client.post(f"/v1/shipments/{shipment_id}/allocate", json={}, headers=headers)
            decide_ms.append((time.perf_counter() - t) * 1000)
            assert resp.status_code == 200, resp.get_json()
            carrier = resp.get_json().get("carrier") or "?"
            outcomes[carrier] = outcomes.get(carrier, 0) + 1
        decide_statements = statements[0] / len(ids)
        statements[0] = 0
        for shipment_id in ids:
            t = time.perf_counter()
            resp = client.get(f"/v1/shipments/{shipment_id}", headers=headers)
            read_ms.append((time.perf_counter() - t) * 1000)
            assert resp.status_code == 200
        read_statements = statements[0] / len(ids)
        sa.event.remove(container.engine, "before_cursor_execute", count)
        container.dispose()

        load = os.getloadavg()
        print(
            f"day: {args.packages} shipments booked in {booked_s:.1f} s; {args.vans} vans; plan {plan_s:.1f} s"
        )
        print(f"plan: {done['result'].get('summary', {}) if done.get('result') else done}"[:300])
        print(f"plan applied: HTTP {applied.status_code}")
        print(f"online decisions: {len(ids)} bookings, outcomes {outcomes}")
        print(
            f"POST /v1/shipments/{{id}}/allocate: median {statistics.median(decide_ms):.1f} ms, "
            f"p90 {_pct(decide_ms, 0.9):.1f} ms, max {max(decide_ms):.1f} ms, "
            f"{decide_statements:.1f} SQL statements each"
        )
        print(
            f"baseline GET /v1/shipments/{{id}}: median {statistics.median(read_ms):.1f} ms, "
            f"p90 {_pct(read_ms, 0.9):.1f} ms, max {max(read_ms):.1f} ms, {read_statements:.1f} SQL statements each"
        )
        print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (2 cores)")
    finally:
        drop_database(engine, db_url)


if __name__ == "__main__":
    main()
