"""A valid lower bound on a day's cost: no plan that delivers the same packages costs less.

The bound is the optimum of a relaxation, so it never exceeds the true optimum; the solver's
plan is compared with it as ``Plan.gap``. The relaxation keeps the choice that matters (van or
partner, per package) and replaces the routes by inequalities every set of routes satisfies.

Notation. ``S`` is the set of packages to deliver (the plan's delivered packages). For package
``i``: ``p_i`` its cheapest partner price among the carriers the rules allow (+inf when none;
the partner options an on-time minimum dropped count too, as a plan may fall back on them),
``d_i`` the road distance from the depot, ``s_i`` its service seconds, ``q_ik`` its demand in
load dimension ``k`` (kg, m3, one stop, and the time share ``theta_i`` below). ``F``, ``a`` and
``h`` are the smallest fixed cost, the smallest cost per km driven (``cost_per_km + cost_per_hour
/ speed``, travel time being ``km / speed`` at the plan's speed, the slowest van's) and the
smallest cost per second of service over the vans; ``Q_k`` is the largest capacity in dimension
``k`` (1 for the time share), ``H`` the longest day a van may be out, ``N`` the number of vans.

Claim. Take any feasible plan that delivers exactly the packages of ``S`` (rules and eligibility
respected: a package rides a van only if the rules allow the fleet, goes to a carrier only if
allowed). Let ``y_i = 1`` when ``i`` rides a van, ``R`` the number of vans used and ``T`` their
total distance. Then (y, R, T) is feasible for the program below and the plan costs at least its
objective; so the program's optimum, and any lower bound on it, is a valid bound.

    minimise    sum_i p_i (1 - y_i) + F R + a T + h sum_i s_i y_i
    subject to  T >= R m0' + sum_i c_i y_i                        (1: two edges at every stop)
                T >= 2 sum_i d_i (q_ik / Q_k) y_i   for each k   (2: radial, by capacity)
                T >= 2 d_i y_i                      for each i   (3: a van reaching i comes back)
                R H >= T 3600 / speed + sum_i s_i y_i             (4: the days hold the work)
                R >= y_i,  R >= sum_i (q_ik / Q_k) y_i,  R <= N,  R integer
                y_i = 1 if no partner may take i, y_i = 0 if the fleet may not, 0 <= y_i <= 1

Proof, per part. Partner: package i handed over costs its carrier's price >= p_i (costs are
unbiased; prefer-rule biases steer the optimiser but are not paid). Van: a route on van v costs
``fixed_v + km * cost_per_km_v + duration * cost_per_hour_v``; its duration is at least its
driving time plus its service times (``plan.simulate`` only adds waiting to them; travel seconds
are rounded up), so it costs >= F + a L_r + h sum_{i in r} s_i, and summing over the R routes gives
the fleet terms with T = sum_r L_r. (1): a route's length is half the sum, over its nodes, of each
node's in- and out-edge; the depot's two edges are each >= m0 (the depot's distance to its nearest
package a van may take); stop i's two edges are either both the depot edge (a one-stop route,
2 d_i) or go to two distinct other nodes (>= e1_i + e2_i, its two nearest distances among the
depot and every package a van may take), so c_i = min(2 d_i, e1_i + e2_i) / 2 and m0' = m0. The
same argument on edges re-priced by node potentials gives further valid rows (``_edge_bounds``
says how; both the plain and the tuned row are used). (2): a route r reaches its farthest stop
and comes back, so L_r >= 2 max_{i in r} d_i (triangle inequality, which Euclidean and
great-circle distances times a constant road factor obey) and sum_{i in r} d_i q_ik <=
max d * load_rk <= max d * Q_k; the time share theta_i = s_i / (H - 2 d_i 3600 / speed) is a
load with capacity 1 (``_time_share`` proves it). (3) is the same for one package. (4): every route's duration, at least its
driving plus service time, is at most H. R counts routes: each has at least one stop and carries
at most Q_k. Caps, commitments, ship-together groups, time windows and the order of stops are
dropped, which only widens the feasible set. Packages no van and no partner may take are in no
plan, so they are left out of S. Floating-point safety: distances are recomputed as the costing
does (less a relative 1e-9), the plan rounds each route's km to metres (up to 0.5 m lower, taken
off F), and the mixed-integer solver's proven dual bound (not its incumbent) is used, less a
relative 1e-7, floored to cents.

What it is not: a tight bound where the cost is dominated by what it drops (time windows, the
exact tour); see docs/ALLOCATION.md ("The lower bound") for measured gaps.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

import numpy as np
from ortools.linear_solver import pywraplp  # type: ignore[import-untyped]

from allocation import model, plan, rules
from schemas import money

if TYPE_CHECKING:
    from allocation import solver

_CHUNK = 512  # rows of the distance matrix held at once when finding nearest neighbours


@dataclass(frozen=True, slots=True)
class Relaxation:
    """The data of the relaxation, per package (index order) and for the fleet as a whole.

    ``partner`` is +inf where no partner may take a package; ``fleet`` says where a van may.
    ``loads`` pairs each load dimension's per-package demand with the largest capacity.
    """

    ids: tuple[str, ...]
    partner: np.ndarray
    fleet: np.ndarray
    depot: np.ndarray
    edges: tuple[tuple[np.ndarray, float], ...]  # (per-stop km, per-route depot km) for (1)
    service_cost: np.ndarray  # h * s_i
    loads: tuple[tuple[np.ndarray, float], ...]
    fixed: float
    per_km: float
    vans: int
    shift: float  # H: the longest day a van may be out, in seconds
    seconds_per_km: float  # 3600 / the plan's speed
    service: np.ndarray  # s_i in seconds
    slack: float  # taken off each route's fixed cost: the costing rounds a route's km to metres


def relaxation(problem: model.Problem, ev: rules.Evaluation | None = None) -> Relaxation:
    """Build the relaxation of a day (rules evaluated unless ``ev`` is given)."""
    ev = ev or rules.evaluate(problem)
    pkgs = problem.packages
    n = len(pkgs)
    ids = tuple(p.id for p in pkgs)
    # A partner option an on-time minimum dropped may still carry the package when nothing that
    # meets the minimum has room (``plan.fallback_options``): it counts, so the bound holds then too.
    partner = np.array(
        [
            min(
                (
                    float(o.cost.amount)
                    for o in (*ev.allowed[i].carriers.values(), *ev.allowed[i].on_time.fallback)
                ),
                default=math.inf,
            )
            for i in ids
        ]
    )
    vans = problem.vehicles
    fleet = np.array([bool(vans) and ev.allowed[i].fleet for i in ids], dtype=bool)
    depot = _km(problem, [problem.depot.location], [p.location for p in pkgs])[0] if n else np.zeros(0)
    if not vans or not fleet.any():
        zero = np.zeros(n)
        return Relaxation(
            ids,
            partner,
            fleet,
            depot,
            edges=(),
            service_cost=zero,
            loads=(),
            fixed=0.0,
            per_km=0.0,
            vans=0,
            shift=0.0,
            seconds_per_km=0.0,
            service=zero,
            slack=0.0,
        )
    speed = float(plan.fleet_speed_kmh(problem))
    points = [p.location for p, van_ok in zip(pkgs, fleet, strict=True) if van_ok]
    per_km = min(float(v.cost_per_km) + float(v.cost_per_hour) / speed for v in vans)
    per_second = min(float(v.cost_per_hour) for v in vans) / 3600
    loads: list[tuple[np.ndarray, float]] = [
        (np.array([float(p.weight_kg) for p in pkgs]), max(float(v.capacity_kg) for v in vans)),
        (np.array([float(p.volume_m3) for p in pkgs]), max(float(v.capacity_m3) for v in vans)),
    ]
    if all(v.max_stops is not None for v in vans):
        loads.append((np.ones(n), float(max(v.max_stops or 0 for v in vans))))
    service = np.array([p.service_minutes * 60.0 for p in pkgs])
    shift = 60.0 * max(
        min(v.shift_end, problem.depot.closes) - max(v.shift_start, problem.depot.opens) for v in vans
    )
    loads.append((_time_share(service, depot, shift, 3600 / speed), 1.0))
    loads = [(q, cap) for q, cap in loads if cap > 0]
    return Relaxation(
        ids=ids,
        partner=partner,
        fleet=fleet,
        depot=depot,
        edges=_edge_bounds(lambda a, b: _km(problem, points[a:b], points), depot, fleet),
        service_cost=service * per_second,
        loads=tuple(loads),
        fixed=min(float(v.fixed_cost) for v in vans),
        per_km=per_km,
        vans=len(vans),
        slack=0.0005 * max(float(v.cost_per_km) for v in vans),
        shift=shift,
        seconds_per_km=3600 / speed,
        service=service,
    )


def lower_bound(
    problem: model.Problem,
    delivered: Collection[str] | None = None,
    *,
    ev: rules.Evaluation | None = None,
    relaxed: Relaxation | None = None,
    seconds: float = 5.0,
) -> Decimal | None:
    """Return a lower bound on the cost of any plan delivering exactly ``delivered`` (default:
    every package with some option), floored to the currency's cents; None if none was proven."""
    rel = relaxed or relaxation(problem, ev)
    if delivered is None:
        mask = rel.fleet | np.isfinite(rel.partner)
    else:
        wanted = set(delivered)
        mask = np.array([i in wanted for i in rel.ids], dtype=bool)
    value = solve_relaxation(rel, mask, seconds=seconds)
    if value is None:
        return None
    cent = Decimal(1).scaleb(-money.exponent(problem.currency))
    return Decimal(repr(value)).quantize(cent, ROUND_FLOOR).max(Decimal(0))


