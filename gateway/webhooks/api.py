"""Outbound webhooks: endpoints (subscriptions), secret rotation, test sends, replays, the delivery log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app, url_for
from flask.views import MethodView

from gateway import webhooks
from gateway.kernel import auth, idempotency
from gateway.kernel.http import IDEMPOTENCY_HEADER, Blueprint
from gateway.kernel.web import container, db
from gateway.webhooks import endpoints as service
from gateway.webhooks import schemas as schema

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/v1",
    description=(
        "Outbound webhooks signed to the Standard Webhooks 1.0 spec (webhook-id, webhook-timestamp, "
        "webhook-signature). Delivery is at least once and ordering is not guaranteed: deduplicate on "
        "webhook-id and order by the payload's timestamp. Payload JSON Schemas: GET /v1/webhook-event-types "
        "and docs/WEBHOOKS.md."
    ),
)

_IDEMPOTENCY_HEADER = IDEMPOTENCY_HEADER
_READERS = ("platform", "ops")


def _limit(query: dict[str, Any]) -> int:
    return query.pop("limit", None) or current_app.config["PAGE_SIZE_DEFAULT"]


@blp.route("/webhook-endpoints")
class Endpoints(MethodView):
    @auth.require(*_READERS)
    @blp.response(200, schema.WebhookEndpointListSchema)
    def get(self) -> Any:
        """List your webhook endpoints, with whether each is enabled and why the gateway disabled it."""
        rows = service.list_endpoints(db(), auth.current().tenant_id)
        return {"data": [service.present_endpoint(r) for r in rows]}

    @blp.doc(parameters=[_IDEMPOTENCY_HEADER])
    @auth.require("platform")
    @idempotency.write_endpoint
    @blp.arguments(schema.WebhookEndpointCreateSchema)
    @blp.response(201, schema.WebhookEndpointWithSecretSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Subscribe a URL to event types. The response carries the signing secret, shown only this once."""
        endpoint, secret = service.create_endpoint(
            db(), container().settings, auth.current().tenant_id, **data
        )
        location = url_for("webhooks.EndpointById", endpoint_id=endpoint.id)
        return service.present_endpoint(endpoint, secret), 201, {"Location": location}


@blp.route("/webhook-endpoints/<string:endpoint_id>")
class EndpointById(MethodView):
    @auth.require(*_READERS)
    @blp.response(200, schema.WebhookEndpointSchema)
    def get(self, endpoint_id: str) -> Any:
        """Read one endpoint (never its secret)."""
        return service.present_endpoint(service.get_endpoint(db(), auth.current().tenant_id, endpoint_id))

    @auth.require("platform")
    @idempotency.write_endpoint
    @blp.arguments(schema.WebhookEndpointUpdateSchema)
    @blp.response(200, schema.WebhookEndpointSchema)
    def patch(self, data: dict[str, Any], endpoint_id: str) -> Any:
        """Change the URL, event types, description or enabled flag; enabling clears a disablement."""
        endpoint = service.update_endpoint(
            db(), container().settings, auth.current().tenant_id, endpoint_id, data
        )
        return service.present_endpoint(endpoint)

    @auth.require("platform")
    @idempotency.write_endpoint
    @blp.response(204)
    def delete(self, endpoint_id: str) -> Any:
        """Delete an endpoint and its delivery log; pending deliveries to it stop."""
        service.delete_endpoint(db(), auth.current().tenant_id, endpoint_id)
        return None


@blp.route("/webhook-endpoints/<string:endpoint_id>/rotate-secret")
class RotateSecret(MethodView):
    @blp.doc(parameters=[_IDEMPOTENCY_HEADER])
    @auth.require("platform")
    @idempotency.write_endpoint
    @blp.arguments(schema.WebhookRotateSecretSchema)
    @blp.response(200, schema.WebhookEndpointWithSecretSchema)
    def post(self, data: dict[str, Any], endpoint_id: str) -> Any:
        """Issue a new secret (shown once); the old one keeps signing beside it for the grace period."""
        endpoint, secret = service.rotate_secret(
            db(), auth.current().tenant_id, endpoint_id, timedelta(seconds=data["grace_period_seconds"])
        )
        return service.present_endpoint(endpoint, secret)


@blp.route("/webhook-endpoints/<string:endpoint_id>/test")
class TestSend(MethodView):
    @blp.doc(parameters=[_IDEMPOTENCY_HEADER])
    @auth.require("platform")
    @idempotency.write_endpoint
    @blp.response(202, schema.WebhookTestSendResultSchema)
    def post(self, endpoint_id: str) -> Any:
        """Send a signed webhook.test event to this endpoint; watch its delivery in the log."""
        event_id, delivery_id = service.test_send(db(), auth.current().tenant_id, endpoint_id)
        return {"event_id": event_id, "delivery_id": delivery_id}, 202


