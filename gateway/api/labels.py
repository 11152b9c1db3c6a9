"""Labels: request a purchase (a background job), download the document, void."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for
from flask.views import MethodView

from gateway import auth, idempotency
from gateway.api import Blueprint
from gateway.labels import render
from gateway.services import labels as service
from gateway.web import container, db
from schemas.api import labels as schema

blp = Blueprint("labels", __name__, url_prefix="/v1/shipments", description="Buy, download and void labels")

_IDEMPOTENCY_HEADER = {
    "in": "header",
    "name": "Idempotency-Key",
    "schema": {"type": "string", "maxLength": 255},
}
_BINARY = {"schema": {"type": "string", "format": "binary"}}


@blp.route("/<string:shipment_id>/label")
class ShipmentLabel(MethodView):
    @blp.doc(parameters=[_IDEMPOTENCY_HEADER])
    @auth.require("platform")
    @idempotency.write_endpoint
    @blp.arguments(schema.LabelRequestSchema, required=False)
    @blp.response(202, schema.LabelJobSchema)
    @blp.alt_response(409, description="The shipment already has a label, is buying one, or has no rate")
    def post(self, data: dict[str, Any], shipment_id: str) -> Any:
        """Buy the shipment's label in the background: answers 202 with the job to poll."""
        job = service.request_label(
            db(), auth.current().tenant_id, shipment_id, label_format=(data or {}).get("label_format", "pdf")
        )
        body = service.present_jobs(db(), [job])[0]
        return body, 202, {"Location": url_for("jobs.JobById", job_id=job.id)}

    @auth.require("platform", "ops")
    @blp.arguments(schema.LabelDownloadQuerySchema, location="query")
    @blp.doc(
        responses={
            "200": {
                "description": "The label document",
                "content": {t: _BINARY for t in ("application/pdf", "image/png", "application/zpl")},
            },
            "406": {"description": "The label cannot be converted to that format"},
        }
    )
    def get(self, query: dict[str, Any], shipment_id: str) -> Any:
        """Download the label as pdf, png or zpl (converted where a library can)."""
        data, fmt, label = service.label_document(
            container(), db(), auth.current().tenant_id, shipment_id, query.get("format")
        )
        response = current_app.response_class(
            data, mimetype=render.CONTENT_TYPES.get(fmt, "application/octet-stream")
        )
        extension = render.EXTENSIONS.get(fmt, "bin")
        response.headers["Content-Disposition"] = (
            f'attachment; filename="{label.tracking_number}.{extension}"'
        )
        if fmt == (label.format or "").upper() and label.checksum:
            response.headers["ETag"] = f'"{label.checksum}"'
        response.headers["X-Label-Status"] = label.status
        return response


@blp.route("/<string:shipment_id>/void")
class ShipmentVoid(MethodView):
    @blp.doc(parameters=[_IDEMPOTENCY_HEADER])
    @auth.require("platform", "ops")
    @idempotency.write_endpoint
    @blp.response(200, schema.LabelSchema)
    @blp.alt_response(409, description="The shipment has no label")
    @blp.alt_response(422, description="The carrier cannot void labels, or refused this one")
    def post(self, shipment_id: str) -> Any:
        """Void the shipment's label at the carrier (recorded for reconciliation)."""
        label = service.void_label(db(), container(), auth.current().tenant_id, shipment_id)
        return service.present_label(label)
