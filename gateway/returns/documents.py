"""A return label's QR code: kept after the purchase, read back for ``GET /v1/shipments/{id}/return-qr``.

USPS gives one when the return is asked with ``qr_code`` (Label Broker, ``docs/RETURNS.md``): the
customer shows it at a Post Office, which prints the label. It is stored beside the label document,
with its checksum, and listed in ``return_documents``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow
from gateway.labels import storage
from gateway.returns.tables import QR_CODE, ReturnDocument
from schemas import carrier

if TYPE_CHECKING:
    from gateway.kernel.container import Container

log = logging.getLogger(__name__)

_EXTENSIONS = {"PNG": "png", "PDF": "pdf", "GIF": "gif"}


def keep_after_purchase(
    container: Container, shipment_id: str, carrier_documents: Sequence[carrier.ShippingDocument] = ()
) -> None:
    """Store the QR code a return label came with (nothing for other labels, or when none came)."""
    qr = next((d for d in carrier_documents if d.kind == QR_CODE and d.data), None)
    if qr is None:
        return
    try:
        with container.sessions() as session:
            shipment = session.get(models.Shipment, shipment_id)
            if shipment is None or not shipment.is_return:
                return
            fmt = (qr.format or "PNG").upper()
            key = f"{shipment.tenant_id}/{shipment.id}/return-qr.{_EXTENSIONS.get(fmt, 'bin')}"
            stored = storage.from_settings(container.settings).put(key, qr.data)
            row = session.execute(
                sa.select(ReturnDocument).where(
                    ReturnDocument.shipment_id == shipment.id, ReturnDocument.kind == QR_CODE
                )
            ).scalar_one_or_none()
            if row is None:
                row = ReturnDocument(tenant_id=shipment.tenant_id, shipment_id=shipment.id, kind=QR_CODE)
                session.add(row)
            row.format, row.storage_key, row.checksum, row.created_at = (
                fmt,
                stored.key,
                stored.checksum,
                utcnow(),
            )
            session.commit()
    except Exception:  # the label is bought and stored; only the QR code is missing (the label still prints)
        log.exception("could not store a return label's QR code", extra={"shipment_id": shipment_id})


def qr_code(container: Container, session: Session, tenant_id: str, shipment_id: str) -> tuple[bytes, str]:
    """A tenant's return's QR code and its format; 404 for another tenant's, or when there is none."""
    shipment = session.execute(
        sa.select(models.Shipment).where(
            models.Shipment.id == shipment_id, models.Shipment.tenant_id == tenant_id
        )
    ).scalar_one_or_none()
    if shipment is None:
        raise Problem("not-found", f"No shipment {shipment_id!r}.")
    row = session.execute(
        sa.select(ReturnDocument).where(
            ReturnDocument.tenant_id == tenant_id,
            ReturnDocument.shipment_id == shipment_id,
            ReturnDocument.kind == QR_CODE,
        )
    ).scalar_one_or_none()
    if row is None:
        why = (
            "it was not asked with qr_code"
            if not shipment.return_qr
            else "its label is not bought yet"
            if shipment.status != "purchased"
            else "its carrier gave none"
        )
        raise Problem(
            "label-document-unavailable",
            f"Shipment {shipment_id} has no return QR code: {why}.",
            extra={"is_return": bool(shipment.is_return), "qr_code_asked": bool(shipment.return_qr)},
        )
    return storage.from_settings(container.settings).get(row.storage_key, row.checksum), row.format
