"""Benchmark the allocation optimizer and print one table.

Sections: Solomon VRPTW in fleet-only mode (gap to the DIMACS best-known distance), the VRPPC
instance CE-01 in fleet-or-carrier mode (against the quoted best), a generated day against the
complete baselines (``allocation.baselines``: every package placed, late ones and failed
deliveries counted, the latter at ``FAILED_DELIVERY_PENALTY``), and solve time and cost as the
day grows. Solver rows show wall time against the time limit, which is a contract (limit + 2 s). Both routing engines run side by side
where it applies. Every solved day also shows its gap to the proven lower bound
(``allocation.bounds``), and the public instances a "lower bound" row: how far below the best
known cost the bound lies. Reads ``../shared/bench`` relative to the repository root.

    nice -n 10 .venv/bin/python bench/allocation.py --seconds 30
    .venv/bin/python bench/allocation.py --sections solomon --instances C101,R101 --seconds 5
    .venv/bin/python bench/allocation.py --sections solomon,vrppc --engines ""   # lower bounds only
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import itertools
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from allocation import baselines, bounds, generator, model, online, solver

SHARED = ROOT / ".." / "shared" / "bench"
SECTIONS = ("solomon", "vrppc", "day", "scale", "converge")


def _rows_after(lines: list[str], marker: str) -> list[list[str]]:
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(marker))
    return [line.split() for line in lines[start + 1 :] if line.split() and line.split()[0].isdigit()]


def solomon_problem(path: Path) -> solver.RoutingProblem:
    """Build a Solomon instance with every arc truncated to one decimal (DIMACS), scaled by 10."""
    lines = path.read_text().splitlines()
    vehicle_line = _rows_after(lines, "NUMBER")[0]
    count, capacity = int(vehicle_line[0]), int(vehicle_line[1])
    rows = [list(map(float, r)) for r in _rows_after(lines, "CUST NO.")]
    xy = np.array([(r[1], r[2]) for r in rows])
    diff = xy[:, None, :] - xy[None, :, :]
    # Truncate to one decimal as the DIMACS convention does; scale by 10 to stay integral.
    dist = np.floor(np.sqrt((diff**2).sum(axis=2)) * 10 + 1e-9).astype(np.int64)
    clients = rows[1:]
    return solver.RoutingProblem(
        distance=dist,
        duration=dist.copy(),
        demand=[(int(r[3]),) for r in clients],
        service=[int(r[6] * 10) for r in clients],
        windows=[(int(r[4] * 10), int(r[5] * 10)) for r in clients],
        prize=[0] * len(clients),
        required=[True] * len(clients),
        vehicle_types=[solver.RoutingVehicleType(count=count, capacity=(capacity,))],
        depot_window=(int(rows[0][4] * 10), int(rows[0][5] * 10)),
        coords=[(float(x), float(y)) for x, y in xy],
    )


VRPPC_SCALE = 1000


def vrppc_problem(path: Path) -> tuple[solver.RoutingProblem, np.ndarray]:
    """Build a VRPPC (CE) instance: optional clients whose prize is the carrier price."""
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("NODE"))
    truck_at = next(i for i, line in enumerate(lines) if line.startswith("TRUCK"))
    nodes = [list(map(float, line.split())) for line in lines[start + 1 : truck_at] if line.split()]
    trucks = [list(map(float, line.split())) for line in lines[truck_at + 1 :] if line.split()]
    xy = np.array([(r[1], r[2]) for r in nodes])
    exact = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
    dist = np.rint(exact * VRPPC_SCALE).astype(np.int64)
    types: dict[tuple[int, int, int], int] = {}
    for cap, fixed, var in ((int(t[1]), round(t[2] * VRPPC_SCALE), round(t[3])) for t in trucks):
        types[(cap, fixed, var)] = types.get((cap, fixed, var), 0) + 1
    clients = nodes[1:]
    problem = solver.RoutingProblem(
        distance=dist,
        duration=np.zeros_like(dist),
        demand=[(int(r[3]),) for r in clients],
        service=[0] * len(clients),
        windows=[(0, 2**40)] * len(clients),
        prize=[round(r[4] * VRPPC_SCALE) for r in clients],
        required=[False] * len(clients),
        vehicle_types=[
            solver.RoutingVehicleType(count=c, capacity=(cap,), fixed_cost=fixed, unit_distance_cost=var)
            for (cap, fixed, var), c in types.items()
        ],
        coords=[(float(x), float(y)) for x, y in xy],
    )
    return problem, exact


def vrppc_exact_cost(
    problem: solver.RoutingProblem, exact: np.ndarray, result: solver.RoutingResult
) -> float:
    """Recompute a VRPPC plan's cost with exact (unrounded) Euclidean distances."""
    cost = 0.0
    served: set[int] = set()
    for r in result.routes:
        vt = problem.vehicle_types[r.vehicle_type]
        nodes = [0, *[c + 1 for c in r.clients], 0]
        cost += vt.fixed_cost / VRPPC_SCALE + vt.unit_distance_cost * sum(
            exact[a, b] for a, b in itertools.pairwise(nodes)
        )
        served.update(r.clients)
    cost += sum(problem.prize[i] for i in range(problem.num_clients) if i not in served) / VRPPC_SCALE
    return cost


