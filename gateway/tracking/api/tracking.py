"""Tracking reads and ops tools: timelines, unmapped codes, mapping overrides, open exceptions, taxonomy."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from gateway.accounts import connections as accounts
from gateway.kernel import auth, idempotency
from gateway.kernel.http import IDEMPOTENCY_HEADER, Blueprint
from gateway.kernel.web import container, db
from gateway.shipments import booking as shipment_service
from gateway.tracking import mappings, polling, proof_review, reads
from gateway.tracking import schemas as schema
from schemas import taxonomy

blp = Blueprint(
    "tracking", __name__, url_prefix="/v1", description="Canonical tracking timelines and ops tools"
)


@blp.route("/shipments/<string:shipment_id>/events")
class ShipmentEvents(MethodView):
    @auth.require("platform", "ops")
    @blp.response(200, schema.TimelineSchema)
    def get(self, shipment_id: str) -> Any:
        """The shipment's canonical timeline, each event's raw carrier code beside its meaning."""
        session = db()
        shipment = shipment_service.get_shipment(session, auth.current().tenant_id, shipment_id)
        return reads.timeline_for(session, shipment)


@blp.route("/shipments/<string:shipment_id>/tracking/refresh")
class RefreshTracking(MethodView):
    @auth.require("platform", "ops")
    @blp.response(200, schema.TimelineSchema)
    @blp.alt_response(409, description="No tracking number yet, or no enabled adapter tracks its carrier")
    @blp.alt_response(503, description="The carrier did not answer")
    def post(self, shipment_id: str) -> Any:
        """Ask the carrier now (poll it, or renew its push subscription) and return the timeline."""
        session = db()
        shipment = shipment_service.get_shipment(session, auth.current().tenant_id, shipment_id)
        # The tenant's own account the label was bought on, or the operator's accounts.
        polling.refresh(session, accounts.registry_for_shipment(session, container(), shipment), shipment)
        session.commit()
        return reads.timeline_for(session, shipment)


@blp.route("/shipments/<string:shipment_id>/proof-review")
class ProofReview(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @auth.require("ops")
    @idempotency.write_endpoint
    @blp.arguments(schema.ProofReviewSchema)
    @blp.response(200, schema.TimelineSchema)
    @blp.alt_response(409, description="No flagged proof of delivery waits for review")
    def post(self, data: dict[str, Any], shipment_id: str) -> Any:
        """Settle a delivery whose proof failed its checks: accept it or reject it, with a note.

        Accepted, the shipment is delivered again, as of its first delivery scan, and counts so in
        KPIs; rejected, it is an open ``lost`` exception for the shipper. Either way one manual event
        naming the key that decided is added to the timeline (docs/DRIVER_APP.md).
        """
        principal = auth.current()
        session = db()
        shipment = shipment_service.get_shipment(session, principal.tenant_id, shipment_id)
        proof_review.review_proof(
            session, shipment, decision=data["decision"], actor=principal.key_id, note=data.get("note")
        )
        session.commit()
        return reads.timeline_for(session, shipment)


@blp.route("/tracking/unmapped")
class Unmapped(MethodView):
    @auth.require("ops")
    @blp.arguments(schema.UnmappedQuerySchema, location="query")
    @blp.response(200, schema.UnmappedListSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """Carrier codes with no mapping, with counts and an example payload each."""
        return {"data": mappings.unmapped_codes(db(), auth.current().tenant_id, query.get("carrier"))}


@blp.route("/tracking/exceptions")
class Exceptions(MethodView):
    @auth.require("ops")
    @blp.arguments(schema.ExceptionsQuerySchema, location="query")
    @blp.response(200, schema.OpenExceptionListSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """Open exceptions that need action, oldest first; filter by reason, carrier and age."""
        return {"data": reads.open_exceptions(db(), auth.current().tenant_id, **query)}


@blp.route("/tracking/mappings/<string:carrier>")
class Mappings(MethodView):
    @auth.require("ops")
    @idempotency.write_endpoint
    @blp.arguments(schema.MappingPutSchema)
    @blp.response(200, schema.MappingSchema)
    def put(self, data: dict[str, Any], carrier: str) -> Any:
        """Add or override one mapping row (audited, versioned); re-derives affected timelines."""
        principal = auth.current()
        row, rederived = mappings.put_mapping(db(), principal.tenant_id, principal.key_id, carrier, data)
        return {
            "carrier": row.carrier,
            "code": row.code,
            "subcode": row.subcode,
            "version": row.version,
            "milestone": row.milestone,
            "detail": row.detail,
            "reason": row.reason,
            "informational": row.informational,
            "note": row.note,
            "previous": row.previous,
            "created_by": row.created_by,
            "created_at": row.created_at,
            "shipments_rederived": rederived,
        }


@blp.route("/tracking/<string:tracking_number>")
class ByTrackingNumber(MethodView):
    @auth.require("platform", "ops")
    @blp.response(200, schema.TimelineSchema)
    def get(self, tracking_number: str) -> Any:
        """The canonical timeline of the shipment with this tracking number."""
        session = db()
        shipment = reads.shipment_for_tracking_number(session, auth.current().tenant_id, tracking_number)
        return reads.timeline_for(session, shipment)


@blp.route("/taxonomy")
class Taxonomy(MethodView):
    @auth.require("platform", "ops", "finance")
    @blp.response(200)
    def get(self) -> Any:
        """The published canonical taxonomy: milestones, detail codes and exception reasons."""
        return taxonomy.describe()
