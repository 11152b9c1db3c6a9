"""The day in numbers: aggregate what the API said across tenants, and print it for a terminal.

``build(...)`` turns the phases' findings (KPIs per tenant from ``GET /v1/kpis``, the applied
plans, the reconciliation reports, the webhook receiver's tally) into one plain, JSON-ready
record. The terminal summary and the HTML report both read that record.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any, TextIO

from demo import carriers as carrier_data
from demo.progress import fmt_seconds

COUNTS = (
    "shipments",
    "labelled",
    "voided",
    "tracked",
    "delivered",
    "delivered_on_time",
    "delivered_with_promise",
    "first_attempt",
    "failed_attempts",
    "with_exception",
    "returned",
    "in_flight",
)


def legend(record: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Name and colour per carrier code: the record's own, or derived from its carriers (older records)."""
    found = record.get("carrier_legend")
    if found:
        return dict(found)
    codes = list(record.get("carriers") or {}) + [h[2] for h in record.get("handovers") or []]
    return carrier_data.legend(dict.fromkeys(codes))


def carrier_name(record: dict[str, Any], code: str) -> str:
    return (legend(record).get(code) or {}).get("name") or carrier_data.display_name(code)


def _pct(part: float, whole: float) -> float | None:
    return None if not whole else round(100.0 * part / whole, 1)


def _dec(money: dict[str, Any] | None) -> Decimal:
    return Decimal(str((money or {}).get("amount") or 0))


def _merge_blocks(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(COUNTS, 0)
    cost = recoverable = Decimal(0)
    reasons: Counter[str] = Counter()
    for b in blocks:
        for k in COUNTS:
            out[k] += int(b.get(k) or 0)
        cost += _dec(b.get("cost"))
        recoverable += _dec(b.get("recoverable"))
        for r in b.get("exceptions_by_reason") or []:
            reasons[r["reason"]] += int(r["shipments"])
    out["cost"] = float(cost)
    out["recoverable"] = float(recoverable)
    out["on_time_percent"] = _pct(out["delivered_on_time"], out["delivered_with_promise"])
    out["first_attempt_percent"] = _pct(out["first_attempt"], out["delivered"])
    out["exception_rate_percent"] = _pct(out["with_exception"], out["tracked"])
    out["cost_per_delivery"] = None if not out["delivered"] else round(float(cost) / out["delivered"], 2)
    out["cost_per_shipment"] = None if not out["shipments"] else round(float(cost) / out["shipments"], 2)
    out["exceptions_by_reason"] = dict(reasons.most_common())
    return out


ETA_KEYS = (
    "deliveries",
    "mae_days",
    "carrier_estimate_mae_days",
    "window_coverage_percent",
    "at_risk_alerts",
    "at_risk_precision",
    "at_risk_recall",
)


def _num(value: Any) -> float | None:
    """A KPI figure as a float; None for null, missing or not a number (figures may come as strings)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _weighted(parts: list[tuple[float | None, float]]) -> float | None:
    """The mean of the values that exist, weighted; None when none does."""
    have = [(v, w) for v, w in parts if v is not None and w > 0]
    weight = sum(w for _, w in have)
    return round(sum(v * w for v, w in have) / weight, 2) if weight else None


def merge_eta(
    blocks: list[dict[str, Any] | None], late: list[int | None] | None = None
) -> dict[str, Any] | None:
    """Merge the tenants' ``totals.eta`` objects of ``GET /v1/kpis``: None when no tenant has one.

    Counts add up; the mean errors and the window coverage are weighted by deliveries; precision is
    weighted by alerts (right alerts over alerts); recall is right alerts over late deliveries, each
    tenant's late deliveries taken from ``late`` (its KPI block's deliveries with a promise less those on
    time), else from its own recall. A figure no tenant has stays None.
    """
    lates = list(late) if late is not None else [None] * len(blocks)
    pairs = [(b, n) for b, n in zip(blocks, lates, strict=True) if isinstance(b, dict)]
    found = [b for b, _ in pairs]
    if not found:
        return None
    out: dict[str, Any] = {}
    deliveries = [(_num(b.get("deliveries")) or 0.0) for b in found]
    alerts = [(_num(b.get("at_risk_alerts")) or 0.0) for b in found]
    out["deliveries"] = (
        int(sum(deliveries)) if any(_num(b.get("deliveries")) is not None for b in found) else None
    )
    for key in ("mae_days", "carrier_estimate_mae_days", "window_coverage_percent"):
        out[key] = _weighted([(_num(b.get(key)), d) for b, d in zip(found, deliveries, strict=True)])
    out["at_risk_alerts"] = (
        int(sum(alerts)) if any(_num(b.get("at_risk_alerts")) is not None for b in found) else None
    )
    out["at_risk_precision"] = _weighted(
        [(_num(b.get("at_risk_precision")), a) for b, a in zip(found, alerts, strict=True)]
    )
    caught = missed = 0.0
    recalls = 0
    for (b, n_late), a in zip(pairs, alerts, strict=True):
        precision, recall = _num(b.get("at_risk_precision")), _num(b.get("at_risk_recall"))
        if recall is None:
            continue
        recalls += 1
        right = (precision or 0.0) * a / (100 if (precision or 0.0) > 1 else 1)  # a count of alerts
        fraction = recall / 100 if recall > 1 else recall
        if n_late is None:
            n_late = right / fraction if fraction > 0 else None
        if n_late is None:
            continue
        caught += right
        missed += n_late
    out["at_risk_recall"] = None if not recalls else round(caught / missed, 3) if missed else 0.0
    # Anything else the gateway reports (``from_history``, …): counts add up, anything else as first seen.
    for key in dict.fromkeys(k for b in found for k in b if k not in ETA_KEYS):
        values = [b.get(key) for b in found if b.get(key) is not None]
        if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            out[key] = sum(values)
        else:
            out[key] = values[0] if values else None
    return out


def _late(block: dict[str, Any]) -> int | None:
    """A KPI block's late deliveries: those with a promise less those on time (None when not reported)."""
    with_promise, on_time = block.get("delivered_with_promise"), block.get("delivered_on_time")
    if with_promise is None or on_time is None:
        return None
    return max(0, int(with_promise) - int(on_time))