def bks() -> dict[str, float]:
    with (SHARED / "solomon" / "bks.csv").open() as fh:
        return {row["instance"]: float(row["dimacs_distance"]) for row in csv.DictReader(fh)}


Row = tuple[str, str, str, str, str, str, str]


def run_solomon(instances: list[str], engines: list[str], seconds: float, seed: int) -> list[Row]:
    best = bks()
    rows: list[Row] = []
    gaps: dict[str, list[float]] = {e: [] for e in engines}
    bound_gaps: list[float] = []
    for name in instances:
        problem = solomon_problem(SHARED / "solomon" / "original" / f"{name}.txt")
        bound_row, bound_gap = _public_bound("solomon", name, problem, best[name] * 10, 10)
        rows.append(bound_row)
        bound_gaps.append(bound_gap)
        print("  ", *rows[-1], file=sys.stderr, flush=True)
        for engine in engines:
            res = solver.route(problem, engine=engine, seconds=seconds, seed=seed)
            if res.feasible:
                dist = res.distance / 10
                gap = (dist - best[name]) / best[name] * 100
                gaps[engine].append(gap)
                rows.append(
                    (
                        "solomon",
                        name,
                        engine,
                        f"{res.seconds:.1f}",
                        f"{dist:.1f}",
                        f"{best[name]:.1f}",
                        f"{gap:.2f} %",
                    )
                )
            else:
                rows.append(
                    ("solomon", name, engine, f"{res.seconds:.1f}", "infeasible", f"{best[name]:.1f}", "-")
                )
            print("  ", *rows[-1], file=sys.stderr, flush=True)
    for engine in engines:
        found = gaps[engine]
        mean = f"{sum(found) / len(found):.2f} %" if found else "-"
        rows.append(("solomon", f"mean of {len(found)}/{len(instances)} feasible", engine, "", "", "", mean))
    if bound_gaps:
        mean_bound = sum(bound_gaps) / len(bound_gaps)
        rows.append(
            (
                "solomon",
                f"mean of {len(bound_gaps)}",
                "lower bound",
                "",
                "",
                "",
                f"{mean_bound:.1f} % below BKS",
            )
        )
    return rows


def _public_bound(
    section: str, name: str, problem: solver.RoutingProblem, best: float, scale: float
) -> tuple[Row, float]:
    """Bound a public instance (``allocation.bounds`` on the routing instance) against its best known."""
    started = time.perf_counter()
    relaxed = bounds.routing_relaxation(problem)
    value = bounds.solve_relaxation(relaxed, np.ones(problem.num_clients, dtype=bool))
    seconds = time.perf_counter() - started
    if value is None:
        return (section, name, "lower bound", f"{seconds:.2f}", "none", f"{best / scale:.2f}", "-"), float(
            "nan"
        )
    gap = (best - value) / best * 100
    row = (
        section,
        name,
        "lower bound",
        f"{seconds:.2f}",
        f"{value / scale:.2f}",
        f"{best / scale:.2f}",
        f"{gap:.1f} % below the best known",
    )
    return row, gap


