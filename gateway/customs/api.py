"""Customs documents: a shipment's commercial invoice, the gateway's or the carrier's paperless-trade copy."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView

from gateway.customs import documents
from gateway.customs import schemas as schema
from gateway.kernel import auth
from gateway.kernel.http import Blueprint, attachment
from gateway.kernel.web import container, db

blp = Blueprint(
    "customs",
    __name__,
    url_prefix="/v1/shipments",
    description="Customs declarations' documents: the commercial invoice",
)

_BINARY = {"schema": {"type": "string", "format": "binary"}}


@blp.route("/<string:shipment_id>/documents/commercial-invoice")
class CommercialInvoice(MethodView):
    @auth.require("platform", "ops")
    @blp.arguments(schema.DocumentQuerySchema, location="query")
    @blp.doc(
        responses={"200": {"description": "The commercial invoice", "content": {"application/pdf": _BINARY}}}
    )
    @blp.alt_response(
        404, description="No such shipment; or (source=carrier) the carrier returned no invoice"
    )
    @blp.alt_response(409, description="customs-not-declared: the shipment has no customs declaration")
    def get(self, query: dict[str, Any], shipment_id: str) -> Any:
        """Download the shipment's commercial invoice (PDF).

        ``source=gateway`` (default): rendered from the customs declaration, with the tracking number once
        the label is bought (stored with the label documents), a pro forma invoice before. ``source=carrier``:
        the paperless-trade invoice DHL Express or FedEx returned with the label.
        """
        data, fmt, shipment = documents.commercial_invoice(
            container(), db(), auth.current().tenant_id, shipment_id, query["source"]
        )
        response = current_app.response_class(
            data, mimetype="application/pdf" if fmt == "PDF" else "application/octet-stream"
        )
        suffix = "" if query["source"] == "gateway" else "-carrier"
        response.headers["Content-Disposition"] = attachment(
            f"commercial-invoice-{shipment.id}{suffix}.{fmt.lower()}"
        )
        return response
