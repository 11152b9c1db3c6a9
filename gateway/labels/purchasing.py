"""Label purchase as crash-safe background jobs: exactly one label per shipment.

The request (``gateway.labels.requesting.request_label``) moves the shipment ``draft|failed -> label_requested`` and writes a
``label_jobs`` row and an outbox row in the caller's transaction. The outbox relays
``gateway.labels.jobs.purchase(shipment_id)`` to RQ; the sweeper re-drives it if Redis or a worker
loses it. ``run_purchase`` may therefore run more than once, concurrently, or after a crash at any
line, and is written so that none of that buys a second label:

1. A purchase attempt row is committed *before* the carrier is called (``started``), in the same
   transaction that claims the shipment: the row is locked (``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL; another runner skips and retries later) and the job's attempt counter is bumped
   with a conditional UPDATE (on SQLite this is the claim), and no other purchase attempt may be
   unresolved. Our shipment id goes to the carrier as the reference.
2. An attempt whose outcome nobody saw (worker killed mid-call, timeout, a garbled 200) stays
   ``started``/``unknown``. Before buying again, the job waits until that call cannot still be in
   flight (``LABEL_LOOKUP_SETTLE_SECONDS``, at least twice the adapter's timeout), then asks the
   carrier by reference (``lookup_shipment``) when it can: found -> the label is recorded as
   bought; not found -> buying again is safe. A carrier without lookup parks the shipment in
   ``needs_review`` with the evidence, for ops to resolve.
3. Unavailable (circuit open, 429/503 before any work) -> ``outbox.RetryLater`` with exponential
   backoff and jitter, up to ``LABEL_MAX_ATTEMPTS`` calls; rejected -> ``failed`` with the
   carrier's code and message, never retried.
4. The outcome is written with a conditional UPDATE of the shipment (still in flight) and the
   unique ``labels.shipment_id``, so two finishers cannot both record a label.

The own fleet's labels are rendered locally (``gateway.labels.render``) with a tracking number
derived from the shipment id, so running again yields the same label.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING, Any

from adapters import base as adapters
from gateway.customs import documents as customs_documents
from gateway.jobs import outbox
from gateway.kernel import models
from gateway.kernel.types import utcnow
from gateway.labels import _attempts, _lookups, _recording, _timing, documents, render
from gateway.labels.states import IN_FLIGHT, OWN_FLEET
from gateway.labels.tables import LabelAttempt
from gateway.returns import documents as return_documents
from gateway.validation import checking
from schemas import carrier as carrier_types

if TYPE_CHECKING:
    from gateway.kernel.container import Container

log = logging.getLogger(__name__)

# Carrier answers that mean "nothing was done, call again later" (the request was refused before any
# work): our breaker refused to call, the carrier throttled (429) or said it is unavailable (503).
_NOT_SENT_CODES = frozenset({"circuit_open", "http_429", "http_503"})


def _buy_format(adapter: adapters.Adapter, wanted: str) -> carrier_types.LabelFormat:
    """The format to buy in: the one asked for if offered, else one we can convert from."""
    offered = {f.value for f in adapter.label_formats} or {wanted}
    preferences = {
        "PDF": ("PDF", "PNG", "GIF"),
        "PNG": ("PNG", "GIF", "PDF"),
        "ZPL": ("ZPL", "PNG", "GIF", "PDF"),
    }.get(wanted, (wanted,))
    for fmt in preferences:
        if fmt in offered:
            return carrier_types.LabelFormat(fmt)
    return carrier_types.LabelFormat(sorted(offered)[0])


def run_purchase(container: Container, shipment_id: str) -> str:
    """Buy the label of an in-flight shipment, at most once. Returns what happened (for logs and tests)."""
    with container.sessions() as session:
        shipment = session.get(models.Shipment, shipment_id)
        if shipment is None:
            return "gone"
        if shipment.status not in IN_FLIGHT:
            return f"nothing to do: {shipment.status}"
        job = _lookups.active_job(session, shipment_id)
        if job is None:
            log.warning("in-flight shipment without an active label job", extra={"shipment_id": shipment_id})
            return "no active job"
        plan = _attempts.Plan(
            shipment_id=shipment.id,
            tenant_id=shipment.tenant_id,
            job_id=job.id,
            job_attempts=job.attempts,
            carrier=shipment.carrier or "",
            service=shipment.service or "",
            label_format=job.label_format,
        )
    if plan.carrier == OWN_FLEET:
        return _purchase_locally(container, plan)
    adapter = _lookups.carrier_adapter(
        container, plan.carrier, tenant_id=plan.tenant_id, shipment_id=plan.shipment_id
    )
    if adapter is None or not adapter.supports(adapters.Capability.LABEL):
        _attempts.conclude(
            container,
            plan,
            "failed",
            code="carrier_not_configured",
            message=f"No enabled carrier adapter {plan.carrier!r} that sells labels; nothing was bought.",
        )
        return "failed"
    with container.sessions() as session:
        unresolved = _lookups.unresolved_attempts(session, plan.shipment_id)
    if unresolved:
        outcome = _resolve_unknown(container, plan, adapter, unresolved)
        if outcome != "not_found":
            return outcome
    if plan.job_attempts >= int(_timing.setting(container, "LABEL_MAX_ATTEMPTS")):
        _attempts.conclude(
            container,
            plan,
            "failed",
            code="carrier_unavailable",
            message=(
                f"{plan.carrier} stayed unavailable for {plan.job_attempts} purchase attempts; nothing was "
                "bought (every attempt was refused before any work, or confirmed absent by lookup). Requeue "
                "the job to try again."
            ),
        )
        return "failed"
    buy_format = _buy_format(adapter, plan.label_format)
    attempt_id = _attempts.begin_attempt(
        container,
        plan,
        evidence={"service": plan.service, "label_format": buy_format.value, **_attempts.who()},
    )
    with container.sessions() as session:
        shipment = session.get(models.Shipment, plan.shipment_id)
        assert shipment is not None
        request = carrier_types.LabelRequest(
            spec=label_spec(shipment),
            account=adapter.account_id,
            service_code=plan.service,
            reference=plan.shipment_id,
            label_format=buy_format,
        )
    try:
        result = adapter.label(request)
    except adapters.CarrierRejected as exc:
        _attempts.finish_attempt(container, attempt_id, "rejected", error=exc)
        _attempts.conclude(
            container, plan, "failed", code=exc.code or "carrier_rejected", message=exc.message
        )
        return "failed"
    except adapters.CarrierUnavailable as exc:
        if exc.code in _NOT_SENT_CODES:
            _attempts.finish_attempt(container, attempt_id, "unavailable", error=exc)
            delay = max(_timing.backoff(container, plan.job_attempts + 1), float(exc.retry_after or 0))
            _attempts.note_retry(container, plan, exc.code or "carrier_unavailable", exc.message, delay)
            raise outbox.RetryLater(delay, f"{plan.carrier} unavailable: {exc.message}") from exc
        return _lost_answer(container, plan, adapter, attempt_id, exc)
    except Exception as exc:  # noqa: BLE001 - a garbled success or parse error: the carrier may have sold it
        return _lost_answer(container, plan, adapter, attempt_id, exc)
    outcome = _recording.record_purchase(
        container,
        plan,
        attempt_id,
        tracking_numbers=result.tracking_numbers,
        carrier_shipment_id=result.carrier_shipment_id,
        document=(result.label, result.label_format.value) if result.label else None,
        charges=result.charges,
        source="carrier",
        account=adapter.account_id,
    )
    # The commercial invoices (ours, and the carrier's paperless-trade copy) beside the label document.
    if outcome == "purchased":
        customs_documents.keep_after_purchase(container, plan.shipment_id, result.documents)
        # A return label's QR code (USPS Label Broker), when the carrier gave one.
        return_documents.keep_after_purchase(container, plan.shipment_id, result.documents)
    return outcome


def label_spec(shipment: models.Shipment) -> Any:
    """The canonical shipment spec with the parties' names and contacts (rating leaves them out).

    The same function the pre-purchase check uses, so what is checked is what is sent.
    """
    return checking.label_spec_of_shipment(shipment)


def _lost_answer(
    container: Container, plan: _attempts.Plan, adapter: adapters.Adapter, attempt_id: int, exc: BaseException
) -> str:
    """The purchase call may or may not have bought a label: record that and come back after it settles."""
    _attempts.finish_attempt(container, attempt_id, "unknown", error=exc)
    settle = _timing.settle_seconds(container, adapter)
    message = f"The answer to purchase attempt #{attempt_id} was lost ({_attempts.describe(exc)}); checking with the carrier."
    _attempts.note_retry(container, plan, "outcome_unknown", message, settle)
    raise outbox.RetryLater(settle, message) from exc


def _resolve_unknown(
    container: Container, plan: _attempts.Plan, adapter: adapters.Adapter, unresolved: list[LabelAttempt]
) -> str:
    """Find out whether an unseen purchase happened. Returns "not_found" when buying again is safe."""
    latest = max(a.started_at for a in unresolved)
    settle = _timing.settle_seconds(container, adapter)
    waited = (utcnow() - latest).total_seconds()
    if waited < settle:
        # That call may still be in flight (a worker that was merely slow, or a carrier still working).
        delay = settle - waited + random.uniform(0, 1)
        _attempts.note_retry(
            container,
            plan,
            "outcome_unknown",
            f"Waiting for purchase attempt #{unresolved[-1].id} to settle before asking the carrier.",
            delay,
        )
        raise outbox.RetryLater(delay, "waiting for an unseen purchase to settle")
    ids = [a.id for a in unresolved]
    evidence = {
        "unresolved_attempts": [
            {
                "id": a.id,
                "outcome": a.outcome,
                "started_at": a.started_at.isoformat(),
                "error_code": a.error_code,
                "error_message": a.error_message,
            }
            for a in unresolved
        ]
    }
    if not adapter.supports(adapters.Capability.LOOKUP_SHIPMENT):
        _attempts.mark_attempts(container, ids, "unknown")
        _attempts.conclude(
            container,
            plan,
            "needs_review",
            code="outcome_unknown",
            message=(
                f"The answer to a purchase at {plan.carrier} was lost and {plan.carrier} offers no lookup by "
                f"reference, so buying again could buy twice. Check the {plan.carrier} account for a shipment "
                f"with reference {plan.shipment_id}, then resolve this job."
            ),
        )
        return "needs_review"
    lookup_id = _attempts.begin_attempt(
        container, plan, operation="lookup", evidence={**evidence, **_attempts.who()}
    )
    try:
        found = adapter.lookup_shipment(plan.shipment_id)
    except adapters.CarrierUnavailable as exc:
        _attempts.finish_attempt(container, lookup_id, "unavailable", error=exc)
        delay = _timing.backoff(container, plan.job_attempts + 1)
        _attempts.note_retry(container, plan, "lookup_unavailable", exc.message, delay)
        raise outbox.RetryLater(delay, f"lookup at {plan.carrier} unavailable") from exc
    except adapters.CarrierRejected as exc:
        _attempts.finish_attempt(container, lookup_id, "rejected", error=exc)
        _attempts.conclude(
            container,
            plan,
            "needs_review",
            code="lookup_rejected",
            message=(
                f"The answer to a purchase at {plan.carrier} was lost and the lookup by reference was refused "
                f"({exc.code}: {exc.message}). Check the account for reference {plan.shipment_id}."
            ),
        )
        return "needs_review"
    except Exception as exc:
        _attempts.finish_attempt(container, lookup_id, "unknown", error=exc)
        delay = _timing.backoff(container, plan.job_attempts + 1)
        _attempts.note_retry(container, plan, "lookup_failed", _attempts.describe(exc), delay)
        raise outbox.RetryLater(delay, "lookup failed") from exc
    if found.found and found.tracking_numbers:
        _attempts.finish_attempt(
            container,
            lookup_id,
            "found",
            evidence={
                "tracking_numbers": list(found.tracking_numbers),
                "carrier_shipment_id": found.carrier_shipment_id,
            },
        )
        _attempts.mark_attempts(container, ids, "found")
        return _recording.record_purchase(
            container,
            plan,
            lookup_id,
            tracking_numbers=found.tracking_numbers,
            carrier_shipment_id=found.carrier_shipment_id,
            document=None,
            charges=None,
            source="lookup",
            finish_attempt=False,
            account=adapter.account_id,
        )
    _attempts.finish_attempt(container, lookup_id, "not_found")
    _attempts.mark_attempts(container, ids, "not_found")
    return "not_found"


def _purchase_locally(container: Container, plan: _attempts.Plan) -> str:
    """The own fleet: nothing is bought outside, the label is rendered here, the number is stable."""
    fmt = plan.label_format if plan.label_format in render.FORMATS else "PDF"
    # A local attempt left "started" by a crash bought nothing: rendering again is safe.
    with container.sessions() as session:
        ids = [a.id for a in _lookups.unresolved_attempts(session, plan.shipment_id)]
    if ids:
        _attempts.mark_attempts(container, ids, "not_found")
    attempt_id = _attempts.begin_attempt(
        container, plan, evidence={"local": True, "label_format": fmt, **_attempts.who()}
    )
    with container.sessions() as session:
        shipment = session.get(models.Shipment, plan.shipment_id)
        assert shipment is not None
        label = documents.fleet_label(shipment, documents.fleet_stop(session, shipment))
    document = render.render_fleet(label, fmt)
    return _recording.record_purchase(
        container,
        plan,
        attempt_id,
        tracking_numbers=(label.tracking_number,),
        carrier_shipment_id=label.tracking_number,
        document=(document, fmt),
        charges=None,
        source="local",
    )