def run_vrppc(engines: list[str], seconds: float, seed: int) -> list[Row]:
    quoted = 1118.47
    problem, exact = vrppc_problem(SHARED / "vrppc" / "CE-01.txt")
    rows: list[Row] = [_public_bound("vrppc", "CE-01", problem, quoted * VRPPC_SCALE, VRPPC_SCALE)[0]]
    print("  ", *rows[-1], file=sys.stderr, flush=True)
    for engine in engines:
        res = solver.route(problem, engine=engine, seconds=seconds, seed=seed)
        cost = vrppc_exact_cost(problem, exact, res)
        gap = (cost - quoted) / quoted * 100
        rows.append(
            ("vrppc", "CE-01", engine, f"{res.seconds:.1f}", f"{cost:.2f}", f"{quoted:.2f}", f"{gap:.2f} %")
        )
        print("  ", *rows[-1], file=sys.stderr, flush=True)
    return rows


def _baseline_rows(
    problem: model.Problem, section: str, instance: str
) -> tuple[list[Row], dict[str, Decimal]]:
    """Every complete baseline on the day: a row each, and its cost by name.

    Like with like: every method pays the same penalty per failed delivery.
    """
    rows: list[Row] = []
    costs: dict[str, Decimal] = {}
    for name, fn in baselines.BASELINES.items():
        started = time.perf_counter()
        plan = fn(problem)
        costs[name] = baselines.penalised_cost(plan)
        rows.append(
            (
                section,
                instance,
                f"baseline: {name}",
                f"{time.perf_counter() - started:.1f}",
                f"{costs[name]:.2f}",
                "",
                _delivery_note(plan),
            )
        )
        print("  ", *rows[-1], file=sys.stderr, flush=True)
    return rows, costs


def run_day(packages: int, engines: list[str], seconds: float, seed: int) -> list[Row]:
    problem = generator.generate_day(packages=packages, seed=seed)
    rows, base_costs = _baseline_rows(problem, "day", f"{packages} pkgs")
    best_base = min(base_costs.values())
    for engine in engines:
        started = time.perf_counter()
        plan = solver.solve(problem, model.SolveOptions(engine=engine, time_limit_s=seconds, seed=seed))
        wall = time.perf_counter() - started
        cost = baselines.penalised_cost(plan)
        saving = (best_base - cost) / best_base * 100
        rows.append(
            (
                "day",
                f"{packages} pkgs",
                engine,
                f"{wall:.1f} / {seconds:.0f}",
                f"{cost:.2f}",
                f"{best_base:.2f}",
                f"{saving:.1f} % cheaper, {_gap_note(plan)}"
                + (f", {_delivery_note(plan)}" if _delivery_note(plan) else ""),
            )
        )
        print("  ", *rows[-1], file=sys.stderr, flush=True)
        if engine == engines[0]:
            rows.append(_online_row(problem, plan, packages, seed))
    return rows


