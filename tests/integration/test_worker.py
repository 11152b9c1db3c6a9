"""Jobs run through a real RQ worker on the configured Redis."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from rq import SimpleWorker

from gateway.jobs import housekeeping as jobs
from gateway.jobs import worker
from gateway.kernel import models
from gateway.kernel.types import utcnow


def test_a_worker_runs_the_idempotency_purge_job_against_the_database(app, platform):
    container = app.extensions["handoff"]
    now = utcnow()
    with container.sessions() as session:
        for key, expires in (("old", now - timedelta(hours=1)), ("fresh", now + timedelta(hours=23))):
            session.add(
                models.IdempotencyRecord(
                    tenant_id=platform.tenant_id,
                    key=key,
                    method="POST",
                    path="/v1/shipments",
                    request_hash="0" * 64,
                    state="completed",
                    expires_at=expires,
                )
            )
        session.commit()

    job = container.queue("default").enqueue(jobs.purge_expired_idempotency_records)
    worker.run(app, burst=True, worker_class=SimpleWorker)

    job.refresh()
    assert job.get_status() == "finished"
    assert job.return_value() >= 1
    with container.sessions() as session:
        keys = set(
            session.execute(
                sa.select(models.IdempotencyRecord.key).where(
                    models.IdempotencyRecord.tenant_id == platform.tenant_id
                )
            ).scalars()
        )
    assert keys == {"fresh"}


def test_readyz_reports_database_redis_and_migrations(client):
    body = client.get("/readyz").get_json()
    assert body == {"status": "ok", "checks": {"database": "ok", "redis": "ok", "migrations": "ok"}}


def test_readyz_says_unavailable_when_redis_is_unreachable(settings):
    from gateway import create_app

    broken = create_app({**settings, "REDIS_URL": "redis://127.0.0.1:1/0"})
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"].startswith("error")
    assert response.get_json()["checks"]["database"] == "ok"