def solve_relaxation(rel: Relaxation, members: np.ndarray, *, seconds: float = 5.0) -> float | None:
    """Return a proven lower bound on the relaxation's optimum over the packages in ``members``.

    None when the packages cannot all be delivered even in the relaxation (a package with no
    option, or more fleet-only load than the vans hold), or the solver proves nothing in time.
    """
    idx = np.flatnonzero(members)
    partner, fleet = rel.partner[idx], rel.fleet[idx]
    if np.any(~fleet & ~np.isfinite(partner)):
        return None
    van_idx = idx[fleet]
    base = float(partner[~fleet].sum())  # packages only a partner may take
    if van_idx.size == 0:
        return base
    solver = pywraplp.Solver.CreateSolver("SCIP")
    if solver is None:  # pragma: no cover - OR-Tools wheels ship SCIP
        return None
    solver.SetTimeLimit(int(seconds * 1000))
    only_van = ~np.isfinite(rel.partner[van_idx])
    y = [solver.NumVar(1.0 if only_van[k] else 0.0, 1.0, f"y{k}") for k in range(van_idx.size)]
    routes = solver.IntVar(0.0, float(rel.vans), "R")
    length = solver.NumVar(0.0, solver.infinity(), "T")
    objective = solver.Objective()
    constant = base
    for k, i in enumerate(van_idx):
        price = 0.0 if only_van[k] else float(rel.partner[i])
        constant += price
        objective.SetCoefficient(y[k], float(rel.service_cost[i]) - price)
    objective.SetCoefficient(routes, rel.fixed - rel.slack)
    objective.SetCoefficient(length, rel.per_km)
    objective.SetOffset(constant)
    objective.SetMinimization()
    # (1) two edges at every stop and at the depot once per route, with and without potentials
    for stop_km, depot_km in rel.edges:
        row = solver.Constraint(0.0, solver.infinity())
        row.SetCoefficient(length, 1.0)
        row.SetCoefficient(routes, -depot_km)
        for k, i in enumerate(van_idx):
            row.SetCoefficient(y[k], -float(stop_km[i]))
    # (2) radial bound and route count per load dimension
    for demand, capacity in rel.loads:
        share = demand[van_idx] / capacity
        radial = solver.Constraint(0.0, solver.infinity())
        count = solver.Constraint(0.0, solver.infinity())
        radial.SetCoefficient(length, 1.0)
        count.SetCoefficient(routes, 1.0)
        for k, i in enumerate(van_idx):
            if share[k] > 0:
                radial.SetCoefficient(y[k], -2 * float(rel.depot[i]) * float(share[k]))
                count.SetCoefficient(y[k], -float(share[k]))
    # (4) the vans' days hold all driving and service: R H >= T 3600 / speed + sum_i s_i y_i
    if rel.shift > 0:
        day = solver.Constraint(0.0, solver.infinity())
        day.SetCoefficient(routes, rel.shift)
        day.SetCoefficient(length, -rel.seconds_per_km)
        for k, i in enumerate(van_idx):
            day.SetCoefficient(y[k], -float(rel.service[i]))
    # (3) a van reaching i drives at least 2 d_i, and R >= y_i: a van runs if any package rides one
    for k, i in enumerate(van_idx):
        out_back = solver.Constraint(0.0, solver.infinity())
        out_back.SetCoefficient(length, 1.0)
        out_back.SetCoefficient(y[k], -2 * float(rel.depot[i]))
        used = solver.Constraint(0.0, solver.infinity())
        used.SetCoefficient(routes, 1.0)
        used.SetCoefficient(y[k], -1.0)
    status = solver.Solve()
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return None
    proven = float(objective.BestBound())
    if not math.isfinite(proven):
        return None
    return max(base, proven - 1e-7 * abs(proven))


