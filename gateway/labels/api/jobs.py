"""Background jobs: poll a label purchase; the ops dead-letter view with requeue and resolve."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView

from gateway.kernel import auth, idempotency
from gateway.kernel.http import IDEMPOTENCY_HEADER, Blueprint
from gateway.kernel.web import container, db
from gateway.labels import reads, review
from gateway.labels import schemas as schema

blp = Blueprint(
    "jobs", __name__, url_prefix="/v1/jobs", description="Label purchase jobs and the dead-letter view"
)

_IDEMPOTENCY_HEADER = IDEMPOTENCY_HEADER


def _page(query: dict[str, Any], *, dead_letter: bool) -> dict[str, Any]:
    limit = query.get("limit") or current_app.config["PAGE_SIZE_DEFAULT"]
    rows, next_cursor = reads.list_jobs(
        db(),
        auth.current().tenant_id,
        states=query.get("state") or (),
        dead_letter=dead_letter,
        limit=limit,
        cursor=query.get("cursor"),
    )
    return {"data": reads.present_jobs(db(), rows), "next_cursor": next_cursor}


@blp.route("")
class Jobs(MethodView):
    @auth.require("platform", "ops")
    @blp.arguments(schema.LabelJobListQuerySchema, location="query")
    @blp.response(200, schema.LabelJobPageSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """List jobs, newest first (filter with ``state``, repeatable)."""
        return _page(query, dead_letter=False)


@blp.route("/dead-letter")
class DeadLetter(MethodView):
    @auth.require("ops")
    @blp.arguments(schema.LabelJobListQuerySchema, location="query")
    @blp.response(200, schema.LabelJobPageSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """Jobs that need a person: failed, needs_review, or given up by the job runner."""
        return _page(query, dead_letter=True)


@blp.route("/<string:job_id>")
class JobById(MethodView):
    @auth.require("platform", "ops")
    @blp.response(200, schema.LabelJobSchema)
    def get(self, job_id: str) -> Any:
        """A job's state, attempts, last error and attempt log."""
        job = reads.get_job(db(), auth.current().tenant_id, job_id)
        return reads.present_jobs(db(), [job])[0]


@blp.route("/<string:job_id>/requeue")
class JobRequeue(MethodView):
    @blp.doc(parameters=[_IDEMPOTENCY_HEADER])
    @auth.require("ops")
    @idempotency.write_endpoint
    @blp.arguments(schema.LabelJobRequeueSchema, required=False)
    @blp.response(200, schema.LabelJobSchema)
    @blp.alt_response(409, description="The job is not failed, in review or dead-lettered")
    def post(self, data: dict[str, Any], job_id: str) -> Any:
        """Run a failed, needs-review or dead-lettered job again."""
        principal = auth.current()
        job = review.requeue_job(
            db(),
            principal.tenant_id,
            job_id,
            actor=principal.key_id,
            note=(data or {}).get("note"),
            confirm_not_purchased=bool((data or {}).get("confirm_not_purchased")),
        )
        return reads.present_jobs(db(), [job])[0]


@blp.route("/<string:job_id>/resolve")
class JobResolve(MethodView):
    @blp.doc(parameters=[_IDEMPOTENCY_HEADER])
    @auth.require("ops")
    @idempotency.write_endpoint
    @blp.arguments(schema.LabelJobResolveSchema)
    @blp.response(200, schema.LabelJobSchema)
    @blp.alt_response(409, description="The job is not in review, or another shipment holds the number")
    @blp.alt_response(422, description="The carrier does not confirm the number for this shipment")
    @blp.alt_response(503, description="The carrier did not answer the lookup by reference")
    def post(self, data: dict[str, Any], job_id: str) -> Any:
        """Settle a needs-review job: the label was bought (give its tracking number) or was not.

        A tracking number another shipment holds, in any tenant, is refused (409
        ``tracking-number-taken``); at a carrier that can look a purchase up by our reference (UPS),
        so is a number the carrier does not show under this shipment on our account (422
        ``tracking-number-unconfirmed``).
        """
        principal = auth.current()
        job = review.resolve_job(
            db(),
            principal.tenant_id,
            job_id,
            actor=principal.key_id,
            outcome=data["outcome"],
            tracking_number=data.get("tracking_number"),
            carrier_shipment_id=data.get("carrier_shipment_id"),
            note=data.get("note"),
            container=container(),
        )
        return reads.present_jobs(db(), [job])[0]
