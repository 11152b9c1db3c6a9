"""Rate cards (ops): upload versions, list and read them, activate one, dry-run a candidate."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView

from gateway.kernel import auth, idempotency
from gateway.kernel.http import IDEMPOTENCY_HEADER, Blueprint
from gateway.kernel.web import db
from gateway.rates import cards as service
from gateway.rates import schemas_cards as schema

blp = Blueprint(
    "rate_cards",
    __name__,
    url_prefix="/v1/rate-cards",
    description="Contracted rate cards and their versions",
)

_IDEMPOTENCY_HEADER = IDEMPOTENCY_HEADER


@blp.route("")
class RateCards(MethodView):
    @blp.doc(parameters=[_IDEMPOTENCY_HEADER])
    @auth.require("ops")
    @idempotency.write_endpoint
    @blp.arguments(
        schema.RateCardDocumentSchema,
        description="A rate card document as described by schemas/json/rate_card.schema.json "
        "(money as decimal strings).",
    )
    @blp.response(201, schema.RateCardVersionDetailSchema)
    @blp.alt_response(409, description="This version of the card was already uploaded")
    @blp.alt_response(422, description="The card is invalid; errors are keyed by dotted JSON path")
    def post(self, doc: dict[str, Any]) -> Any:
        """Upload a rate card version as a draft (validated; not priced until activated)."""
        principal = auth.current()
        row = service.upload(db(), principal.tenant_id, doc, principal.key_id)
        location = url_for("rate_cards.RateCardVersion", card_id=row.card_id, version=row.version)
        return service.present_version_detail(db(), row), 201, {"Location": location}

    @auth.require("ops", "finance")
    @blp.response(200, schema.RateCardListSchema)
    def get(self) -> Any:
        """List the tenant's rate cards with their versions."""
        return {"data": service.list_cards(db(), auth.current().tenant_id)}


@blp.route("/<string:card_id>")
class RateCard(MethodView):
    @auth.require("ops", "finance")
    @blp.response(200, schema.RateCardSchema)
    def get(self, card_id: str) -> Any:
        """Read one rate card with its versions."""
        return service.get_card(db(), auth.current().tenant_id, card_id)


@blp.route("/<string:card_id>/versions/<int:version>")
class RateCardVersion(MethodView):
    @auth.require("ops", "finance")
    @blp.response(200, schema.RateCardVersionDetailSchema)
    def get(self, card_id: str, version: int) -> Any:
        """Read one version with its document and its audit history."""
        row = service.get_version(db(), auth.current().tenant_id, card_id, version)
        return service.present_version_detail(db(), row)


@blp.route("/<string:card_id>/versions/<int:version>/activate")
class RateCardActivation(MethodView):
    @blp.doc(parameters=[_IDEMPOTENCY_HEADER])
    @auth.require("ops")
    @idempotency.write_endpoint
    @blp.arguments(schema.ActivationRequestSchema)
    @blp.response(200, schema.ActivationSchema)
    def post(self, data: dict[str, Any], card_id: str, version: int) -> Any:
        """Put a version in force from its effective date; the version it replaces is retired."""
        principal = auth.current()
        activation = service.activate(
            db(),
            principal.tenant_id,
            card_id,
            version,
            principal.key_id,
            effective_from=data.get("effective_from"),
            effective_to=data.get("effective_to"),
            effective_to_given="effective_to" in data,
        )
        return service.present_activation(db(), activation)


@blp.route("/<string:card_id>/versions/<int:version>/dry-run")
class RateCardDryRun(MethodView):
    @auth.require("ops")
    @blp.arguments(schema.DryRunRequestSchema)
    @blp.response(200, schema.DryRunSchema)
    def post(self, data: dict[str, Any], card_id: str, version: int) -> Any:
        """Price the last N shipments under this version and the one in force; nothing is stored."""
        return service.dry_run(db(), auth.current().tenant_id, card_id, version, data["last"])
