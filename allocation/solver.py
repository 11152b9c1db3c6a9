"""The one module that touches solver libraries: routing (PyVRP or OR-Tools) and CP-SAT.

Two layers. ``route`` solves an integer routing instance (``RoutingProblem``) with either engine
behind one interface; the benchmark calls it directly. ``solve`` plans a whole day
(``model.Problem``): rules are evaluated, the fleet-versus-partner choice is routed as a
prize-collecting VRP (a package left off the fleet costs its best eligible partner price), and
CP-SAT then assigns the non-fleet packages to partners under caps, commitments and ship-together
groups. CP-SAT may also pull packages off routes (removing a stop never breaks a route's
capacity, time windows, stop count or shift when travel times obey the triangle inequality), so
the decomposition stays sound. Packages CP-SAT cannot place while the fleet could take them are
first inserted into the routes, and otherwise made fleet-required and routed again from the
last routes. Every round's plan is complete; the best one is returned, within the time limit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import multiprocessing
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pyvrp
import pyvrp.search
import pyvrp.stop
from ortools.constraint_solver import pywrapcp, routing_enums_pb2
from ortools.sat.python import cp_model

from allocation import bounds, model, online, plan, rules

ENGINES: tuple[str, ...] = ("pyvrp", "ortools")
DEFAULT_ENGINE = "pyvrp"

# Internal money scale: micro-units of the currency, so per-metre and per-second costs stay
# integral with negligible rounding (the reported plan is recomputed exactly in Decimal).
_MICRO = Decimal(1_000_000)
_UNREACHABLE = 10**12


class SolverError(ValueError):
    """The routing instance or solve options are inconsistent."""


# --------------------------------------------------------------------------------------------
# Routing layer: integers only, node 0 is the depot, clients are 1..n.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoutingVehicleType:
    """Vehicles sharing capacity, shift and cost; all values are integers in instance units."""

    count: int
    capacity: tuple[int, ...]
    fixed_cost: int = 0
    unit_distance_cost: int = 1
    unit_duration_cost: int = 0
    shift_start: int = 0
    shift_end: int = 2**40
    max_duration: int = 2**40
    name: str = ""


@dataclass(slots=True)
class RoutingProblem:
    """An integer VRP with time windows and optional (prize-collecting) clients."""

    distance: np.ndarray  # (n+1) x (n+1), int64
    duration: np.ndarray  # (n+1) x (n+1), int64
    demand: Sequence[tuple[int, ...]]  # per client
    service: Sequence[int]  # per client
    windows: Sequence[tuple[int, int]]  # per client: earliest, latest service start
    prize: Sequence[int]  # per client; ignored when required
    required: Sequence[bool]  # per client
    vehicle_types: Sequence[RoutingVehicleType]
    depot_window: tuple[int, int] = (0, 2**40)
    coords: Sequence[tuple[float, float]] | None = None  # node 0..n, only to guide PyVRP
    # Cap on PyVRP's adaptive penalty per unit of excess load or time warp. Its default (1e5)
    # is too small when prizes are large integers: late routes then look worth their prizes.
    max_penalty: float | None = None

    @property
    def num_clients(self) -> int:
        return len(self.demand)


@dataclass(frozen=True, slots=True)
class RoutedVehicle:
    """One used vehicle: its type, client indices (0-based) in order, and service start times."""

    vehicle_type: int
    clients: tuple[int, ...]
    starts: tuple[int, ...]
    depart: int
    back: int
    distance: int


@dataclass(frozen=True, slots=True)
class RoutingResult:
    """The best plan an engine found; ``cost`` counts route costs plus uncollected prizes."""

    engine: str
    feasible: bool
    routes: tuple[RoutedVehicle, ...]
    cost: int
    distance: int
    seconds: float


def route(
    problem: RoutingProblem,
    *,
    engine: str = DEFAULT_ENGINE,
    seconds: float = 5.0,
    seed: int = 0,
    max_iterations: int | None = None,
    warm_start: Sequence[RoutedVehicle] | None = None,
    workers: int = 1,
) -> RoutingResult:
    """Solve a routing instance with the named engine within the time limit.

    The limit is wall time from this call, model building and the engine's first solution
    included. ``warm_start`` gives routes to start from (an empty sequence starts from no
    routes at all, which is instant); None lets the engine construct its own first solution.
    ``workers`` > 1 (PyVRP only) runs that many searches with seeds ``seed``, ``seed + 1``, …
    side by side, one in this process and the rest in child processes, and keeps the best.
    """
    _check(problem)
    if engine == "pyvrp":
        deadline = time.perf_counter() + seconds
        if workers > 1:
            return _route_pyvrp_parallel(problem, deadline, seed, max_iterations, warm_start, workers)
        return _route_pyvrp(problem, deadline, seed, max_iterations, warm_start)
    if engine == "ortools":
        return _route_ortools(problem, seconds, seed, max_iterations, warm_start)
    raise SolverError(f"unknown routing engine {engine!r}; choose one of {', '.join(ENGINES)}")


def _check(problem: RoutingProblem) -> None:
    n = problem.num_clients
    if problem.distance.shape != (n + 1, n + 1) or problem.duration.shape != (n + 1, n + 1):
        raise SolverError(f"matrices must be {(n + 1)}x{(n + 1)} for {n} clients")
    lengths = {len(problem.service), len(problem.windows), len(problem.prize), len(problem.required)}
    if lengths != {n}:
        raise SolverError("demand, service, windows, prize and required must all have one entry per client")
    if not problem.vehicle_types:
        raise SolverError("at least one vehicle type is needed")
    dims = {len(vt.capacity) for vt in problem.vehicle_types} | {len(d) for d in problem.demand}
    if len(dims) > 1:
        raise SolverError("every demand and capacity needs the same number of load dimensions")


def _cost_of(problem: RoutingProblem, routes: Sequence[RoutedVehicle]) -> tuple[int, int]:
    """Return (route costs + uncollected prizes, distance) for routes, as the engines count them."""
    visited: set[int] = set()
    cost = 0
    dist = 0
    for r in routes:
        vt = problem.vehicle_types[r.vehicle_type]
        cost += (
            vt.fixed_cost + vt.unit_distance_cost * r.distance + vt.unit_duration_cost * (r.back - r.depart)
        )
        dist += r.distance
        visited.update(r.clients)
    cost += sum(problem.prize[i] for i in range(problem.num_clients) if i not in visited)
    return cost, dist


class _Deadline:
    """PyVRP stopping criterion on a wall-clock instant (``MaxRuntime`` starts its clock only
    after the engine's first solution, which takes seconds on a large day)."""

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline

    def __call__(self, best_cost: float) -> bool:
        return time.perf_counter() >= self._deadline


# Routing instances above this many clients search fewer granular neighbours (PyVRP's default is 50).
_LARGE_ROUTING = 1000
_LARGE_NEIGHBOURS = 30

# Child processes are spawned, never forked: the caller may be a worker with threads (a heartbeat) and
# open sockets a forked child would share. A child imports this module (about half a second) and
# stops at the same wall-clock deadline as the parent's own search.
_SPAWN = multiprocessing.get_context("spawn")
# How long past the deadline a child may take to hand back its routes before it is left out.
_CHILD_GRACE_S = 1.0


def _route_pyvrp_parallel(
    problem: RoutingProblem,
    deadline: float,
    seed: int,
    max_iterations: int | None,
    warm_start: Sequence[RoutedVehicle] | None,
    workers: int,
) -> RoutingResult:
    """The best of ``workers`` PyVRP searches with consecutive seeds, all stopping at ``deadline``.

    ``time.perf_counter`` is the system-wide monotonic clock on Linux, so one deadline holds in
    every process. A child that fails or is late is left out: the parent's own search always
    counts, so the answer is never worse than a single search's.
    """
    started = time.perf_counter()
    pool = _SPAWN.Pool(workers - 1)
    try:
        pending = [
            pool.apply_async(_route_pyvrp, (problem, deadline, seed + k, max_iterations, warm_start))
            for k in range(1, workers)
        ]
        results = [_route_pyvrp(problem, deadline, seed, max_iterations, warm_start)]
        for job in pending:
            # A helper search that failed or overran is only a lost try.
            with contextlib.suppress(Exception):  # multiprocessing.TimeoutError included
                results.append(job.get(timeout=max(0.0, deadline - time.perf_counter()) + _CHILD_GRACE_S))
    finally:
        pool.terminate()  # never wait on a child: the limit is a contract
    best = min(results, key=lambda r: (not r.feasible, r.cost))
    return dataclasses.replace(best, seconds=time.perf_counter() - started)


def _route_pyvrp(
    problem: RoutingProblem,
    deadline: float,
    seed: int,
    max_iterations: int | None,
    warm_start: Sequence[RoutedVehicle] | None,
) -> RoutingResult:
    started = time.perf_counter()
    n = problem.num_clients
    coords = problem.coords or [(0.0, 0.0)] * (n + 1)
    locations = [pyvrp.Location(x=float(x), y=float(y)) for x, y in coords]
    d_early, d_late = problem.depot_window
    depots = [pyvrp.Depot(location=0, tw_early=d_early, tw_late=d_late)]
    clients = [
        pyvrp.Client(
            location=i + 1,
            delivery=list(problem.demand[i]),
            service_duration=int(problem.service[i]),
            tw_early=int(problem.windows[i][0]),
            tw_late=int(problem.windows[i][1]),
            prize=0 if problem.required[i] else int(problem.prize[i]),
            required=bool(problem.required[i]),
        )
        for i in range(n)
    ]
    vehicle_types = [
        pyvrp.VehicleType(
            num_available=vt.count,
            capacity=list(vt.capacity),
            fixed_cost=vt.fixed_cost,
            tw_early=max(vt.shift_start, d_early),
            tw_late=min(vt.shift_end, d_late),
            shift_duration=vt.max_duration,
            unit_distance_cost=vt.unit_distance_cost,
            unit_duration_cost=vt.unit_duration_cost,
            name=vt.name,
        )
        for vt in problem.vehicle_types
    ]
    data = pyvrp.ProblemData(
        locations=locations,
        clients=clients,
        depots=depots,
        vehicle_types=vehicle_types,
        # pyvrp's stubs spell the matrix type np.ndarray[int], which numpy's generic rejects.
        distance_matrices=[np.ascontiguousarray(problem.distance, dtype=np.int64)],  # type: ignore[list-item]
        duration_matrices=[np.ascontiguousarray(problem.duration, dtype=np.int64)],  # type: ignore[list-item]
    )
    stop: pyvrp.stop.StoppingCriterion = _Deadline(deadline)
    if max_iterations is not None:
        stop = pyvrp.stop.MultipleCriteria([stop, pyvrp.stop.MaxIterations(max_iterations)])
    settings: dict[str, Any] = {}
    if problem.max_penalty is not None:
        settings["penalty"] = pyvrp.PenaltyParams(max_penalty=problem.max_penalty)
    if n > _LARGE_ROUTING:
        # Fewer granular neighbours make each local-search pass cheaper, so a large day gets further in
        # its time: on the 1,500-package bench day at 60 s, 30 neighbours came 1.05 % above the 300 s
        # plan (mean of 3 seeds) against 1.90 % with PyVRP's 50 (docs/benchmarks/allocation.md).
        settings["neighbourhood"] = pyvrp.search.NeighbourhoodParams(num_neighbours=_LARGE_NEIGHBOURS)
    params = pyvrp.SolveParams(**settings)
    initial = None
    if warm_start is not None:
        initial = pyvrp.Solution(
            data, [pyvrp.Route(data, list(r.clients), r.vehicle_type) for r in warm_start if r.clients]
        )
    result = pyvrp.solve(
        data,
        stop=stop,
        seed=seed,
        collect_stats=False,
        display=False,
        params=params,
        initial_solution=initial,
    )
    best = result.best
    routes: list[RoutedVehicle] = []
    for r in best.routes():
        visits = [act for act in r.schedule() if act.is_client()]
        # Client activities carry the 0-based index into the clients list.
        routes.append(
            RoutedVehicle(
                vehicle_type=r.vehicle_type(),
                clients=tuple(act.idx for act in visits),
                starts=tuple(act.start_time for act in visits),
                depart=r.start_time(),
                back=r.end_time(),
                distance=r.distance(),
            )
        )
    cost, dist = _cost_of(problem, routes)
    return RoutingResult(
        engine="pyvrp",
        feasible=best.is_feasible(),
        routes=tuple(routes),
        cost=cost,
        distance=dist,
        seconds=time.perf_counter() - started,
    )


def _route_ortools(
    problem: RoutingProblem,
    seconds: float,
    seed: int,
    max_iterations: int | None,
    warm_start: Sequence[RoutedVehicle] | None,
) -> RoutingResult:
    started = time.perf_counter()
    n = problem.num_clients
    types = [t for t, vt in enumerate(problem.vehicle_types) for _ in range(vt.count)]
    manager = pywrapcp.RoutingIndexManager(n + 1, len(types), 0)
    routing = pywrapcp.RoutingModel(manager)
    dist = problem.distance
    dur = problem.duration
    service = [0, *[int(s) for s in problem.service]]

    # One arc-cost callback per distinct unit distance cost; the per-hour part is a span cost.
    arc_callbacks: dict[int, int] = {}
    for v, t in enumerate(types):
        unit = problem.vehicle_types[t].unit_distance_cost
        if unit not in arc_callbacks:
            arc_callbacks[unit] = routing.RegisterTransitMatrix((dist * unit).tolist())
        routing.SetArcCostEvaluatorOfVehicle(arc_callbacks[unit], v)
        routing.SetFixedCostOfVehicle(problem.vehicle_types[t].fixed_cost, v)

    horizon = int(min(problem.depot_window[1], max(vt.shift_end for vt in problem.vehicle_types)))
    time_matrix = (dur + np.array(service, dtype=np.int64)[:, None]).tolist()
    time_cb = routing.RegisterTransitMatrix(time_matrix)
    routing.AddDimension(time_cb, horizon, horizon, False, "time")
    time_dim = routing.GetDimensionOrDie("time")
    for i in range(n):
        early, late = problem.windows[i]
        time_dim.CumulVar(manager.NodeToIndex(i + 1)).SetRange(int(early), int(min(late, horizon)))
    for v, t in enumerate(types):
        vt = problem.vehicle_types[t]
        lo = int(max(vt.shift_start, problem.depot_window[0]))
        hi = int(min(vt.shift_end, horizon))
        time_dim.CumulVar(routing.Start(v)).SetRange(lo, hi)
        time_dim.CumulVar(routing.End(v)).SetRange(lo, hi)
        time_dim.SetSpanUpperBoundForVehicle(int(min(vt.max_duration, hi - lo)), v)
        if vt.unit_duration_cost:
            time_dim.SetSpanCostCoefficientForVehicle(vt.unit_duration_cost, v)
        routing.AddVariableMinimizedByFinalizer(time_dim.CumulVar(routing.Start(v)))
        routing.AddVariableMinimizedByFinalizer(time_dim.CumulVar(routing.End(v)))

    for k in range(len(problem.vehicle_types[0].capacity)):
        demand_cb = routing.RegisterUnaryTransitVector([0, *[int(d[k]) for d in problem.demand]])
        caps = [int(problem.vehicle_types[t].capacity[k]) for t in types]
        routing.AddDimensionWithVehicleCapacity(demand_cb, 0, caps, True, f"load{k}")

    for i in range(n):
        if not problem.required[i]:
            routing.AddDisjunction([manager.NodeToIndex(i + 1)], int(problem.prize[i]))

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    remaining = max(0.1, seconds - (time.perf_counter() - started))
    params.time_limit.FromMilliseconds(int(remaining * 1000))
    if max_iterations is not None:
        params.solution_limit = max_iterations
    del seed  # OR-Tools routing has no seed; a solution limit makes it deterministic
    initial = None
    if warm_start:
        slots = {t: [v for v, vt in enumerate(types) if vt == t] for t in set(types)}
        per_vehicle: list[list[int]] = [[] for _ in types]
        for r in warm_start:
            if r.clients and slots.get(r.vehicle_type):
                per_vehicle[slots[r.vehicle_type].pop(0)] = [manager.NodeToIndex(c + 1) for c in r.clients]
        routing.CloseModelWithParameters(params)
        initial = routing.ReadAssignmentFromRoutes(per_vehicle, True)
    if initial is not None:
        solution = routing.SolveFromAssignmentWithParameters(initial, params)
    else:
        solution = routing.SolveWithParameters(params)
    routes: list[RoutedVehicle] = []
    if solution is not None:
        for v, t in enumerate(types):
            index = routing.Start(v)
            clients: list[int] = []
            starts: list[int] = []
            travelled = 0
            depart = solution.Value(time_dim.CumulVar(index))
            prev = 0
            index = solution.Value(routing.NextVar(index))
            while not routing.IsEnd(index):
                node = manager.IndexToNode(index)
                clients.append(node - 1)
                starts.append(solution.Value(time_dim.CumulVar(index)))
                travelled += int(dist[prev, node])
                prev = node
                index = solution.Value(routing.NextVar(index))
            if clients:
                travelled += int(dist[prev, 0])
                back = solution.Value(time_dim.CumulVar(index))
                routes.append(RoutedVehicle(t, tuple(clients), tuple(starts), depart, back, travelled))
    cost, total_dist = _cost_of(problem, routes)
    served = {c for r in routes for c in r.clients}
    feasible = solution is not None and all(i in served or not problem.required[i] for i in range(n))
    return RoutingResult(
        engine="ortools",
        feasible=feasible,
        routes=tuple(routes),
        cost=cost,
        distance=total_dist,
        seconds=time.perf_counter() - started,
    )


# --------------------------------------------------------------------------------------------
# Day planning: rules, prize-collecting routing, then CP-SAT for the partner assignment.
# --------------------------------------------------------------------------------------------


def distance_matrix_km(problem: model.Problem, points: Sequence[model.Location]) -> np.ndarray:
    """Return road km between every pair of points, as the problem's distance model says."""
    x = np.array([p.x for p in points], dtype=float)
    y = np.array([p.y for p in points], dtype=float)
    if problem.distance_model == "haversine":
        lat, lon = np.radians(y), np.radians(x)
        dlat = lat[:, None] - lat[None, :]
        dlon = lon[:, None] - lon[None, :]
        h = np.sin(dlat / 2) ** 2 + np.cos(lat)[:, None] * np.cos(lat)[None, :] * np.sin(dlon / 2) ** 2
        straight = 2 * 6371.0088 * np.arcsin(np.minimum(1.0, np.sqrt(h)))
    else:
        straight = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    km: np.ndarray = straight * float(problem.road_factor)
    return km


def _micro(amount: Decimal) -> int:
    return int((amount * _MICRO).to_integral_value())


@dataclass(slots=True)
class _Instance:
    """A day's routing instance and the maps back to package and vehicle ids."""

    routing: RoutingProblem
    package_ids: list[str]  # client index -> package id
    type_vehicles: list[list[str]]  # vehicle type -> vehicle ids
    km: np.ndarray


def _routing_instance(
    problem: model.Problem, ev: rules.Evaluation, candidates: list[str], must: set[str]
) -> _Instance:
    packages = {p.id: p for p in problem.packages}
    pkgs = [packages[i] for i in candidates]
    km = distance_matrix_km(problem, [problem.depot.location, *(p.location for p in pkgs)])
    metres = np.rint(km * 1000).astype(np.int64)
    speed = float(plan_speed(problem))
    seconds = np.ceil(km * 3600 / speed).astype(np.int64)
    prizes: list[int] = []
    for p in pkgs:
        allowed = ev.allowed[p.id]
        partner = min((allowed.biased_cost(c) for c in allowed.carriers), default=None)
        fleet_bias = allowed.bias.get(model.FLEET, Decimal(0))
        prizes.append(-1 if partner is None else max(0, _micro(partner - fleet_bias)))
    # Vans alike in capacity, shift and cost form one routing vehicle type.
    groups: dict[tuple[Decimal, Decimal, int, int, Decimal, Decimal, Decimal, int | None], list[str]] = {}
    for v in problem.vehicles:
        key = (
            v.capacity_kg,
            v.capacity_m3,
            v.shift_start,
            v.shift_end,
            v.cost_per_km,
            v.cost_per_hour,
            v.fixed_cost,
            v.max_stops,
        )
        groups.setdefault(key, []).append(v.id)
    n = len(pkgs)
    types = []
    for key, ids in groups.items():
        cap_kg, cap_m3, start, end, per_km, per_hour, fixed, max_stops = key
        types.append(
            RoutingVehicleType(
                count=len(ids),
                capacity=(
                    int(Decimal(cap_kg) * 1000),
                    int(Decimal(cap_m3) * 1_000_000),
                    int(max_stops) if max_stops is not None else n + 1,
                ),
                fixed_cost=_micro(Decimal(fixed)),
                unit_distance_cost=_micro(Decimal(per_km) / 1000),
                unit_duration_cost=_micro(Decimal(per_hour) / 3600),
                shift_start=int(start) * 60,
                shift_end=int(end) * 60,
                max_duration=(int(end) - int(start)) * 60,
            )
        )
    # A package only the fleet may take must be served unless impossible. A prize above a whole
    # van-day's cost makes that so without turning a tight day into "no feasible plan"; a larger
    # one would drown the engine's adaptive penalties for overloaded or late routes.
    longest = int(metres.max(initial=0))
    big = (
        1
        + max(prizes, default=0)
        + max(
            t.fixed_cost + t.unit_distance_cost * 2 * longest + t.unit_duration_cost * t.max_duration
            for t in types
        )
    )
    for i, p in enumerate(pkgs):
        if prizes[i] < 0 or p.id in must:
            prizes[i] = big
    routing = RoutingProblem(
        distance=metres,
        duration=seconds,
        demand=[
            (
                math.ceil(p.weight_kg * 1000),
                math.ceil(p.volume_m3 * 1_000_000),
                1,
            )
            for p in pkgs
        ],
        service=[p.service_minutes * 60 for p in pkgs],
        windows=[plan.window_seconds(problem, p) for p in pkgs],
        prize=prizes,
        required=[False] * n,
        vehicle_types=types,
        depot_window=(problem.depot.opens * 60, problem.depot.closes * 60),
        coords=[
            (problem.depot.location.x, problem.depot.location.y),
            *((p.location.x, p.location.y) for p in pkgs),
        ],
        # One second late or one gram over must cost more than any prize it could collect.
        max_penalty=float(max(1e5, 10 * max(prizes, default=0))),
    )
    return _Instance(routing, candidates, list(groups.values()), km)


def plan_speed(problem: model.Problem) -> Decimal:
    """Return the travel speed the solver plans with."""
    return plan.fleet_speed_kmh(problem)


@dataclass(slots=True)
class _Assignment:
    partners: dict[str, str]
    pulled: set[str]  # fleet packages moved to a partner or left unassigned
    unassigned: set[str]
    shortfalls: dict[str, int]
    bound: float | None


def _assign(
    problem: model.Problem,
    ev: rules.Evaluation,
    fleet_of: dict[str, str],  # package id -> vehicle id, for packages on routes
    removal_saving: dict[str, int],
    seconds: float,
    seed: int,
    previous: dict[str, str] | None = None,
) -> _Assignment:
    """Assign every non-fleet package to a partner under caps, commitments and groups (CP-SAT).

    ``previous`` (an earlier round's partners, which met the caps) is the hint where it still
    applies; a later round then gets a first solution at once. Without it the solver may retry
    once with more time, since no plan exists yet.
    """
    m = cp_model.CpModel()
    weight_g = {p.id: math.ceil(p.weight_kg * 1000) for p in problem.packages}
    penalty = 10**13  # far above any plan's cost in micro-units: leave unassigned only if forced
    x: dict[tuple[str, str], cp_model.IntVar] = {}
    off: dict[str, cp_model.IntVar] = {}
    unassigned: dict[str, cp_model.IntVar] = {}
    objective = []
    for p in problem.packages:
        allowed = ev.allowed[p.id]
        for c in allowed.carriers:
            x[p.id, c] = m.new_bool_var(f"x[{p.id},{c}]")
            objective.append(_micro(allowed.biased_cost(c)) * x[p.id, c])
        unassigned[p.id] = m.new_bool_var(f"u[{p.id}]")
        objective.append(penalty * unassigned[p.id])
        chosen = sum(x[p.id, c] for c in allowed.carriers) + unassigned[p.id]
        if p.id in fleet_of:
            off[p.id] = m.new_bool_var(f"off[{p.id}]")
            m.add(chosen == off[p.id])
            objective.append(-removal_saving.get(p.id, 0) * off[p.id])
        else:
            m.add(chosen == 1)
    for cap in ev.caps:
        members = [i for i in cap.package_ids if (i, cap.carrier) in x]
        if cap.max_packages is not None:
            m.add(sum(x[i, cap.carrier] for i in members) <= cap.max_packages)
        if cap.max_kg is not None:
            m.add(sum(weight_g[i] * x[i, cap.carrier] for i in members) <= int(cap.max_kg * 1000))
    shortfall: dict[str, cp_model.IntVar] = {}
    for com in ev.commitments:
        members = [i for i in com.package_ids if (i, com.carrier) in x]
        if com.min_packages:
            s = m.new_int_var(0, com.min_packages, f"short[{com.rule_id}]")
            m.add(sum(x[i, com.carrier] for i in members) + s >= com.min_packages)
            shortfall[com.rule_id] = s
            objective.append(penalty // 1000 * s)
        if com.min_kg:
            sk = m.new_int_var(0, int(com.min_kg * 1000) + 1, f"shortkg[{com.rule_id}]")
            m.add(sum(weight_g[i] * x[i, com.carrier] for i in members) + sk >= int(com.min_kg * 1000))
            objective.append(penalty // 10**6 * sk)
            shortfall[com.rule_id + "#kg"] = sk
    for g in ev.groups:
        targets = frozenset.intersection(*(ev.allowed[i].targets for i in g.package_ids))
        vans = {fleet_of.get(i) for i in g.package_ids}
        # The fleet counts as one carrier only if every member already rides the same van.
        fleet_ok = model.FLEET in targets and len(vans) == 1 and None not in vans
        choice = {t: m.new_bool_var(f"g[{g.key},{t}]") for t in targets if t != model.FLEET}
        if fleet_ok:
            choice[model.FLEET] = m.new_bool_var(f"g[{g.key},fleet]")
        if not choice:
            for i in g.package_ids:
                m.add(unassigned[i] == 1)
            continue
        lost = m.new_bool_var(f"g[{g.key},none]")
        m.add(sum(choice.values()) + lost == 1)
        for i in g.package_ids:
            m.add(unassigned[i] == lost)
            for c in ev.allowed[i].carriers:
                if c in choice:
                    m.add(x[i, c] == choice[c])
                else:
                    m.add(x[i, c] == 0)
            if i in off:
                m.add(off[i] == 1 - choice[model.FLEET] if model.FLEET in choice else off[i] == 1)
    # Hint the obvious plan (the earlier round's or the cheapest carrier, every routed stop stays)
    # so a first solution is instant.
    for p in problem.packages:
        allowed = ev.allowed[p.id]
        cheapest = min(allowed.carriers, key=allowed.biased_cost, default=None)
        if previous and previous.get(p.id) in allowed.carriers:
            cheapest = previous[p.id]
        for c in allowed.carriers:
            m.add_hint(x[p.id, c], c == cheapest and p.id not in fleet_of)
        if p.id in off:
            m.add_hint(off[p.id], False)
    m.minimize(sum(objective))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.5, seconds)
    solver.parameters.random_seed = seed
    solver.parameters.num_workers = 1  # deterministic, and the machine has only two cores
    solver.parameters.symmetry_level = 0
    solver.parameters.cp_model_presolve = False
    status = solver.solve(m)
    if status == cp_model.UNKNOWN and previous is None:
        solver.parameters.max_time_in_seconds = 4 * max(1.0, seconds)
        status = solver.solve(m)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise SolverError(f"partner assignment failed: {solver.status_name(status)}")
    partners = {i: c for (i, c), var in x.items() if solver.value(var)}
    return _Assignment(
        partners=partners,
        pulled={i for i, var in off.items() if solver.value(var)},
        unassigned={i for i, var in unassigned.items() if solver.value(var)},
        shortfalls={k: solver.value(v) for k, v in shortfall.items() if solver.value(v)},
        bound=solver.best_objective_bound if status == cp_model.FEASIBLE else None,
    )


def _removal_savings(inst: _Instance, result: RoutingResult) -> dict[str, int]:
    """Return per routed package the integer cost saved by dropping it from its route alone."""
    savings: dict[str, int] = {}
    r = inst.routing
    for rv in result.routes:
        vt = r.vehicle_types[rv.vehicle_type]
        nodes = [0, *(c + 1 for c in rv.clients), 0]
        for k, c in enumerate(rv.clients):
            a, b, d = nodes[k], nodes[k + 1], nodes[k + 2]
            dist = int(r.distance[a, b] + r.distance[b, d] - r.distance[a, d])
            dur = int(r.duration[a, b] + r.duration[b, d] - r.duration[a, d]) + int(r.service[c])
            saving = vt.unit_distance_cost * dist + vt.unit_duration_cost * dur
            if len(rv.clients) == 1:
                saving += vt.fixed_cost
            savings[inst.package_ids[c]] = saving
    return savings


def _repair(problem: model.Problem, fleet: dict[str, list[str]], departs: dict[str, int]) -> None:
    """Drop stops from any route the engine returned infeasible until it holds (rare, short runs)."""
    vans = {v.id: v for v in problem.vehicles}
    for vid, pids in fleet.items():
        if not pids or plan.simulate(problem, vans[vid], pids)[4]:
            continue
        departs.pop(vid, None)
        while pids and not plan.simulate(problem, vans[vid], pids)[4]:
            fixes = [
                k for k in range(len(pids)) if plan.simulate(problem, vans[vid], pids[:k] + pids[k + 1 :])[4]
            ]
            del pids[fixes[0] if fixes else len(pids) - 1]


def _caps_may_bind(problem: model.Problem, ev: rules.Evaluation) -> bool:
    """Return whether some cap is below what its carrier would get as every package's cheapest."""
    weight = {p.id: p.weight_kg for p in problem.packages}
    for cap in ev.caps:
        taken = [
            i
            for i in cap.package_ids
            if ev.allowed[i].carriers
            and min(ev.allowed[i].carriers, key=ev.allowed[i].biased_cost) == cap.carrier
        ]
        if cap.max_packages is not None and len(taken) > cap.max_packages:
            return True
        if cap.max_kg is not None and sum((weight[i] for i in taken), Decimal(0)) > cap.max_kg:
            return True
    return False


# Budget constants, in wall seconds. After the last routing round the solve still runs CP-SAT and
# costs the plan; a repair round is only worth starting with some routing time left; below about
# 5 ms per client PyVRP's own first solution (random start plus a full local search) would eat
# the budget, so a short round starts from no routes instead, which is instant.
_TAIL_BASE_S = 0.25
_TAIL_PER_PACKAGE_S = 0.001
_MIN_REPAIR_ROUTING_S = 0.5
_OWN_START_PER_CLIENT_S = 0.005
_MIN_CP_SAT_S = 0.5
_COSTING_PER_PACKAGE_S = 0.0002
# The lower bound (allocation.bounds) gets at most this share of the limit for its MIP. All of
# it (distances, potentials, MIP) took 0.1-0.25 s at 500 packages and about 2 s at 5,000.
_BOUND_SHARE = 0.05
_MIN_BOUND_S = 0.2


def _score(p: model.Plan) -> tuple[int, Decimal]:
    """Order plans: fewer undelivered packages first, then lower total cost."""
    return len(p.unassigned), p.total_cost.amount


_EJECTION_CANDIDATES = 12  # stops nearest to a stuck package that may make room for it


def _insert_stuck(
    problem: model.Problem,
    ev: rules.Evaluation,
    stuck: Sequence[str],
    fleet: dict[str, list[str]],
    departs: dict[str, int],
    partners: dict[str, str],
    keep: set[str],
) -> set[str]:
    """Put stuck packages on the vans; return those placed.

    Cheapest feasible insertion first; failing that, a nearby stop that a partner may take
    (within its caps) makes room and goes to that partner. ``keep`` are stops never moved off
    (ship-together members). ``fleet``, ``departs`` and ``partners`` are updated in place.
    """
    if not stuck or not problem.vehicles:
        return set()
    index = {p.id: p for p in problem.packages}
    vans = {v.id: v for v in problem.vehicles}
    states = {v.id: online.prepare(problem, v, fleet.get(v.id, []), index) for v in problem.vehicles}
    weight = {p.id: p.weight_kg for p in problem.packages}
    placed: set[str] = set()

    def cap_room(pid: str, carrier: str) -> bool:
        for cap in ev.caps:
            if cap.carrier != carrier or pid not in cap.package_ids:
                continue
            taken = [i for i, c in partners.items() if c == carrier and i in cap.package_ids]
            if cap.max_packages is not None and len(taken) + 1 > cap.max_packages:
                return False
            if cap.max_kg is not None and sum((weight[i] for i in taken), weight[pid]) > cap.max_kg:
                return False
        return True

    def take(vid: str, state: online.RouteState, pid: str) -> None:
        states[vid] = state
        fleet[vid] = list(state.package_ids)
        departs.pop(vid, None)  # re-timed from the shift start, as the insertion was
        placed.add(pid)

    for pid in stuck:
        pkg = index[pid]
        best: online.Insertion | None = None
        for state in states.values():
            ins = online.best_insertion(problem, state, pkg)
            if ins is not None and (best is None or ins.cost < best.cost):
                best = ins
        if best is not None:
            take(
                best.vehicle_id,
                online.insert(problem, states[best.vehicle_id], pkg, best.position, index),
                pid,
            )
            continue
        # Make room: move one nearby stop that a partner may take to that partner.
        nearby = sorted(
            (
                (problem.km_between(index[q].location, pkg.location), vid, q)
                for vid, st in states.items()
                for q in st.package_ids
                if q not in keep and ev.allowed[q].carriers
            ),
        )[:_EJECTION_CANDIDATES]
        swap: tuple[Decimal, str, str, str, online.RouteState] | None = None
        for _, vid, q in nearby:
            allowed = ev.allowed[q]
            carrier = next(
                (c for c in sorted(allowed.carriers, key=allowed.biased_cost) if cap_room(q, c)), None
            )
            if carrier is None:
                continue
            without = online.prepare(
                problem, vans[vid], [i for i in states[vid].package_ids if i != q], index
            )
            ins = online.best_insertion(problem, without, pkg)
            if ins is None:
                continue
            price = allowed.biased_cost(carrier) + ins.cost
            if swap is None or price < swap[0]:
                swap = (price, vid, q, carrier, online.insert(problem, without, pkg, ins.position, index))
        if swap is not None:
            _, vid, q, carrier, state = swap
            partners[q] = carrier
            take(vid, state, pid)
    return placed


def _stuck_issues(problem: model.Problem, ev: rules.Evaluation, stuck: Sequence[str]) -> list[model.Issue]:
    """Say truly why packages stay undelivered: capped or grouped partners, or no partner at all."""
    issues: list[model.Issue] = []
    dead = {
        i
        for g in ev.groups
        if not frozenset.intersection(*(ev.allowed[j].targets for j in g.package_ids))
        for i in g.package_ids
    }
    no_partner: dict[str, list[str]] = {}
    capped: list[str] = []
    grouped: list[str] = []
    for pid in stuck:
        allowed = ev.allowed[pid]
        if pid in dead:
            continue  # rules.evaluate already reported the group with no common carrier
        if not allowed.carriers:
            no_partner.setdefault(plan.no_partner_reason(problem, allowed), []).append(pid)
        elif any(pid in c.package_ids and c.carrier in allowed.carriers for c in ev.caps):
            capped.append(pid)
        else:
            grouped.append(pid)
    for why, pids in sorted(no_partner.items()):
        rule_ids = tuple(
            sorted(
                {
                    r
                    for i in pids
                    for c, ids in ev.allowed[i].removed_by.items()
                    if c != model.FLEET
                    for r in ids
                }
            )
        )
        issues.append(model.Issue("no_feasible_option", f"no van had room and {why}", rule_ids, tuple(pids)))
    if capped:
        cap_ids = tuple(sorted({c.rule_id for c in ev.caps if c.package_ids & set(capped)}))
        issues.append(
            model.Issue(
                "cap_exceeded",
                "no van had room and the allowed partners are capped",
                cap_ids,
                tuple(capped),
            )
        )
    if grouped:
        rule_ids = tuple(
            sorted({g.rule_id for g in ev.groups if g.rule_id and set(g.package_ids) & set(grouped)})
        )
        issues.append(
            model.Issue(
                "group_split",
                "no van had room for the whole ship-together group and no partner could take it all",
                rule_ids,
                tuple(grouped),
            )
        )
    return issues


def solve(problem: model.Problem, options: model.SolveOptions | None = None) -> model.Plan:
    """Plan a day: who carries each package, the vans' routes and the partners' handovers.

    The time limit is wall time for the whole call. Every round yields a complete plan and the
    best one found is returned (fewest undelivered packages, then lowest cost), so a repair round
    that runs short of time can never make the answer worse.
    """
    opts = options or model.SolveOptions()
    if opts.engine not in ENGINES:
        raise SolverError(f"unknown routing engine {opts.engine!r}; choose one of {', '.join(ENGINES)}")
    started = time.perf_counter()
    deadline = started + opts.time_limit_s
    ev = rules.evaluate(problem)
    bound_s = max(_MIN_BOUND_S, _BOUND_SHARE * opts.time_limit_s)
    prepared = bounds.prepare(problem, ev, bound_s)  # inside the budget: the deadline counts it
    # Group members the fleet cannot take together stay off the vans.
    no_fleet: set[str] = set()
    grouped: set[str] = set()
    for g in ev.groups:
        grouped.update(g.package_ids)
        if model.FLEET not in frozenset.intersection(*(ev.allowed[i].targets for i in g.package_ids)):
            no_fleet.update(g.package_ids)
    candidates = [p.id for p in problem.packages if ev.allowed[p.id].fleet and p.id not in no_fleet]
    candidate_set = set(candidates)
    n = len(problem.packages)
    caps_may_bind = _caps_may_bind(problem, ev)
    # Caps that bind give CP-SAT real work: keep it twice the time.
    per_package = _TAIL_PER_PACKAGE_S * (2 if caps_may_bind else 1)
    tail = min(_TAIL_BASE_S * (4 if caps_may_bind else 1) + per_package * n, 0.4 * opts.time_limit_s)
    rounds = max(1, opts.max_rounds)
    # Keep a quarter of the routing time for a repair round when one is likely: a cap may push
    # packages back to the vans, or some package has no partner and must ride a van.
    repair_likely = caps_may_bind or any(not ev.allowed[i].carriers for i in candidates)
    must: set[str] = set()
    best: model.Plan | None = None
    previous: RoutingResult | None = None
    for round_no in range(rounds):
        left = deadline - time.perf_counter() - tail
        if round_no > 0 and left < _MIN_REPAIR_ROUTING_S:
            break  # no time for a useful repair round: keep the best plan so far
        share = 0.75 if repair_likely and round_no < rounds - 1 else 1.0
        route_deadline = time.perf_counter() + max(0.0, left * share)
        fleet: dict[str, list[str]] = {v.id: [] for v in problem.vehicles}
        departs: dict[str, int] = {}
        savings: dict[str, int] = {}
        if candidates and problem.vehicles:
            inst = _routing_instance(problem, ev, candidates, must)
            warm: Sequence[RoutedVehicle] | None = None
            if previous is not None:
                warm = previous.routes  # same clients, same vehicle types: start from the last routes
            elif route_deadline - time.perf_counter() < _OWN_START_PER_CLIENT_S * len(candidates):
                warm = ()
            result = route(
                inst.routing,
                engine=opts.engine,
                seconds=max(0.0, route_deadline - time.perf_counter()),
                seed=opts.seed,
                max_iterations=opts.max_iterations,
                warm_start=warm,
                workers=opts.workers,
            )
            previous = result
            used: dict[int, int] = {}
            for rv in result.routes:
                k = used.get(rv.vehicle_type, 0)
                used[rv.vehicle_type] = k + 1
                vid = inst.type_vehicles[rv.vehicle_type][k]
                fleet[vid] = [inst.package_ids[c] for c in rv.clients]
                departs[vid] = rv.depart
            savings = _removal_savings(inst, result)
        _repair(problem, fleet, departs)
        fleet_of = {pid: vid for vid, pids in fleet.items() for pid in pids}
        cp_seconds = max(_MIN_CP_SAT_S, deadline - time.perf_counter() - _COSTING_PER_PACKAGE_S * n)
        try:
            assignment = _assign(
                problem,
                ev,
                fleet_of,
                savings,
                cp_seconds,
                opts.seed,
                None if best is None else _partners_of(best),
            )
        except SolverError:
            if best is None:
                raise
            break  # out of time in a later round: keep the best plan so far
        for vid in fleet:
            kept = [i for i in fleet[vid] if i not in assignment.pulled]
            if len(kept) != len(fleet[vid]):
                departs.pop(vid, None)  # stops left, so re-time this van from its shift start
            fleet[vid] = kept
        # A stuck package a van could take goes on one by cheapest insertion (instant); group
        # members are left to a routing round, which keeps a group on one van.
        stuck = [i for i in candidates if i in assignment.unassigned and i not in grouped]
        stuck.sort(key=lambda i: bool(ev.allowed[i].carriers))  # packages no partner may take first
        partners = dict(assignment.partners)
        placed = _insert_stuck(problem, ev, stuck, fleet, departs, partners, grouped)
        unassigned = assignment.unassigned - placed
        assignment = dataclasses.replace(assignment, partners=partners)
        candidate_plan = _finish(problem, ev, fleet, departs, assignment, unassigned, opts.engine, started)
        if best is None or _score(candidate_plan) < _score(best):
            best = candidate_plan
        on_vans = {pid for pids in fleet.values() for pid in pids}
        retry = {i for i in unassigned if i in candidate_set and i not in on_vans} - must
        if not retry and share == 1.0:
            break
        # A repair round, or (nothing to repair) the reserved time spent improving the routes.
        must |= retry
    assert best is not None
    best = _drop_unpaid_vans(problem, ev, best, opts, started)
    best = bounds.attach(prepared, best, bound_s)
    return dataclasses.replace(best, solve_seconds=time.perf_counter() - started)


def _drop_unpaid_vans(
    problem: model.Problem, ev: rules.Evaluation, best: model.Plan, opts: model.SolveOptions, started: float
) -> model.Plan:
    """Keep a van only if it pays for its day: a route costing more than its packages' cheapest partners.

    Removal savings are per stop, so CP-SAT never sees a van's day cost go away when every stop
    leaves it; a short or badly routed van (little time to solve, a busy machine) may then cost
    more than the partners would. Each such van, the worst first, is emptied and its packages
    assigned to partners under the same caps and commitments; the plan is kept when it scores
    better. With every van unpaid this is the partners-only plan, so a plan never costs more than
    handing the day to partners that may take it.
    """
    worst_first = sorted(best.routes, key=lambda r: _unpaid(ev, r), reverse=True)
    for dropped in [r.vehicle_id for r in worst_first if _unpaid(ev, r) > 0]:
        kept = [r for r in best.routes if r.vehicle_id != dropped]
        fleet = {r.vehicle_id: [st.package_id for st in r.stops] for r in kept}
        departs = {r.vehicle_id: r.depart for r in kept}
        fleet_of = {pid: vid for vid, pids in fleet.items() for pid in pids}
        try:
            assignment = _assign(problem, ev, fleet_of, {}, _MIN_CP_SAT_S, opts.seed, _partners_of(best))
        except SolverError:
            break
        for vid in fleet:
            if any(i in assignment.pulled for i in fleet[vid]):
                fleet[vid] = [i for i in fleet[vid] if i not in assignment.pulled]
                departs.pop(vid, None)  # stops left, so re-time this van from its shift start
        candidate = _finish(
            problem, ev, fleet, departs, assignment, set(assignment.unassigned), opts.engine, started
        )
        if _score(candidate) < _score(best):
            best = candidate
    return best


def _unpaid(ev: rules.Evaluation, route: model.Route) -> Decimal:
    """How much more a van's route costs than its packages' cheapest partners (-inf: only a van may)."""
    partners = Decimal(0)
    for stop in route.stops:
        options = ev.allowed[stop.package_id].carriers.values()
        if not options:
            return Decimal("-Infinity")  # a package only a van may carry keeps the van
        partners += min(o.cost.amount for o in options)
    return route.cost.amount - partners


def _partners_of(p: model.Plan) -> dict[str, str]:
    return {pid: h.carrier for h in p.handovers for pid in h.package_ids if pid not in p.late}


def _finish(
    problem: model.Problem,
    ev: rules.Evaluation,
    fleet: dict[str, list[str]],
    departs: dict[str, int],
    assignment: _Assignment,
    unassigned: set[str],
    engine: str,
    started: float,
) -> model.Plan:
    """Cost one round's complete plan, with its issues."""
    issues = list(ev.issues)
    for rule_id, short in assignment.shortfalls.items():
        unit = "g" if rule_id.endswith("#kg") else "packages"
        issues.append(
            model.Issue(
                "commitment_shortfall",
                f"commitment {rule_id.removesuffix('#kg')} is {short} {unit} short today",
                (rule_id.removesuffix("#kg"),),
            )
        )
    order = [p.id for p in problem.packages if p.id in unassigned and p.id not in ev.infeasible]
    # Never undelivered for its on-time minimum alone: a stuck package goes to an option it dropped.
    fallback = plan.fallback_options(problem, ev, order, assignment.partners)
    issues += plan.fallback_issue(fallback)
    issues += _stuck_issues(problem, ev, [i for i in order if i not in fallback])
    return plan.build_plan(
        problem,
        ev,
        {vid: pids for vid, pids in fleet.items() if pids},
        dict(assignment.partners),
        fallback=fallback,
        departs=departs,
        issues=issues,
        engine=engine,
        method="prize-collecting routing + CP-SAT partner assignment",
        seconds=time.perf_counter() - started,
    )
