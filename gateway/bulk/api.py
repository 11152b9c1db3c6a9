"""Bulk booking: upload up to 10,000 shipments (JSON or CSV), then follow the job row by row."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, request, url_for
from flask.views import MethodView

from gateway.bulk import schemas as schema
from gateway.bulk import uploads
from gateway.kernel import auth, idempotency
from gateway.kernel.errors import Problem
from gateway.kernel.http import IDEMPOTENCY_HEADER, Blueprint
from gateway.kernel.web import container, db

blp = Blueprint("bulk", __name__, url_prefix="/v1/shipments/bulk", description="Bulk booking")

_PATH = "/v1/shipments/bulk"


@blp.before_app_request
def _upload_limit() -> None:
    """An upload may be larger than other bodies: its own limit, before anything reads the body.

    Registered with the blueprint, so it runs before the app's request hook parses a JSON body.
    """
    if request.method == "POST" and request.path == _PATH:
        request.max_content_length = int(container().settings["BULK_MAX_BYTES"])


@blp.after_app_request
def _allow(response: Response) -> Response:
    """``/v1/shipments/bulk`` also matches the shipments' ``/v1/shipments/<shipment_id>``: the
    automatic OPTIONS answer would advertise that route's methods too."""
    if request.method == "OPTIONS" and request.path == _PATH and "Allow" in response.headers:
        response.headers["Allow"] = "OPTIONS, POST"
    return response


def _rows() -> tuple[list[Any], str]:
    mimetype = request.mimetype
    if mimetype == "text/csv":
        return uploads.parse(request.get_data(cache=True), None, mimetype=mimetype)
    if not (mimetype == "application/json" or mimetype.endswith("+json")):
        raise Problem(
            "unsupported-media-type", f"Send application/json or text/csv (got {mimetype or 'none'})."
        )
    if "json_body" in g:  # parsed and checked by the app's request hook
        return uploads.parse(None, g.json_body, mimetype=mimetype)
    try:  # the app's hook lets this path through unparsed: the same answer as its own parse
        parsed = current_app.json.loads(request.get_data(cache=True).decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise Problem("malformed-json", f"The request body is not UTF-8: {exc.reason}.") from None
    except ValueError as exc:
        raise Problem("malformed-json", f"The request body is not valid JSON: {exc}.") from None
    return uploads.parse(None, parsed, mimetype=mimetype)


@blp.route("")
class BulkUploads(MethodView):
    @blp.doc(
        parameters=[IDEMPOTENCY_HEADER],
        requestBody={
            "required": True,
            "content": {
                "application/json": {"schema": schema.BulkCreateSchema},
                "text/csv": {
                    "schema": {"type": "string", "description": "A header line, then a row per shipment"}
                },
            },
        },
    )
    @auth.require("platform")
    @idempotency.write_endpoint
    @blp.response(202, schema.BulkSchema, description="Stored; the booking job is queued")
    @blp.alt_response(409, description="Same Idempotency-Key still in progress")
    @blp.alt_response(413, description="More than 10,000 rows, or more bytes than BULK_MAX_BYTES")
    @blp.alt_response(415, description="Neither application/json nor text/csv")
    @blp.alt_response(
        422, description="The file cannot be read: not JSON, not {shipments: [...]}, bad CSV header"
    )
    def post(self) -> Any:
        """Book up to 10,000 shipments from one upload: stored now, booked by a job, results per row."""
        rows, fmt = _rows()
        upload = uploads.create(db(), auth.current().tenant_id, rows, fmt=fmt)
        return uploads.present(upload), 202, {"Location": url_for("bulk.BulkById", bulk_id=upload.id)}


@blp.route("/<string:bulk_id>")
class BulkById(MethodView):
    @auth.require("platform", "ops")
    @blp.arguments(schema.BulkRowsQuerySchema, location="query")
    @blp.response(200, schema.BulkWithRowsSchema)
    def get(self, query: dict[str, Any], bulk_id: str) -> Any:
        """An upload's state, progress and counts, and a page of its rows (shipment id or errors)."""
        upload = uploads.get_upload(db(), auth.current().tenant_id, bulk_id)
        limit = query.get("limit") or current_app.config["PAGE_SIZE_DEFAULT"]
        rows, next_cursor = uploads.list_rows(
            db(), upload, limit=limit, cursor=query.get("cursor"), state=query.get("state")
        )
        csv = upload.format == "csv"
        return {
            **uploads.present(upload),
            "rows": [uploads.present_row(r, csv=csv) for r in rows],
            "next_cursor": next_cursor,
        }
