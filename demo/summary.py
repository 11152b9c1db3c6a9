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
    }


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def _p(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


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
