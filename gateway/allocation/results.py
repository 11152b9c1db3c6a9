"""Plan results as stored and served: per package, routes, handovers, totals, baseline, summary figures."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from allocation import model
from gateway.allocation import _format, day_input, fleet, tables


def _on_time(problem: model.Problem, plan: model.Plan) -> dict[str, Any]:
    """The mean on-time probability of the options the plan chose, over those with a known one.

    A van's is the fleet's (``problem.fleet_on_time_probability``), a partner's that of the offer of the
    chosen carrier and service; an unassigned package or an unknown probability is counted apart.
    """
    offers = {
        (pid, o.carrier, o.service): o.on_time_probability
        for pid, opts in problem.options.items()
        for o in opts
    }
    known: list[float] = []
    for d in plan.decisions:
        if d.assignee == model.FLEET:
            p = problem.fleet_on_time_probability
        elif d.assignee:
            p = offers.get((d.package_id, d.assignee, d.service or ""))
        else:
            p = None
        if p is not None:
            known.append(p)
    return {
        "mean_probability": f"{sum(known) / len(known):.3f}" if known else None,
        "known": len(known),
        "unknown": len(plan.decisions) - len(known),
    }


def summarise(problem: model.Problem, plan: model.Plan) -> dict[str, Any]:
    """Return a plan's comparable figures: costs, utilisation, missed promises, share per carrier."""
    cur = problem.currency
    n = len(problem.packages)
    vans = {v.id: v for v in problem.vehicles}
    used = [r for r in plan.routes if r.stops]
    cap_kg = sum((vans[r.vehicle_id].capacity_kg for r in used), Decimal(0))
    load_kg = sum((r.load_kg for r in used), Decimal(0))
    shift = sum((vans[r.vehicle_id].shift_end - vans[r.vehicle_id].shift_start for r in used), 0)
    on_road = sum((r.duration_minutes for r in used), 0)
    shares: dict[str, dict[str, Any]] = {}
    for d in plan.decisions:
        key = d.assignee or "unassigned"
        s = shares.setdefault(key, {"packages": 0, "cost": Decimal(0)})
        s["packages"] += 1
        s["cost"] += d.cost.amount if d.assignee != model.FLEET else Decimal(0)
    for r in used:
        shares.setdefault(model.FLEET, {"packages": 0, "cost": Decimal(0)})["cost"] += r.cost.amount
    return {
        "total_cost": _format.amount(plan.total_cost.amount, cur),
        "fleet_cost": _format.amount(plan.fleet_cost.amount, cur),
        "partner_cost": _format.amount(plan.partner_cost.amount, cur),
        "cost_per_package": _format.amount(plan.total_cost.amount / n if n else Decimal(0), cur),
        "packages": n,
        "fleet": {
            "vans_available": len(problem.vehicles),
            "vans_used": len(used),
            "stops": sum(len(r.stops) for r in used),
            "load_kg": str(load_kg),
            "utilisation_kg_percent": None if not cap_kg else f"{load_kg / cap_kg * 100:.1f}",
            "utilisation_shift_percent": None if not shift else f"{on_road / shift * 100:.1f}",
            "distance_km": str(sum((r.distance_km for r in used), Decimal(0))),
        },
        "missed_promises": len(plan.unassigned),
        "on_time": _on_time(problem, plan),
        "share": {
            k: {
                "packages": v["packages"],
                "percent": f"{v['packages'] / n * 100:.1f}" if n else "0.0",
                "cost": _format.amount(v["cost"], cur),
            }
            for k, v in sorted(shares.items())
        },
    }


