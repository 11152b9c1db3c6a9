"""Glue for the console's dispatch pages: the applied plans of a day per van, and a van's route sheet.

Nothing here decides anything. Plans are applied by ``gateway.allocation.plans.apply_plan``, which keeps
the routes in ``allocation_plans.result`` (``routes[].stops[]``: sequence, shipment, planned arrival) and
the delivery windows in the compact ``problem`` (``packages[]``: ``[id, x, y, kg, m3, [start, end] |
null, service minutes]``), the same data the fleet's dispatch manifests are made from
(``gateway.manifests.dispatch``). This module reads them, tenant-scoped, with the shipments, their
parcels and their labels, and shapes them for the templates and the printable PDF.

Each van's route of an applied plan may have a driver (``gateway.allocation.drivers``: the driver
app's id and a name, assigned from the van's page); the overview, the page and the PDF show it, and
the PDF leaves a line to write a name when there is none.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from xml.sax.saxutils import escape

import sqlalchemy as sa
from reportlab.lib import colors
from reportlab.lib.pagesizes import landscape, letter
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy.orm import Session

from gateway.allocation import drivers, fleet, tables
from gateway.kernel import models
from gateway.labels.tables import Label

FLEET = "fleet"


# -- the day's applied plans -------------------------------------------------------------------------


@dataclass
class VanLine:
    vehicle_id: str
    name: str
    stops: int
    distance_km: str
    duration_minutes: str
    driver: str  # "Name (id)", "" when none is assigned


def _driver(row: tables.RouteDriver | None) -> str:
    return "" if row is None else f"{row.driver_name} ({row.driver_id})"


@dataclass
class PlanLine:
    id: str
    depot: str
    day: date
    applied_at: str
    applied_by: str
    vans: list[VanLine]


def _routes(row: tables.PlanRun) -> list[dict[str, Any]]:
    """The plan's routes that have stops (a van the solver left at the depot has no sheet)."""
    out = []
    for r in (row.result or {}).get("routes", []):
        if isinstance(r, dict) and r.get("vehicle_id") and r.get("stops"):
            out.append(r)
    return out


def applied_plans(session: Session, tenant_id: str, day: date) -> list[PlanLine]:
    """The tenant's plans applied for ``day`` (oldest applied first), each with its vans that have stops."""
    rows = session.execute(
        sa.select(tables.PlanRun, tables.Depot.name)
        .join(tables.Depot, tables.Depot.id == tables.PlanRun.depot_id)
        .where(
            tables.PlanRun.tenant_id == tenant_id,
            tables.Depot.tenant_id == tenant_id,
            tables.PlanRun.kind == "plan",
            tables.PlanRun.state == "applied",
            tables.PlanRun.day == day,
        )
        .order_by(tables.PlanRun.applied_at, tables.PlanRun.id)
    ).all()
    assigned = drivers.drivers_of(session, tenant_id, (row.id for row, _ in rows))
    plans = []
    for row, depot_name in rows:
        vans = [
            VanLine(
                vehicle_id=str(r["vehicle_id"]),
                name=str(r.get("vehicle_name") or r["vehicle_id"]),
                stops=len(r["stops"]),
                distance_km=str(r.get("distance_km") or ""),
                duration_minutes=str(r.get("duration_minutes") or ""),
                driver=_driver(assigned.get((row.id, str(r["vehicle_id"])))),
            )
            for r in _routes(row)
        ]
        plans.append(
            PlanLine(
                id=row.id,
                depot=depot_name,
                day=row.day,
                applied_at=row.applied_at.strftime("%Y-%m-%d %H:%M") if row.applied_at else "",
                applied_by=row.applied_by or "",
                vans=vans,
            )
        )
    return plans


# -- a van's route sheet ---------------------------------------------------------------------------------


@dataclass
class ParcelLine:
    reference: str
    tracking_number: str
    weight: str


@dataclass
class SheetStop:
    sequence: int
    window: str
    eta: str
    recipient: str
    address: str
    parcels: list[ParcelLine]
    notes: list[str]


@dataclass
class RouteSheet:
    plan_id: str
    depot: str
    depot_address: str
    day: date
    vehicle_id: str
    van: str
    driver: str
    distance_km: str
    duration_minutes: str
    load_kg: str
    stops: list[SheetStop] = field(default_factory=list)
    driver_id: str = ""  # the assigned driver's, as the form shows them; "" when none
    driver_name: str = ""


class NotApplied(Exception):
    """The plan exists but is not applied: it has no route sheet yet."""

    def __init__(self, state: str) -> None:
        super().__init__(state)
        self.state = state


def _window(raw: Any) -> str:
    if isinstance(raw, list) and len(raw) == 2:
        return f"{fleet.clock(int(raw[0]))}-{fleet.clock(int(raw[1]))}"
    return "any time"