def run_converge(
    sizes: list[int], limits: list[float], long_limit: float, workers: list[int], seed: int
) -> list[Row]:
    """Issue 22 item 4: the short plan against a long run of the same solver, and every complete baseline.

    Days from the generator with vans in proportion (21 vans for 1,500 packages, as in the issue's
    independent days). Each short run is repeated with every worker count; the long run uses the most.
    """
    rows: list[Row] = []
    for size, limit in zip(sizes, limits, strict=True):
        vans = max(5, round(size * 21 / 1500))
        problem = generator.generate_day(packages=size, vans=vans, seed=seed)
        baseline_rows, base = _baseline_rows(problem, "converge", f"{size} pkgs, {vans} vans")
        rows += baseline_rows
        long_plan = solver.solve(
            problem, model.SolveOptions(time_limit_s=long_limit, seed=seed, workers=max(workers))
        )
        long_cost = baselines.penalised_cost(long_plan)
        for w in workers:
            started = time.perf_counter()
            plan = solver.solve(problem, model.SolveOptions(time_limit_s=limit, seed=seed, workers=w))
            wall = time.perf_counter() - started
            cost = baselines.penalised_cost(plan)
            # Packages the long run delivers that this plan leaves undelivered.
            dropped = len(set(plan.unassigned) - set(long_plan.unassigned))
            rows.append(
                (
                    "converge",
                    f"{size} pkgs, {vans} vans",
                    f"pyvrp x{w}",
                    f"{wall:.1f} / {limit:.0f}",
                    f"{cost:.2f}",
                    f"{long_cost:.2f} ({long_limit:.0f} s)",
                    f"{(cost - long_cost) / long_cost * 100:+.2f} % vs the long run; "
                    f"{_savings_note(cost, base)}; {_gap_note(plan)}; {dropped} undelivered the long run "
                    "delivers" + (f"; {_delivery_note(plan)}" if _delivery_note(plan) else ""),
                )
            )
            print("  ", *rows[-1], file=sys.stderr, flush=True)
        rows.append(
            (
                "converge",
                f"{size} pkgs, {vans} vans",
                f"pyvrp x{max(workers)} long",
                f"{long_plan.solve_seconds:.1f} / {long_limit:.0f}",
                f"{long_cost:.2f}",
                "",
                f"{_savings_note(long_cost, base)}; {_gap_note(long_plan)}"
                + (f"; {_delivery_note(long_plan)}" if _delivery_note(long_plan) else ""),
            )
        )
        print("  ", *rows[-1], file=sys.stderr, flush=True)
    return rows


def _savings_note(cost: Decimal, base: dict[str, Decimal]) -> str:
    """Say how much cheaper a plan is than every complete baseline, cheapest baseline first."""
    return "below " + ", ".join(
        f"{name} {(b - cost) / b * 100:.1f} %" for name, b in sorted(base.items(), key=lambda kv: kv[1])
    )


def _gap_note(plan: model.Plan) -> str:
    """Say how far the plan is above its proven lower bound (``Plan.lower_bound``)."""
    if plan.lower_bound is None or plan.gap is None:
        return "no lower bound"
    return f"{plan.gap * 100:.1f} % above the bound {plan.lower_bound.amount:.2f}"


def _delivery_note(plan: model.Plan) -> str:
    """Say how many packages go late or fail (failures are in the cost at the stated penalty)."""
    notes = []
    if plan.late:
        notes.append(f"{len(plan.late)} late")
    if plan.unassigned:
        notes.append(f"{len(plan.unassigned)} failed at {baselines.FAILED_DELIVERY_PENALTY} each")
    return ", ".join(notes)


def _online_row(problem: model.Problem, plan: model.Plan, packages: int, seed: int) -> Row:
    """Time 50 single bookings decided against the batch plan by cheapest insertion."""
    newcomers = generator.generate_day(packages=50, vans=1, seed=seed + 1000).packages
    times = []
    for p in newcomers:
        booking = dataclasses.replace(p, id=f"NEW-{p.id}")
        started = time.perf_counter()
        online.decide(problem, plan, booking, generator.partner_options(booking))
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return (
        "online",
        f"{packages} pkgs",
        "cheapest insertion",
        "",
        "",
        "target < 100 ms",
        f"median {times[len(times) // 2]:.1f} ms, max {times[-1]:.1f} ms over {len(times)} bookings",
    )


