"""RQ job for reconciliation: run (or resume) one invoice's reconciliation, with progress in job.meta."""

from __future__ import annotations

import logging
from typing import Any

from rq import get_current_job

from gateway.jobs import context, registry
from gateway.reconciliation import runs

log = logging.getLogger(__name__)


@registry.job
def reconcile(invoice_id: str) -> str:
    """Reconcile an invoice; idempotent (a finished invoice is left alone, a half-done one resumes)."""
    job = get_current_job()

    def on_progress(progress: dict[str, Any]) -> None:
        if job is None:
            return
        job.meta["progress"] = progress
        try:
            job.save_meta()
        except Exception:  # progress is also in the database; a Redis hiccup must not fail the run
            log.debug("could not save job meta", exc_info=True)

    with context.app_context() as container:
        report = runs.run(
            container.sessions, invoice_id, settings=container.settings, on_progress=on_progress
        )
    if report is None:
        return "skipped"
    log.info(
        "invoice reconciled",
        extra={"invoice_id": invoice_id, "flagged_lines": report["totals"].get("flagged_lines")},
    )
    return "done"
