"""Validation before purchase: POST /v1/shipments/{id}/validate and POST /v1/validate (a booking body)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from gateway.kernel import auth
from gateway.kernel.errors import PROBLEM_JSON
from gateway.kernel.http import Blueprint
from gateway.kernel.web import db
from gateway.validation import checking
from gateway.validation import schemas as schema

blp = Blueprint(
    "validation",
    __name__,
    url_prefix="/v1",
    description="Check a shipment against a carrier's service before buying its label",
)


# Not under /v1/shipments: "/v1/shipments/validate" would also match /v1/shipments/{shipment_id}.
@blp.route("/validate")
class ValidateBooking(MethodView):
    @auth.require("platform", "ops")
    @blp.arguments(schema.ValidateBookingSchema)
    @blp.response(200, schema.ValidSchema)
    @blp.alt_response(
        422,
        schema=schema.ShipmentInvalidSchema,
        content_type=PROBLEM_JSON,
        description="shipment-invalid: every problem, by dotted path and with its code; or validation-error",
    )
    def post(self, data: dict[str, Any]) -> Any:
        """Check a booking body against a carrier's service, storing nothing.

        Answers 200 when the carrier's label request would take it, else a 422 ``shipment-invalid``
        with every problem at once: ``errors`` (``{dotted.path: [messages]}``) and ``problems``
        (``[{path, code, message}]``).
        """
        return checking.validate_booking(data)


@blp.route("/shipments/<string:shipment_id>/validate")
class ValidateShipment(MethodView):
    @auth.require("platform", "ops")
    @blp.arguments(schema.ValidateShipmentSchema, required=False)
    @blp.response(200, schema.ValidSchema)
    @blp.alt_response(409, description="shipment-not-rated: no carrier and service named or selected")
    @blp.alt_response(
        422,
        schema=schema.ShipmentInvalidSchema,
        content_type=PROBLEM_JSON,
        description="shipment-invalid: every problem, by dotted path and with its code; or validation-error",
    )
    def post(self, data: dict[str, Any], shipment_id: str) -> Any:
        """Check a stored shipment against a carrier's service (default: its selected rate's).

        Answers 200 when the carrier's label request would take it, else a 422 ``shipment-invalid``
        listing every problem at once. A label request runs the same check.
        """
        data = data or {}
        return checking.validate_shipment(
            db(), auth.current().tenant_id, shipment_id, data.get("carrier"), data.get("service")
        )
