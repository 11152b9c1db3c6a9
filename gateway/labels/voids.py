"""Voiding a bought label: at the carrier where it can, locally for the own fleet."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from adapters import base as adapters
from adapters import registry as adapter_registry
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow
from gateway.labels import _lookups
from gateway.labels.states import OWN_FLEET
from gateway.labels.tables import Label, LabelAttempt
from schemas import carrier as carrier_types

if TYPE_CHECKING:
    from gateway.kernel.container import Container


def void_label(session: Session, container: Container, tenant_id: str, shipment_id: str) -> Label:
    """Void a bought label at the carrier where it can, record it; refuse clearly where it cannot."""
    shipment = _lookups.tenant_shipment(session, tenant_id, shipment_id)
    label = session.execute(sa.select(Label).where(Label.shipment_id == shipment.id)).scalar_one_or_none()
    if label is None:
        raise Problem(
            "label-not-purchased",
            f"Shipment {shipment.id} has no label to void ({shipment.status}).",
            extra={"shipment_status": shipment.status},
        )
    if label.status == "voided":
        return label
    now = utcnow()
    if label.carrier == OWN_FLEET:
        void_state = "local"
    else:
        adapter = _lookups.label_adapter(
            container,
            label.carrier,
            tenant_id=tenant_id,
            shipment_id=shipment.id,
            account_number=label.account,
        )
        known = adapter_registry.known(label.carrier)
        voidable = known is not None and adapters.Capability.VOID in known.capabilities
        if adapter is None and label.account is not None and voidable:
            raise Problem(
                "label-account-gone",
                f"The {label.carrier} account {label.account} this label was bought on is no longer "
                f"connected, and no other account may void it. Connect the account again, or void "
                f"{label.tracking_number} with {label.carrier} directly.",
                extra={
                    "carrier": label.carrier,
                    "account": label.account,
                    "tracking_number": label.tracking_number,
                },
            )
        if adapter is None or not adapter.supports(adapters.Capability.VOID):
            raise Problem(
                "label-void-unsupported",
                f"{label.carrier} offers no way to void a label through its API. An unused label is usually "
                f"not billed once it is never tendered; check your {label.carrier} contract.",
                extra={"carrier": label.carrier, "tracking_number": label.tracking_number},
            )
        attempt = LabelAttempt(
            job_id=label.job_id or _lookups.latest_job(session, shipment.id).id,  # type: ignore[union-attr]
            tenant_id=tenant_id,
            shipment_id=shipment.id,
            operation="void",
            carrier=label.carrier,
            reference=shipment.id,
            outcome="started",
            evidence={"tracking_numbers": list(label.tracking_numbers or [])},
        )
        session.add(attempt)
        session.flush()
        try:
            result = adapter.void(
                carrier_types.VoidRequest(
                    account=adapter.account_id,
                    carrier_shipment_id=label.carrier_shipment_id or label.tracking_number,
                    tracking_numbers=tuple(label.tracking_numbers or [label.tracking_number]),
                )
            )
        except adapters.CarrierUnavailable as exc:
            raise Problem(
                "carrier-unavailable",
                f"{label.carrier} did not answer the void ({exc.message}); try again later.",
                error_source="carrier",
                headers={"Retry-After": str(int(exc.retry_after or 30))},
            ) from exc
        except adapters.CarrierRejected as exc:
            raise Problem(
                "carrier-rejected",
                f"{label.carrier} refused to void the label: {exc.message}",
                error_source="carrier",
                extra={"carrier_code": exc.code, "carrier_message": exc.message},
            ) from exc
        if not result.voided:
            raise Problem(
                "carrier-rejected",
                f"{label.carrier} did not void the label: {result.message or 'no reason given'}",
                error_source="carrier",
                extra={"carrier_code": None, "carrier_message": result.message},
            )
        attempt.outcome, attempt.finished_at = "succeeded", now
        attempt.evidence = {
            **attempt.evidence,
            "voided_tracking_numbers": list(result.voided_tracking_numbers),
        }
        void_state = "carrier"
    label.status = "voided"
    label.voided_at = now
    label.void_state = void_state
    shipment.status = "voided"
    session.flush()
    return label
