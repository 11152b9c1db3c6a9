"""Return documents: GET /v1/shipments/{id}/return-qr (booking a return is ``shipments``' POST …/return)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView

from gateway.kernel import auth
from gateway.kernel.http import Blueprint, attachment
from gateway.kernel.web import container, db
from gateway.returns import documents

blp = Blueprint("returns", __name__, url_prefix="/v1/shipments", description="Return label documents")

_TYPES = {"PNG": "image/png", "PDF": "application/pdf", "GIF": "image/gif"}


@blp.route("/<string:shipment_id>/return-qr")
class ReturnQr(MethodView):
    @auth.require("platform", "ops")
    @blp.doc(
        responses={
            "200": {
                "description": "The QR code the customer shows at a counter to have the return label printed",
                "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
            },
            "404": {
                "description": "No such shipment, or it has no QR code (label-document-unavailable: not asked "
                "with qr_code, label not bought yet, or the carrier gave none)"
            },
        }
    )
    def get(self, shipment_id: str) -> Any:
        """Download a return's QR code (USPS Label Broker), when its label was asked with ``qr_code``."""
        data, fmt = documents.qr_code(container(), db(), auth.current().tenant_id, shipment_id)
        response = current_app.response_class(data, mimetype=_TYPES.get(fmt, "application/octet-stream"))
        response.headers["Content-Disposition"] = attachment(f"{shipment_id}-return-qr.{fmt.lower()}")
        return response
