"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from marshmallow import Schema, fields

from gateway.kernel import migrate
from gateway.kernel.http import Blueprint
from gateway.kernel.web import container

blp = Blueprint("health", __name__, description="Liveness and readiness probes")


class HealthSchema(Schema):
    status = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.String())


@blp.route("/healthz")
@blp.doc(security=[])
@blp.response(200, HealthSchema)
def healthz() -> dict[str, Any]:
    """Liveness: the process answers. It touches nothing else."""
    return {"status": "ok", "checks": {}}


@blp.route("/readyz")
@blp.doc(security=[])
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="A dependency is not ready")
def readyz() -> Any:
    """Readiness: the database answers, Redis answers, and migrations are at head."""
    checks: dict[str, str] = {}
    c = container()
    try:
        with c.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            checks["database"] = "ok"
            checks["migrations"] = "ok" if migrate.is_at_head(conn) else "pending"
    except Exception as exc:  # noqa: BLE001 - report, not raise: this endpoint says what is wrong
        checks["database"] = f"error: {type(exc).__name__}"
        checks.setdefault("migrations", "unknown")
    try:
        c.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503
