"""What the label use cases act on: a tenant's shipment, its jobs and unresolved attempts, the carrier's
adapter, the document store."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from adapters import base as adapters
from gateway.accounts import connections as accounts
from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.labels import storage
from gateway.labels.states import UNRESOLVED
from gateway.labels.tables import LabelAttempt, LabelJob

if TYPE_CHECKING:
    from gateway.kernel.container import Container


def tenant_shipment(session: Session, tenant_id: str, shipment_id: str) -> models.Shipment:
    shipment = session.execute(
        sa.select(models.Shipment).where(
            models.Shipment.id == shipment_id, models.Shipment.tenant_id == tenant_id
        )
    ).scalar_one_or_none()
    if shipment is None:
        raise Problem("not-found", f"No shipment {shipment_id!r}.")
    return shipment


def active_job(session: Session, shipment_id: str) -> LabelJob | None:
    return session.execute(
        sa.select(LabelJob)
        .where(LabelJob.shipment_id == shipment_id, LabelJob.state.in_(("queued", "running")))
        .order_by(LabelJob.created_at.desc(), LabelJob.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def latest_job(session: Session, shipment_id: str) -> LabelJob | None:
    return session.execute(
        sa.select(LabelJob)
        .where(LabelJob.shipment_id == shipment_id)
        .order_by(LabelJob.created_at.desc(), LabelJob.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def label_adapter(
    container: Container, carrier_code: str, *, tenant_id: str, shipment_id: str, account_number: str | None
) -> adapters.Adapter | None:
    """The adapter of the account a bought label belongs to (to void it), whatever that account's state.

    A label bought before the account was recorded (``account_number`` None) falls back to
    ``carrier_adapter``. Read in a session of its own.
    """
    if account_number is None:
        return carrier_adapter(container, carrier_code, tenant_id=tenant_id, shipment_id=shipment_id)
    with container.sessions() as session:
        account_id = _rated_account_id(session, tenant_id, shipment_id)
        return accounts.adapter_of_label(
            session, container, tenant_id, carrier_code, account_number, account_id
        )


def _rated_account_id(session: Session, tenant_id: str, shipment_id: str | None) -> str | None:
    """The tenant carrier account the shipment's rate was quoted on (None: the operator's, or no shipment)."""
    if shipment_id is None:
        return None
    found: str | None = session.execute(
        sa.select(models.Shipment.carrier_account_id).where(
            models.Shipment.id == shipment_id, models.Shipment.tenant_id == tenant_id
        )
    ).scalar_one_or_none()
    return found


def carrier_adapter(
    container: Container, carrier_code: str, *, tenant_id: str | None = None, shipment_id: str | None = None
) -> adapters.Adapter | None:
    """The adapter that buys or voids a label of this carrier.

    With a tenant: the tenant's own account the shipment was rated on, else its default account of the
    carrier, else the operator's (when the tenant may use them). Read in a session of its own.
    """
    if tenant_id is not None:
        with container.sessions() as session:
            account_id = _rated_account_id(session, tenant_id, shipment_id)
            return accounts.adapter_for(session, container, tenant_id, carrier_code, account_id)
    registry = container.carriers
    try:
        return registry.get(carrier_code)
    except adapters.AdapterError:  # RegistryError: no adapter with this id; try by adapter name
        for key in registry:
            candidate = registry.get(key)
            if candidate.name == carrier_code:
                return candidate
    return None


def unresolved_attempts(session: Session, shipment_id: str) -> list[LabelAttempt]:
    return list(
        session.execute(
            sa.select(LabelAttempt)
            .where(
                LabelAttempt.shipment_id == shipment_id,
                LabelAttempt.operation == "purchase",
                LabelAttempt.outcome.in_(UNRESOLVED),
            )
            .order_by(LabelAttempt.id)
        ).scalars()
    )


def label_storage(container: Container) -> storage.Storage:
    return storage.from_settings(container.settings)
