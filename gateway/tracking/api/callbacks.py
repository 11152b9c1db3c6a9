"""Carrier callbacks: public path, each carrier authenticated in its own way (not by API key)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from requests.structures import CaseInsensitiveDict

from gateway.kernel.http import Blueprint
from gateway.kernel.web import container, db
from gateway.tracking import callbacks as service
from gateway.tracking import schemas as schema

blp = Blueprint(
    "callbacks",
    __name__,
    url_prefix="/v1/callbacks",
    description="Tracking pushes from carriers and the own fleet's driver app",
)


@blp.route("/<string:carrier>/token")
class PushToken(MethodView):
    @blp.doc(
        security=[],
        description="HTTP Basic with the webhook client id and secret registered with the carrier "
        "(OAuth 2 client credentials, client_secret_basic). Answers the token the carrier sends as a "
        "bearer with each push (UPS Track Alert v2: /v1/callbacks/ups/token). 404 for a carrier that "
        "fetches no push tokens.",
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
    @blp.alt_response(404, description="not-found: this carrier fetches no push tokens from us")
    @blp.alt_response(429, description="callback-throttled: too many failed attempts (Retry-After)")
    def post(self, carrier: str) -> Any:
        """Push token URL: a carrier (UPS Track Alert v2) gets the bearer token it sends with each push."""
        token = service.issue_token(
            container(),
            carrier,
            request.headers.get("Authorization", ""),
            request.form.get("grant_type"),
            request.remote_addr,
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
    @blp.alt_response(429, description="callback-throttled: too many failed attempts (Retry-After)")
    def post(self, carrier: str) -> Any:
        """Receive one push: stored in the inbox before we answer, normalised by a worker."""
        # A case-insensitive mapping, as the adapters' header lookups expect (the first value of a
        # repeated header wins, as werkzeug's Headers.get does).
        headers = CaseInsensitiveDict({k: v for k, v in reversed(list(request.headers.items()))})
        row = service.receive(
            db(), container(), carrier, headers, request.get_data(cache=True), request.remote_addr
        )
        return {"id": row.id, "carrier": row.carrier, "received_at": row.received_at}, 202
