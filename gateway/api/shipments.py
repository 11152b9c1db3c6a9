"""Shipments: create, read, list."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for
from flask.views import MethodView

from gateway import auth, idempotency
from gateway.api import Blueprint
from gateway.db import models
from gateway.services import allocation, rates
from gateway.services import shipments as service
from gateway.services import tracking as tracking_service
from gateway.web import container, db
from schemas import money
from schemas.api import rates as rate_schema
from schemas.api import shipments as schema

blp = Blueprint("shipments", __name__, url_prefix="/v1/shipments", description="Book and read shipments")


def present_address(a: models.Address) -> dict[str, Any]:
    return {
        "name": a.name,
        "company": a.company,
        "street_lines": [line for line in (a.street1, a.street2, a.street3) if line],
        "city": a.city,
        "state": a.state,
        "postal_code": a.postal_code,
        "country_code": a.country_code,
        "phone": a.phone,
        "email": a.email,
        "residential": a.residential,
        "latitude": a.latitude,
        "longitude": a.longitude,
    }


_LOAD: Any = object()


def present(s: models.Shipment, tracking: dict[str, Any] | None = _LOAD) -> dict[str, Any]:
    """Shape a shipment row as the API shows it (``tracking`` preloaded by lists, else read here)."""
    if tracking is _LOAD:
        tracking = tracking_service.summaries(db(), [s])[s.id]
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
        "origin": present_address(s.origin),
        "destination": present_address(s.destination),
        "parcels": parcels,
        "service_level": s.service_level,
        "carrier": s.carrier,
        "service": s.service,
        "tracking_number": s.tracking_number,
        "tracking": tracking,
        "promise_date": s.promise_date,
        "metadata": s.metadata_ or {},
        "created_at": s.created_at,
        "updated_at": s.updated_at,
    }


@blp.route("")
class Shipments(MethodView):
    @blp.doc(
        parameters=[
            {"in": "header", "name": "Idempotency-Key", "schema": {"type": "string", "maxLength": 255}}
        ]
    )
    @auth.require("platform")
    @idempotency.write_endpoint
    @blp.arguments(schema.ShipmentCreateSchema)
    @blp.response(201, rate_schema.ShipmentCreatedSchema)
    @blp.alt_response(409, description="Same Idempotency-Key still in progress")
    @blp.alt_response(422, description="Validation failed, or Idempotency-Key reused with another body")
    def post(self, data: dict[str, Any]) -> Any:
        """Create a draft shipment and return the rates it can ship at."""
        tenant_id = auth.current().tenant_id
        shipment = service.create_shipment(db(), tenant_id, data)
        outcome = rates.shop_rates(
            db(),
            container(),
            tenant_id,
            rates.spec_from_body(data),
            promise_date=data.get("promise_date"),
            shipment_id=shipment.id,
        )
        dumped = rate_schema.RateShopSchema().dump(rates.present_outcome(outcome))
        rates.remember_for_shipment(db(), tenant_id, shipment.id, dumped)
        allocation.decide_at_booking(db(), tenant_id, shipment)
        return (
            {**present(shipment), "rates": rate_schema.RateShopSchema().load(dumped)},
            201,
            {"Location": url_for("shipments.ShipmentById", shipment_id=shipment.id)},
        )

    @auth.require("platform", "ops", "finance")
    @blp.arguments(schema.ShipmentListQuerySchema, location="query")
    @blp.response(200, schema.ShipmentPageSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """List shipments, newest first, with cursor pagination and filters."""
        limit = query.pop("limit", None) or current_app.config["PAGE_SIZE_DEFAULT"]
        rows, next_cursor = service.list_shipments(db(), auth.current().tenant_id, limit=limit, **query)
        tracking = tracking_service.summaries(db(), rows)
        return {"data": [present(r, tracking[r.id]) for r in rows], "next_cursor": next_cursor}


@blp.route("/<string:shipment_id>")
class ShipmentById(MethodView):
    @auth.require("platform", "ops", "finance")
    @blp.response(200, rate_schema.ShipmentWithRatesSchema)
    def get(self, shipment_id: str) -> Any:
        """Read one shipment, with the rates it was quoted at creation."""
        shipment = service.get_shipment(db(), auth.current().tenant_id, shipment_id)
        quoted = rates.rates_at_creation(db(), shipment.id)
        body = present(shipment)
        if quoted is not None:
            body["rates"] = rate_schema.RateShopSchema().load(quoted)
        return body
