"""Commercial invoices: rendered and stored when a label is bought, read back for download.

``keep_after_purchase`` runs after a carrier sold a label (``gateway.labels.purchasing``): it renders
the gateway's invoice (with the tracking number) and keeps the carrier's paperless-trade copy when the
carrier returned one, in the label storage, each with its checksum. Nothing here can undo the label: a
failure is logged, and the download renders the gateway's invoice afresh when none was stored.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.customs import declaration, invoice
from gateway.customs.tables import CustomsDocument
from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow
from gateway.labels import storage
from gateway.labels.tables import Label
from schemas import carrier

if TYPE_CHECKING:
    from gateway.kernel.container import Container

log = logging.getLogger(__name__)

COMMERCIAL_INVOICE = "commercial_invoice"


def _lines(a: models.Address) -> tuple[str, ...]:
    place = " ".join(p for p in (a.postal_code or "", a.city, a.state or "") if p)
    lines = (
        a.company or "",
        a.name or "",
        a.street1,
        a.street2 or "",
        a.street3 or "",
        place,
        a.country_code,
    )
    contact = " ".join(p for p in (a.phone or "", a.email or "") if p)
    return tuple(line for line in (*lines, contact) if line)


def invoice_pdf(shipment: models.Shipment, label: Label | None) -> bytes:
    """The gateway's commercial invoice of a shipment with a declaration (pro forma before its label)."""
    customs = declaration.canonical(declaration.body(shipment.customs))
    if customs is None:
        raise Problem(
            "customs-not-declared",
            f"Shipment {shipment.id} has no customs declaration: send one as `customs` (PATCH) first.",
        )
    bought = label is not None and label.status == "purchased"
    when = label.purchased_at if label is not None and label.purchased_at else shipment.created_at
    return invoice.render(
        invoice.Invoice(
            number=customs.invoice_number or shipment.id,
            date=when.date(),
            shipment_id=shipment.id,
            reference=shipment.reference,
            exporter=_lines(shipment.origin),
            importer=_lines(shipment.destination),
            carrier=label.carrier if label is not None else None,
            tracking_number=label.tracking_number if bought and label is not None else None,
            pro_forma=not bought,
        ),
        customs,
    )


def _label(session: Session, shipment_id: str) -> Label | None:
    return session.execute(sa.select(Label).where(Label.shipment_id == shipment_id)).scalar_one_or_none()


def _keep(
    session: Session, store: storage.Storage, shipment: models.Shipment, source: str, data: bytes, fmt: str
) -> None:
    fmt = re.sub(r"[^A-Z0-9]", "", fmt.upper())[:8] or "PDF"
    key = f"{shipment.tenant_id}/{shipment.id}/invoice-{source}.{fmt.lower()}"
    stored = store.put(key, data)
    row = session.execute(
        sa.select(CustomsDocument).where(
            CustomsDocument.shipment_id == shipment.id,
            CustomsDocument.kind == COMMERCIAL_INVOICE,
            CustomsDocument.source == source,
        )
    ).scalar_one_or_none()
    if row is None:
        row = CustomsDocument(tenant_id=shipment.tenant_id, shipment_id=shipment.id, kind=COMMERCIAL_INVOICE)
        row.source = source
        session.add(row)
    row.format, row.storage_key, row.checksum, row.created_at = fmt, stored.key, stored.checksum, utcnow()


def keep_after_purchase(
    container: Container, shipment_id: str, carrier_documents: Sequence[carrier.ShippingDocument] = ()
) -> None:
    """Store the invoices of a shipment whose label was just bought (none without a declaration)."""
    try:
        with container.sessions() as session:
            shipment = session.get(models.Shipment, shipment_id)
            if shipment is None or not shipment.customs:
                return
            store = storage.from_settings(container.settings)
            _keep(
                session,
                store,
                shipment,
                "gateway",
                invoice_pdf(shipment, _label(session, shipment_id)),
                "PDF",
            )
            for document in carrier_documents:
                if document.kind == COMMERCIAL_INVOICE and document.data:
                    _keep(session, store, shipment, "carrier", document.data, document.format or "PDF")
                    break
            session.commit()
    except Exception:  # the label is bought; the invoice renders again on download
        log.exception("could not store the commercial invoice", extra={"shipment_id": shipment_id})


def commercial_invoice(
    container: Container, session: Session, tenant_id: str, shipment_id: str, source: str
) -> tuple[bytes, str, models.Shipment]:
    """A tenant's shipment's commercial invoice: (bytes, format, shipment); another tenant's is not found."""
    shipment = session.execute(
        sa.select(models.Shipment).where(
            models.Shipment.id == shipment_id, models.Shipment.tenant_id == tenant_id
        )
    ).scalar_one_or_none()
    if shipment is None:
        raise Problem("not-found", f"No shipment {shipment_id!r}.")
    if not shipment.customs:
        raise Problem(
            "customs-not-declared",
            f"Shipment {shipment_id} has no customs declaration, so it has no commercial invoice.",
        )
    row = session.execute(
        sa.select(CustomsDocument).where(
            CustomsDocument.tenant_id == tenant_id,
            CustomsDocument.shipment_id == shipment_id,
            CustomsDocument.kind == COMMERCIAL_INVOICE,
            CustomsDocument.source == source,
        )
    ).scalar_one_or_none()
    if row is not None:
        try:
            return (
                storage.from_settings(container.settings).get(row.storage_key, row.checksum),
                row.format,
                shipment,
            )
        except storage.DocumentMissing:
            if source == "carrier":
                raise Problem(
                    "customs-document-unavailable",
                    f"The carrier's commercial invoice of shipment {shipment_id} is no longer stored.",
                ) from None
            log.warning(
                "stored commercial invoice is missing; rendering it again", extra={"shipment_id": shipment_id}
            )
    if source == "carrier":
        raise Problem(
            "customs-document-unavailable",
            f"The carrier returned no commercial invoice for shipment {shipment_id} "
            "(only DHL Express and FedEx send one, with the label of goods crossing a customs border).",
        )
    return invoice_pdf(shipment, _label(session, shipment_id)), "PDF", shipment
