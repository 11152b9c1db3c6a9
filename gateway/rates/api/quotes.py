"""Rates: shop a prospective shipment, and freeze a chosen rate onto a shipment."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from gateway.kernel import auth, idempotency
from gateway.kernel.http import IDEMPOTENCY_HEADER, Blueprint
from gateway.kernel.web import container, db
from gateway.rates import quotes as service
from gateway.rates import schemas as schema
from gateway.rates import selection, specs

blp = Blueprint("rates", __name__, url_prefix="/v1", description="Rate shopping and quote selection")

_IDEMPOTENCY_HEADER = IDEMPOTENCY_HEADER


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
            specs.spec_from_body(data),
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
        shipment, snapshot = selection.select_rate(
            db(), auth.current().tenant_id, shipment_id, data["rate_id"]
        )
        return selection.present_snapshot(shipment, snapshot)
