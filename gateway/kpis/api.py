"""Ops KPIs: cost, on-time and first-attempt rates, exceptions and recoverable invoice money."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from gateway.kernel import auth
from gateway.kernel.http import Blueprint
from gateway.kernel.web import db
from gateway.kpis import schemas as schema
from gateway.kpis import service

blp = Blueprint(
    "kpis",
    __name__,
    url_prefix="/v1/kpis",
    description="Delivery KPIs by carrier and day for ops and finance",
)


@blp.route("")
class Kpis(MethodView):
    @auth.require("ops", "finance")
    @blp.arguments(schema.KpiQuerySchema, location="query")
    @blp.response(200, schema.KpiSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """Your tenant's KPIs for shipments booked in a period: totals, by carrier (the own fleet is `fleet`) and by day."""
        return service.compute(
            db(),
            auth.current().tenant_id,
            start=query.get("from_"),
            end=query.get("to"),
            tz_name=query["tz"],
            carrier=query.get("carrier"),
        )
