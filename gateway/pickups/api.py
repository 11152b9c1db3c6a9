"""Carrier pickups: POST/GET /v1/pickups, GET/DELETE /v1/pickups/{id}."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, request, url_for
from flask.views import MethodView

from gateway.kernel import auth, idempotency
from gateway.kernel.http import IDEMPOTENCY_HEADER, Blueprint
from gateway.kernel.web import container, db
from gateway.pickups import scheduling
from gateway.pickups import schemas as schema
from gateway.pickups.tables import Pickup

blp = Blueprint(
    "pickups", __name__, url_prefix="/v1/pickups", description="Schedule, list and cancel carrier pickups"
)


def present(p: Pickup) -> dict[str, Any]:
    """A pickup as the API shows it; times local to its time zone."""
    zone = ZoneInfo(p.time_zone)
    ready, close = p.ready_at.astimezone(zone), p.close_at.astimezone(zone)
    weight = None
    if p.total_weight is not None and p.weight_unit:
        weight = {"value": p.total_weight, "unit": p.weight_unit}
    return {
        "id": p.id,
        "carrier": p.carrier,
        "account": p.account,
        "state": p.state,
        "address": p.address,
        "date": p.pickup_date,
        "ready_time": ready.strftime("%H:%M"),
        "close_time": close.strftime("%H:%M"),
        "time_zone": p.time_zone,
        "ready_at": ready,
        "close_at": close,
        "parcel_count": p.parcel_count,
        "total_weight": weight,
        "instructions": p.instructions,
        "tracking_numbers": list(p.tracking_numbers or []),
        "confirmation": p.confirmation,
        "carrier_code": p.carrier_code,
        "carrier_message": p.carrier_message,
        "attempts": p.attempts,
        "cancelled_at": p.cancelled_at,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    }


@blp.route("")
class Pickups(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @auth.require("platform", "ops")
    @idempotency.write_endpoint
    @blp.arguments(schema.PickupCreateSchema)
    @blp.response(201, schema.PickupSchema)
    @blp.alt_response(
        409,
        description="The same Idempotency-Key is in progress, or its booking's outcome is unknown (conflict)",
    )
    @blp.alt_response(
        422,
        description="Validation failed (a carrier without pickups is named), the carrier refused "
        "(carrier-rejected), or Idempotency-Key reused with another body",
    )
    @blp.alt_response(503, description="The carrier did not answer (carrier-unavailable); the pickup is kept")
    def post(self, data: dict[str, Any]) -> Any:
        """Schedule a carrier pickup: stored first, then booked with the carrier, which gives a confirmation.

        With an Idempotency-Key, a retry after a 503 books the same pickup row again when nothing was
        booked, and answers 409 when the carrier's first answer was lost (the pickup may exist).
        """
        key = request.headers.get(idempotency.HEADER)
        booked = scheduling.schedule(
            container(),
            auth.current().tenant_id,
            data,
            idempotency_key=key,
            fingerprint=idempotency.fingerprint() if key else "",
        )
        return present(booked), 201, {"Location": url_for("pickups.PickupById", pickup_id=booked.id)}

    @auth.require("platform", "ops", "finance")
    @blp.arguments(schema.PickupListQuerySchema, location="query")
    @blp.response(200, schema.PickupPageSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """List pickups, newest first, with cursor pagination; filter by carrier, day and state."""
        limit = query.pop("limit", None) or current_app.config["PAGE_SIZE_DEFAULT"]
        rows, next_cursor = scheduling.list_pickups(db(), auth.current().tenant_id, limit=limit, **query)
        return {"data": [present(r) for r in rows], "next_cursor": next_cursor}


@blp.route("/<string:pickup_id>")
class PickupById(MethodView):
    @auth.require("platform", "ops", "finance")
    @blp.response(200, schema.PickupSchema)
    def get(self, pickup_id: str) -> Any:
        """Read one pickup, with the carrier's confirmation number or its last message."""
        return present(scheduling.get_pickup(db(), auth.current().tenant_id, pickup_id))

    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @auth.require("platform", "ops")
    @idempotency.write_endpoint
    @blp.response(200, schema.PickupSchema)
    @blp.alt_response(
        409,
        description="The carrier's API cannot cancel it (the problem says how to), or the booking's "
        "outcome is unknown (conflict)",
    )
    @blp.alt_response(422, description="The carrier refused to cancel (carrier-rejected)")
    @blp.alt_response(503, description="The carrier did not answer (carrier-unavailable); still scheduled")
    def delete(self, pickup_id: str) -> Any:
        """Cancel a pickup at the carrier; a failed booking (nothing booked) is simply withdrawn."""
        return present(scheduling.cancel(container(), auth.current().tenant_id, pickup_id))
