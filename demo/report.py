"""The day as a self-contained HTML report: inline CSS, inline SVG charts drawn here, a few lines of JS.

Nothing is fetched from anywhere (no CDN, no fonts, no images), so the file opens from disk or an
e-mail attachment. Every chart is an ``<svg data-chart="...">`` with ``<title>`` tooltips; the
small script highlights a route when its legend entry is hovered and, once the page has laid
out, records on ``<body data-charts-rendered>`` how many charts have a non-empty size (what the
headless-browser test checks).
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

from demo.carriers import OTHER_COLOUR
from demo.progress import fmt_seconds
from demo.summary import legend

PALETTE = (
    "#2563eb", "#db2777", "#16a34a", "#ea580c", "#7c3aed", "#0891b2", "#ca8a04", "#dc2626",
    "#4f46e5", "#059669", "#c026d3", "#65a30d", "#0284c7", "#e11d48", "#9333ea", "#d97706",
)  # fmt: skip
TENANT_COLOURS = ("#2563eb", "#db2777", "#0891b2", "#7c3aed")
DASH = "\u2013"  # shown for a figure that is not available


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def money(value: float | None) -> str:
    return DASH if value is None else f"${value:,.2f}"


def pct(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f}%"


def carrier_name(record: dict[str, Any], key: str) -> str:
    return (legend(record).get(key) or {}).get("name") or key


def carrier_colour(record: dict[str, Any], key: str) -> str:
    return (legend(record).get(key) or {}).get("colour") or OTHER_COLOUR


# --- charts ----------------------------------------------------------------------------------------


def route_map(record: dict[str, Any], width: int = 760, height: int = 560) -> str:
    """Fleet routes as polylines over lon/lat (equirectangular, scaled by the latitude's cosine)."""
    depot = record["meta"]["depot_lonlat"]
    routes = record.get("routes") or []
    pts = [p for r in routes for p in r["points"]] + [depot]
    if len(pts) == 1:  # no routes: frame the metro area around the depot
        pts += [[depot[0] - 0.35, depot[1] - 0.25], [depot[0] + 0.35, depot[1] + 0.25]]
    lons, lats = sorted(p[0] for p in pts), sorted(p[1] for p in pts)
    # Frame where the stops are: a few far-flung ones (a van sent to Princeton) would shrink the
    # city to a dot, so the frame holds the middle 96 % of stops and lines run off its edge.
    cut = len(pts) // 50 if len(pts) >= 50 else 0
    lo_lon, hi_lon = min(lons[cut], depot[0]), max(lons[-1 - cut], depot[0])
    lo_lat, hi_lat = min(lats[cut], depot[1]), max(lats[-1 - cut], depot[1])
    margin_lon, margin_lat = (hi_lon - lo_lon) * 0.04, (hi_lat - lo_lat) * 0.04
    lo_lon, hi_lon, lo_lat, hi_lat = (
        lo_lon - margin_lon,
        hi_lon + margin_lon,
        lo_lat - margin_lat,
        hi_lat + margin_lat,
    )
    kx = math.cos(math.radians((lo_lat + hi_lat) / 2))
    span_x, span_y = max((hi_lon - lo_lon) * kx, 1e-6), max(hi_lat - lo_lat, 1e-6)
    pad = 24
    scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
    off_x = (width - span_x * scale) / 2
    off_y = (height - span_y * scale) / 2

    def xy(p: list[float]) -> tuple[float, float]:
        return off_x + (p[0] - lo_lon) * kx * scale, height - (off_y + (p[1] - lo_lat) * scale)

    out = [
        f'<svg data-chart="route-map" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="Map of the fleet routes" class="map">',
        f'<rect width="{width}" height="{height}" fill="#f8fafc"/>',
    ]
    # A 5 km grid so distances read at a glance.
    km_lat = 1 / 110.574
    step = 5 * km_lat
    y = math.floor(lo_lat / step) * step
    while y <= hi_lat:
        _, py = xy([lo_lon, y])
        out.append(f'<line x1="0" x2="{width}" y1="{py:.1f}" y2="{py:.1f}" class="grid"/>')
        y += step
    step_lon = 5 / (111.320 * kx)
    x = math.floor(lo_lon / step_lon) * step_lon
    while x <= hi_lon:
        px, _ = xy([x, lo_lat])
        out.append(f'<line y1="0" y2="{height}" x1="{px:.1f}" x2="{px:.1f}" class="grid"/>')
        x += step_lon
    outside = 0
    beyond_stops = sum(
        1
        for p in (q for r in routes for q in r["points"])
        if not (lo_lon <= p[0] <= hi_lon and lo_lat <= p[1] <= hi_lat)
    )
    for lon, lat, carrier in record.get("handovers") or []:
        if not (lo_lon <= lon <= hi_lon and lo_lat <= lat <= hi_lat):
            outside += 1
            continue
        px, py = xy([lon, lat])
        colour = carrier_colour(record, carrier)
        out.append(
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.2" fill="{colour}" opacity="0.55" class="handover"/>'
        )
    dx, dy = xy(depot)
    for i, r in enumerate(routes):
        colour = PALETTE[i % len(PALETTE)]
        coords = (
            [f"{dx:.1f},{dy:.1f}"]
            + [f"{a:.1f},{b:.1f}" for a, b in map(xy, r["points"])]
            + [f"{dx:.1f},{dy:.1f}"]
        )
        tip = f"{r['vehicle']} ({r['tenant']}): {r['stops']} stops, {r['distance_km']:.0f} km, {money(r['cost'])}"
        out.append(
            f'<polyline data-route="{i}" points="{" ".join(coords)}" fill="none" stroke="{colour}" '
            f'stroke-width="1.6" stroke-linejoin="round" opacity="0.85" class="route"><title>{esc(tip)}</title></polyline>'
        )
        for a, b in map(xy, r["points"]):
            out.append(
                f'<circle cx="{a:.1f}" cy="{b:.1f}" r="1.6" fill="{colour}" data-route="{i}" class="stop"/>'
            )
    star = " ".join(
        f"{dx + (9 if k % 2 == 0 else 4) * math.sin(k * math.pi / 5):.1f},{dy - (9 if k % 2 == 0 else 4) * math.cos(k * math.pi / 5):.1f}"
        for k in range(10)
    )
    out.append(
        f'<polygon points="{star}" fill="#111827" stroke="#fff" stroke-width="1.2"><title>Depot</title></polygon>'
    )
    bar = 10 / (111.320 * kx) * kx * scale
    out.append(
        f'<g class="scale"><line x1="{pad}" x2="{pad + bar:.1f}" y1="{height - 12}" y2="{height - 12}" stroke="#374151" stroke-width="2"/>'
        f'<text x="{pad}" y="{height - 17}">10 km</text></g>'
    )
    if outside or beyond_stops:
        parts = [
            f"{n} {what}" for n, what in ((beyond_stops, "van stops"), (outside, "partner parcels")) if n
        ]
        out.append(f'<text x="{width - pad}" y="{height - 12}" text-anchor="end" class="note">'
                   f"+ {' and '.join(parts)} beyond the map</text>")  # fmt: skip
    out.append("</svg>")
    return "".join(out)


def hbars(
    name: str,
    rows: list[tuple[str, float, str, str]],
    *,
    width: int = 520,
    label_width: int = 170,
    value_fmt: Any = str,
) -> str:
    """Horizontal bars: rows of (label, value, colour, tooltip)."""
    if not rows:
        return f'<p class="empty" data-chart-empty="{esc(name)}">Nothing to show.</p>'
    bar_h, gap = 20, 8
    height = len(rows) * (bar_h + gap) + gap
    top = max((v for _, v, _, _ in rows), default=0) or 1
    room = width - label_width - 90
    out = [
        f'<svg data-chart="{esc(name)}" viewBox="0 0 {width} {height}" width="{width}" style="max-width:100%;height:auto" '
        f'role="img" aria-label="{esc(name)}">'
    ]
    for i, (label, value, colour, tip) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        w = max(1.0, room * value / top) if value > 0 else 0
        out.append(
            f'<text x="{label_width - 8}" y="{y + 14}" text-anchor="end" class="label">{esc(label)}</text>'
            f'<rect x="{label_width}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="3" fill="{colour}"><title>{esc(tip)}</title></rect>'
            f'<text x="{label_width + w + 6:.1f}" y="{y + 14}" class="value">{esc(value_fmt(value))}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def stacked(name: str, parts: list[tuple[str, float, str]], *, width: int = 720, height: int = 46) -> str:
    """One stacked bar of shares (label, value, colour) with a legend."""
    total = sum(v for _, v, _ in parts) or 1
    out = [
        f'<svg data-chart="{esc(name)}" viewBox="0 0 {width} {height + 22}" width="100%" role="img" aria-label="{esc(name)}">'
    ]
    x = 0.0
    for label, value, colour in parts:
        w = width * value / total
        out.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{height}" fill="{colour}">'
                   f"<title>{esc(label)}: {money(value)} ({100 * value / total:.1f}%)</title></rect>")  # fmt: skip
        text = f"{label} {100 * value / total:.0f}%"
        if w > 7.5 * len(text) + 16:  # only where the words fit on the bar
            out.append(f'<text x="{x + 8:.1f}" y="{height / 2 + 5:.1f}" class="onbar">{esc(text)}</text>')
        x += w
    lx = 0
    for label, value, colour in parts:
        out.append(f'<rect x="{lx}" y="{height + 8}" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{lx + 14}" y="{height + 17}" class="legend">{esc(label)} {money(value)}</text>')  # fmt: skip
        lx += 14 + 8 * (len(label) + len(money(value)) + 2)
    out.append("</svg>")
    return "".join(out)


def gauge(name: str, value: float | None, colour: str, width: int = 160) -> str:
    v = 0 if value is None else max(0.0, min(100.0, value))
    return (
        f'<svg data-chart="{esc(name)}" viewBox="0 0 {width} 10" width="{width}" height="10" role="img" aria-label="{esc(name)}">'
        f'<rect width="{width}" height="10" rx="5" fill="#e5e7eb"/>'
        f'<rect width="{width * v / 100:.1f}" height="10" rx="5" fill="{colour}"><title>{pct(value)}</title></rect></svg>'
    )


def timeline(phases: list[dict[str, Any]], width: int = 720) -> str:
    """The phases one after the other, each bar as long as it took."""
    total = sum(p["seconds"] for p in phases) or 1
    bar_h, gap, label_w = 18, 6, 210
    room = width - label_w - 80
    height = len(phases) * (bar_h + gap) + gap
    out = [
        f'<svg data-chart="phase-timeline" viewBox="0 0 {width} {height}" width="{width}" '
        f'style="max-width:100%;height:auto" role="img" aria-label="Phase durations">'
    ]
    start = 0.0
    for i, p in enumerate(phases):
        y = gap + i * (bar_h + gap)
        x = label_w + room * start / total
        w = max(1.5, room * p["seconds"] / total)
        colour = {"ok": "#2563eb", "skipped": "#9ca3af", "failed": "#dc2626"}[p["status"]]
        out.append(
            f'<text x="{label_w - 8}" y="{y + 13}" text-anchor="end" class="label">{esc(p["title"])}</text>'
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="3" fill="{colour}"><title>{esc(p["title"])}: {fmt_seconds(p["seconds"])}</title></rect>'
            f'<text x="{x + w + 5:.1f}" y="{y + 13}" class="value">{fmt_seconds(p["seconds"])}</text>'
        )
        start += p["seconds"]
    out.append("</svg>")
    return "".join(out)


# --- page ------------------------------------------------------------------------------------------

CSS = """
:root { --ink:#111827; --muted:#6b7280; --line:#e5e7eb; --bg:#f3f4f6; --card:#fff; --ok:#16a34a; --warn:#b45309; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--ink); background:var(--bg); }
header { background:#0f172a; color:#fff; padding:28px 36px 22px; }
header h1 { margin:0 0 4px; font-size:24px; } header p { margin:0; color:#cbd5e1; }
main { max-width:1180px; margin:0 auto; padding:22px 24px 48px; }
section { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:18px 20px; margin:0 0 18px; }
h2 { font-size:17px; margin:0 0 12px; } h3 { font-size:14px; margin:0 0 8px; }
.tiles { display:grid; grid-template-columns:repeat(auto-fit,minmax(165px,1fr)); gap:12px; margin-bottom:18px; }
.tile { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:12px 14px; }
.tile b { display:block; font-size:22px; } .tile span { color:var(--muted); font-size:12px; }
.grid2 { display:grid; grid-template-columns:1.4fr 1fr; gap:18px; } @media (max-width:900px){ .grid2 { grid-template-columns:1fr; } }
table { border-collapse:collapse; width:100%; font-size:13px; } th,td { padding:6px 8px; border-bottom:1px solid var(--line); text-align:right; }
th:first-child, td:first-child { text-align:left; } th { color:var(--muted); font-weight:600; }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(250px,1fr)); gap:12px; }
.card { border:1px solid var(--line); border-radius:10px; padding:12px 14px; }
.card .row { display:flex; justify-content:space-between; align-items:center; gap:8px; margin:5px 0; }
.card .row span { color:var(--muted); }
.badge { display:inline-block; padding:1px 8px; border-radius:999px; font-size:12px; background:#e5e7eb; }
.skipped { border-left:4px solid var(--warn); background:#fffbeb; } .failed { border-left:4px solid #dc2626; background:#fef2f2; }
svg text { font:12px system-ui,sans-serif; fill:#374151; } svg .value { fill:#111827; font-weight:600; }
svg .onbar { fill:#fff; font-weight:600; } svg .note { fill:var(--muted); } svg .legend { fill:#374151; }
svg .grid { stroke:#e2e8f0; stroke-width:1; } .map { border-radius:8px; }
.route.dim { opacity:0.12; } .route.hot { stroke-width:3.2; opacity:1; }
.legend-list { columns:2; font-size:12px; margin:8px 0 0; padding:0; list-style:none; }
.legend-list li { cursor:default; padding:1px 0; } .legend-list i { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:6px; }
.muted { color:var(--muted); } .empty { color:var(--muted); font-style:italic; }
footer { color:var(--muted); font-size:12px; text-align:center; margin-top:12px; }
"""

JS = """
(function () {
  var legend = document.querySelectorAll('[data-legend-route]');
  legend.forEach(function (item) {
    item.addEventListener('mouseenter', function () {
      var id = item.getAttribute('data-legend-route');
      document.querySelectorAll('.route').forEach(function (r) {
        r.classList.toggle('hot', r.getAttribute('data-route') === id);
        r.classList.toggle('dim', r.getAttribute('data-route') !== id);
      });
    });
    item.addEventListener('mouseleave', function () {
      document.querySelectorAll('.route').forEach(function (r) { r.classList.remove('hot', 'dim'); });
    });
  });
  window.addEventListener('load', function () {
    var charts = document.querySelectorAll('svg[data-chart]');
    var drawn = 0, names = [];
    charts.forEach(function (svg) {
      var box = svg.getBoundingClientRect();
      var shapes = svg.querySelectorAll('rect,polyline,circle,polygon,line').length;
      if (box.width > 0 && box.height > 0 && shapes > 0) { drawn += 1; names.push(svg.getAttribute('data-chart')); }
    });
    document.body.setAttribute('data-charts-total', String(charts.length));
    document.body.setAttribute('data-charts-rendered', String(drawn));
    document.body.setAttribute('data-charts-names', names.join(' '));
  });
})();
"""


def _tiles(record: dict[str, Any]) -> str:
    t, f, rec = record["totals"], record.get("fleet") or {}, record.get("reconciliation") or {}
    tiles = [
        (f"{t['shipments']:,}", "shipments booked"),
        (money(t["cost"]), "spent on delivery"),
        (
            money(f.get("savings")) if f else DASH,
            f"saved vs cheapest partner ({pct(f.get('savings_percent'))})" if f else "savings: no plan",
        ),
        (pct(t["on_time_percent"]), "delivered on time"),
        (pct(t["first_attempt_percent"]), "delivered at the first attempt"),
        (pct(t["exception_rate_percent"]), "had an exception"),
        (money(rec.get("recoverable")) if rec else DASH, "recoverable from invoices"),
    ]
    return (
        '<div class="tiles">'
        + "".join(f'<div class="tile"><b>{esc(v)}</b><span>{esc(k)}</span></div>' for v, k in tiles)
        + "</div>"
    )


def _phase_notes(record: dict[str, Any]) -> str:
    out = []
    for p in record["phases"]:
        if p["status"] != "ok":
            out.append(
                f'<section class="{p["status"]}"><b>{esc(p["title"])}: {esc(p["status"])}</b> — {esc(p["detail"])}</section>'
            )
    return "".join(out)


def _map_section(record: dict[str, Any]) -> str:
    routes = record.get("routes") or []
    f = record.get("fleet") or {}
    partners = list(dict.fromkeys(h[2] for h in record.get("handovers") or []))
    handed = ", ".join(
        f"<span style='color:{carrier_colour(record, c)}'>{esc(carrier_name(record, c))}</span>"
        for c in partners
    )
    route_legend = "".join(
        f'<li data-legend-route="{i}"><i style="background:{PALETTE[i % len(PALETTE)]}"></i>'
        f"{esc(r['vehicle'])} · {r['stops']} stops · {r['distance_km']:.0f} km · {money(r['cost'])}</li>"
        for i, r in enumerate(routes)
    )
    info = (
        f"<p class='muted'>{len(routes)} routes from the Secaucus depot; {f.get('stops', 0):,} stops, "
        f"{f.get('distance_km', 0):,.0f} km. Dots without a line are parcels handed to partners"
        + (f" ({handed})" if handed else "")
        + ".</p>"
        if routes
        else "<p class='empty'>No fleet routes: allocation did not run, so every parcel went to a partner.</p>"
    )
    return (
        "<section><h2>Fleet routes</h2><div class='grid2'><div>"
        + route_map(record)
        + f"</div><div>{info}<ul class='legend-list'>{route_legend}</ul></div></div></section>"
    )


def _cost_section(record: dict[str, Any]) -> str:
    carriers = record["carriers"]
    parts = [
        (carrier_name(record, k), c["cost"], carrier_colour(record, k))
        for k, c in carriers.items()
        if c["cost"] > 0
    ]
    f = record.get("fleet")
    compare = ""
    if f:
        compare = "<h3>The plan against rate shopping</h3>" + hbars(
            "plan-vs-baseline",
            [
                (
                    "Cheapest partner each",
                    f["baseline_cost"],
                    "#9ca3af",
                    "every parcel to its cheapest partner, vans only for what none takes",
                ),
                ("Handoff's plan", f["planned_cost"], "#16a34a", "own fleet and partners, planned together"),
            ],
            value_fmt=money,
        )
    per_tenant = hbars(
        "cost-by-tenant",
        [
            (slug, t["cost"], TENANT_COLOURS[i % len(TENANT_COLOURS)], f"{slug}: {t['shipments']} shipments")
            for i, (slug, t) in enumerate(record["tenants"].items())
        ],
        value_fmt=money,
    )
    rows = "".join(
        f"<tr><td>{esc(carrier_name(record, k))}</td><td>{c['shipments']:,}</td><td>{money(c['cost'])}</td>"
        f"<td>{money(c['cost_per_shipment'])}</td><td>{money(c['cost_per_delivery'])}</td></tr>"
        for k, c in carriers.items()
    )
    return (
        "<section><h2>Cost breakdown</h2>"
        + stacked("cost-by-carrier", parts)
        + "<div class='grid2'><div>"
        + "<table><tr><th>Carrier</th><th>Shipments</th><th>Cost</th><th>Per shipment</th><th>Per delivery</th></tr>"
        + rows
        + f"</table></div><div>{compare}<h3>By tenant</h3>{per_tenant}</div></div></section>"
    )


def _scorecards(record: dict[str, Any]) -> str:
    cards = []
    for key, c in record["carriers"].items():
        colour = carrier_colour(record, key)
        cards.append(
            f"<div class='card'><h3><span class='badge' style='background:{colour};color:#fff'>{esc(carrier_name(record, key))}</span></h3>"
            f"<div class='row'><span>On time</span>{gauge(f'on-time-{key}', c['on_time_percent'], colour)}<b>{pct(c['on_time_percent'])}</b></div>"
            f"<div class='row'><span>First attempt</span>{gauge(f'first-attempt-{key}', c['first_attempt_percent'], colour)}<b>{pct(c['first_attempt_percent'])}</b></div>"
            f"<div class='row'><span>Exception rate</span>{gauge(f'exceptions-{key}', c['exception_rate_percent'], '#dc2626')}<b>{pct(c['exception_rate_percent'])}</b></div>"
            f"<div class='row'><span>Cost per delivery</span><b>{money(c['cost_per_delivery'])}</b></div>"
            f"<div class='row'><span>Delivered</span><b>{c['delivered']:,} / {c['shipments']:,}</b></div></div>"
        )
    reasons = record["totals"].get("exceptions_by_reason") or {}
    bars = hbars(
        "exceptions-by-reason",
        [(k.replace("_", " "), float(v), "#f97316", f"{v} shipments") for k, v in reasons.items()],
        value_fmt=lambda v: f"{int(v)}",
    )
    return (
        "<section><h2>Carrier scorecards</h2><div class='cards'>"
        + "".join(cards)
        + f"</div><h3 style='margin-top:16px'>Exceptions by reason</h3>{bars}</section>"
    )


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def days(value: Any) -> str:
    v = _num(value)
    return DASH if v is None else f"{v:.2f}"


def share(value: Any) -> str:
    """A fraction (0.62) or a percentage (62.0) as a percentage."""
    v = _num(value)
    return DASH if v is None else f"{v * 100 if v <= 1 else v:.0f}%"


def _world_note(record: dict[str, Any]) -> str:
    world = record.get("world") or {}
    name = world.get("name")
    if not name:
        return ""
    if name == "none":
        return "<p class='muted'>The simulator ran without a world: every partner parcel arrives about a day later.</p>"
    bits = [f"The carriers ran in the simulator's <b>{esc(name)}</b> world"]
    if world.get("description"):
        bits.append(f" ({esc(world['description'])})")
    if world.get("simulated_days"):
        bits.append(f"; simulated time ran {world['simulated_days']:g} days past the partners' pickup")
    if world.get("last_delivery"):
        bits.append(f", to the last delivery on {esc(str(world['last_delivery'])[:10])}")
    return "<p class='muted'>" + "".join(bits) + ".</p>"


def _eta_section(record: dict[str, Any]) -> str:
    """ETA accuracy from GET /v1/kpis (``totals.eta``): whatever figures exist, nulls shown as a dash."""
    eta = record.get("eta") or {}
    e = eta.get("totals")
    if not e:
        return (
            "<section><h2>ETA accuracy</h2>" + _world_note(record)
            + "<p class='empty'>Not available: GET /v1/kpis reports no ETA figures in this installation.</p></section>"
        )  # fmt: skip
    figures = [
        (
            "deliveries",
            lambda v: DASH if v is None else f"{int(v):,}",
            "deliveries with a booking prediction",
        ),
        ("mae_days", days, "business days: mean error of the prediction's p50"),
        ("carrier_estimate_mae_days", days, "business days: mean error of the carrier's estimate at booking"),
        ("window_coverage_percent", lambda v: pct(_num(v)), "delivered within the p10-p90 window"),
        (
            "at_risk_alerts",
            lambda v: DASH if v is None else f"{int(v):,}",
            "at-risk alerts before the promise",
        ),
        ("at_risk_precision", share, "of the alerted parcels were late (precision)"),
        ("at_risk_recall", share, "of the late parcels were alerted (recall)"),
    ]
    tiles = "".join(
        f'<div class="tile"><b>{esc(fmt(e.get(key)))}</b><span>{esc(label)}</span></div>'
        for key, fmt, label in figures
        if key in e
    )
    per_carrier = eta.get("carriers") or {}
    rows = "".join(
        f"<tr><td>{esc(carrier_name(record, k))}</td><td>{esc(DASH if c.get('deliveries') is None else c['deliveries'])}</td>"
        f"<td>{days(c.get('mae_days'))}</td><td>{days(c.get('carrier_estimate_mae_days'))}</td>"
        f"<td>{pct(_num(c.get('window_coverage_percent')))}</td></tr>"
        for k, c in per_carrier.items()
        if c.get("deliveries")  # the own fleet has no booking prediction
    )
    table = (
        "<table><tr><th>Carrier</th><th>Deliveries</th><th>p50 error (days)</th><th>Carrier estimate error</th>"
        f"<th>In p10-p90</th></tr>{rows}</table>"
        if rows
        else ""
    )
    basis = eta.get("basis") or {}
    said = ", ".join(f"{esc(k.replace('_', ' '))}: {v:,}" for k, v in basis.items())
    note = f"<p class='muted'>What the booking predictions of the partners' parcels were based on: {said}."
    if basis and set(basis) <= {"carrier_estimate", "none"}:
        note += (
            " The demo starts with no delivery history, so every prediction is the carrier's (or the contract "
            "card's) own estimate; the p50 error and the carrier's error then measure the same estimates."
        )
    note += "</p>" if basis else ""
    return (
        "<section><h2>ETA accuracy</h2>" + _world_note(record)
        + f'<div class="tiles">{tiles}</div>{table}{note if basis else ""}</section>'
    )  # fmt: skip


def _reconciliation(record: dict[str, Any]) -> str:
    rec = record.get("reconciliation")
    if not rec:
        return "<section><h2>Reconciliation findings</h2><p class='empty'>No invoice was reconciled.</p></section>"
    bars = hbars(
        "recoverable-by-class",
        [
            (k.replace("_", " "), v, "#7c3aed", f"{rec['findings'].get(k, 0)} lines")
            for k, v in rec["recoverable_by_class"].items()
        ],
        value_fmt=money,
    )
    classes = sorted(set(rec["findings"]) | set(rec["injected"]))
    table = "".join(
        f"<tr><td>{esc(k.replace('_', ' '))}</td><td>{rec['injected'].get(k, 0)}</td><td>{rec['findings'].get(k, 0)}</td>"
        f"<td>{money(rec['recoverable_by_class'].get(k))}</td></tr>"
        for k in classes
    )
    invoices = "".join(
        f"<tr><td>{esc(i['tenant'])} · {esc(carrier_name(record, i['carrier']) + ' · ' if i.get('carrier') else '')}"
        f"{esc(i['invoice_number'])}</td><td>{i['lines'] or 0:,}</td><td>{money(i['billed'])}</td>"
        f"<td>{money(i['expected'])}</td><td>{money(i['recoverable'])}</td><td>{i['flagged_lines']}</td></tr>"
        for i in rec["invoices"]
    )
    return (
        "<section><h2>Reconciliation findings</h2><div class='grid2'><div>"
        "<table><tr><th>Invoice</th><th>Lines</th><th>Billed</th><th>Expected</th><th>Recoverable</th><th>Flagged</th></tr>"
        + invoices
        + "</table><h3 style='margin-top:14px'>By discrepancy class</h3>"
        "<table><tr><th>Class</th><th>Injected</th><th>Found (lines)</th><th>Recoverable</th></tr>"
        + table
        + "</table><p class='muted'>Injected: the mistakes the demo's carrier put in its invoices. Found: what "
        "reconciliation flagged, including what nobody injected (late guaranteed deliveries come from tracking). "
        "Within tolerance: mistakes on live-rated shipments that leave the total no more than the reconciliation "
        "tolerance above its quote (2 % by default); they are rightly not flagged.</p>"
        f"</div><div><h3>Recoverable money by class</h3>{bars}</div></div></section>"
    )


def _operations(record: dict[str, Any]) -> str:
    hooks = record.get("webhooks") or {}
    labels = record.get("labels") or {}
    tracking = record.get("tracking") or {}
    rows = [
        (
            "Labels bought",
            f"{labels.get('succeeded', 0):,} of {labels.get('requested', 0):,}" if labels else DASH,
        ),
        ("Labels voided (cancelled orders)", f"{len(labels.get('voided') or [])}" if labels else DASH),
        ("Driver-app events", f"{tracking.get('fleet_events', 0):,}" if tracking else DASH),
        ("Carrier tracking pushes", f"{tracking.get('carrier_pushes', 0):,}" if tracking else DASH),
        (
            "Webhooks delivered / verified",
            f"{hooks.get('received', 0):,} / {hooks.get('verified', 0):,}" if hooks else DASH,
        ),
    ]
    by_type = hbars(
        "webhooks-by-type",
        [(k, float(v), "#0891b2", f"{v} deliveries") for k, v in (hooks.get("by_type") or {}).items()],
        value_fmt=lambda v: f"{int(v):,}",
    )
    table = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in rows)
    return (
        f"<section><h2>Operations</h2><div class='grid2'><div><table>{table}</table></div>"
        f"<div><h3>Webhooks by event type</h3>{by_type}</div></div></section>"
    )


