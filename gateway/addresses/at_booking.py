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

from sqlalchemy.exc import DBAPIError

from gateway.accounts import connections as accounts
from gateway.addresses import carriers, validation
from gateway.kernel.container import Container
from gateway.kernel.errors import Problem

log = logging.getLogger(__name__)

_RESIDENTIAL = {"residential": True, "commercial": False}


def classify_destination(container: Container, tenant_id: str, data: dict[str, Any]) -> None:
    """Set ``data["destination"]["residential"]`` from a carrier's class, if on and not given."""
    destination = data.get("destination")
    if not container.settings["ADDRESS_CLASSIFY_AT_BOOKING"] or not isinstance(destination, dict):
        return
    if destination.get("residential") is not None:
        return  # the shipper said: a carrier's guess does not override it
    operator = accounts.operator_registry_of(container, tenant_id)
    if not any(True for _ in carriers.enabled(operator)):
        return
    # Asked in a session of its own, committed before the booking writes: the carrier call must not sit
    # inside the booking's transaction. On SQLite a transaction that has read and then waited on a carrier
    # cannot write once another connection committed meanwhile (the exchange log does, every second),
    # so the booking itself would fail "database is locked". A failed lookup keeps nothing.
    try:
        with container.sessions() as own:
            outcome = validation.validate(
                own, container.settings, operator, tenant_id, validation.from_body(destination)
            )
            own.commit()
    except Problem as exc:
        log.warning("booking: the destination was not classified (%s)", exc.slug)
        return
    except DBAPIError:  # the cache could not be written now: classify the next booking instead
        log.warning("booking: the destination was not classified (database busy)")
        return
    found = _RESIDENTIAL.get(outcome.result.get("classification", ""))
    if found is not None:
        destination["residential"] = found
