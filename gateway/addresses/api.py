"""Address validation: ``POST /v1/addresses/validate``."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from gateway.accounts import connections as accounts
from gateway.addresses import schemas as schema
from gateway.addresses import validation
from gateway.kernel import auth, idempotency
from gateway.kernel.http import IDEMPOTENCY_HEADER, Blueprint
from gateway.kernel.web import container, db

blp = Blueprint(
    "addresses",
    __name__,
    url_prefix="/v1",
    description=(
        "Addresses: validation, normalisation and residential/commercial classification by a carrier "
        "(UPS, FedEx, USPS), cached per tenant; the answer also carries a location (docs/ADDRESSES.md)."
    ),
)


@blp.route("/addresses/validate")
class Validate(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @auth.require("platform")
    @idempotency.write_endpoint
    @blp.arguments(schema.AddressValidateSchema)
    @blp.response(200, schema.AddressValidationSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Validate, normalise and classify an address with a carrier; repeated questions come from the cache."""
        app = container()
        outcome = validation.validate(
            db(),
            app.settings,
            accounts.operator_registry(db(), app, auth.current().tenant_id),
            auth.current().tenant_id,
            validation.from_body(data["address"]),
            carrier_id=data.get("carrier"),
        )
        return outcome.result
