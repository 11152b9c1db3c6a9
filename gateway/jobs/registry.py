"""One explicit registry of the functions that the outbox, RQ and the scheduler may run.

A capability marks each job function with ``@registry.job``; call sites pass the function itself
(``outbox.add(session, label_jobs.purchase, shipment.id)``), so the type checker follows the
reference and a rename cannot leave a dangling string behind. The job modules are listed once, in
``gateway.wiring.JOB_MODULES``, and imported by the app factory.

Outbox rows store the job's name (``module.function``). Names stored by earlier releases keep
working through ``ALIASES``. Nothing outside the registry runs: an unknown name is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_JOBS: dict[str, Callable[..., Any]] = {}

# Job names written into outbox rows before gateway/ was organised by capability (issue 16).
ALIASES: dict[str, str] = {
    "gateway.jobs.noop": "gateway.jobs.housekeeping.noop",
    "gateway.jobs.purge_expired_idempotency_records": "gateway.jobs.housekeeping.purge_expired_idempotency_records",
    "gateway.jobs_labels.purchase": "gateway.labels.jobs.purchase",
    "gateway.jobs_labels.merge_batch": "gateway.labels.jobs.merge_batch",
    "gateway.jobs_tracking.start_tracking": "gateway.tracking.jobs.start_tracking",
    "gateway.jobs_tracking.drain_inbox": "gateway.tracking.jobs.drain_inbox",
    "gateway.jobs_tracking.poll_carriers": "gateway.tracking.jobs.poll_carriers",
    "gateway.jobs_tracking.sweep_inbox": "gateway.tracking.jobs.sweep_inbox",
    "gateway.jobs_allocation.run_plan": "gateway.allocation.jobs.run_plan",
    "gateway.jobs_allocation.run_simulation": "gateway.allocation.jobs.run_simulation",
    "gateway.jobs_reconciliation.reconcile": "gateway.reconciliation.jobs.reconcile",
    "gateway.jobs_webhooks.deliver": "gateway.webhooks.jobs.deliver",
    "gateway.jobs_webhooks.purge_old": "gateway.webhooks.jobs.purge_old",
    "gateway.jobs_exchanges.purge_expired": "gateway.exchanges.jobs.purge_expired",
    "gateway.outbox.execute": "gateway.jobs.outbox.execute",
}


class UnknownJob(ValueError):
    """A name that no registered job function has."""


def name_of(fn: Callable[..., Any]) -> str:
    """The stable name a job function is stored under: ``module.function``."""
    return f"{fn.__module__}.{fn.__qualname__}"


def job(fn: F) -> F:
    """Register ``fn`` as a job function (a decorator)."""
    _JOBS[name_of(fn)] = fn
    return fn


def canonical(name: str) -> str:
    """The current name of a job, resolving an alias of an earlier release."""
    return ALIASES.get(name, name)


def resolve(name: str) -> Callable[..., Any]:
    """The registered function for ``name`` (or an alias of it); ``UnknownJob`` otherwise."""
    try:
        return _JOBS[canonical(name)]
    except KeyError:
        raise UnknownJob(f"no registered job is named {name!r}") from None


def named(target: Callable[..., Any] | str) -> str:
    """The registered name of a job given by reference (or by name); ``UnknownJob`` otherwise."""
    name = canonical(target) if isinstance(target, str) else name_of(target)
    if name not in _JOBS:
        raise UnknownJob(f"{name!r} is not a registered job function")
    return name


def registered() -> dict[str, Callable[..., Any]]:
    """Every registered job, by name (a copy)."""
    return dict(_JOBS)
