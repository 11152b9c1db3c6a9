"""Turn decisions into a ``model.Plan``: exact Decimal costs, ETAs, handovers, reasons.

Shared by the solver, the baselines and the online mode, so that every method's plan is costed
the same way. Travel time uses the slowest van's speed, so ETAs are never optimistic.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal

from allocation import model, rules
from schemas import money

_HOUR = Decimal(3600)


def fleet_speed_kmh(problem: model.Problem) -> Decimal:
    """Return the speed used for travel times: the slowest van's, so no ETA is optimistic."""
    return min((v.speed_kmh for v in problem.vehicles), default=Decimal(30))


def travel_seconds(km: float, speed_kmh: Decimal) -> int:
    """Return whole seconds to drive ``km`` at ``speed_kmh`` (rounded up)."""
    return -(-int(km * 3600 * 1000) // int(speed_kmh * 1000))


def window_seconds(problem: model.Problem, pkg: model.Package) -> tuple[int, int]:
    """Return the earliest and latest service start of a package, in seconds since midnight."""
    if pkg.window is None:
        return problem.depot.opens * 60, problem.depot.closes * 60
    return pkg.window.start * 60, pkg.window.end * 60


def simulate(
    problem: model.Problem, vehicle: model.Vehicle, package_ids: Sequence[str], depart: int | None = None
) -> tuple[list[tuple[int, int]], int, int, float, bool]:
    """Return per-stop (arrival, service start) in seconds, depart, back, km and whether it is feasible."""
    packages = _index(problem)
    speed = fleet_speed_kmh(problem)
    start = max(vehicle.shift_start, problem.depot.opens) * 60
    t = start if depart is None else max(start, depart)
    first_depart = t
    here = problem.depot.location
    km = 0.0
    times: list[tuple[int, int]] = []
    feasible = True
    for pid in package_ids:
        pkg = packages[pid]
        leg = problem.km_between(here, pkg.location)
        km += leg
        arrival = t + travel_seconds(leg, speed)
        early, late = window_seconds(problem, pkg)
        begin = max(arrival, early)
        if begin > late:
            feasible = False
        times.append((arrival, begin))
        t = begin + pkg.service_minutes * 60
        here = pkg.location
    leg = problem.km_between(here, problem.depot.location)
    km += leg
    back = t + travel_seconds(leg, speed)
    if times and depart is None:
        # Leaving later by the wait at the first stop changes no service time and shortens the day.
        wait = times[0][1] - times[0][0]
        first_depart += wait
        times[0] = (times[0][1], times[0][1])
    if (
        back > min(vehicle.shift_end, problem.depot.closes) * 60
        or (back - first_depart) > (vehicle.shift_end - vehicle.shift_start) * 60
    ):
        feasible = False
    weight = sum((packages[p].weight_kg for p in package_ids), Decimal(0))
    volume = sum((packages[p].volume_m3 for p in package_ids), Decimal(0))
    if weight > vehicle.capacity_kg or volume > vehicle.capacity_m3:
        feasible = False
    if vehicle.max_stops is not None and len(package_ids) > vehicle.max_stops:
        feasible = False
    return times, first_depart, back, km, feasible


def route_cost(vehicle: model.Vehicle, km: Decimal, seconds: int) -> Decimal:
    """Return a used van's cost for a day of ``km`` and ``seconds`` on the road."""
    return vehicle.fixed_cost + km * vehicle.cost_per_km + Decimal(seconds) / _HOUR * vehicle.cost_per_hour


def _index(problem: model.Problem) -> dict[str, model.Package]:
    return {p.id: p for p in problem.packages}


def build_plan(
    problem: model.Problem,
    evaluation: rules.Evaluation,
    fleet: Mapping[str, Sequence[str]],
    partners: Mapping[str, str],
    *,
    departs: Mapping[str, int] | None = None,
    issues: Sequence[model.Issue] = (),
    engine: str = "",
    method: str = "",
    seconds: float = 0.0,
    lower_bound: Decimal | None = None,
    late: Mapping[str, model.PartnerOption] | None = None,
    fallback: Mapping[str, model.PartnerOption] | None = None,
) -> model.Plan:
    """Cost and explain a plan given van routes (vehicle id -> package ids) and partner picks.

    ``late`` hands packages to a partner option that misses the promise (the baselines' last
    resort); they are costed like any handover and listed in ``Plan.late``. ``fallback`` hands
    packages to a partner option below their required on-time probability, because no option
    that meets it had room (see ``fallback_options``); costed like any handover.
    """
    cur = problem.currency
    packages = _index(problem)
    vehicles = {v.id: v for v in problem.vehicles}
    speed = fleet_speed_kmh(problem)
    routes: list[model.Route] = []
    decisions: list[model.Decision] = []
    fleet_total = Decimal(0)
    all_issues = list(issues)
    for vid, pids in fleet.items():
        if not pids:
            continue
        van = vehicles[vid]
        times, depart, back, km_f, feasible = simulate(problem, van, pids, (departs or {}).get(vid))
        if not feasible and departs and vid in departs:
            # The engine's departure rounds travel times its own way; the earliest start is safe.
            times, depart, back, km_f, feasible = simulate(problem, van, pids)
        if not feasible:
            all_issues.append(
                model.Issue("no_feasible_option", f"route of {vid} breaks a van limit", (), tuple(pids))
            )
        km = Decimal(str(round(km_f, 3)))
        cost = route_cost(van, km, back - depart)
        fleet_total += cost
        stops = tuple(
            model.Stop(pid, i + 1, times[i][0] // 60, times[i][1] // 60, packages[pid].location)
            for i, pid in enumerate(pids)
        )
        routes.append(
            model.Route(
                vehicle_id=vid,
                stops=stops,
                depart=depart // 60,
                back=-(-back // 60),
                load_kg=sum((packages[p].weight_kg for p in pids), Decimal(0)),
                load_m3=sum((packages[p].volume_m3 for p in pids), Decimal(0)),
                distance_km=km,
                cost=money.Money(cost, cur),
            )
        )
        chain = [problem.depot.location, *(packages[p].location for p in pids), problem.depot.location]
        for i, pid in enumerate(pids):
            saved_km = (
                problem.km_between(chain[i], chain[i + 1])
                + problem.km_between(chain[i + 1], chain[i + 2])
                - problem.km_between(chain[i], chain[i + 2])
            )
            saved_s = travel_seconds(saved_km, speed) + packages[pid].service_minutes * 60
            marginal = (
                Decimal(str(round(saved_km, 3))) * van.cost_per_km
                + Decimal(saved_s) / _HOUR * van.cost_per_hour
            )
            if len(pids) == 1:
                marginal = cost
            decisions.append(_fleet_decision(evaluation.allowed[pid], vid, money.Money(marginal, cur)))

    partner_total = Decimal(0)
    by_carrier: dict[str, list[str]] = defaultdict(list)
    room = _fleet_room(problem, fleet)
    for pid, carrier in partners.items():
        opt = evaluation.allowed[pid].carriers[carrier]
        partner_total += opt.cost.amount
        by_carrier[carrier].append(pid)
        decisions.append(_partner_decision(packages[pid], evaluation.allowed[pid], carrier, room))
    for pid, opt in (late or {}).items():
        partner_total += opt.cost.amount
        by_carrier[opt.carrier].append(pid)
        decisions.append(_late_decision(problem, packages[pid], evaluation.allowed[pid], opt))
    for pid, opt in (fallback or {}).items():
        partner_total += opt.cost.amount
        by_carrier[opt.carrier].append(pid)
        decisions.append(_fallback_decision(packages[pid], evaluation.allowed[pid], opt))
    options = {**(late or {}), **(fallback or {})}
    handovers = tuple(
        model.Handover(
            carrier=c,
            package_ids=tuple(pids),
            weight_kg=sum((packages[p].weight_kg for p in pids), Decimal(0)),
            cost=money.Money(
                sum(
                    (
                        options[p].cost.amount
                        if p in options
                        else evaluation.allowed[p].carriers[c].cost.amount
                        for p in pids
                    ),
                    Decimal(0),
                ),
                cur,
            ),
        )
        for c, pids in sorted(by_carrier.items())
    )
    placed = {d.package_id for d in decisions}
    unassigned = tuple(p.id for p in problem.packages if p.id not in placed)
    for pid in unassigned:
        allowed = evaluation.allowed[pid]
        ids = tuple(sorted({r for v in allowed.removed_by.values() for r in v}))
        if not allowed.targets:
            detail = "no option left"
        elif not allowed.carriers:
            detail = f"no van had room for it and {no_partner_reason(problem, allowed)}"
        else:
            detail = "its allowed partners were capped or grouped" + (
                " and no van had room for it" if allowed.fleet else ""
            )
        decisions.append(
            model.Decision(pid, "", None, None, money.Money.zero(cur), "infeasible", detail, ids)
        )
    order = {p.id: i for i, p in enumerate(problem.packages)}
    decisions.sort(key=lambda d: order[d.package_id])
    return model.Plan(
        decisions=tuple(decisions),
        routes=tuple(routes),
        handovers=handovers,
        unassigned=unassigned,
        fleet_cost=money.Money(fleet_total, cur),
        partner_cost=money.Money(partner_total, cur),
        issues=tuple(all_issues),
        late=tuple(p.id for p in problem.packages if p.id in (late or {})),
        lower_bound=None if lower_bound is None else money.Money(lower_bound, cur),
        engine=engine,
        solve_seconds=seconds,
        method=method,
    )


def no_partner_reason(problem: model.Problem, allowed: rules.Allowed) -> str:
    """Return why no partner may take a package (when ``allowed.carriers`` is empty)."""
    offers = problem.options.get(allowed.package_id, ())
    forbidden = sorted({r for c, ids in allowed.removed_by.items() if c != model.FLEET for r in ids})
    if not offers:
        return "no partner quoted it"
    if allowed.on_time.fallback:  # the rules allow partners, but none is likely enough on time
        return (
            "no partner is likely enough on time (at least "
            f"{rules.percent(allowed.on_time.minimum or 0)} is required)"
        )
    if any(o.usable for o in offers) and forbidden:
        return f"rules {', '.join(forbidden)} forbid the partners that could"
    if any(o.eligible for o in offers):
        return "no partner meets the promise"
    reasons = sorted({o.reason or f"{o.carrier} ineligible" for o in offers})
    return "no partner is eligible (" + "; ".join(reasons) + ")"


def late_option(problem: model.Problem, allowed: rules.Allowed) -> model.PartnerOption | None:
    """Return the cheapest eligible offer the rules allow, ignoring the promise (late delivery)."""
    return min(
        (
            o
            for o in problem.options.get(allowed.package_id, ())
            if o.eligible and o.carrier not in allowed.removed_by
        ),
        key=lambda o: o.cost.amount,
        default=None,
    )


def fallback_options(
    problem: model.Problem,
    evaluation: rules.Evaluation,
    package_ids: Sequence[str],
    partners: Mapping[str, str],
) -> dict[str, model.PartnerOption]:
    """Return, for packages no kept option could take, the partner option to use instead.

    A package whose on-time requirement dropped some partner options (``OnTime.fallback``) is
    never left undelivered for it: it goes to the most likely, then cheapest, dropped option
    whose carrier still has room under the caps (counting ``partners`` and earlier fallbacks).
    Packages without such an option are left out.
    """
    weight = {p.id: p.weight_kg for p in problem.packages}
    taken: dict[str, list[str]] = defaultdict(list)
    for pid, carrier in partners.items():
        taken[carrier].append(pid)
    out: dict[str, model.PartnerOption] = {}
    for pid in package_ids:
        for opt in evaluation.allowed[pid].on_time.fallback:
            if _cap_room(evaluation, taken[opt.carrier], pid, opt.carrier, weight):
                out[pid] = opt
                taken[opt.carrier].append(pid)
                break
    return out


def _cap_room(
    evaluation: rules.Evaluation, taken: Sequence[str], pid: str, carrier: str, weight: Mapping[str, Decimal]
) -> bool:
    for cap in evaluation.caps:
        if cap.carrier != carrier or pid not in cap.package_ids:
            continue
        inside = [i for i in taken if i in cap.package_ids]
        if cap.max_packages is not None and len(inside) + 1 > cap.max_packages:
            return False
        if cap.max_kg is not None and sum((weight[i] for i in inside), weight[pid]) > cap.max_kg:
            return False
    return True


def fallback_issue(fallback: Mapping[str, model.PartnerOption]) -> list[model.Issue]:
    """Return the issue reporting packages handed to an option below their on-time minimum."""
    if not fallback:
        return []
    return [
        model.Issue(
            "on_time_risk",
            "handed to a partner below the required on-time probability: no option that meets it had room",
            (),
            tuple(fallback),
        )
    ]


def _fallback_decision(
    pkg: model.Package, allowed: rules.Allowed, opt: model.PartnerOption
) -> model.Decision:
    risk = allowed.on_time
    p = "unknown" if opt.on_time_probability is None else rules.percent(opt.on_time_probability)
    return model.Decision(
        pkg.id,
        opt.carrier,
        opt.service,
        None,
        opt.cost,
        "capacity",
        f"{opt.carrier} on time with probability {p}, below the required {rules.percent(risk.minimum or 0)}: "
        "no option that meets it had room",
        risk.rule_ids,
        None,
    )


def _late_decision(
    problem: model.Problem, pkg: model.Package, allowed: rules.Allowed, opt: model.PartnerOption
) -> model.Decision:
    promise = "" if pkg.promise_days is None else f" against a promise of {pkg.promise_days}"
    transit = "?" if opt.transit_days is None else str(opt.transit_days)
    why = "no van had room" if allowed.fleet else (allowed.fleet_reason or "a rule keeps it off the fleet")
    return model.Decision(
        pkg.id,
        opt.carrier,
        opt.service,
        None,
        opt.cost,
        "capacity" if allowed.fleet else "eligibility",
        f"late: {opt.carrier} takes {transit} days{promise}; {why} and "
        + no_partner_reason(problem, allowed),
        (),
        None,
    )


def _best_partner(allowed: rules.Allowed) -> model.PartnerOption | None:
    return min(allowed.carriers.values(), key=lambda o: o.cost.amount, default=None)


def _fleet_decision(allowed: rules.Allowed, vid: str, marginal: money.Money) -> model.Decision:
    best = _best_partner(allowed)
    best_cost = best.cost if best else None
    risk = allowed.on_time
    rule_ids = allowed.required_by or tuple(sorted({r for v in allowed.removed_by.values() for r in v}))
    if allowed.required_by:
        reason: model.Reason = "rule"
        detail = "a rule requires the fleet"
    elif best is None and risk.fallback:
        reason = "rule" if risk.rule_ids else "eligibility"
        detail = "no partner is as likely to be on time"
        rule_ids = risk.rule_ids
    elif best is None and allowed.removed_by:
        reason, detail = "rule", "rules forbid every partner"
    elif best is None:
        reason, detail = "eligibility", "no partner can take it"
    else:
        reason = "cost"
        detail = f"van {vid} delivers it for about {marginal} against {best.carrier} at {best.cost}"
    if note := risk.describe(risk.fleet_probability):
        detail += f"; {note}"
    return model.Decision(
        allowed.package_id, model.FLEET, None, vid, marginal, reason, detail, rule_ids, best_cost
    )


def _partner_decision(
    pkg: model.Package, allowed: rules.Allowed, carrier: str, room: Sequence[tuple[Decimal, Decimal, int]]
) -> model.Decision:
    opt = allowed.carriers[carrier]
    best = _best_partner(allowed)
    rule_ids: tuple[str, ...] = ()
    if model.FLEET in allowed.removed_by or allowed.required_by:
        reason: model.Reason = "rule"
        rule_ids = allowed.required_by or allowed.removed_by[model.FLEET]
        detail = (
            "a rule keeps it off the fleet" if model.FLEET in allowed.removed_by else "a rule requires it"
        )
    elif allowed.fleet_reason is not None:
        reason, detail = "eligibility", allowed.fleet_reason
    elif model.FLEET in allowed.on_time.dropped:
        reason = "rule" if allowed.on_time.rule_ids else "eligibility"
        rule_ids = allowed.on_time.rule_ids
        detail = allowed.on_time.fleet_dropped()
    elif not any(kg >= pkg.weight_kg and m3 >= pkg.volume_m3 and stops > 0 for kg, m3, stops in room):
        reason, detail = "capacity", "no van has room left for it"
    else:
        reason = "cost"
        detail = f"{carrier} at {opt.cost} costs less than a van detour"
    if best is not None and best.carrier != carrier and reason == "cost":
        detail += f" (cheapest partner {best.carrier} at {best.cost} was capped or grouped)"
    if note := allowed.on_time.describe(opt.on_time_probability):
        detail += f"; {note}"
    return model.Decision(
        allowed.package_id,
        carrier,
        opt.service,
        None,
        opt.cost,
        reason,
        detail,
        rule_ids,
        best.cost if best else None,
    )


def _fleet_room(
    problem: model.Problem, fleet: Mapping[str, Sequence[str]]
) -> list[tuple[Decimal, Decimal, int]]:
    """Return spare (kg, m3, stops) per van."""
    packages = _index(problem)
    room = []
    for van in problem.vehicles:
        pids = fleet.get(van.id, ())
        room.append(
            (
                van.capacity_kg - sum((packages[p].weight_kg for p in pids), Decimal(0)),
                van.capacity_m3 - sum((packages[p].volume_m3 for p in pids), Decimal(0)),
                (van.max_stops if van.max_stops is not None else 10**9) - len(pids),
            )
        )
    return room
