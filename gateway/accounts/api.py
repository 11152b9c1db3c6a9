"""Carrier accounts: POST/GET /v1/carrier-accounts, GET/PATCH/DELETE /v1/carrier-accounts/{id},
POST /v1/carrier-accounts/{id}/test."""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask.views import MethodView

from adapters.base import MASK
from gateway.accounts import connections
from gateway.accounts import schemas as schema
from gateway.accounts.tables import CarrierAccount
from gateway.kernel import auth, idempotency
from gateway.kernel.http import IDEMPOTENCY_HEADER, Blueprint
from gateway.kernel.web import container, db

blp = Blueprint(
    "carrier_accounts",
    __name__,
    url_prefix="/v1/carrier-accounts",
    description="A tenant's own carrier accounts: credentials in, never out",
)

IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": 'W/"<version>" (the ETag): change only that version',
}


def present(row: CarrierAccount) -> dict[str, Any]:
    """An account as the API shows it: secrets masked (their names only)."""
    return {
        "id": row.id,
        "carrier": row.carrier,
        "label": row.label,
        "account_number": row.account_number,
        "config": {**row.options, **dict.fromkeys(row.secret_fields or [], MASK)},
        "secret_fields": list(row.secret_fields or []),
        "key_id": row.key_id,
        "is_default": row.is_default,
        "enabled": row.enabled,
        "version": row.version,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _etag(row: CarrierAccount) -> dict[str, str]:
    return {"ETag": f'W/"{row.version}"'}


@blp.route("")
class CarrierAccounts(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @auth.require("admin", "platform")
    @idempotency.write_endpoint
    @blp.arguments(schema.AccountCreateSchema)
    @blp.response(201, schema.AccountSchema)
    @blp.alt_response(
        422, description="Unknown carrier or a configuration its adapter refuses (validation-error)"
    )
    @blp.alt_response(
        503, description="No credentials encryption key is configured (credentials-key-missing)"
    )
    def post(self, data: dict[str, Any]) -> Any:
        """Connect a carrier account: the configuration is checked by the carrier's adapter, its secrets
        are stored encrypted and never returned. The first account of a carrier becomes its default."""
        row = connections.create_account(db(), container().settings, auth.current().tenant_id, data)
        location = url_for("carrier_accounts.CarrierAccountById", account_id=row.id)
        return present(row), 201, {"Location": location, **_etag(row)}

    @auth.require("admin", "platform")
    @blp.arguments(schema.AccountListQuerySchema, location="query")
    @blp.response(200, schema.AccountPageSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """List the tenant's carrier accounts, oldest first (secrets masked)."""
        rows = connections.list_accounts(db(), auth.current().tenant_id, query.get("carrier"))
        return {"data": [present(r) for r in rows]}


@blp.route("/<string:account_id>")
class CarrierAccountById(MethodView):
    @auth.require("admin", "platform")
    @blp.response(200, schema.AccountSchema)
    def get(self, account_id: str) -> Any:
        """Read one carrier account (secrets masked)."""
        row = connections.get_account(db(), auth.current().tenant_id, account_id)
        return present(row), 200, _etag(row)

    @blp.doc(parameters=[IF_MATCH])
    @auth.require("admin", "platform")
    @idempotency.write_endpoint
    @blp.arguments(schema.AccountUpdateSchema)
    @blp.response(200, schema.AccountSchema)
    @blp.alt_response(412, description="If-Match names another version (precondition-failed)")
    @blp.alt_response(422, description="A configuration the adapter refuses (validation-error)")
    @blp.alt_response(
        503, description="No credentials encryption key is configured (credentials-key-missing)"
    )
    def patch(self, data: dict[str, Any], account_id: str) -> Any:
        """Change the label, default flag, enabled flag or configuration; a secret given replaces the
        stored one. Takes effect at once for new ratings and labels."""
        row = connections.update_account(
            db(),
            container().settings,
            auth.current().tenant_id,
            account_id,
            data,
            if_match=request.headers.get("If-Match"),
        )
        return present(row), 200, _etag(row)

    @blp.doc(parameters=[IF_MATCH])
    @auth.require("admin", "platform")
    @idempotency.write_endpoint
    @blp.response(204)
    @blp.alt_response(412, description="If-Match names another version (precondition-failed)")
    def delete(self, account_id: str) -> Any:
        """Delete a carrier account and its stored secrets."""
        connections.delete_account(
            db(), auth.current().tenant_id, account_id, if_match=request.headers.get("If-Match")
        )
        return "", 204


@blp.route("/<string:account_id>/test")
class CarrierAccountTest(MethodView):
    @auth.require("admin", "platform")
    @blp.response(200, schema.ConnectionTestSchema)
    @blp.alt_response(
        503, description="No credentials encryption key is configured (credentials-key-missing)"
    )
    def post(self, account_id: str) -> Any:
        """Test the connection: authenticate with the carrier using the account's credentials (one cheap
        call, e.g. an OAuth token) and report what was found. A refusal is ``ok: false`` with the
        carrier's code and message."""
        return connections.test_account(container(), db(), auth.current().tenant_id, account_id)