def plan_result(
    problem: model.Problem,
    plan: model.Plan,
    baseline: model.Plan,
    built: day_input.DayInput,
    depot: tables.Depot,
    fleet_used: dict[str, Any],
) -> dict[str, Any]:
    """Shape a solved plan for storage and the API: per package, routes, handovers, totals, baseline."""
    cur = problem.currency
    day = built.day
    names = {v["id"]: v["name"] for v in fleet_used["vehicles"]}
    stop_of: dict[str, tuple[str, model.Stop]] = {}
    routes = []
    for r in plan.routes:
        for s in r.stops:
            stop_of[s.package_id] = (r.vehicle_id, s)
        routes.append(
            {
                "vehicle_id": r.vehicle_id,
                "vehicle_name": names.get(r.vehicle_id),
                "depart": day_input.local_instant(depot, day, r.depart).isoformat(),
                "back": day_input.local_instant(depot, day, r.back).isoformat(),
                "duration_minutes": r.duration_minutes,
                "distance_km": str(r.distance_km),
                "load_kg": str(r.load_kg),
                "load_m3": str(r.load_m3),
                "cost": _format.amount_of(r.cost),
                "stops": [
                    {
                        "sequence": s.sequence,
                        "shipment_id": s.package_id,
                        "reference": built.meta[s.package_id].reference,
                        "eta": day_input.local_instant(depot, day, s.service_start).isoformat(),
                        "eta_local": fleet.clock(s.service_start),
                        "arrival": day_input.local_instant(depot, day, s.arrival).isoformat(),
                    }
                    for s in r.stops
                ],
            }
        )
    issues_by_pkg: dict[str, list[model.Issue]] = defaultdict(list)
    for i in plan.issues:
        for pid in i.package_ids:
            issues_by_pkg[pid].append(i)
    packages = []
    infeasible = []
    for d in plan.decisions:
        meta = built.meta[d.package_id]
        entry: dict[str, Any] = {
            "shipment_id": d.package_id,
            "reference": meta.reference,
            "assignee": "fleet" if d.assignee == model.FLEET else ("partner" if d.assignee else "none"),
            "carrier": d.assignee or None,
            "service": day_input.FLEET_SERVICE if d.assignee == model.FLEET else d.service,
            "rate_id": meta.rate_ids.get(f"{d.assignee}/{d.service}"),
            "vehicle_id": None,
            "stop": None,
            "eta": None,
            "cost": _format.amount_of(d.cost),
            "best_partner_cost": _format.amount_of(d.best_partner_cost),
            "reason": d.reason,
            "detail": d.detail,
            "rule_ids": list(d.rule_ids),
            "approximate_location": meta.approximate,
        }
        if d.package_id in stop_of:
            vid, stop = stop_of[d.package_id]
            entry.update(
                vehicle_id=vid,
                stop=stop.sequence,
                eta=day_input.local_instant(depot, day, stop.service_start).isoformat(),
            )
        packages.append(entry)
        if not d.assignee:
            found = issues_by_pkg.get(d.package_id, [])
            infeasible.append(
                {
                    "shipment_id": d.package_id,
                    "reference": meta.reference,
                    "reasons": [i.message for i in found] or [d.detail],
                    "rule_ids": sorted({r for i in found for r in i.rule_ids} | set(d.rule_ids)),
                }
            )
    handovers = [
        {
            "carrier": h.carrier,
            "shipment_ids": list(h.package_ids),
            "packages": len(h.package_ids),
            "weight_kg": str(h.weight_kg),
            "cost": _format.amount_of(h.cost),
        }
        for h in plan.handovers
    ]
    saving = baseline.total_cost.amount - plan.total_cost.amount
    return {
        "currency": cur,
        "engine": plan.engine,
        "method": plan.method,
        "solve_seconds": round(plan.solve_seconds, 3),
        "lower_bound": _format.amount_of(plan.lower_bound),
        "gap": None if plan.gap is None else str(plan.gap),
        "gap_percent": None if plan.gap is None else f"{plan.gap * 100:.2f}",
        "totals": {
            "fleet": _format.amount(plan.fleet_cost.amount, cur),
            "partners": _format.amount(plan.partner_cost.amount, cur),
            "total": _format.amount(plan.total_cost.amount, cur),
            "packages": len(problem.packages),
            "fleet_packages": sum(len(r.stops) for r in plan.routes),
            "partner_packages": sum(len(h.package_ids) for h in plan.handovers),
            "infeasible_packages": len(plan.unassigned),
        },
        "baseline": {
            "method": baseline.method,
            "total": _format.amount(baseline.total_cost.amount, cur),
            "unassigned": len(baseline.unassigned),
        },
        "savings": {
            "amount": _format.amount(saving, cur),
            "percent": None
            if baseline.total_cost.amount == 0
            else f"{saving / baseline.total_cost.amount * 100:.2f}",
        },
        "summary": summarise(problem, plan),
        "packages": packages,
        "routes": routes,
        "handovers": handovers,
        "infeasible": infeasible,
        "issues": [_format.issue(i) for i in plan.issues],
        "skipped": built.skipped,
    }
