"""Carrier callbacks: public path, each carrier authenticated in its own way (not by API key)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView

from gateway.api import Blueprint
from gateway.services import callbacks as service
from gateway.web import container, db
from schemas.api import tracking as schema

blp = Blueprint(
    "callbacks",
    __name__,
    url_prefix="/v1/callbacks",
    description="Tracking pushes from carriers and the own fleet's driver app",
)


@blp.route("/ups/token")
class UpsTrackAlertToken(MethodView):
    @blp.doc(
        security=[],
        description="HTTP Basic with the webhook client id and secret registered with UPS "
        "(OAuth 2 client credentials, client_secret_basic). Answers the token UPS sends as a bearer.",
        requestBody={
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type"],
                        "properties": {"grant_type": {"type": "string", "enum": ["client_credentials"]}},
                    }
                }
            },
        },
    )
    @blp.response(200, schema.TokenSchema)
    @blp.alt_response(401, description="Unknown client or wrong secret")
    def post(self) -> Any:
        """Track Alert v2 token URL: UPS gets the bearer token it sends with each push (client_secret_basic)."""
        token = service.issue_ups_token(
            container(), request.headers.get("Authorization", ""), request.form.get("grant_type")
        )
        return token, 200, {"Cache-Control": "no-store", "Pragma": "no-cache"}


@blp.route("/<string:carrier>")
class Callback(MethodView):
    @blp.doc(
        security=[],
        parameters=[
            {"in": "header", "name": "credential", "schema": {"type": "string"}, "description": "UPS v1"},
            {
                "in": "header",
                "name": "x-api-key",
                "schema": {"type": "string"},
                "description": "UPS v2: the client id of the bearer token (Authorization: Bearer ...)",
            },
            {"in": "header", "name": "X-Handoff-Timestamp", "schema": {"type": "string"}},
            {"in": "header", "name": "X-Handoff-Signature", "schema": {"type": "string"}},
        ],
    )
    @blp.response(202, schema.CallbackAcceptedSchema)
    @blp.alt_response(401, description="Bad credential or signature, stale timestamp, or a replay")
    def post(self, carrier: str) -> Any:
        """Receive one push: stored in the inbox before we answer, normalised by a worker."""
        row = service.receive(db(), container(), carrier, request.headers, request.get_data(cache=True))
        return {"id": row.id, "carrier": row.carrier, "received_at": row.received_at}, 202
