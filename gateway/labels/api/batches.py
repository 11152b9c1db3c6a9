"""Label batches: up to 1,000 purchases at once, progress, and one merged PDF when done."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for
from flask.views import MethodView

from gateway.kernel import auth, idempotency
from gateway.kernel.http import IDEMPOTENCY_HEADER, Blueprint
from gateway.kernel.web import container, db
from gateway.labels import batches
from gateway.labels import schemas as schema

blp = Blueprint("batches", __name__, url_prefix="/v1/batches", description="Label batches")

_IDEMPOTENCY_HEADER = IDEMPOTENCY_HEADER


@blp.route("")
class Batches(MethodView):
    @blp.doc(parameters=[_IDEMPOTENCY_HEADER])
    @auth.require("platform")
    @idempotency.write_endpoint
    @blp.arguments(schema.LabelBatchCreateSchema)
    @blp.response(202, schema.LabelBatchSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Buy labels for up to 1,000 shipments: one background job each."""
        batch = batches.create_batch(
            db(),
            auth.current().tenant_id,
            data["shipment_ids"],
            label_format=data["label_format"].upper(),
            container=container(),
        )
        body = batches.present_batch(db(), batch)
        return body, 202, {"Location": url_for("batches.BatchById", batch_id=batch.id)}


@blp.route("/<string:batch_id>")
class BatchById(MethodView):
    @auth.require("platform", "ops")
    @blp.response(200, schema.LabelBatchSchema)
    def get(self, batch_id: str) -> Any:
        """A batch's progress; ``labels_pdf`` once every job has finished."""
        return batches.present_batch(db(), batches.get_batch(db(), auth.current().tenant_id, batch_id))


@blp.route("/<string:batch_id>/labels.pdf")
class BatchLabels(MethodView):
    @auth.require("platform", "ops")
    @blp.doc(
        responses={
            "200": {
                "description": "Every label the batch bought, one PDF",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            },
            "409": {"description": "The batch is still running"},
        }
    )
    def get(self, batch_id: str) -> Any:
        """The merged PDF of the batch's labels, in request order."""
        data, excluded = batches.batch_pdf(container(), db(), auth.current().tenant_id, batch_id)
        response = current_app.response_class(data, mimetype="application/pdf")
        response.headers["Content-Disposition"] = f'attachment; filename="{batch_id}.pdf"'
        if excluded:
            response.headers["X-Excluded-Shipments"] = ",".join(excluded)
        return response
