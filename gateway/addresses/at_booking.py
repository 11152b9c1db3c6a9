"""Classify a destination at booking, when the operator turns it on (``ADDRESS_CLASSIFY_AT_BOOKING``).

Carriers bill a residential surcharge on what they find to be a home, whatever the booking said. A
destination booked without ``residential`` is asked of the first enabled carrier that validates
addresses (the answer cached per tenant, as ``POST /v1/addresses/validate`` keeps it), before rates
are shopped, so the quotes carry the surcharge the carrier will bill. A class the carrier cannot
tell, a carrier failure or no carrier that validates leaves the flag unset: booking never fails or
waits on this beyond the carrier's own timeout.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from gateway.addresses import carriers, validation
from gateway.kernel.container import Container
from gateway.kernel.errors import Problem

log = logging.getLogger(__name__)

_RESIDENTIAL = {"residential": True, "commercial": False}


def classify_destination(
    session: Session, container: Container, tenant_id: str, data: dict[str, Any]
) -> None:
    """Set ``data["destination"]["residential"]`` from a carrier's class, if on and not given."""
    destination = data.get("destination")
    if not container.settings["ADDRESS_CLASSIFY_AT_BOOKING"] or not isinstance(destination, dict):
        return
    if destination.get("residential") is not None:
        return  # the shipper said: a carrier's guess does not override it
    if not any(True for _ in carriers.enabled(container.carriers)):
        return
    try:
        with session.begin_nested():  # a failed lookup leaves nothing half-stored in the booking
            outcome = validation.validate(
                session, container.settings, container.carriers, tenant_id, validation.from_body(destination)
            )
    except Problem as exc:
        log.warning("booking: the destination was not classified (%s)", exc.slug)
        return
    found = _RESIDENTIAL.get(outcome.result.get("classification", ""))
    if found is not None:
        destination["residential"] = found
