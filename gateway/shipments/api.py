"""Shipments: create, read, list, edit and cancel (every shipment answered carries its ETag)."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request, url_for
from flask.views import MethodView

from gateway.customs import declaration
from gateway.kernel import auth, idempotency, models
from gateway.kernel.http import IDEMPOTENCY_HEADER, Blueprint
from gateway.kernel.web import container, db
from gateway.rates import schemas as rate_schema
from gateway.returns import creating as returning
from gateway.returns import links as return_links
from gateway.returns import schemas as return_schemas
from gateway.shipments import book, editing
from gateway.shipments import booking as service
from gateway.shipments import schemas as schema
from gateway.tracking import reads as tracking_reads
from schemas import money

blp = Blueprint("shipments", __name__, url_prefix="/v1/shipments", description="Book and read shipments")


_LOAD: Any = object()


def present(
    s: models.Shipment, tracking: dict[str, Any] | None = _LOAD, returns: list[str] | None = None
) -> dict[str, Any]:
    """Shape a shipment row as the API shows it (``tracking``, ``returns`` preloaded by lists, else read here)."""
    if tracking is _LOAD:
        tracking = tracking_reads.summaries(db(), [s])[s.id]
    if returns is None:
        returns = return_links.return_ids(db(), s.tenant_id, [s.id])[s.id]
    parcels = []
    for p in s.parcels:
        declared = None
        if p.declared_value_minor is not None and p.declared_value_currency:
            value = money.Money.from_minor(p.declared_value_minor, p.declared_value_currency)
            declared = {"amount": value.amount, "currency": value.currency}
        parcels.append(
            {
                "id": p.id,
                "weight": {"value": p.weight, "unit": p.weight_unit},
                "dimensions": {
                    "length": p.length,
                    "width": p.width,
                    "height": p.height,
                    "unit": p.dimension_unit,
                },
                "declared_value": declared,
            }
        )
    return {
        "id": s.id,
        "reference": s.reference,
        "status": s.status,
        "origin": editing.address_body(s.origin),
        "destination": editing.address_body(s.destination),
        "parcels": parcels,
        "service_level": s.service_level,
        "carrier": s.carrier,
        "service": s.service,
        "tracking_number": s.tracking_number,
        "tracking": tracking,
        "is_return": bool(s.is_return),
        "return_of": s.return_of_id,
        "returns": returns,
        "promise_date": s.promise_date,
        "customs": declaration.body(s.customs),
        "metadata": s.metadata_ or {},
        "version": s.version,
        "cancelled_at": s.cancelled_at,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
    }


def present_booking(b: book.Booking) -> dict[str, Any]:
    """A shipment as the API shows it, with the rates quoted at its creation when it has them."""
    body = present(b.shipment)
    if b.rates is not None:
        body["rates"] = rate_schema.RateShopSchema().load(b.rates)
    return body


# The entity tag of the shipment answered, documented on every operation that answers one.
_ETAG = {
    "ETag": {
        "description": 'W/"<version>": send it back in If-Match to edit or cancel this version',
        "schema": {"type": "string", "pattern": '^W/"[0-9]+"$'},
    }
}
_IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "description": 'The ETag of the version you change (W/"<version>"; "*" for any): 412 if stale',
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
_ONE_SHIPMENT = {
    "shipments.Shipments": ("POST",),
    "shipments.ShipmentById": ("GET", "PATCH", "DELETE"),
    "shipments.ShipmentReturn": ("POST",),
}


@blp.after_request
def _etag(response: Response) -> Response:
    """Tag every single shipment answered with its version, replays of stored answers included."""
    if (
        request.method in _ONE_SHIPMENT.get(request.endpoint or "", ())
        and response.status_code in (200, 201)
        and response.is_json
    ):
        body = response.get_json(silent=True)
        version = body.get("version") if isinstance(body, dict) else None
        if isinstance(version, int) and not isinstance(version, bool):
            response.headers["ETag"] = f'W/"{version}"'
    return response


@blp.route("")
class Shipments(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @auth.require("platform")
    @idempotency.write_endpoint
    @blp.arguments(schema.ShipmentCreateSchema)
    @blp.response(201, rate_schema.ShipmentCreatedSchema, headers=_ETAG)
    @blp.alt_response(409, description="Same Idempotency-Key still in progress")
    @blp.alt_response(422, description="Validation failed, or Idempotency-Key reused with another body")
    def post(self, data: dict[str, Any]) -> Any:
        """Create a draft shipment and return the rates it can ship at."""
        booked = book.book(db(), auth.current().tenant_id, data, container=container())
        return (
            present_booking(booked),
            201,
            {"Location": url_for("shipments.ShipmentById", shipment_id=booked.shipment.id)},
        )

    @auth.require("platform", "ops", "finance")
    @blp.arguments(schema.ShipmentListQuerySchema, location="query")
    @blp.response(200, schema.ShipmentPageSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """List shipments, newest first, with cursor pagination and filters."""
        limit = query.pop("limit", None) or current_app.config["PAGE_SIZE_DEFAULT"]
        rows, next_cursor = service.list_shipments(db(), auth.current().tenant_id, limit=limit, **query)
        tracking = tracking_reads.summaries(db(), rows)
        returns = return_links.return_ids(db(), auth.current().tenant_id, [r.id for r in rows])
        return {
            "data": [present(r, tracking[r.id], returns[r.id]) for r in rows],
            "next_cursor": next_cursor,
        }


@blp.route("/<string:shipment_id>")
class ShipmentById(MethodView):
    @auth.require("platform", "ops", "finance")
    @blp.response(200, rate_schema.ShipmentWithRatesSchema, headers=_ETAG)
    def get(self, shipment_id: str) -> Any:
        """Read one shipment, with the rates it was last quoted (at creation or its last edit)."""
        return present_booking(book.get_booking(db(), auth.current().tenant_id, shipment_id))

    @blp.doc(parameters=[{**_IF_MATCH, "required": True}, IDEMPOTENCY_HEADER])
    @auth.require("platform")
    @idempotency.write_endpoint
    @blp.arguments(schema.ShipmentPatchSchema)
    @blp.response(200, rate_schema.ShipmentWithRatesSchema, headers=_ETAG)
    @blp.alt_response(
        409,
        description="A label is requested, bought or voided (void instead), the shipment is cancelled, "
        "or the same Idempotency-Key is still in progress",
    )
    @blp.alt_response(
        412, description="If-Match names another version than the shipment's (precondition-failed)"
    )
    @blp.alt_response(428, description="No If-Match header (precondition-required)")
    def patch(self, data: dict[str, Any], shipment_id: str) -> Any:
        """Edit a shipment before its label is requested: merge the patch, validate, rate again.

        Addresses merge member by member; parcels, metadata and other fields are replaced whole;
        null clears service_level or promise_date. The result is validated as a booking is, the
        rate chosen earlier is cleared, the shipment is rated again and its version goes up by one.
        """
        edited = editing.edit(
            db(),
            auth.current().tenant_id,
            shipment_id,
            data,
            if_match=request.headers.get("If-Match"),
            container=container(),
        )
        return present_booking(edited)

    @blp.doc(parameters=[_IF_MATCH, IDEMPOTENCY_HEADER])
    @auth.require("platform")
    @idempotency.write_endpoint
    @blp.response(200, rate_schema.ShipmentWithRatesSchema, headers=_ETAG)
    @blp.alt_response(
        409,
        description="A label is requested, bought or voided (void it instead), "
        "or the same Idempotency-Key is still in progress",
    )
    @blp.alt_response(
        412, description="If-Match names another version than the shipment's (precondition-failed)"
    )
    def delete(self, shipment_id: str) -> Any:
        """Cancel a draft: it is kept with status cancelled and can no longer be edited, rated or labelled.

        Cancelling a cancelled shipment answers it as it is. After a label purchase, void it instead.
        """
        cancelled = editing.cancel(
            db(), auth.current().tenant_id, shipment_id, if_match=request.headers.get("If-Match")
        )
        return present_booking(cancelled)


@blp.route("/<string:shipment_id>/return")
class ShipmentReturn(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @auth.require("platform")
    @idempotency.write_endpoint
    @blp.arguments(return_schemas.ReturnCreateSchema, required=False)
    @blp.response(201, rate_schema.ShipmentCreatedSchema, headers=_ETAG)
    @blp.alt_response(
        409,
        description="The shipment has no bought label or is itself a return (return-not-allowed), "
        "or the same Idempotency-Key is still in progress",
    )
    @blp.alt_response(
        422,
        description="The carrier offers no return labels (return-not-supported), no purchasable rate of the "
        "carrier or service named, validation failed, or Idempotency-Key reused with another body",
    )
    def post(self, data: dict[str, Any] | None, shipment_id: str) -> Any:
        """Book the return of a shipment whose label was bought: a shipment of its own, linked both ways.

        From the original's destination back to its origin (or ``return_to``), with the same parcels unless
        others are given, rated like a booking; the rate of the original's carrier (or the ``carrier`` and
        ``service`` named) is selected, so ``POST /v1/shipments/{return id}/label`` buys the return label.
        """
        booked = returning.create_return(
            db(), auth.current().tenant_id, shipment_id, data, container=container()
        )
        return (
            present_booking(booked),
            201,
            {"Location": url_for("shipments.ShipmentById", shipment_id=booked.shipment.id)},
        )