def prediction_basis(orders: list[Any]) -> dict[str, int]:
    """What the booking predictions of the partners' labelled shipments were based on (``prediction.basis``
    of the rate each one shipped at): with no delivery history, ``carrier_estimate``."""
    basis: Counter[str] = Counter()
    for o in orders:
        if not getattr(o, "tracking_number", None) or getattr(o, "carrier", None) in (None, "fleet"):
            continue
        rate = next((r for r in getattr(o, "rates", None) or [] if r.get("id") == o.rate_id), None)
        prediction = (rate or {}).get("prediction") or {}
        basis[str(prediction.get("basis") or "none")] += 1
    return dict(basis.most_common())


def _routes(plans: dict[str, Any], orders_by_id: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for slug, plan in plans.items():
        result = (plan or {}).get("result") or {}
        for r in result.get("routes") or []:
            if not r.get("stops"):
                continue
            points = []
            for s in r["stops"]:
                o = orders_by_id.get(s["shipment_id"])
                if o is not None:
                    points.append([round(o.lon, 5), round(o.lat, 5)])
            out.append(
                {
                    "tenant": slug,
                    "vehicle": r.get("vehicle_name") or r.get("vehicle_id"),
                    "stops": len(r["stops"]),
                    "distance_km": float(Decimal(str(r.get("distance_km") or 0))),
                    "duration_minutes": r.get("duration_minutes"),
                    "cost": float(_dec(r.get("cost"))),
                    "load_kg": float(Decimal(str(r.get("load_kg") or 0))),
                    "points": points,
                }
            )
    return out


def build(
    *,
    meta: dict[str, Any],
    phases: list[dict[str, Any]],
    data: dict[str, Any],
    orders: list[Any],
) -> dict[str, Any]:
    """Return the day's record: everything the summary and the report show."""
    kpis: dict[str, Any] = data.get("kpis") or {}
    by_carrier: dict[str, list[dict[str, Any]]] = defaultdict(list)
    totals = []
    for k in kpis.values():
        totals.append(k["totals"])
        for c in k.get("by_carrier") or []:
            by_carrier[c["carrier"]].append(c)
    carriers = {c: _merge_blocks(blocks) for c, blocks in by_carrier.items()}
    fleet: dict[str, Any] = {}
    planned = baseline = Decimal(0)
    for k in kpis.values():
        f = k.get("fleet")
        if not f:
            continue
        for key in ("vans_available", "vans_used", "stops", "plans"):
            fleet[key] = fleet.get(key, 0) + int(f.get(key) or 0)
        fleet["distance_km"] = fleet.get("distance_km", 0.0) + float(Decimal(str(f.get("distance_km") or 0)))
        planned += _dec(f.get("planned_cost"))
        baseline += _dec(f.get("baseline_cost"))
    plans = data.get("allocation") or {}
    loads = [
        (float(Decimal(str(((p or {}).get("result") or {}).get("summary", {}).get("fleet", {}).get("load_kg") or 0))),
         (p or {}).get("result", {}).get("summary", {}).get("fleet", {}).get("utilisation_kg_percent"))
        for p in plans.values()
    ]  # fmt: skip
    cap = sum(load * 100 / float(pct) for load, pct in loads if pct and float(pct) > 0)
    used = sum(load for load, pct in loads if pct and float(pct) > 0)
    shifts = [
        (float(pct), int(f.get("vans_used") or 0))
        for p in plans.values()
        for f in [((p or {}).get("result") or {}).get("summary", {}).get("fleet", {})]
        for pct in [f.get("utilisation_shift_percent")]
        if pct
    ]
    if fleet:
        fleet["planned_cost"] = float(planned)
        fleet["baseline_cost"] = float(baseline)
        fleet["savings"] = float(baseline - planned)
        fleet["savings_percent"] = _pct(float(baseline - planned), float(baseline))
        fleet["utilisation_kg_percent"] = _pct(used, cap) if cap else None
        vans = sum(n for _, n in shifts)
        fleet["utilisation_shift_percent"] = round(sum(p * n for p, n in shifts) / vans, 1) if vans else None
    recon = data.get("reconciliation") or {}
    findings: Counter[str] = Counter()
    recoverable_by_class: dict[str, float] = defaultdict(float)
    injected: Counter[str] = Counter()
    invoices = []
    for key, r in recon.items():
        inv = r.get("invoice") or {}
        report = (inv.get("reconciliation") or {}).get("report") or {}
        for cls, t in (report.get("by_class") or {}).items():
            findings[cls] += int(t.get("lines") or 0)
            recoverable_by_class[cls] += float(_dec(t.get("recoverable")))
        for i in r.get("injected") or []:
            injected[i["kind"]] += 1
        t = report.get("totals") or {}
        invoices.append(
            {
                "tenant": r.get("tenant") or key,
                "carrier": r.get("carrier") or inv.get("carrier"),
                "invoice_number": inv.get("invoice_number"),
                "lines": inv.get("lines"),
                "billed": float(_dec(t.get("billed") or inv.get("billed"))),
                "expected": float(_dec(t.get("expected"))),
                "recoverable": float(_dec(t.get("recoverable"))),
                "flagged_lines": int(t.get("flagged_lines") or 0),
                "status": inv.get("status"),
            }
        )
    orders_by_id = {o.shipment_id: o for o in orders if o.shipment_id}
    handovers = [
        [round(o.lon, 5), round(o.lat, 5), o.carrier]
        for o in orders
        if o.carrier and o.carrier != "fleet" and o.tracking_number
    ]
    ordered = dict(sorted(carriers.items(), key=lambda kv: -kv[1]["shipments"]))
    # Every carrier the day saw: the KPI rows, the partners the gateway sold, the handovers, the invoices.
    seen = [*ordered, *(data.get("partners") or []), *(h[2] for h in handovers)]
    seen += [i["carrier"] for i in invoices if i.get("carrier")]
    return {
        "meta": meta,
        "carrier_legend": carrier_data.legend(dict.fromkeys(seen)),
        "phases": phases,
        "totals": _merge_blocks(totals),
        "carriers": ordered,
        "tenants": {slug: _merge_blocks([k["totals"]]) for slug, k in kpis.items()},
        "fleet": fleet or None,
        "routes": _routes(plans, orders_by_id),
        "handovers": handovers,
        "reconciliation": {
            "invoices": invoices,
            "findings": dict(findings.most_common()),
            "recoverable_by_class": dict(sorted(recoverable_by_class.items(), key=lambda kv: -kv[1])),
            "injected": dict(injected.most_common()),
            "recoverable": round(sum(i["recoverable"] for i in invoices), 2),
        }
        if recon
        else None,
        "webhooks": data.get("webhooks"),
        "labels": data.get("labels"),
        "tracking": data.get("tracking"),
        "booking": data.get("booking"),
        "world": {"name": meta.get("world"), **(data.get("world") or {})}
        if meta.get("world")
        else data.get("world"),
        "eta": {
            "available": any(isinstance((k.get("totals") or {}).get("eta"), dict) for k in kpis.values()),
            "totals": merge_eta(
                [(k.get("totals") or {}).get("eta") for k in kpis.values()],
                [_late(k.get("totals") or {}) for k in kpis.values()],
            ),
            "tenants": {slug: (k.get("totals") or {}).get("eta") for slug, k in kpis.items()},
            "carriers": {
                c: merged
                for c, blocks in by_carrier.items()
                if (merged := merge_eta([b.get("eta") for b in blocks], [_late(b) for b in blocks]))
                is not None
            },
            "basis": prediction_basis(orders),
        }
        if kpis
        else None,
    }


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def _p(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _fraction_pct(value: Any) -> str:
    """A share the gateway gives as a fraction (0.62) or a percentage (62.0), as a percentage."""
    v = _num(value)
    return "-" if v is None else f"{v * 100 if v <= 1 else v:.0f}%"


def _days(value: Any) -> str:
    v = _num(value)
    return "-" if v is None else f"{v:.2f}"


BASIS_NOTE = {
    "carrier_estimate": "the carrier's (or contract card's) estimate: no delivery history yet",
    "history": "this carrier, service and lane's delivery history",
    "history_any_lane": "the service's history over every lane",
    "none": "no prediction",
}


def eta_lines(record: dict[str, Any]) -> list[str]:
    """The ETA accuracy lines of the summary (``totals.eta`` of ``GET /v1/kpis``); never fails on nulls."""
    eta = record.get("eta") or {}
    e = eta.get("totals")
    if not e:
        return ["ETA accuracy: not available (GET /v1/kpis reports no eta figures in this installation)"]
    parts = []
    if e.get("deliveries") == 0:
        parts.append("no delivered shipment had a booking prediction")
    else:
        if e.get("deliveries") is not None:
            parts.append(f"{e['deliveries']:,} deliveries with a booking prediction")
        if "mae_days" in e:
            parts.append(f"p50 off by {_days(e.get('mae_days'))} business days on average")
        if "carrier_estimate_mae_days" in e:
            parts.append(f"the carrier's estimate at booking by {_days(e.get('carrier_estimate_mae_days'))}")
        if "window_coverage_percent" in e:
            parts.append(f"{_p(_num(e.get('window_coverage_percent')))} within the p10-p90 window")
    lines = ["ETA accuracy: " + ("; ".join(parts) if parts else "no figures yet")]
    if any(k in e for k in ("at_risk_alerts", "at_risk_precision", "at_risk_recall")):
        alerts = e.get("at_risk_alerts")
        lines.append(
            f"  At-risk alerts: {'-' if alerts is None else f'{alerts:,}'}, precision "
            f"{_fraction_pct(e.get('at_risk_precision'))}, recall {_fraction_pct(e.get('at_risk_recall'))}"
        )
    basis = eta.get("basis") or {}
    if basis:
        said = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in basis.items())
        lines.append(f"  Predictions based on: {said}")
        if set(basis) <= {"carrier_estimate", "none"}:
            lines.append(
                "  (the demo starts with no delivery history, so every booking prediction is the carrier's "
                "or card's estimate)"
            )
    return lines


def _world_detail(world: dict[str, Any]) -> str:
    bits = []
    if world.get("labels"):
        bits.append(f"{world['labels']:,} partner labels")
    if world.get("simulated_days"):
        bits.append(f"simulated time ran {world['simulated_days']:g} days past the pickup")
    if world.get("last_delivery"):
        bits.append(f"last delivery {str(world['last_delivery'])[:10]}")
    return f" ({'; '.join(bits)})" if bits else ""


def render(record: dict[str, Any], out: TextIO) -> None:
    """Print the day's summary."""
    w = out.write
    meta = record["meta"]
    w("\n" + "=" * 78 + "\n")
    w(f" Handoff demo day: {meta['day_label']} at the {meta['depot']} (seed {meta['seed']})\n")
    w("=" * 78 + "\n")
    t = record["totals"]
    w(f" {t['shipments']:,} shipments booked by {len(record['tenants'])} tenants; {t['labelled']:,} labelled, "
      f"{t['delivered']:,} delivered, {t['in_flight']:,} still on the way, {t['returned']:,} returning\n\n")  # fmt: skip
    w(" Cost by carrier and fleet\n")
    w(
        f"   {'':<16}{'shipments':>10}{'cost':>13}{'per delivery':>14}{'on time':>9}{'1st attempt':>13}{'exceptions':>12}\n"
    )
    for key, c in record["carriers"].items():
        w(f"   {carrier_name(record, key):<16}{c['shipments']:>10,}{_money(c['cost']):>13}"
          f"{_money(c['cost_per_delivery']):>14}{_p(c['on_time_percent']):>9}"
          f"{_p(c['first_attempt_percent']):>13}{_p(c['exception_rate_percent']):>12}\n")  # fmt: skip
    w(f"   {'All':<16}{t['shipments']:>10,}{_money(t['cost']):>13}{_money(t['cost_per_delivery']):>14}"
      f"{_p(t['on_time_percent']):>9}{_p(t['first_attempt_percent']):>13}{_p(t['exception_rate_percent']):>12}\n\n")  # fmt: skip
    f = record.get("fleet")
    if f:
        w(f" Savings against the cheapest-partner baseline: {_money(f['savings'])} ({_p(f['savings_percent'])}); "
          f"planned {_money(f['planned_cost'])} vs {_money(f['baseline_cost'])} if every parcel went to its cheapest partner (vans only for what none takes)\n")  # fmt: skip
        w(f" Fleet utilisation: {f.get('vans_used', 0)}/{f.get('vans_available', 0)} vans on the road, "
          f"{f.get('stops', 0):,} stops, {f.get('distance_km', 0):,.0f} km; load {_p(f.get('utilisation_kg_percent'))} "
          f"of capacity, shift {_p(f.get('utilisation_shift_percent'))} of the hours\n")  # fmt: skip
    else:
        w(" Savings and fleet utilisation: not available (no allocation plan was applied)\n")
    w(f" On-time delivery: {_p(t['on_time_percent'])} of {t['delivered_with_promise']:,} deliveries with a promise; "
      f"first-attempt: {_p(t['first_attempt_percent'])}\n")  # fmt: skip
    world = record.get("world") or {}
    if world.get("name") == "none":
        w(" Carriers' world: none (--world none): every partner parcel arrives about a day later\n")
    elif world.get("name"):
        w(f" Carriers' world: {world['name']}" + _world_detail(world) + "\n")
    for line in eta_lines(record):
        w(f" {line}\n")
    reasons = t.get("exceptions_by_reason") or {}
    if reasons:
        w(
            " Exceptions by reason: "
            + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in reasons.items())
            + "\n"
        )
    else:
        w(" Exceptions by reason: none recorded\n")
    rec = record.get("reconciliation")
    if rec:
        classes = ", ".join(
            f"{k.replace('_', ' ')} {_money(v)}" for k, v in rec["recoverable_by_class"].items() if v
        )
        billers = ", ".join(
            dict.fromkeys(carrier_name(record, i["carrier"]) for i in rec["invoices"] if i.get("carrier"))
        )
        w(f" Recoverable money found in {len(rec['invoices'])} invoices"
          + (f" ({billers})" if billers else "") + f": {_money(rec['recoverable'])}"
          + (f" ({classes})" if classes else "") + "\n")  # fmt: skip
    else:
        w(" Recoverable money in invoices: not available (no invoice was reconciled)\n")
    hooks = record.get("webhooks")
    if hooks:
        pending = f", {hooks['pending']} still pending" if hooks.get("pending") else ""
        w(f" Webhooks: {hooks['received']:,} delivered to the local receiver, "
          f"{hooks['verified']:,} signatures verified{pending}\n")  # fmt: skip
    w("\n Phases\n")
    for p in record["phases"]:
        mark = {"ok": "ok", "skipped": "SKIPPED", "failed": "FAILED"}[p["status"]]
        w(
            f"   {p['title']:<34}{fmt_seconds(p['seconds']):>12}  {mark}{': ' + p['detail'] if p['status'] != 'ok' else ''}\n"
        )
    w(f"   {'Total':<34}{fmt_seconds(meta['total_seconds']):>12}\n")
    cpu = meta.get("cpu_by_process") or {}
    if cpu:
        cores = max(1, int(meta.get("cpus") or 1))
        total = sum(cpu.values())
        parts = ", ".join(f"{k} {v:.0f} s" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1]))
        w(f"   CPU: {fmt_seconds(total)} across the processes ({parts}); on an otherwise idle "
          f"{cores}-core machine the day needs at least {fmt_seconds(total / cores)}\n")  # fmt: skip
    if meta.get("calibration_cpu_seconds"):
        w(f"   Machine: a reference loop took {meta['calibration_cpu_seconds']:.2f} CPU s (it grows with contention; "
          f"compare runs by it); load average {meta.get('load_average')}\n")  # fmt: skip
    out.flush()