def render(record: dict[str, Any]) -> str:
    """Return the report as one HTML document."""
    meta = record["meta"]
    head = (
        f"<header><h1>Handoff demo day · {esc(meta['day_label'])}</h1>"
        f"<p>{record['totals']['shipments']:,} shipments from {len(record['tenants'])} shops around the "
        f"{esc(meta['depot'])}, run end to end through the public API in {fmt_seconds(meta['total_seconds'])} "
        f"(seed {esc(meta['seed'])}, generated {esc(meta['generated_at'])}).</p></header>"
    )
    body = (
        _tiles(record)
        + _phase_notes(record)
        + _map_section(record)
        + _cost_section(record)
        + _scorecards(record)
        + _eta_section(record)
        + _reconciliation(record)
        + _operations(record)
        + "<section><h2>Phase durations</h2>"
        + timeline(record["phases"])
        + "</section>"
    )
    data = json.dumps({"meta": meta, "totals": record["totals"]}, default=str).replace("</", "<\\/")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>Handoff demo day · {esc(meta['day_label'])}</title><style>{CSS}</style></head>"
        f"<body>{head}<main>{body}<footer>Handoff · self-contained report, no external resources</footer></main>"
        f"<script type='application/json' id='day-data'>{data}</script><script>{JS}</script></body></html>"
    )