def _street(a: models.Address) -> str:
    place = " ".join(p for p in (a.postal_code, a.city) if p)
    parts = [a.street1, a.street2, a.street3, place, a.state, a.country_code]
    return ", ".join(p for p in parts if p)


def _weight(parcels: Sequence[models.Parcel]) -> str:
    if not parcels:
        return ""
    unit = parcels[0].weight_unit
    if any(p.weight_unit != unit for p in parcels):
        return "; ".join(f"{format(p.weight.normalize(), 'f')} {p.weight_unit}" for p in parcels)
    total = sum((p.weight for p in parcels), start=type(parcels[0].weight)(0))
    return f"{format(total.normalize(), 'f')} {unit}"


def route_sheet(session: Session, tenant_id: str, plan_id: str, vehicle_id: str) -> RouteSheet | None:
    """A van's stops of an applied plan in route order, with recipients, parcels and notes.

    None when the tenant has no such plan or the plan has no stops for that van; ``NotApplied`` when
    the plan is not applied yet. A stop whose shipment has since been cancelled or given another
    decision stays on the sheet (the stop numbers are the plan's) with a note saying so.
    """
    row = session.execute(
        sa.select(tables.PlanRun).where(
            tables.PlanRun.tenant_id == tenant_id, tables.PlanRun.id == plan_id, tables.PlanRun.kind == "plan"
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    depot = session.get(tables.Depot, row.depot_id)
    if depot is None or depot.tenant_id != tenant_id:
        return None
    route = drivers.route_of(row, vehicle_id)  # the routes a driver can be assigned to
    if route is None:
        return None
    if row.state != "applied":
        raise NotApplied(row.state)
    packed = {str(p[0]): p for p in (row.problem or {}).get("packages", []) if isinstance(p, list) and p}
    decisions = {
        str(p.get("shipment_id")): p for p in (row.result or {}).get("packages", []) if isinstance(p, dict)
    }
    ids = [str(s["shipment_id"]) for s in route["stops"] if isinstance(s, dict) and s.get("shipment_id")]
    shipments = {
        s.id: s
        for s in session.execute(
            sa.select(models.Shipment).where(
                models.Shipment.tenant_id == tenant_id, models.Shipment.id.in_(ids)
            )
        )
        .unique()
        .scalars()
    }
    labels = {
        lb.shipment_id: lb.tracking_number
        for lb in session.execute(
            sa.select(Label).where(
                Label.tenant_id == tenant_id, Label.shipment_id.in_(ids), Label.status == "purchased"
            )
        ).scalars()
    }
    current = {
        a.shipment_id: a
        for a in session.execute(
            sa.select(tables.ShipmentAllocation).where(
                tables.ShipmentAllocation.tenant_id == tenant_id,
                tables.ShipmentAllocation.shipment_id.in_(ids),
            )
        ).scalars()
    }
    assigned = drivers.get_driver(session, tenant_id, row.id, vehicle_id)
    sheet = RouteSheet(
        plan_id=row.id,
        depot=depot.name,
        depot_address=f"{float(depot.latitude):.5f}, {float(depot.longitude):.5f} ({depot.timezone})",
        day=row.day,
        vehicle_id=vehicle_id,
        van=str(route.get("vehicle_name") or vehicle_id),
        driver=_driver(assigned),
        distance_km=str(route.get("distance_km") or ""),
        duration_minutes=str(route.get("duration_minutes") or ""),
        load_kg=str(route.get("load_kg") or ""),
        driver_id=assigned.driver_id if assigned else "",
        driver_name=assigned.driver_name if assigned else "",
    )
    for position, stop in enumerate(s for s in route["stops"] if isinstance(s, dict)):
        sid = str(stop.get("shipment_id") or "")
        shipment = shipments.get(sid)
        pkg = packed.get(sid)
        notes: list[str] = []
        if shipment is None:
            sheet.stops.append(
                SheetStop(
                    sequence=int(stop.get("sequence") or position + 1),
                    window=_window(pkg[5] if pkg and len(pkg) > 5 else None),
                    eta=str(stop.get("eta_local") or ""),
                    recipient="",
                    address="",
                    parcels=[ParcelLine(str(stop.get("reference") or sid), "", "")],
                    notes=["shipment not found"],
                )
            )
            continue
        d = shipment.destination
        meta = shipment.metadata_ or {}
        decision = current.get(sid)
        if shipment.cancelled_at is not None or shipment.status == "cancelled":
            notes.append("CANCELLED: do not deliver")
        elif decision is None or decision.plan_id != row.id or decision.vehicle_id != vehicle_id:
            notes.append("no longer on this van")
        if d.company and d.name:
            notes.append(f"company {d.company}")
        if d.phone:
            notes.append(f"phone {d.phone}")
        for flag in ("fragile", "hazmat"):
            if str(meta.get(flag, "")).lower() == "true":
                notes.append(flag)
        if decisions.get(sid, {}).get("approximate_location"):
            notes.append("approximate location: check the address")
        tracking = labels.get(sid) or shipment.tracking_number or ""
        parcels = shipment.parcels
        sheet.stops.append(
            SheetStop(
                sequence=int(stop.get("sequence") or position + 1),
                window=_window(pkg[5] if pkg and len(pkg) > 5 else None),
                eta=str(stop.get("eta_local") or ""),
                recipient=d.name or d.company or "",
                address=_street(d),
                parcels=[
                    ParcelLine(
                        reference=shipment.reference,
                        tracking_number=tracking,
                        weight=f"{_weight(parcels)}{f', {len(parcels)} parcels' if len(parcels) > 1 else ''}",
                    )
                ],
                notes=notes,
            )
        )
    sheet.stops.sort(key=lambda s: s.sequence)
    return sheet


# -- the printable PDF ---------------------------------------------------------------------------------------


def _latin1(value: str) -> str:
    """What the standard PDF fonts can draw: anything beyond Latin-1 prints as "?"."""
    return value.encode("latin-1", "replace").decode("latin-1")


def _text(value: str) -> str:
    """Plain text for a ReportLab paragraph: Latin-1, with the paragraph markup escaped."""
    return escape(_latin1(value))


_BODY = ParagraphStyle("sheet-body", fontName="Helvetica", fontSize=8, leading=10)
_BOLD = ParagraphStyle("sheet-bold", parent=_BODY, fontName="Helvetica-Bold")
_TITLE = ParagraphStyle("sheet-title", fontName="Helvetica-Bold", fontSize=14, leading=18)
_HEAD = ParagraphStyle("sheet-head", fontName="Helvetica", fontSize=10, leading=13)
_COLUMNS = (
    ("Stop", 32),
    ("Window / arrival", 74),
    ("Recipient and address", 250),
    ("Parcels", 200),
    ("Notes", 164),
)


def render_pdf(sheet: RouteSheet) -> bytes:
    """The route sheet as a landscape Letter PDF: a header, then one table row per stop in route order."""
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=landscape(letter),
        leftMargin=36,
        rightMargin=36,
        topMargin=36,
        bottomMargin=36,
        title=_text(f"Route sheet {sheet.van} {sheet.day.isoformat()}"),
        author="Handoff",
        invariant=1,
    )
    p = Paragraph
    facts = [
        f"<b>Depot</b> {_text(sheet.depot)} ({_text(sheet.depot_address)})",
        f"<b>Day</b> {sheet.day.isoformat()}",
        f"<b>Van</b> {_text(sheet.van)} ({_text(sheet.vehicle_id)})",
        f"<b>Driver</b> {_text(sheet.driver) if sheet.driver else '________________________'}",
        f"<b>Plan</b> {_text(sheet.plan_id)}: {len(sheet.stops)} stop(s), {_text(sheet.distance_km)} km, "
        f"{_text(sheet.duration_minutes)} min, {_text(sheet.load_kg)} kg",
    ]
    story: list[Any] = [p(_text(f"Route sheet: {sheet.van}, {sheet.day.isoformat()}"), _TITLE)]
    story += [p(line, _HEAD) for line in facts]
    story.append(Spacer(1, 8))
    rows: list[list[Any]] = [[p(h, _BOLD) for h, _ in _COLUMNS]]
    for s in sheet.stops:
        parcels = "<br/>".join(
            _text(" ".join(x for x in (pl.reference, pl.tracking_number, pl.weight) if x)) for pl in s.parcels
        )
        rows.append(
            [
                p(f"<b>{s.sequence}</b>", _BODY),
                p(f"{_text(s.window)}<br/>arrive {_text(s.eta or '-')}", _BODY),
                p(f"<b>{_text(s.recipient)}</b><br/>{_text(s.address)}", _BODY),
                p(parcels, _BODY),
                p("<br/>".join(_text(n) for n in s.notes), _BODY),
            ]
        )
    table = Table(rows, colWidths=[w for _, w in _COLUMNS], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, 0), 1, colors.black),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.grey),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    story.append(table)
    footer = _latin1(f"{sheet.van}, {sheet.day.isoformat()}, plan {sheet.plan_id}")  # drawn, not markup

    def page_footer(canvas: Any, template: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.drawString(36, 20, footer)
        canvas.drawRightString(template.pagesize[0] - 36, 20, f"page {template.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=page_footer, onLaterPages=page_footer)
    return out.getvalue()
