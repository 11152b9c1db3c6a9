"""Manifest documents: the gateway's PDF (rendered and stored once the day is closed) and the carrier's own.

Both live in the label storage (``gateway.labels.storage``: ``LABEL_STORAGE`` under
``LABEL_STORAGE_DIR``), under ``<tenant>/manifests/``, with a checksum recorded on the manifest that
every read verifies.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from adapters import registry as adapter_registry
from gateway.kernel.errors import Problem
from gateway.labels import storage
from gateway.manifests import _render
from gateway.manifests.tables import Manifest, ManifestShipment
from schemas import money

if TYPE_CHECKING:
    from gateway.kernel.container import Container


def _close_title(carrier_code: str) -> str:
    """What the carrier's end-of-day close is called (its adapter's ``close_day_title``)."""
    cls = adapter_registry.known(carrier_code)
    return (cls.close_day_title if cls is not None else "") or "carrier close"


def store(container: Container) -> storage.Storage:
    return storage.from_settings(container.settings)


def members(session: Session, manifest_id: str) -> list[ManifestShipment]:
    """The manifest's shipments in document order."""
    return list(
        session.execute(
            sa.select(ManifestShipment)
            .where(ManifestShipment.manifest_id == manifest_id)
            .order_by(ManifestShipment.position, ManifestShipment.shipment_id)
        ).scalars()
    )


def amount(minor: int, currency: str) -> Decimal:
    return money.Money.from_minor(minor, currency).amount


def _weight(m: ManifestShipment) -> str:
    if m.weight is None or not m.weight_unit:
        return ""
    return f"{format(Decimal(m.weight).normalize(), 'f')} {m.weight_unit}"


def _cost(m: ManifestShipment) -> str:
    if m.cost_minor is None or not m.currency:
        return ""
    return f"{amount(m.cost_minor, m.currency)} {m.currency}"


def _totals(row: Manifest) -> list[str]:
    totals = row.totals or {}
    weights = ", ".join(f"{w['value']} {w['unit']}" for w in totals.get("weight", [])) or "-"
    costs = ", ".join(
        f"{amount(c['amount_minor'], c['currency'])} {c['currency']}" for c in totals.get("cost", [])
    )
    return [f"Shipments: {row.shipment_count}", f"Total weight: {weights}", f"Total cost: {costs or '-'}"]


def _header(row: Manifest) -> list[str]:
    name = adapter_registry.display_name(row.carrier)
    lines = [f"Manifest {row.id}", f"Carrier: {name}" + (f" (account {row.account})" if row.account else "")]
    lines.append(f"Day: {row.manifest_date.isoformat()} ({row.time_zone})")
    if row.kind == "carrier":
        what = _close_title(row.carrier)
        ref = f", carrier manifest {row.carrier_reference}" if row.carrier_reference else ""
        lines.append(f"Closed at the carrier: {what}{ref}")
    elif row.kind == "gateway":
        lines.append(f"{name} has no end-of-day close through its API: this gateway manifest is the record.")
    else:
        lines.append(f"Van: {row.vehicle_name or row.vehicle_id} - plan {row.plan_id}")
    if row.closed_at is not None:
        lines.append(f"Closed: {row.closed_at.isoformat(timespec='seconds')}")
    return lines


def document(row: Manifest, listed: list[ManifestShipment]) -> _render.Document:
    """What the manifest's PDF prints."""
    if row.kind == "dispatch":
        columns = [
            ("Stop", 30),
            ("Tracking", 110),
            ("Reference", 90),
            ("Address", 210),
            ("Postal", 55),
            ("Window", 70),
            ("ETA", 40),
            ("Weight", 60),
            ("Cost", 55),
        ]
        rows = []
        for m in listed:
            stop = m.stop or {}
            rows.append(
                [
                    str(m.position),
                    m.tracking_number or "",
                    m.reference,
                    ", ".join([*stop.get("street_lines", []), m.city]),
                    m.postal_code,
                    stop.get("window") or "",
                    stop.get("eta") or "",
                    _weight(m),
                    _cost(m),
                ]
            )
        title = f"Dispatch manifest {row.vehicle_name or row.vehicle_id} {row.manifest_date.isoformat()}"
    else:
        columns = [
            ("#", 26),
            ("Tracking number", 150),
            ("Reference", 110),
            ("City", 120),
            ("Postal", 60),
            ("Ctry", 30),
            ("Service", 90),
            ("Weight", 70),
            ("Cost", 80),
        ]
        rows = [
            [
                str(m.position),
                m.tracking_number or "",
                m.reference,
                m.city,
                m.postal_code,
                m.country_code,
                m.service or "",
                _weight(m),
                _cost(m),
            ]
            for m in listed
        ]
        name = adapter_registry.display_name(row.carrier)
        title = f"{name} manifest {row.manifest_date.isoformat()}"
    return _render.Document(title, _header(row), columns, rows, _totals(row))


def render_and_store(container: Container, session: Session, row: Manifest) -> None:
    """Render the manifest's PDF, store it, and record its key and checksum on the row (flushed)."""
    data = _render.render(document(row, members(session, row.id)))
    stored = store(container).put(f"{row.tenant_id}/manifests/{row.id}.pdf", data)
    row.document_key, row.document_checksum = stored.key, stored.checksum
    session.flush()


def store_carrier_document(container: Container, row: Manifest, content: bytes, doc_type: str) -> None:
    """Keep the carrier's own manifest document (FedEx OP-950, USPS PS 5630) beside ours."""
    stored = store(container).put(f"{row.tenant_id}/manifests/{row.id}-carrier.pdf", content)
    row.carrier_document_key, row.carrier_document_checksum = stored.key, stored.checksum
    row.carrier_document_type = doc_type[:32]


def read(container: Container, row: Manifest, source: str) -> bytes:
    """The stored PDF: ``gateway`` (ours) or ``carrier`` (the carrier's own, where it returned one)."""
    if source == "carrier":
        if not row.carrier_document_key:
            raise Problem(
                "manifest-document-unavailable",
                f"Manifest {row.id} has no carrier document: "
                + (
                    "the carrier returned none."
                    if row.kind == "carrier"
                    else f"{row.carrier} has no close call; the gateway's document is the manifest."
                ),
            )
        return store(container).get(row.carrier_document_key, row.carrier_document_checksum)
    if not row.document_key:
        raise Problem(
            "manifest-document-unavailable",
            f"Manifest {row.id} is {row.state}: its document is rendered once the day is closed.",
        )
    return store(container).get(row.document_key, row.document_checksum)