def print_table(rows: list[Row]) -> None:
    header = (
        "section",
        "instance",
        "engine / method",
        "seconds [/ limit]",
        "cost",
        "reference",
        "gap / saving",
    )
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    print(line)
    print("-|-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma list of " + ", ".join(SECTIONS))
    parser.add_argument("--instances", default="", help="Solomon instances (default: all 29)")
    parser.add_argument("--seconds", type=float, default=30.0, help="time per Solomon/VRPPC instance")
    parser.add_argument("--engines", default=",".join(solver.ENGINES))
    parser.add_argument("--day-packages", type=int, default=2000)
    parser.add_argument("--day-seconds", type=float, default=60.0)
    parser.add_argument("--sizes", default="500,1000,2000,5000", help="package counts for the scale section")
    parser.add_argument("--scale-seconds", default="", help="comma list of time limits per size (default 60)")
    parser.add_argument("--scale-engines", default="pyvrp,ortools", help="engines for the scale section")
    parser.add_argument(
        "--ortools-max-packages",
        type=int,
        default=1000,
        help="largest scale-section day given to OR-Tools, whose Python-built matrices grow quadratically",
    )
    parser.add_argument("--converge-sizes", default="500,1500,5000", help="package counts, converge section")
    parser.add_argument("--converge-seconds", default="60,60,120", help="the short limit per size")
    parser.add_argument("--converge-long", type=float, default=300.0, help="the long run's limit")
    parser.add_argument("--converge-workers", default="1,2", help="worker counts for the short runs")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    if not SHARED.is_dir():
        print(f"no benchmark data at {SHARED.resolve()}; the Solomon and VRPPC sections need ../shared/bench")
    sections = [s for s in args.sections.split(",") if s]
    engines = [e for e in args.engines.split(",") if e]
    rows: list[Row] = []
    if "solomon" in sections and SHARED.is_dir():
        names = [n for n in args.instances.split(",") if n] or sorted(
            p.stem for p in (SHARED / "solomon" / "original").glob("*.txt")
        )
        rows += run_solomon(names, engines, args.seconds, args.seed)
    if "vrppc" in sections and SHARED.is_dir():
        rows += run_vrppc(engines, args.seconds, args.seed)
    if "day" in sections:
        rows += run_day(args.day_packages, engines, args.day_seconds, args.seed)
    if "scale" in sections:
        sizes = [int(s) for s in args.sizes.split(",") if s]
        limits = [float(s) for s in args.scale_seconds.split(",") if s] or [60.0] * len(sizes)
        if len(limits) != len(sizes):
            parser.error("--scale-seconds needs one time limit per size")
        for size, limit in zip(sizes, limits, strict=True):
            problem = generator.generate_day(packages=size, seed=args.seed)
            rate_shopping = baselines.penalised_cost(baselines.cheapest_partner(problem))
            for engine in [e for e in args.scale_engines.split(",") if e]:
                if engine == "ortools" and size > args.ortools_max_packages:
                    continue
                started = time.perf_counter()
                plan = solver.solve(
                    problem, model.SolveOptions(engine=engine, time_limit_s=limit, seed=args.seed)
                )
                wall = time.perf_counter() - started
                cost = baselines.penalised_cost(plan)
                used = sum(1 for r in plan.routes)
                rows.append(
                    (
                        "scale",
                        f"{size} pkgs",
                        engine,
                        f"{wall:.1f} / {limit:.0f}",
                        f"{cost:.2f}",
                        f"{rate_shopping:.2f}",
                        f"{(rate_shopping - cost) / rate_shopping * 100:.1f} % below cheapest"
                        f" partner; {used} vans, {plan.fleet_share_percent():.0f} % fleet; {_gap_note(plan)}"
                        + (f"; {_delivery_note(plan)}" if _delivery_note(plan) else ""),
                    )
                )
                print("  ", *rows[-1], file=sys.stderr, flush=True)
    if "converge" in sections:
        sizes = [int(s) for s in args.converge_sizes.split(",") if s]
        limits = [float(s) for s in args.converge_seconds.split(",") if s]
        if len(limits) != len(sizes):
            parser.error("--converge-seconds needs one time limit per size")
        workers = [int(w) for w in args.converge_workers.split(",") if w]
        rows += run_converge(sizes, limits, args.converge_long, workers, args.seed)
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
