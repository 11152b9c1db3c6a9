"""Rates: shop a prospective shipment, and freeze a chosen rate onto a shipment."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from gateway import auth, idempotency
from gateway.api import Blueprint
from gateway.services import rates as service
from gateway.web import container, db
from schemas.api import rates as schema

blp = Blueprint("rates", __name__, url_prefix="/v1", description="Rate shopping and quote selection")

_IDEMPOTENCY_HEADER = {
    "in": "header",
    "name": "Idempotency-Key",
    "schema": {"type": "string", "maxLength": 255},
}


@blp.route("/rates")
class Rates(MethodView):
    @blp.doc(parameters=[_IDEMPOTENCY_HEADER])
    @auth.require("platform")
    @idempotency.write_endpoint
    # An instance, not the class: webargs would build the schema and its nested ones per request.
    @blp.arguments(schema.RateRequestSchema())
    @blp.response(200, schema.RateShopSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Quote a prospective shipment across contracted cards and live carriers, within the deadline."""
        outcome = service.shop_rates(
            db(),
            container(),
            auth.current().tenant_id,
            service.spec_from_body(data),
            promise_date=data.get("promise_date"),
        )
        return service.present_outcome(outcome)


@blp.route("/shipments/<string:shipment_id>/rate")
class ShipmentRate(MethodView):
    @blp.doc(parameters=[_IDEMPOTENCY_HEADER])
    @auth.require("platform")
    @idempotency.write_endpoint
    @blp.arguments(schema.RateSelectionSchema)
    @blp.response(200, schema.QuoteSnapshotSchema)
    @blp.alt_response(409, description="The shipment is past draft and already has another rate")
    def post(self, data: dict[str, Any], shipment_id: str) -> Any:
        """Select a returned rate: freeze its charge lines on the shipment and set carrier and service."""
        shipment, snapshot = service.select_rate(db(), auth.current().tenant_id, shipment_id, data["rate_id"])
        return service.present_snapshot(shipment, snapshot)