@blp.route("/webhook-endpoints/<string:endpoint_id>/replay")
class ReplayRange(MethodView):
    @blp.doc(parameters=[_IDEMPOTENCY_HEADER])
    @auth.require("platform")
    @idempotency.write_endpoint
    @blp.arguments(schema.WebhookReplayRangeSchema)
    @blp.response(202, schema.WebhookReplayResultSchema)
    @blp.alt_response(409, description="The endpoint is disabled")
    def post(self, data: dict[str, Any], endpoint_id: str) -> Any:
        """Send again every subscribed event that occurred in [since, until) (same webhook-id)."""
        queued = service.replay_range(db(), auth.current().tenant_id, endpoint_id, **data)
        return {"queued": queued}, 202


@blp.route("/webhook-endpoints/<string:endpoint_id>/deliveries")
class EndpointDeliveries(MethodView):
    @auth.require(*_READERS)
    @blp.arguments(schema.WebhookDeliveryListQuerySchema, location="query")
    @blp.response(200, schema.WebhookDeliveryPageSchema)
    def get(self, query: dict[str, Any], endpoint_id: str) -> Any:
        """The endpoint's deliveries, newest first: state, attempts, next attempt, last status."""
        limit = _limit(query)
        rows, cursor = service.list_deliveries(
            db(), auth.current().tenant_id, endpoint_id, limit=limit, **query
        )
        return {"data": [service.present_delivery(d, t) for d, t in rows], "next_cursor": cursor}


@blp.route("/webhook-endpoints/<string:endpoint_id>/attempts")
class EndpointAttempts(MethodView):
    @auth.require(*_READERS)
    @blp.arguments(schema.WebhookAttemptListQuerySchema, location="query")
    @blp.response(200, schema.WebhookAttemptPageSchema)
    def get(self, query: dict[str, Any], endpoint_id: str) -> Any:
        """The endpoint's delivery log, newest first: status code, latency, truncated response, outcome."""
        limit = _limit(query)
        rows, cursor = service.list_attempts(
            db(), auth.current().tenant_id, endpoint_id, limit=limit, **query
        )
        return {"data": [service.present_attempt(a) for a in rows], "next_cursor": cursor}


@blp.route("/webhook-events")
class Events(MethodView):
    @auth.require(*_READERS)
    @blp.arguments(schema.WebhookEventListQuerySchema, location="query")
    @blp.response(200, schema.WebhookEventPageSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """Events recorded for your endpoints, newest occurred_at first."""
        limit = _limit(query)
        rows, cursor = service.list_events(db(), auth.current().tenant_id, limit=limit, **query)
        return {"data": [service.present_event(e) for e in rows], "next_cursor": cursor}


@blp.route("/webhook-events/<string:event_id>")
class EventById(MethodView):
    @auth.require(*_READERS)
    @blp.response(200, schema.WebhookEventSchema)
    def get(self, event_id: str) -> Any:
        """Read one event and its payload."""
        return service.present_event(service.get_event(db(), auth.current().tenant_id, event_id))


@blp.route("/webhook-events/<string:event_id>/deliveries")
class EventDeliveries(MethodView):
    @auth.require(*_READERS)
    @blp.arguments(schema.WebhookDeliveryListQuerySchema, location="query")
    @blp.response(200, schema.WebhookDeliveryPageSchema)
    def get(self, query: dict[str, Any], event_id: str) -> Any:
        """Where one event went: its deliveries to each endpoint."""
        tenant_id = auth.current().tenant_id
        service.get_event(db(), tenant_id, event_id)
        limit = _limit(query)
        query["event_id"] = event_id
        rows, cursor = service.list_deliveries(db(), tenant_id, limit=limit, **query)
        return {"data": [service.present_delivery(d, t) for d, t in rows], "next_cursor": cursor}


@blp.route("/webhook-events/<string:event_id>/replay")
class ReplayEvent(MethodView):
    @blp.doc(parameters=[_IDEMPOTENCY_HEADER])
    @auth.require("platform")
    @idempotency.write_endpoint
    @blp.arguments(schema.WebhookReplayEventSchema)
    @blp.response(202, schema.WebhookReplayResultSchema)
    @blp.alt_response(409, description="The endpoint is disabled")
    def post(self, data: dict[str, Any], event_id: str) -> Any:
        """Send one event again (same webhook-id) to one endpoint or to every subscribed enabled endpoint."""
        ids = service.replay_event(db(), auth.current().tenant_id, event_id, data.get("endpoint_id"))
        return {"queued": len(ids), "delivery_ids": ids}, 202


@blp.route("/webhook-event-types")
class EventTypes(MethodView):
    @auth.require("platform", "ops", "finance")
    @blp.response(200, schema.WebhookEventTypeListSchema)
    def get(self) -> Any:
        """Every event type with the JSON Schema of its data payload."""
        rows = []
        for name in webhooks.EVENT_TYPES:
            document = webhooks.payload_schema(name)
            rows.append({"type": name, "description": document.get("description", ""), "schema": document})
        return {"data": rows}
