"""Column mappings: how a tenant's generic CSV invoices of one carrier are read (``parsers.generic``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from gateway.kernel.types import utcnow
from gateway.reconciliation import tables


def get_mapping(session: Session, tenant_id: str, carrier: str) -> tables.InvoiceColumnMapping | None:
    return session.get(tables.InvoiceColumnMapping, (tenant_id, carrier))


def save_mapping(
    session: Session, tenant_id: str, carrier: str, mapping: dict[str, Any], key_id: str | None
) -> tables.InvoiceColumnMapping:
    """Create or replace the generic CSV column mapping of one carrier."""
    row = get_mapping(session, tenant_id, carrier)
    if row is None:
        row = tables.InvoiceColumnMapping(
            tenant_id=tenant_id, carrier=carrier, mapping=mapping, updated_by=key_id
        )
        session.add(row)
    else:
        row.mapping = mapping
        row.updated_by = key_id
        row.updated_at = utcnow()
    session.flush()
    return row
