"""Label purchase as crash-safe background jobs: exactly one label per shipment.

The request (``request_label``) moves the shipment ``draft|failed -> label_requested`` and writes a
``label_jobs`` row and an outbox row in the caller's transaction. The outbox relays
``gateway.jobs_labels.purchase(shipment_id)`` to RQ; the sweeper re-drives it if Redis or a worker
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
import os
import random
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapters import base as adapters
from gateway import outbox
from gateway.db import models
from gateway.db import rating as rating_tables
from gateway.db.labels import TERMINAL_JOB_STATES, Label, LabelAttempt, LabelBatch, LabelJob
from gateway.db.outbox import OutboxEntry
from gateway.db.types import utcnow
from gateway.errors import Problem
from gateway.labels import render, storage
from schemas import carrier as carrier_types
from schemas import money

if TYPE_CHECKING:
    from gateway.bootstrap import Container

log = logging.getLogger(__name__)

PURCHASE_JOB = "gateway.jobs_labels.purchase"
MERGE_JOB = "gateway.jobs_labels.merge_batch"
QUEUE = "labels"
OWN_FLEET = frozenset(
    {"fleet", "own_fleet"}
)  # the contracts say "fleet"; the sample rate card says "own_fleet"
IN_FLIGHT = ("label_requested", "purchasing")
REQUESTABLE = ("draft", "failed")
UNRESOLVED = ("started", "unknown")
MAX_BATCH = 1000
# Carrier answers that mean "nothing was done, call again later" (the request was refused before any
# work): our breaker refused to call, the carrier throttled (429) or said it is unavailable (503).
_NOT_SENT_CODES = frozenset({"circuit_open", "http_429", "http_503"})

DEFAULTS: dict[str, float] = {
    "LABEL_MAX_ATTEMPTS": 8,  # purchase calls for one job before it fails as carrier_unavailable
    "LABEL_LOOKUP_SETTLE_SECONDS": 120,  # wait this long after a lost answer before asking by reference
    "LABEL_RETRY_BASE_SECONDS": 5,
    "LABEL_RETRY_CAP_SECONDS": 900,
    "LABEL_BUSY_RETRY_SECONDS": 3,  # another runner holds the shipment
}


def setting(container: Container, name: str) -> float:
    return float(container.settings.get(name, DEFAULTS[name]))


def _backoff(container: Container, attempt: int) -> float:
    """Exponential backoff with full jitter (half to the whole step), capped."""
    base = setting(container, "LABEL_RETRY_BASE_SECONDS")
    step = min(setting(container, "LABEL_RETRY_CAP_SECONDS"), base * (2 ** max(0, attempt - 1)))
    return step * random.uniform(0.5, 1.0)


# -- requesting ---------------------------------------------------------------------------------------------


def _shipment(session: Session, tenant_id: str, shipment_id: str) -> models.Shipment:
    shipment = session.execute(
        sa.select(models.Shipment).where(
            models.Shipment.id == shipment_id, models.Shipment.tenant_id == tenant_id
        )
    ).scalar_one_or_none()
    if shipment is None:
        raise Problem("not-found", f"No shipment {shipment_id!r}.")
    return shipment


def _active_job(session: Session, shipment_id: str) -> LabelJob | None:
    return session.execute(
        sa.select(LabelJob)
        .where(LabelJob.shipment_id == shipment_id, LabelJob.state.in_(("queued", "running")))
        .order_by(LabelJob.created_at.desc(), LabelJob.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _latest_job(session: Session, shipment_id: str) -> LabelJob | None:
    return session.execute(
        sa.select(LabelJob)
        .where(LabelJob.shipment_id == shipment_id)
        .order_by(LabelJob.created_at.desc(), LabelJob.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _refusal(session: Session, shipment: models.Shipment) -> Problem | None:
    """Why this shipment cannot get a purchase request now, or None."""
    status = shipment.status
    if status in ("purchased", "voided"):
        return Problem(
            "label-already-purchased",
            f"Shipment {shipment.id} already has a label ({status}); a second purchase would buy twice.",
            extra={"shipment_status": status, "tracking_number": shipment.tracking_number},
        )
    if status in IN_FLIGHT or status == "needs_review":
        job = _latest_job(session, shipment.id)
        return Problem(
            "label-in-progress",
            f"Shipment {shipment.id} is {status}: its label purchase is under way or awaits review.",
            extra={"shipment_status": status, "job_id": job.id if job else None},
        )
    if status not in REQUESTABLE:
        return Problem("conflict", f"Shipment {shipment.id} is {status}; no label can be bought for it.")
    if not shipment.carrier or not shipment.service:
        return Problem(
            "shipment-not-rated",
            f"Select a rate for shipment {shipment.id} first (POST /v1/shipments/{shipment.id}/rate).",
        )
    return None


def _enqueue(
    session: Session, shipment: models.Shipment, label_format: str, batch_id: str | None = None
) -> LabelJob:
    """Move the shipment to label_requested and record its job and outbox row (caller's transaction)."""
    # Conditional: two concurrent requests (no Idempotency-Key) cannot both start a purchase.
    moved = session.execute(
        sa.update(models.Shipment)
        .where(models.Shipment.id == shipment.id, models.Shipment.status.in_(REQUESTABLE))
        .values(status="label_requested", updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        session.refresh(shipment)
        raise _refusal(session, shipment) or Problem("label-in-progress")
    job = LabelJob(
        tenant_id=shipment.tenant_id,
        shipment_id=shipment.id,
        batch_id=batch_id,
        state="queued",
        label_format=label_format,
        attempts=0,
        resolution=[],
    )
    session.add(job)
    entry = outbox.add(session, PURCHASE_JOB, shipment.id, queue=QUEUE)
    job.outbox_id = entry.id
    session.flush()
    session.refresh(shipment)
    return job


def request_label(
    session: Session, tenant_id: str, shipment_id: str, *, label_format: str = "PDF"
) -> LabelJob:
    """Ask for a label: 409 when the shipment has one or is buying one; else a queued job."""
    shipment = _shipment(session, tenant_id, shipment_id)
    # Read first (no lock): a worker may hold the row for the length of a carrier call.
    refusal = _refusal(session, shipment)
    if refusal is not None:
        raise refusal
    return _enqueue(session, shipment, label_format.upper())


# -- reading jobs -------------------------------------------------------------------------------------------


def get_job(session: Session, tenant_id: str, job_id: str) -> LabelJob:
    job = session.execute(
        sa.select(LabelJob).where(LabelJob.id == job_id, LabelJob.tenant_id == tenant_id)
    ).scalar_one_or_none()
    if job is None:
        raise Problem("not-found", f"No job {job_id!r}.")
    return job


def _attempt_view(a: LabelAttempt) -> dict[str, Any]:
    return {
        "id": a.id,
        "operation": a.operation,
        "carrier": a.carrier,
        "reference": a.reference,
        "outcome": a.outcome,
        "error_code": a.error_code,
        "error_message": a.error_message,
        "http_status": a.http_status,
        "evidence": a.evidence or {},
        "started_at": a.started_at,
        "finished_at": a.finished_at,
    }


def present_jobs(
    session: Session, jobs: Sequence[LabelJob], *, with_attempts: bool = True
) -> list[dict[str, Any]]:
    """Shape jobs as the API shows them, with their shipment, label and attempt log."""
    if not jobs:
        return []
    shipment_ids = {j.shipment_id for j in jobs}
    shipments = {
        s.id: s
        for s in session.execute(
            sa.select(
                models.Shipment.id, models.Shipment.status, models.Shipment.carrier, models.Shipment.reference
            ).where(models.Shipment.id.in_(shipment_ids))
        ).all()
    }
    labels = {
        lbl.shipment_id: lbl
        for lbl in session.execute(sa.select(Label).where(Label.shipment_id.in_(shipment_ids))).scalars()
    }
    outbox_ids = [j.outbox_id for j in jobs if j.outbox_id is not None]
    outbox_states = dict(
        session.execute(
            sa.select(OutboxEntry.id, OutboxEntry.state).where(OutboxEntry.id.in_(outbox_ids))
        ).all()
        if outbox_ids
        else []
    )
    attempts: dict[str, list[LabelAttempt]] = {}
    if with_attempts:
        for a in session.execute(
            sa.select(LabelAttempt)
            .where(LabelAttempt.job_id.in_([j.id for j in jobs]))
            .order_by(LabelAttempt.id)
        ).scalars():
            attempts.setdefault(a.job_id, []).append(a)
    out = []
    for j in jobs:
        s = shipments.get(j.shipment_id)
        lbl = labels.get(j.shipment_id)
        out.append(
            {
                "id": j.id,
                "kind": j.kind,
                "state": j.state,
                "shipment_id": j.shipment_id,
                "shipment_status": s.status if s else None,
                "carrier": s.carrier if s else None,
                "reference": s.reference if s else None,
                "batch_id": j.batch_id,
                "label_format": j.label_format,
                "attempts": j.attempts,
                "last_error": (
                    {"code": j.last_error_code, "message": j.last_error}
                    if (j.last_error or j.last_error_code)
                    else None
                ),
                "next_attempt_at": j.next_attempt_at if j.state in ("queued", "running") else None,
                "outbox_state": outbox_states.get(j.outbox_id) if j.outbox_id is not None else None,
                "label": present_label(lbl) if lbl is not None and j.state == "succeeded" else None,
                "attempt_log": [_attempt_view(a) for a in attempts.get(j.id, [])],
                "resolution": list(j.resolution or []),
                "created_at": j.created_at,
                "updated_at": j.updated_at,
                "finished_at": j.finished_at,
            }
        )
    return out


def present_label(lbl: Label) -> dict[str, Any]:
    cost = None
    if lbl.cost_minor is not None and lbl.currency:
        value = money.Money.from_minor(lbl.cost_minor, lbl.currency)
        cost = {"amount": value.amount, "currency": value.currency}
    return {
        "id": lbl.id,
        "shipment_id": lbl.shipment_id,
        "carrier": lbl.carrier,
        "service": lbl.service,
        "tracking_number": lbl.tracking_number,
        "tracking_numbers": list(lbl.tracking_numbers or []),
        "status": lbl.status,
        "cost": cost,
        "format": lbl.format,
        "checksum": lbl.checksum,
        "document_available": lbl.storage_key is not None,
        "source": lbl.source,
        "purchased_at": lbl.purchased_at,
        "voided_at": lbl.voided_at,
    }


def list_jobs(
    session: Session,
    tenant_id: str,
    *,
    states: Iterable[str] = (),
    dead_letter: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[LabelJob], str | None]:
    """A page of jobs, newest first. ``dead_letter``: failed, needs_review, or given up by the outbox."""
    from gateway.services.shipments import decode_cursor, encode_cursor

    query = sa.select(LabelJob).where(LabelJob.tenant_id == tenant_id)
    states = list(states)
    if dead_letter:
        dead_outbox = sa.select(OutboxEntry.id).where(OutboxEntry.state == "dead")
        query = query.where(
            sa.or_(
                LabelJob.state.in_(("failed", "needs_review")),
                sa.and_(LabelJob.state.in_(("queued", "running")), LabelJob.outbox_id.in_(dead_outbox)),
            )
        )
    if states:
        query = query.where(LabelJob.state.in_(states))
    if cursor:
        when, row_id = decode_cursor(cursor)
        query = query.where(
            sa.or_(LabelJob.created_at < when, sa.and_(LabelJob.created_at == when, LabelJob.id < row_id))
        )
    rows = list(
        session.execute(
            query.order_by(LabelJob.created_at.desc(), LabelJob.id.desc()).limit(limit + 1)
        ).scalars()
    )
    next_cursor = encode_cursor(rows[limit - 1].created_at, rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


# -- the purchase job ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    shipment_id: str
    tenant_id: str
    job_id: str
    job_attempts: int
    carrier: str
    service: str
    label_format: str


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _who() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _settle_seconds(container: Container, adapter: adapters.Adapter | None) -> float:
    floor = 2 * float(adapter.timeout) + 5 if adapter is not None else 0.0
    return max(setting(container, "LABEL_LOOKUP_SETTLE_SECONDS"), floor)


def _adapter(container: Container, carrier_code: str) -> adapters.Adapter | None:
    registry = container.carriers
    try:
        return registry.get(carrier_code)
    except adapters.AdapterError:  # RegistryError: no adapter with this id; try by adapter name
        for key in registry:
            candidate = registry.get(key)
            if candidate.name == carrier_code:
                return candidate
    return None


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
        job = _active_job(session, shipment_id)
        if job is None:
            log.warning("in-flight shipment without an active label job", extra={"shipment_id": shipment_id})
            return "no active job"
        plan = _Plan(
            shipment_id=shipment.id,
            tenant_id=shipment.tenant_id,
            job_id=job.id,
            job_attempts=job.attempts,
            carrier=shipment.carrier or "",
            service=shipment.service or "",
            label_format=job.label_format,
        )
    if plan.carrier in OWN_FLEET:
        return _purchase_locally(container, plan)
    adapter = _adapter(container, plan.carrier)
    if adapter is None or not adapter.supports(adapters.Capability.LABEL):
        _conclude(
            container,
            plan,
            "failed",
            code="carrier_not_configured",
            message=f"No enabled carrier adapter {plan.carrier!r} that sells labels; nothing was bought.",
        )
        return "failed"
    with container.sessions() as session:
        unresolved = _unresolved(session, plan.shipment_id)
    if unresolved:
        outcome = _resolve_unknown(container, plan, adapter, unresolved)
        if outcome != "not_found":
            return outcome
    if plan.job_attempts >= int(setting(container, "LABEL_MAX_ATTEMPTS")):
        _conclude(
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
    attempt_id = _begin_attempt(
        container,
        plan,
        evidence={"service": plan.service, "label_format": buy_format.value, **_who()},
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
        _finish_attempt(container, attempt_id, "rejected", error=exc)
        _conclude(container, plan, "failed", code=exc.code or "carrier_rejected", message=exc.message)
        return "failed"
    except adapters.CarrierUnavailable as exc:
        if exc.code in _NOT_SENT_CODES:
            _finish_attempt(container, attempt_id, "unavailable", error=exc)
            delay = max(_backoff(container, plan.job_attempts + 1), float(exc.retry_after or 0))
            _note_retry(container, plan, exc.code or "carrier_unavailable", exc.message, delay)
            raise outbox.RetryLater(delay, f"{plan.carrier} unavailable: {exc.message}") from exc
        return _lost_answer(container, plan, adapter, attempt_id, exc)
    except Exception as exc:  # noqa: BLE001 - a garbled success or parse error: the carrier may have sold it
        return _lost_answer(container, plan, adapter, attempt_id, exc)
    return _record_purchase(
        container,
        plan,
        attempt_id,
        tracking_numbers=result.tracking_numbers,
        carrier_shipment_id=result.carrier_shipment_id,
        document=(result.label, result.label_format.value) if result.label else None,
        charges=result.charges,
        source="carrier",
    )


def label_spec(shipment: models.Shipment) -> Any:
    """The canonical shipment spec with the parties' names and contacts (rating leaves them out)."""
    import dataclasses

    from gateway.services.rates import spec_from_shipment

    spec = spec_from_shipment(shipment)

    def party(address: Any, row: models.Address) -> Any:
        return dataclasses.replace(
            address, name=row.name, company=row.company, phone=row.phone, email=row.email
        )

    return dataclasses.replace(
        spec,
        origin=party(spec.origin, shipment.origin),
        destination=party(spec.destination, shipment.destination),
        reference=shipment.reference,
    )


def _unresolved(session: Session, shipment_id: str) -> list[LabelAttempt]:
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


def _lost_answer(
    container: Container, plan: _Plan, adapter: adapters.Adapter, attempt_id: int, exc: BaseException
) -> str:
    """The purchase call may or may not have bought a label: record that and come back after it settles."""
    _finish_attempt(container, attempt_id, "unknown", error=exc)
    settle = _settle_seconds(container, adapter)
    message = f"The answer to purchase attempt #{attempt_id} was lost ({_describe(exc)}); checking with the carrier."
    _note_retry(container, plan, "outcome_unknown", message, settle)
    raise outbox.RetryLater(settle, message) from exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, adapters.CarrierError):
        return f"{exc.code or type(exc).__name__}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"[:500]


def _resolve_unknown(
    container: Container, plan: _Plan, adapter: adapters.Adapter, unresolved: list[LabelAttempt]
) -> str:
    """Find out whether an unseen purchase happened. Returns "not_found" when buying again is safe."""
    latest = max(a.started_at for a in unresolved)
    settle = _settle_seconds(container, adapter)
    waited = (utcnow() - latest).total_seconds()
    if waited < settle:
        # That call may still be in flight (a worker that was merely slow, or a carrier still working).
        delay = settle - waited + random.uniform(0, 1)
        _note_retry(
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
        _mark_attempts(container, ids, "unknown")
        _conclude(
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
    lookup_id = _begin_attempt(container, plan, operation="lookup", evidence={**evidence, **_who()})
    try:
        found = adapter.lookup_shipment(plan.shipment_id)
    except adapters.CarrierUnavailable as exc:
        _finish_attempt(container, lookup_id, "unavailable", error=exc)
        delay = _backoff(container, plan.job_attempts + 1)
        _note_retry(container, plan, "lookup_unavailable", exc.message, delay)
        raise outbox.RetryLater(delay, f"lookup at {plan.carrier} unavailable") from exc
    except adapters.CarrierRejected as exc:
        _finish_attempt(container, lookup_id, "rejected", error=exc)
        _conclude(
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
        _finish_attempt(container, lookup_id, "unknown", error=exc)
        delay = _backoff(container, plan.job_attempts + 1)
        _note_retry(container, plan, "lookup_failed", _describe(exc), delay)
        raise outbox.RetryLater(delay, "lookup failed") from exc
    if found.found and found.tracking_numbers:
        _finish_attempt(
            container,
            lookup_id,
            "found",
            evidence={
                "tracking_numbers": list(found.tracking_numbers),
                "carrier_shipment_id": found.carrier_shipment_id,
            },
        )
        _mark_attempts(container, ids, "found")
        return _record_purchase(
            container,
            plan,
            lookup_id,
            tracking_numbers=found.tracking_numbers,
            carrier_shipment_id=found.carrier_shipment_id,
            document=None,
            charges=None,
            source="lookup",
            finish_attempt=False,
        )
    _finish_attempt(container, lookup_id, "not_found")
    _mark_attempts(container, ids, "not_found")
    return "not_found"


def _begin_attempt(
    container: Container, plan: _Plan, *, operation: str = "purchase", evidence: dict[str, Any] | None = None
) -> int:
    """Claim the shipment and commit an attempt row before any carrier call; return the attempt id.

    A purchase claim bumps the job's attempt counter only if nobody else did since we read it and no
    other purchase attempt is unresolved: exactly one runner can be between "recorded" and "answered".
    """
    busy = setting(container, "LABEL_BUSY_RETRY_SECONDS")
    with container.sessions() as session:
        query = sa.select(models.Shipment.id, models.Shipment.status).where(
            models.Shipment.id == plan.shipment_id
        )
        if _is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        row = session.execute(query).one_or_none()
        if row is None:
            session.rollback()
            raise outbox.RetryLater(busy + random.uniform(0, 1), "shipment locked by another runner")
        if row.status not in IN_FLIGHT:
            session.rollback()
            raise outbox.RetryLater(0, f"shipment became {row.status}")  # the next run returns at once
        if operation == "purchase":
            if _unresolved(session, plan.shipment_id):
                session.rollback()
                raise outbox.RetryLater(busy + random.uniform(0, 1), "another purchase attempt is unresolved")
            claimed = session.execute(
                sa.update(LabelJob)
                .where(
                    LabelJob.id == plan.job_id,
                    LabelJob.attempts == plan.job_attempts,
                    LabelJob.state.in_(("queued", "running")),
                )
                .values(
                    attempts=plan.job_attempts + 1, state="running", next_attempt_at=None, updated_at=utcnow()
                )
            )
            if claimed.rowcount != 1:
                session.rollback()
                raise outbox.RetryLater(busy + random.uniform(0, 1), "another runner claimed this job")
            session.execute(
                sa.update(models.Shipment)
                .where(models.Shipment.id == plan.shipment_id, models.Shipment.status.in_(IN_FLIGHT))
                .values(status="purchasing", updated_at=utcnow())
            )
        attempt = LabelAttempt(
            job_id=plan.job_id,
            tenant_id=plan.tenant_id,
            shipment_id=plan.shipment_id,
            operation=operation,
            carrier=plan.carrier,
            reference=plan.shipment_id,
            outcome="started",
            evidence=evidence or {},
        )
        session.add(attempt)
        session.commit()
        return attempt.id


def _finish_attempt(
    container: Container,
    attempt_id: int,
    outcome: str,
    *,
    error: BaseException | None = None,
    evidence: dict[str, Any] | None = None,
    session: Session | None = None,
) -> None:
    values: dict[str, Any] = {"outcome": outcome, "finished_at": utcnow()}
    if error is not None:
        if isinstance(error, adapters.CarrierError):
            values.update(
                error_code=(error.code or type(error).__name__)[:100],
                error_message=error.message[:2000],
                http_status=error.http_status,
            )
        else:
            values.update(error_code=type(error).__name__[:100], error_message=str(error)[:2000])
    own = session is None
    s = session or container.sessions()
    try:
        if evidence:
            current = s.execute(
                sa.select(LabelAttempt.evidence).where(LabelAttempt.id == attempt_id)
            ).scalar_one()
            values["evidence"] = {**(current or {}), **evidence}
        s.execute(sa.update(LabelAttempt).where(LabelAttempt.id == attempt_id).values(**values))
        if own:
            s.commit()
    finally:
        if own:
            s.close()


def _mark_attempts(container: Container, ids: Sequence[int], outcome: str) -> None:
    with container.sessions() as session:
        session.execute(
            sa.update(LabelAttempt)
            .where(LabelAttempt.id.in_(list(ids)), LabelAttempt.outcome.in_(UNRESOLVED))
            .values(outcome=outcome, finished_at=utcnow())
        )
        session.commit()


def _note_retry(container: Container, plan: _Plan, code: str, message: str, delay: float) -> None:
    with container.sessions() as session:
        session.execute(
            sa.update(LabelJob)
            .where(LabelJob.id == plan.job_id, LabelJob.state.in_(("queued", "running")))
            .values(
                last_error_code=code[:100],
                last_error=message[:2000],
                next_attempt_at=utcnow() + timedelta(seconds=delay),
                updated_at=utcnow(),
            )
        )
        session.commit()


def _conclude(container: Container, plan: _Plan, status: str, *, code: str, message: str) -> bool:
    """End an in-flight purchase as failed or needs_review (nothing recorded as bought)."""
    with container.sessions() as session:
        moved = session.execute(
            sa.update(models.Shipment)
            .where(models.Shipment.id == plan.shipment_id, models.Shipment.status.in_(IN_FLIGHT))
            .values(status=status, updated_at=utcnow())
        )
        if moved.rowcount != 1:
            session.rollback()
            return False
        now = utcnow()
        session.execute(
            sa.update(LabelJob)
            .where(LabelJob.id == plan.job_id)
            .values(
                state=status,
                last_error_code=code[:100],
                last_error=message[:2000],
                finished_at=now,
                next_attempt_at=None,
                updated_at=now,
            )
        )
        shipment = session.get(models.Shipment, plan.shipment_id)
        _emit(
            session,
            plan.tenant_id,
            "label.failed",
            {
                "shipment_id": plan.shipment_id,
                "status": status,
                "carrier": plan.carrier or None,
                "service": plan.service or None,
                "error": {"code": code, "message": message[:2000], "retryable": False},
                "failed_at": now.isoformat(),
                "reference": shipment.reference if shipment else None,
            },
            now,
        )
        _maybe_merge_later(session, plan.job_id)
        session.commit()
    log.info(
        "label purchase concluded", extra={"shipment_id": plan.shipment_id, "status": status, "code": code}
    )
    return True


def _emit(session: Session, tenant_id: str, event_type: str, data: dict[str, Any], at: datetime) -> None:
    from gateway import webhooks

    webhooks.emit(session, tenant_id, event_type, data, occurred_at=at)


def _storage(container: Container) -> storage.Storage:
    return storage.from_settings(container.settings)


def _record_purchase(
    container: Container,
    plan: _Plan,
    attempt_id: int,
    *,
    tracking_numbers: Sequence[str],
    carrier_shipment_id: str | None,
    document: tuple[bytes, str] | None,
    charges: money.Money | None,
    source: str,
    finish_attempt: bool = True,
) -> str:
    """Store the document, then record the label, the tracking number and the events in one transaction."""
    from gateway.services import tracking

    tracking_number = tracking_numbers[0] if tracking_numbers else (carrier_shipment_id or "")
    stored: storage.Stored | None = None
    fmt: str | None = None
    if document is not None:
        data, fmt = document
        key = f"{plan.tenant_id}/{plan.shipment_id}/a{attempt_id}.{render.EXTENSIONS.get(fmt, 'bin')}"
        stored = _storage(container).put(key, data)
    now = utcnow()
    with container.sessions() as session:
        moved = session.execute(
            sa.update(models.Shipment)
            .where(models.Shipment.id == plan.shipment_id, models.Shipment.status.in_(IN_FLIGHT))
            .values(status="purchased", tracking_number=tracking_number, updated_at=now)
        )
        if moved.rowcount != 1:
            session.rollback()
            return _second_label(container, plan, attempt_id, tracking_numbers, carrier_shipment_id)
        snapshot = session.execute(
            sa.select(rating_tables.ShipmentQuoteSnapshot).where(
                rating_tables.ShipmentQuoteSnapshot.shipment_id == plan.shipment_id
            )
        ).scalar_one_or_none()
        if charges is not None:
            cost_minor, currency = charges.to_minor(), charges.currency
        elif snapshot is not None:
            cost_minor, currency = snapshot.total_cost_minor, snapshot.currency
        else:
            cost_minor, currency = None, None
        label = Label(
            tenant_id=plan.tenant_id,
            shipment_id=plan.shipment_id,
            carrier=plan.carrier,
            service=plan.service or None,
            tracking_number=tracking_number,
            status="purchased",
            cost_minor=cost_minor,
            currency=currency,
            format=fmt,
            storage_key=stored.key if stored else None,
            checksum=stored.checksum if stored else None,
            purchased_at=now,
            carrier_shipment_id=carrier_shipment_id,
            tracking_numbers=list(tracking_numbers),
            source=source,
            job_id=plan.job_id,
        )
        session.add(label)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return _second_label(container, plan, attempt_id, tracking_numbers, carrier_shipment_id)
        session.execute(
            sa.update(LabelJob)
            .where(LabelJob.id == plan.job_id)
            .values(state="succeeded", finished_at=now, next_attempt_at=None, updated_at=now)
        )
        if finish_attempt:
            _finish_attempt(
                container,
                attempt_id,
                "succeeded",
                evidence={
                    "tracking_numbers": list(tracking_numbers),
                    "carrier_shipment_id": carrier_shipment_id,
                },
                session=session,
            )
        shipment = session.get(models.Shipment, plan.shipment_id)
        assert shipment is not None
        session.refresh(shipment)
        tracking.attach_parked(session, shipment)
        outbox.add(session, "gateway.jobs_tracking.start_tracking", shipment.id, queue="tracking")
        cost = None
        if cost_minor is not None and currency:
            value = money.Money.from_minor(cost_minor, currency)
            cost = {"amount": format(value.amount, "f"), "currency": value.currency}
        _emit(
            session,
            plan.tenant_id,
            "label.purchased",
            {
                "shipment_id": plan.shipment_id,
                "label_id": label.id,
                "carrier": plan.carrier,
                "service": plan.service or None,
                "tracking_number": tracking_number,
                "cost": cost,
                "format": fmt.lower() if fmt else None,
                "purchased_at": now.isoformat(),
                "reference": shipment.reference,
            },
            now,
        )
        _maybe_merge_later(session, plan.job_id)
        session.commit()
    log.info(
        "label purchased",
        extra={"shipment_id": plan.shipment_id, "carrier": plan.carrier, "source": source},
    )
    return "purchased"


def _second_label(
    container: Container,
    plan: _Plan,
    attempt_id: int,
    tracking_numbers: Sequence[str],
    carrier_shipment_id: str | None,
) -> str:
    """Another runner recorded a label first: this one is a second purchase. Keep the evidence, void it."""
    evidence: dict[str, Any] = {
        "duplicate": True,
        "tracking_numbers": list(tracking_numbers),
        "carrier_shipment_id": carrier_shipment_id,
    }
    with container.sessions() as session:
        existing = session.execute(
            sa.select(Label).where(Label.shipment_id == plan.shipment_id)
        ).scalar_one_or_none()
    if existing is not None and existing.tracking_number in tracking_numbers:
        _finish_attempt(container, attempt_id, "found", evidence={"same_label": True})
        return "purchased"
    log.error(
        "a second label was bought for a shipment; voiding it",
        extra={"shipment_id": plan.shipment_id, "carrier": plan.carrier},
    )
    adapter = _adapter(container, plan.carrier) if plan.carrier not in OWN_FLEET else None
    if adapter is not None and adapter.supports(adapters.Capability.VOID) and carrier_shipment_id:
        try:
            result = adapter.void(
                carrier_types.VoidRequest(
                    account=adapter.account_id,
                    carrier_shipment_id=carrier_shipment_id,
                    tracking_numbers=tuple(tracking_numbers),
                )
            )
            evidence["voided"] = bool(result.voided)
        except adapters.CarrierError as exc:
            evidence["void_error"] = _describe(exc)
    _finish_attempt(container, attempt_id, "succeeded", evidence=evidence)
    return "duplicate"


def _purchase_locally(container: Container, plan: _Plan) -> str:
    """The own fleet: nothing is bought outside, the label is rendered here, the number is stable."""
    fmt = plan.label_format if plan.label_format in render.FORMATS else "PDF"
    # A local attempt left "started" by a crash bought nothing: rendering again is safe.
    with container.sessions() as session:
        ids = [a.id for a in _unresolved(session, plan.shipment_id)]
    if ids:
        _mark_attempts(container, ids, "not_found")
    attempt_id = _begin_attempt(container, plan, evidence={"local": True, "label_format": fmt, **_who()})
    with container.sessions() as session:
        shipment = session.get(models.Shipment, plan.shipment_id)
        assert shipment is not None
        label = fleet_label(shipment)
    document = render.render_fleet(label, fmt)
    return _record_purchase(
        container,
        plan,
        attempt_id,
        tracking_numbers=(label.tracking_number,),
        carrier_shipment_id=label.tracking_number,
        document=(document, fmt),
        charges=None,
        source="local",
    )


def _address_lines(a: models.Address) -> list[str]:
    place = " ".join(p for p in (a.city, a.state or "", a.postal_code or "") if p)
    lines = [
        a.name or "",
        a.company or "",
        a.street1,
        a.street2 or "",
        a.street3 or "",
        place,
        a.country_code,
    ]
    return [line for line in lines if line]


def fleet_label(shipment: models.Shipment) -> render.FleetLabel:
    """The printed content of the own fleet's label for a shipment."""
    weight = ""
    if shipment.parcels:
        unit = shipment.parcels[0].weight_unit
        if all(p.weight_unit == unit for p in shipment.parcels):
            total = sum((p.weight for p in shipment.parcels), start=type(shipment.parcels[0].weight)(0))
            weight = f"{format(total.normalize(), 'f')} {unit}"
    return render.FleetLabel(
        tracking_number=render.fleet_tracking_number(shipment.id),
        shipment_id=shipment.id,
        reference=shipment.reference,
        service=shipment.service or "",
        ship_from=_address_lines(shipment.origin),
        ship_to=_address_lines(shipment.destination),
        weight=weight,
        parcel_count=len(shipment.parcels),
        date=shipment.created_at.date().isoformat(),
    )


# -- ops: requeue and resolve -------------------------------------------------------------------------------


def requeue_job(
    session: Session,
    tenant_id: str,
    job_id: str,
    *,
    actor: str,
    note: str | None,
    confirm_not_purchased: bool,
) -> LabelJob:
    """Run a failed, needs-review or stuck job again (caller's transaction)."""
    job = get_job(session, tenant_id, job_id)
    shipment = _shipment(session, tenant_id, job.shipment_id)
    entry = session.get(OutboxEntry, job.outbox_id) if job.outbox_id is not None else None
    stuck = job.state in ("queued", "running") and (entry is None or entry.state == "dead")
    if job.state not in ("failed", "needs_review") and not stuck:
        raise Problem(
            "job-not-actionable",
            f"Job {job.id} is {job.state}; only failed, needs-review or dead-lettered jobs can be requeued.",
            extra={"state": job.state},
        )
    if job.state in ("failed", "needs_review"):
        latest = _latest_job(session, shipment.id)
        if latest is not None and latest.id != job.id:
            raise Problem("job-not-actionable", f"Job {job.id} was superseded by {latest.id}.")
        if shipment.status not in (job.state,):
            raise Problem(
                "job-not-actionable", f"Shipment {shipment.id} is {shipment.status}; nothing to requeue."
            )
    now = utcnow()
    if confirm_not_purchased:
        session.execute(
            sa.update(LabelAttempt)
            .where(
                LabelAttempt.shipment_id == shipment.id,
                LabelAttempt.operation == "purchase",
                LabelAttempt.outcome.in_(UNRESOLVED),
            )
            .values(outcome="dismissed", finished_at=now)
        )
    session.execute(
        sa.update(models.Shipment)
        .where(models.Shipment.id == shipment.id)
        .values(status="label_requested", updated_at=now)
    )
    job.state = "queued"
    job.attempts = 0
    job.finished_at = None
    job.next_attempt_at = None
    job.resolution = [
        *(job.resolution or []),
        {
            "action": "requeue",
            "by": actor,
            "at": now.isoformat(),
            "note": note,
            "confirm_not_purchased": confirm_not_purchased,
        },
    ]
    if entry is not None and entry.state == "dead":
        outbox.requeue(session, entry.id)
    else:
        job.outbox_id = outbox.add(session, PURCHASE_JOB, shipment.id, queue=QUEUE).id
    session.flush()
    return job


def resolve_job(
    session: Session,
    tenant_id: str,
    job_id: str,
    *,
    actor: str,
    outcome: str,
    tracking_number: str | None,
    carrier_shipment_id: str | None,
    note: str | None,
) -> LabelJob:
    """Ops settle a needs-review job: the label was bought (give its number) or was not."""
    from gateway.services import tracking

    job = get_job(session, tenant_id, job_id)
    shipment = _shipment(session, tenant_id, job.shipment_id)
    if job.state != "needs_review" or shipment.status != "needs_review":
        raise Problem(
            "job-not-actionable",
            f"Job {job.id} is {job.state}; only a needs-review job can be resolved.",
            extra={"state": job.state},
        )
    now = utcnow()
    entry = {"action": "resolve", "outcome": outcome, "by": actor, "at": now.isoformat(), "note": note}
    unresolved_outcome = "found" if outcome == "purchased" else "dismissed"
    session.execute(
        sa.update(LabelAttempt)
        .where(
            LabelAttempt.shipment_id == shipment.id,
            LabelAttempt.operation == "purchase",
            LabelAttempt.outcome.in_(UNRESOLVED),
        )
        .values(outcome=unresolved_outcome, finished_at=now)
    )
    job.resolution = [*(job.resolution or []), entry]
    job.finished_at = now
    if outcome == "purchased":
        if not tracking_number:
            raise Problem(
                "validation-error",
                "Give the tracking number of the label found at the carrier.",
                errors={"tracking_number": ["required when outcome is purchased"]},
            )
        snapshot = session.execute(
            sa.select(rating_tables.ShipmentQuoteSnapshot).where(
                rating_tables.ShipmentQuoteSnapshot.shipment_id == shipment.id
            )
        ).scalar_one_or_none()
        label = Label(
            tenant_id=tenant_id,
            shipment_id=shipment.id,
            carrier=shipment.carrier or "",
            service=shipment.service,
            tracking_number=tracking_number,
            status="purchased",
            cost_minor=snapshot.total_cost_minor if snapshot else None,
            currency=snapshot.currency if snapshot else None,
            purchased_at=now,
            carrier_shipment_id=carrier_shipment_id or tracking_number,
            tracking_numbers=[tracking_number],
            source="ops",
            job_id=job.id,
        )
        session.add(label)
        shipment.status = "purchased"
        shipment.tracking_number = tracking_number
        job.state = "succeeded"
        session.flush()
        tracking.attach_parked(session, shipment)
        outbox.add(session, "gateway.jobs_tracking.start_tracking", shipment.id, queue="tracking")
        _emit(
            session,
            tenant_id,
            "label.purchased",
            {
                "shipment_id": shipment.id,
                "label_id": label.id,
                "carrier": label.carrier,
                "service": label.service,
                "tracking_number": tracking_number,
                "cost": None,
                "format": None,
                "purchased_at": now.isoformat(),
                "reference": shipment.reference,
            },
            now,
        )
    else:
        shipment.status = "failed"
        job.state = "failed"
        job.last_error_code = "resolved_not_purchased"
        job.last_error = (
            f"Ops confirmed no label was bought{': ' + note if note else ''}. Request a label again."
        )
    session.flush()
    return job


# -- labels: documents and voids ----------------------------------------------------------------------------


def get_label(session: Session, tenant_id: str, shipment_id: str) -> Label:
    shipment = _shipment(session, tenant_id, shipment_id)
    label = session.execute(sa.select(Label).where(Label.shipment_id == shipment.id)).scalar_one_or_none()
    if label is None:
        raise Problem(
            "not-found",
            f"Shipment {shipment.id} has no label ({shipment.status}).",
            extra={"shipment_status": shipment.status},
        )
    return label


def label_document(
    container: Container, session: Session, tenant_id: str, shipment_id: str, fmt: str | None
) -> tuple[bytes, str, Label]:
    """Return the label's document in the asked format (converted where possible), and that format."""
    label = get_label(session, tenant_id, shipment_id)
    target = (fmt or label.format or "PDF").upper()
    if label.carrier in OWN_FLEET and target != (label.format or "").upper():
        shipment = _shipment(session, tenant_id, shipment_id)
        return render.render_fleet(fleet_label(shipment), target), target, label
    if label.storage_key is None or label.format is None:
        raise Problem(
            "label-document-unavailable",
            f"The label of shipment {shipment_id} ({label.tracking_number}) was confirmed at {label.carrier} by "
            "reference after its answer was lost, so its document was never received; reprint it from the "
            "carrier.",
            extra={"tracking_number": label.tracking_number, "source": label.source},
        )
    if not render.can_convert(label.format, target):
        available = [f.lower() for f in render.FORMATS if render.can_convert(label.format, f)]
        raise Problem(
            "label-format-unavailable",
            f"This label was bought as {label.format}; it cannot be converted to {target}.",
            extra={"available_formats": available},
        )
    try:
        data = _storage(container).get(label.storage_key, label.checksum)
    except storage.ChecksumMismatch:
        log.error("stored label does not match its checksum", extra={"shipment_id": shipment_id})
        raise
    return render.convert(data, label.format, target), target, label


def void_label(session: Session, container: Container, tenant_id: str, shipment_id: str) -> Label:
    """Void a bought label at the carrier where it can, record it; refuse clearly where it cannot."""
    shipment = _shipment(session, tenant_id, shipment_id)
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
    if label.carrier in OWN_FLEET:
        void_state = "local"
    else:
        adapter = _adapter(container, label.carrier)
        if adapter is None or not adapter.supports(adapters.Capability.VOID):
            raise Problem(
                "label-void-unsupported",
                f"{label.carrier} offers no way to void a label through its API. An unused label is usually "
                f"not billed once it is never tendered; check your {label.carrier} contract.",
                extra={"carrier": label.carrier, "tracking_number": label.tracking_number},
            )
        attempt = LabelAttempt(
            job_id=label.job_id or _latest_job(session, shipment.id).id,  # type: ignore[union-attr]
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


# -- batches ------------------------------------------------------------------------------------------------


def create_batch(
    session: Session, tenant_id: str, shipment_ids: Sequence[str], *, label_format: str
) -> LabelBatch:
    """One purchase job per shipment; every shipment must be found and ready, or nothing is queued."""
    ordered = list(dict.fromkeys(shipment_ids))
    if len(ordered) != len(shipment_ids):
        raise Problem(
            "validation-error",
            "A shipment id appears more than once.",
            errors={"shipment_ids": ["duplicate ids"]},
        )
    rows = {
        s.id: s
        for s in session.execute(
            sa.select(models.Shipment).where(
                models.Shipment.tenant_id == tenant_id, models.Shipment.id.in_(ordered)
            )
        ).scalars()
    }
    errors: dict[str, list[str]] = {}
    for position, shipment_id in enumerate(ordered):
        shipment = rows.get(shipment_id)
        if shipment is None:
            errors[f"shipment_ids.{position}"] = [f"no shipment {shipment_id}"]
            continue
        refusal = _refusal(session, shipment)
        if refusal is not None:
            errors[f"shipment_ids.{position}"] = [refusal.detail]
    if errors:
        raise Problem(
            "validation-error",
            f"{len(errors)} of {len(ordered)} shipments cannot get a label now; nothing was queued.",
            errors=errors,
        )
    batch = LabelBatch(tenant_id=tenant_id, label_format=label_format, total=len(ordered), state="running")
    session.add(batch)
    session.flush()
    for shipment_id in ordered:
        _enqueue(session, rows[shipment_id], label_format, batch_id=batch.id)
    return batch


def get_batch(session: Session, tenant_id: str, batch_id: str) -> LabelBatch:
    batch = session.execute(
        sa.select(LabelBatch).where(LabelBatch.id == batch_id, LabelBatch.tenant_id == tenant_id)
    ).scalar_one_or_none()
    if batch is None:
        raise Problem("not-found", f"No batch {batch_id!r}.")
    return batch


def batch_progress(session: Session, batch: LabelBatch) -> dict[str, int]:
    counts = dict.fromkeys(("queued", "running", "succeeded", "failed", "needs_review"), 0)
    for state, count in session.execute(
        sa.select(LabelJob.state, sa.func.count())
        .where(LabelJob.batch_id == batch.id)
        .group_by(LabelJob.state)
    ).all():
        counts[state] = int(count)
    return counts


def present_batch(session: Session, batch: LabelBatch) -> dict[str, Any]:
    counts = batch_progress(session, batch)
    finished = sum(counts[s] for s in TERMINAL_JOB_STATES)
    done = finished >= batch.total
    jobs = session.execute(
        sa.select(LabelJob.id, LabelJob.shipment_id, LabelJob.state, LabelJob.last_error_code)
        .where(LabelJob.batch_id == batch.id)
        .order_by(LabelJob.created_at, LabelJob.id)
    ).all()
    return {
        "id": batch.id,
        "state": "done" if done else "running",
        "label_format": batch.label_format,
        "total": batch.total,
        "progress": {**counts, "finished": finished, "percent": round(100 * finished / batch.total, 1)},
        "jobs": [
            {"job_id": j.id, "shipment_id": j.shipment_id, "state": j.state, "error_code": j.last_error_code}
            for j in jobs
        ],
        "labels_pdf": f"/v1/batches/{batch.id}/labels.pdf" if done else None,
        "created_at": batch.created_at,
        "completed_at": batch.completed_at,
    }


def _batch_labels(session: Session, batch: LabelBatch) -> list[tuple[str, Label | None]]:
    """The batch's shipments whose job succeeded, in request order, with their labels."""
    rows = session.execute(
        sa.select(LabelJob.shipment_id, Label)
        .outerjoin(Label, Label.shipment_id == LabelJob.shipment_id)
        .where(LabelJob.batch_id == batch.id, LabelJob.state == "succeeded")
        .order_by(LabelJob.created_at, LabelJob.id)
    ).all()
    return [(shipment_id, label) for shipment_id, label in rows]


def _printable(label: Label | None) -> bool:
    if label is None or label.status != "purchased":
        return False
    if label.carrier in OWN_FLEET:
        return True
    return (
        label.storage_key is not None and label.format is not None and render.can_convert(label.format, "PDF")
    )


def build_batch_pdf(container: Container, session: Session, batch: LabelBatch) -> storage.Stored | None:
    """Merge the batch's printable labels into one PDF, store it and record it on the batch (commits)."""
    documents: list[bytes] = []
    for shipment_id, label in _batch_labels(session, batch):
        if not _printable(label):
            continue
        data, _fmt, _label = label_document(container, session, batch.tenant_id, shipment_id, "PDF")
        documents.append(data)
    if not documents:
        return None
    stored = _storage(container).put(
        f"{batch.tenant_id}/batches/{batch.id}.pdf", render.merge_pdfs(documents)
    )
    session.execute(
        sa.update(LabelBatch)
        .where(LabelBatch.id == batch.id)
        .values(
            state="done",
            completed_at=sa.func.coalesce(LabelBatch.completed_at, utcnow()),
            merged_storage_key=stored.key,
            merged_checksum=stored.checksum,
        )
    )
    session.commit()
    return stored


def merge_batch(container: Container, batch_id: str) -> str:
    """The job run when a batch's last purchase finished: build its merged PDF ahead of the download."""
    with container.sessions() as session:
        batch = session.get(LabelBatch, batch_id)
        if batch is None or batch.merged_storage_key is not None:
            return "nothing to do"
        counts = batch_progress(session, batch)
        if sum(counts[s] for s in TERMINAL_JOB_STATES) < batch.total:
            return "not done"
        return "merged" if build_batch_pdf(container, session, batch) else "no printable label"


def _maybe_merge_later(session: Session, job_id: str) -> None:
    """In the transaction that finishes a batch's job: if it was the last one, queue the merge."""
    batch_id = session.execute(sa.select(LabelJob.batch_id).where(LabelJob.id == job_id)).scalar_one_or_none()
    if batch_id is None:
        return
    remaining = session.execute(
        sa.select(sa.func.count())
        .select_from(LabelJob)
        .where(LabelJob.batch_id == batch_id, LabelJob.state.not_in(TERMINAL_JOB_STATES))
    ).scalar_one()
    if remaining == 0:  # two last jobs racing may both queue it (harmless) or neither (built on download)
        outbox.add(session, MERGE_JOB, batch_id, queue=QUEUE)


def batch_pdf(
    container: Container, session: Session, tenant_id: str, batch_id: str
) -> tuple[bytes, list[str]]:
    """The merged PDF of every label the batch bought, in request order; and the shipments left out."""
    batch = get_batch(session, tenant_id, batch_id)
    counts = batch_progress(session, batch)
    if sum(counts[s] for s in TERMINAL_JOB_STATES) < batch.total:
        raise Problem(
            "batch-not-done",
            f"Batch {batch.id} is still running; the merged PDF is offered once every job has finished.",
            extra={"progress": counts},
        )
    excluded = [shipment_id for shipment_id, label in _batch_labels(session, batch) if not _printable(label)]
    data: bytes | None = None
    if batch.merged_storage_key is not None:
        try:
            data = _storage(container).get(batch.merged_storage_key, batch.merged_checksum)
        except storage.StorageError:
            log.warning("merged batch PDF unreadable; building it again", extra={"batch_id": batch.id})
    if data is None:
        stored = build_batch_pdf(container, session, batch)
        if stored is None:
            raise Problem(
                "label-document-unavailable",
                f"Batch {batch.id} has no label that can be printed as PDF.",
                extra={"excluded_shipments": excluded},
            )
        data = _storage(container).get(stored.key, stored.checksum)
    return data, excluded
