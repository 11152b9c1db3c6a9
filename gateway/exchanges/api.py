"""Raw carrier exchanges of a shipment, redacted, for ops handling a dispute."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from gateway.exchanges import schemas as schema
from gateway.exchanges import service
from gateway.kernel import auth
from gateway.kernel.http import Blueprint
from gateway.kernel.web import db
from gateway.shipments import booking as shipment_service

blp = Blueprint(
    "carrier_exchanges",
    __name__,
    url_prefix="/v1",
    description="Raw carrier requests and responses (secrets redacted), kept for disputes",
)


@blp.route("/shipments/<string:shipment_id>/carrier-exchanges")
class ShipmentExchanges(MethodView):
    @auth.require("ops")
    @blp.response(200, schema.CarrierExchangeListSchema)
    def get(self, shipment_id: str) -> Any:
        """Every recorded exchange with a carrier about this shipment, oldest first."""
        session = db()
        tenant_id = auth.current().tenant_id
        shipment = shipment_service.get_shipment(session, tenant_id, shipment_id)
        return {"data": service.for_shipment(session, tenant_id, shipment.id)}
