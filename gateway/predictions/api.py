"""Delivery-time model versions: what each was trained on and how accurate it measured."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask.views import MethodView

from gateway.kernel import auth
from gateway.kernel.http import Blueprint
from gateway.kernel.web import db
from gateway.predictions import schemas as schema
from gateway.predictions.tables import EtaModel

blp = Blueprint(
    "predictions",
    __name__,
    url_prefix="/v1/eta-models",
    description="Delivery-time model versions behind the predictions on rates",
)

LISTED = 50


@blp.route("")
class EtaModels(MethodView):
    @auth.require("ops", "platform")
    @blp.response(200, schema.EtaModelListSchema)
    def get(self) -> Any:
        """The latest model versions your rates may be predicted with: your own and the pooled ones, newest first."""
        tenant_id = auth.current().tenant_id
        rows = (
            db()
            .execute(
                sa.select(EtaModel)
                .where(sa.or_(EtaModel.tenant_id == tenant_id, EtaModel.tenant_id.is_(None)))
                .order_by(EtaModel.trained_at.desc(), EtaModel.id.desc())
                .limit(LISTED)
            )
            .scalars()
        )
        return {
            "data": [
                {
                    "id": r.id,
                    "pooled": r.tenant_id is None,
                    "kind": r.kind,
                    "trained_at": r.trained_at,
                    "window_from": r.window_from,
                    "window_to": r.window_to,
                    "deliveries": r.deliveries,
                    "holdout": r.holdout,
                    "holdout_mae_days": r.holdout_mae_days,
                    "holdout_p80_coverage": r.holdout_p80_coverage,
                    "segments": len(r.document.get("segments", [])),
                }
                for r in rows
            ]
        }
