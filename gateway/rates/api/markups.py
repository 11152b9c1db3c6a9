"""Markups: the tenant's sell price rules over carrier costs (ops)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from gateway.kernel import auth, idempotency
from gateway.kernel.http import Blueprint
from gateway.kernel.web import db
from gateway.rates import markups as service
from gateway.rates import schemas_markups as schema

blp = Blueprint("markups", __name__, url_prefix="/v1/markups", description="Tenant markup on carrier costs")


@blp.route("")
class Markups(MethodView):
    @auth.require("ops", "finance")
    @blp.response(200, schema.MarkupsSchema)
    def get(self) -> Any:
        """Read the tenant's markup rules."""
        return service.current(db(), auth.current().tenant_id)

    @auth.require("ops")
    @idempotency.write_endpoint
    @blp.arguments(schema.MarkupSetSchema)
    @blp.response(200, schema.MarkupsSchema)
    def put(self, data: dict[str, Any]) -> Any:
        """Replace the markup rules; every later quote's sell prices use them (costs never change)."""
        principal = auth.current()
        return service.replace(db(), principal.tenant_id, data["rules"], principal.key_id)
