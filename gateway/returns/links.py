"""The link between shipments and their returns, read for many shipments at once."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.kernel import models


def return_ids(session: Session, tenant_id: str, shipment_ids: Sequence[str]) -> dict[str, list[str]]:
    """Shipment id -> the ids of its returns, oldest first (every id given is a key)."""
    found: dict[str, list[str]] = {shipment_id: [] for shipment_id in shipment_ids}
    if not found:
        return found
    s = models.Shipment
    for row in session.execute(
        sa.select(s.return_of_id, s.id)
        .where(s.tenant_id == tenant_id, s.return_of_id.in_(list(found)))
        .order_by(s.created_at, s.id)
    ):
        found[row.return_of_id].append(row.id)
    return found
