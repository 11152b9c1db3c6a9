"""Labels: request a purchase (a background job), download the document, void."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, url_for
from flask.views import MethodView

from gateway.kernel import auth, idempotency
from gateway.kernel.http import IDEMPOTENCY_HEADER, Blueprint, attachment
from gateway.kernel.web import container, db
from gateway.labels import documents, reads, render, requesting, voids, waiting
from gateway.labels import schemas as schema

blp = Blueprint("labels", __name__, url_prefix="/v1/shipments", description="Buy, download and void labels")

_IDEMPOTENCY_HEADER = IDEMPOTENCY_HEADER
_BINARY = {"schema": {"type": "string", "format": "binary"}}


def _waiting(view: Callable[..., Any]) -> Callable[..., Any]:
    """After the request is committed (202), wait up to ``?wait=`` seconds for its job to finish.

    Finished: 200 with the job as ``GET /v1/jobs/{id}`` shows it (its ``label`` when bought, its
    ``last_error`` when not). Still running: the 202 unchanged. A replayed Idempotency-Key waits too.
    """

    @wraps(view)
    def wrapper(self: Any, query: dict[str, Any], **kwargs: Any) -> Any:
        response = current_app.make_response(view(self, **kwargs))
        seconds = (query or {}).get("wait") or 0
        if seconds <= 0 or response.status_code != 202:
            return response
        job_id = (response.get_json(silent=True) or {}).get("id")
        tenant_id = auth.current().tenant_id
        if not job_id or not waiting.wait_for_job(container(), tenant_id, job_id, seconds):
            return response
        with container().sessions() as session:
            body = reads.present_jobs(session, [reads.get_job(session, tenant_id, job_id)])[0]
        done = current_app.json.response(schema.LabelJobSchema().dump(body))
        done.headers["Location"] = response.headers.get("Location") or url_for("jobs.JobById", job_id=job_id)
        return done

    return wrapper


# Declared by hand: blp.doc(parameters=…) replaces the list @blp.arguments(location="query") documents.
_WAIT_PARAMETER = {
    "in": "query",
    "name": "wait",
    "required": False,
    "description": schema.LabelWaitQuerySchema().fields["wait"].metadata["description"],
    "schema": {"type": "integer", "minimum": 0, "maximum": schema.MAX_WAIT_SECONDS, "default": 0},
}


@blp.route("/<string:shipment_id>/label")
class ShipmentLabel(MethodView):
    @blp.doc(parameters=[_IDEMPOTENCY_HEADER, _WAIT_PARAMETER])
    @auth.require("platform")
    @blp.arguments(schema.LabelWaitQuerySchema, location="query")
    @_waiting
    @idempotency.write_endpoint
    @blp.arguments(schema.LabelRequestSchema, required=False)
    @blp.response(202, schema.LabelJobSchema)
    @blp.alt_response(
        200,
        schema=schema.LabelJobSchema,
        description="With ?wait: the job finished in time (succeeded with its label, failed or needs_review)",
    )
    @blp.alt_response(409, description="The shipment already has a label, is buying one, or has no rate")
    def post(self, data: dict[str, Any], shipment_id: str) -> Any:
        """Buy the shipment's label in the background: answers 202 with the job to poll.

        With ``?wait=N`` (at most 30 s) the request is committed and queued exactly as without, then
        waits up to N seconds: 200 with the finished job if the purchase ends in time, else the 202.
        """
        job = requesting.request_label(
            db(),
            auth.current().tenant_id,
            shipment_id,
            label_format=(data or {}).get("label_format", "pdf"),
            container=container(),
        )
        body = reads.present_jobs(db(), [job])[0]
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
        data, fmt, label = documents.label_document(
            container(), db(), auth.current().tenant_id, shipment_id, query.get("format")
        )
        response = current_app.response_class(
            data, mimetype=render.CONTENT_TYPES.get(fmt, "application/octet-stream")
        )
        extension = render.EXTENSIONS.get(fmt, "bin")
        # The tracking number is the carrier's: encoded, it cannot break the header.
        response.headers["Content-Disposition"] = attachment(f"{label.tracking_number}.{extension}")
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
        label = voids.void_label(db(), container(), auth.current().tenant_id, shipment_id)
        return reads.present_label(label)
