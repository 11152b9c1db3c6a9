"""RQ job: keep the control tower's figures warm for the tenants someone is looking at."""

from __future__ import annotations

import logging
import time
from datetime import UTC, timedelta

import sqlalchemy as sa

from gateway.console import tower
from gateway.console.tables import ConsoleSession
from gateway.jobs import context, registry
from gateway.kernel.types import utcnow

log = logging.getLogger(__name__)

ACTIVE_MINUTES = 15  # a tenant whose console was used this recently gets its figures computed ahead
MAX_TENANTS = 200  # per run, the most recently active first
BUDGET_SECONDS = 30.0  # a run stops here, well inside its period: the next run picks up the rest


@registry.job
def warm_towers() -> int:
    """Compute the tower's figures of the tenants with a console session used in the last minutes
    (those whose kept figures are not fresh), within ``BUDGET_SECONDS``; return how many were computed."""
    now = utcnow().astimezone(UTC)
    with context.app_context() as container, container.sessions() as session:
        tenants = list(
            session.execute(
                sa.select(ConsoleSession.tenant_id)
                .where(
                    ConsoleSession.revoked_at.is_(None),
                    ConsoleSession.expires_at > now,
                    ConsoleSession.last_seen_at > now - timedelta(minutes=ACTIVE_MINUTES),
                )
                .group_by(ConsoleSession.tenant_id)
                .order_by(sa.func.max(ConsoleSession.last_seen_at).desc())
                .limit(MAX_TENANTS)
            ).scalars()
        )
        computed = 0
        started = time.monotonic()
        for tenant_id in tenants:
            if time.monotonic() - started > BUDGET_SECONDS:
                break
            computed += tower.refresh(session, container.redis, tenant_id, utcnow().astimezone(UTC))
            session.rollback()  # read only: end the snapshot before the next tenant
    log.info("console towers warmed", extra={"tenants": len(tenants), "computed": computed})
    return computed