def _time_share(service: np.ndarray, depot: np.ndarray, shift: float, seconds_per_km: float) -> np.ndarray:
    """Return theta_i = s_i / (H - 2 d_i seconds_per_km): a route's thetas sum to at most 1.

    A route r whose farthest stop is D_r away drives at least 2 D_r (out and back), so its service
    time is at most H - 2 D_r seconds_per_km, and each of its stops has d_i <= D_r. Where even the
    round trip does not fit in H no feasible route has the stop, and theta is 1 (any value holds).
    """
    room = shift - 2 * depot * seconds_per_km
    share: np.ndarray = np.where(room > 0, service / np.where(room > 0, room, 1.0), 1.0)
    return share


def _km(problem: model.Problem, a: Sequence[model.Location], b: Sequence[model.Location]) -> np.ndarray:
    """Return road km from every point of ``a`` to every point of ``b``, as ``km_between`` does."""
    ax, ay = np.array([p.x for p in a]), np.array([p.y for p in a])
    bx, by = np.array([p.x for p in b]), np.array([p.y for p in b])
    if problem.distance_model == "haversine":
        lat1, lat2 = np.radians(ay)[:, None], np.radians(by)[None, :]
        dlat, dlon = lat2 - lat1, np.radians(bx[None, :] - ax[:, None])
        h = np.sin(dlat / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin(dlon / 2) ** 2
        straight = 2 * 6371.0088 * np.arcsin(np.minimum(1.0, np.sqrt(h)))
    else:
        straight = np.hypot(ax[:, None] - bx[None, :], ay[:, None] - by[None, :])
    # 1e-9 relative: the bound must not exceed the costing's own float distances.
    km: np.ndarray = straight * float(problem.road_factor) * (1 - 1e-9)
    return km


def _edge_bounds(
    distances: Callable[[int, int], np.ndarray], depot: np.ndarray, fleet: np.ndarray
) -> tuple[tuple[np.ndarray, float], ...]:
    """Return the per-stop and per-route km of inequality (1), plain and with node potentials.

    With potentials pi (any real numbers, pi_depot = 0) every edge a-b is re-priced
    d'_ab = d_ab - pi_a - pi_b; a route's length is then its re-priced length plus 2 pi_i per
    stop, and the two-edges argument applied to d' gives L_r >= m0' + sum_i (beta'_i / 2 + 2 pi_i)
    for any pi. Only the ``_NEAREST`` nearest packages of each stop are kept; an edge to any
    other is at least the next distance minus pi_i minus the largest pi, which keeps it valid.
    A few rounds of subgradient ascent on the sum over all van-eligible packages pick pi: a
    package many others call nearest gets dearer, a lonely one cheaper (Held and Karp's idea on
    the two-neighbour bound). Both the plain (pi = 0) and the best pi are returned: each holds.
    """
    stop = np.zeros(len(depot))
    van = np.flatnonzero(fleet)
    m = van.size
    k = min(_NEAREST, m - 1)
    near_i = np.zeros((m, k), dtype=np.int64)
    near_d = np.zeros((m, k))
    beyond = np.full(m, np.inf)
    for start in range(0, m, _CHUNK):
        rows = np.arange(start, min(m, start + _CHUNK))
        d = distances(start, rows[-1] + 1).copy()
        d[np.arange(rows.size), rows] = np.inf  # not to itself
        if k > 0:
            order = np.argpartition(d, k, axis=1) if k < m - 1 else np.argsort(d, axis=1)
            near_i[rows] = order[:, :k]
            near_d[rows] = np.take_along_axis(d, order[:, :k], axis=1)
            if k < m - 1:
                beyond[rows] = np.take_along_axis(d, order[:, k : k + 1], axis=1)[:, 0]
    to_depot = depot[van]

    def evaluate(pi: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        cand = np.concatenate(
            [
                near_d - pi[:, None] - pi[near_i],
                (to_depot - pi)[:, None],
                np.repeat((beyond - pi - pi.max())[:, None], 2, axis=1),
            ],
            axis=1,
        )
        two = np.argpartition(cand, 1, axis=1)[:, :2]
        pair = np.take_along_axis(cand, two, axis=1).sum(axis=1)
        alone = 2 * (to_depot - pi)
        per_stop = 0.5 * np.minimum(alone, pair) + 2 * pi
        chosen = np.zeros(m)
        linked = pair < alone
        for col in range(2):
            picks = two[linked, col]
            inside = picks < k
            np.add.at(chosen, near_i[linked][inside, picks[inside]], 1.0)
        return per_stop, float((to_depot - pi).min()), 1.0 - 0.5 * chosen

    pi = np.zeros(m)
    plain, plain_depot, gradient = evaluate(pi)
    out = []
    stop[van] = plain
    out.append((stop.copy(), plain_depot))
    if k == 0:
        return tuple(out)
    best, best_value = plain, plain.sum() + plain_depot
    best_depot = plain_depot
    step = 0.05 * float(np.median(near_d[:, 0]))
    for _ in range(_ROUNDS):
        norm = float(np.sqrt((gradient**2).mean()))
        if norm == 0 or step <= 0:
            break
        pi = pi + step * gradient / norm
        per_stop, depot_km, gradient = evaluate(pi)
        value = per_stop.sum() + depot_km
        if value > best_value:
            best, best_value, best_depot = per_stop, value, depot_km
        step *= 0.97
    stop[van] = best
    out.append((stop, best_depot))
    return tuple(out)


_NEAREST = 16  # neighbours kept per package for the potentials' ascent
_ROUNDS = 100  # subgradient rounds


def routing_relaxation(problem: solver.RoutingProblem) -> Relaxation:
    """Build the relaxation of an integer routing instance (the benchmark's public instances).

    Clients are packages; an optional client's prize is its partner price, a required one has
    none. Costs are in the instance's units. The distance matrix is first closed under shortest
    paths (and made symmetric by the smaller direction), which only lowers it, so the triangle
    inequality the radial inequalities need holds even for truncated distances (Solomon's DIMACS
    convention). Driving time per unit of distance is the smallest ratio in the matrices.
    """
    dist = np.minimum(problem.distance, problem.distance.T).astype(float)
    for via in range(dist.shape[0]):  # Floyd-Warshall, vectorised per intermediate node
        np.minimum(dist, dist[:, via, None] + dist[None, via, :], out=dist)
    n = problem.num_clients
    types = problem.vehicle_types
    demand = np.array([list(d) for d in problem.demand], dtype=float).reshape(n, -1)
    loads = [(demand[:, k], float(max(t.capacity[k] for t in types))) for k in range(demand.shape[1])]
    service = np.array([float(s) for s in problem.service])
    d_early, d_late = problem.depot_window
    shift = float(
        max(min(t.max_duration, min(t.shift_end, d_late) - max(t.shift_start, d_early)) for t in types)
    )
    positive = problem.distance > 0
    ratio = float((problem.duration[positive] / problem.distance[positive]).min()) if positive.any() else 0.0
    loads.append((_time_share(service, dist[0, 1:], shift, ratio), 1.0))
    unit_time = min(t.unit_duration_cost for t in types)
    partner = np.array(
        [math.inf if problem.required[i] else float(problem.prize[i]) for i in range(n)], dtype=float
    )
    fleet = np.ones(n, dtype=bool)
    depot = dist[0, 1:]
    clients = dist[1:, 1:]
    return Relaxation(
        ids=tuple(str(i) for i in range(n)),
        partner=partner,
        fleet=fleet,
        depot=depot,
        edges=_edge_bounds(lambda a, b: clients[a:b], depot, fleet),
        service_cost=service * unit_time,
        loads=tuple((q, cap) for q, cap in loads if cap > 0),
        fixed=float(min(t.fixed_cost for t in types)),
        per_km=float(min(t.unit_distance_cost + unit_time * ratio for t in types)),
        vans=sum(t.count for t in types),
        shift=shift,
        seconds_per_km=ratio,
        service=service,
        slack=0.0,
    )


@dataclass(frozen=True, slots=True)
class Prepared:
    """A day's relaxation and its bound for every deliverable package, built before solving."""

    problem: model.Problem
    relaxed: Relaxation
    deliverable: frozenset[str]
    bound: Decimal | None


def prepare(problem: model.Problem, ev: rules.Evaluation, seconds: float) -> Prepared:
    """Build the relaxation and bound every package with some option (inside the solve's budget)."""
    relaxed = relaxation(problem, ev)
    nobody = ev.infeasible  # a property that scans every package: once
    deliverable = frozenset(p.id for p in problem.packages if p.id not in nobody)
    bound = lower_bound(problem, deliverable, relaxed=relaxed, seconds=seconds)
    return Prepared(problem, relaxed, deliverable, bound)


def attach(prepared: Prepared, result: model.Plan, seconds: float) -> model.Plan:
    """Return the plan with ``lower_bound`` set for the packages it delivers.

    The bound prepared for every deliverable package holds for a plan delivering them all; a plan
    that leaves some undelivered (caps, groups, no room) gets the bound of its own delivered set,
    which the relaxation gives in well under a second.
    """
    delivered = frozenset(d.package_id for d in result.decisions if d.assignee)
    if delivered == prepared.deliverable:
        bound = prepared.bound
    else:
        bound = lower_bound(prepared.problem, delivered, relaxed=prepared.relaxed, seconds=seconds)
    if bound is None:
        return result
    return dataclasses.replace(result, lower_bound=money.Money(bound, prepared.problem.currency))
