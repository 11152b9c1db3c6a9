"""End-of-day manifests: POST/GET /v1/manifests, GET /v1/manifests/{id}, GET /v1/manifests/{id}/document."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for
from flask.views import MethodView

from gateway.kernel import auth, idempotency
from gateway.kernel.http import IDEMPOTENCY_HEADER, Blueprint, attachment
from gateway.kernel.web import container, db
from gateway.manifests import closing, dispatch, documents, reads
from gateway.manifests import schemas as schema
from gateway.manifests.tables import Manifest

blp = Blueprint(
    "manifests",
    __name__,
    url_prefix="/v1/manifests",
    description="Close the day per carrier account (FedEx Ground close, USPS SCAN form, gateway manifests) "
    "and dispatch the own fleet's vans",
)

_PDF = {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}


def _money(minor: int | None, currency: str | None) -> dict[str, Any] | None:
    if minor is None or not currency:
        return None
    return {"amount": documents.amount(minor, currency), "currency": currency}


def summary(m: Manifest) -> dict[str, Any]:
    """A manifest as the API lists it."""
    totals = m.totals or {}
    carrier_document = None
    if m.carrier_document_key:
        carrier_document = {
            "type": m.carrier_document_type or "PDF",
            "url": url_for("manifests.ManifestDocument", manifest_id=m.id, source="carrier"),
        }
    return {
        "id": m.id,
        "carrier": m.carrier,
        "account": m.account,
        "kind": m.kind,
        "state": m.state,
        "date": m.manifest_date,
        "time_zone": m.time_zone,
        "plan_id": m.plan_id,
        "vehicle_id": m.vehicle_id,
        "vehicle_name": m.vehicle_name,
        "shipment_count": m.shipment_count,
        "totals": {
            "count": int(totals.get("count", m.shipment_count)),
            "weight": list(totals.get("weight", [])),
            "cost": [_money(c["amount_minor"], c["currency"]) for c in totals.get("cost", [])],
        },
        "document_url": url_for("manifests.ManifestDocument", manifest_id=m.id) if m.document_key else None,
        "carrier_document": carrier_document,
        "carrier_reference": m.carrier_reference,
        "carrier_alerts": list(m.carrier_alerts or []),
        "carrier_code": m.carrier_code,
        "carrier_message": m.carrier_message,
        "attempts": m.attempts,
        "closed_at": m.closed_at,
        "created_at": m.created_at,
        "updated_at": m.updated_at,
    }


def present(m: Manifest) -> dict[str, Any]:
    """A manifest with its shipments, in document order."""
    shipments = []
    for s in documents.members(db(), m.id):
        weight = None
        if s.weight is not None and s.weight_unit:
            weight = {"value": format(s.weight.normalize(), "f"), "unit": s.weight_unit}
        shipments.append(
            {
                "position": s.position,
                "shipment_id": s.shipment_id,
                "tracking_number": s.tracking_number,
                "reference": s.reference,
                "service": s.service,
                "destination": {"city": s.city, "postal_code": s.postal_code, "country_code": s.country_code},
                "weight": weight,
                "cost": _money(s.cost_minor, s.currency),
                "stop": s.stop,
            }
        )
    return {**summary(m), "shipments": shipments}


@blp.route("")
class Manifests(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @auth.require("platform", "ops")
    @idempotency.write_endpoint
    @blp.arguments(schema.ManifestCreateSchema)
    @blp.response(201, schema.ManifestCreatedSchema)
    @blp.alt_response(
        409,
        description="Nothing waits for a manifest (manifest-empty), another close of the day is under way, "
        "the plan is not applied, or the same Idempotency-Key is in progress",
    )
    @blp.alt_response(
        422,
        description="Validation failed (carrier not enabled, several accounts, a future day, no applied plan), "
        "the carrier refused the close (carrier-rejected), or Idempotency-Key reused with another body",
    )
    @blp.alt_response(
        503, description="The carrier did not answer (carrier-unavailable); the manifest is kept"
    )
    def post(self, data: dict[str, Any]) -> Any:
        """Close the day: list the carrier account's bought shipments not yet on a manifest, close at the carrier.

        FedEx: the Ground end-of-day close (when the day holds Ground shipments); USPS: a SCAN form for the
        day's labels. UPS and DHL Express have no close call: the gateway's manifest (``kind`` gateway,
        ``carrier_document`` null) is the record. ``carrier`` fleet dispatches an applied allocation plan:
        one manifest per van. The manifest is stored before the carrier is called; a failed close is kept
        and a new POST for the same day retries it.
        """
        tenant_id = auth.current().tenant_id
        if data["carrier"] == dispatch.FLEET:
            made = dispatch.dispatch(container(), db(), tenant_id, data)
        else:
            made = [closing.close(container(), tenant_id, data)]
        location = url_for("manifests.ManifestById", manifest_id=made[0].id)
        return {"data": [present(m) for m in made]}, 201, {"Location": location}

    @auth.require("platform", "ops", "finance")
    @blp.arguments(schema.ManifestListQuerySchema, location="query")
    @blp.response(200, schema.ManifestPageSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """List manifests, newest first, with cursor pagination; filter by carrier, day and state."""
        limit = query.pop("limit", None) or current_app.config["PAGE_SIZE_DEFAULT"]
        rows, next_cursor = reads.list_manifests(db(), auth.current().tenant_id, limit=limit, **query)
        return {"data": [summary(r) for r in rows], "next_cursor": next_cursor}


@blp.route("/<string:manifest_id>")
class ManifestById(MethodView):
    @auth.require("platform", "ops", "finance")
    @blp.response(200, schema.ManifestSchema)
    def get(self, manifest_id: str) -> Any:
        """Read one manifest with its shipments and totals."""
        return present(reads.get_manifest(db(), auth.current().tenant_id, manifest_id))


@blp.route("/<string:manifest_id>/document")
class ManifestDocument(MethodView):
    @auth.require("platform", "ops", "finance")
    @blp.arguments(schema.ManifestDocumentQuerySchema, location="query")
    @blp.doc(
        responses={
            "200": {"description": "The manifest as PDF", "content": _PDF},
            "404": {"description": "No such manifest, or no such document (manifest-document-unavailable)"},
        }
    )
    def get(self, query: dict[str, Any], manifest_id: str) -> Any:
        """Download the manifest PDF (``source=carrier``: the carrier's own, FedEx OP-950 or USPS PS 5630)."""
        row = reads.get_manifest(db(), auth.current().tenant_id, manifest_id)
        data = documents.read(container(), row, query["source"])
        response = current_app.response_class(data, mimetype="application/pdf")
        suffix = "-carrier" if query["source"] == "carrier" else ""
        response.headers["Content-Disposition"] = attachment(f"{row.id}{suffix}.pdf")
        return response
