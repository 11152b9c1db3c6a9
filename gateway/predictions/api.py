"""Delivery-time predictions over HTTP: a shipment's predictions, and the model versions behind them."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask.views import MethodView

from gateway.kernel import auth
from gateway.kernel.http import Blueprint
from gateway.kernel.web import db
from gateway.predictions import schemas as schema
from gateway.predictions.tables import EtaModel, ShipmentPrediction
from gateway.shipments import booking as shipment_service

blp = Blueprint(
    "predictions",
    __name__,
    url_prefix="/v1",
    description="Delivery-time predictions: each shipment's, made again at each event, and the model "
    "versions behind them and behind the predictions on rates (docs/PREDICTIONS.md)",
)

LISTED = 50
LISTED_PREDICTIONS = 500  # a shipment is predicted at most once per event and every six hours


@blp.route("/eta-models")
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


@blp.route("/shipments/<string:shipment_id>/predictions")
class ShipmentPredictions(MethodView):
    @auth.require("ops", "platform")
    @blp.response(200, schema.ShipmentPredictionListSchema)
    def get(self, shipment_id: str) -> Any:
        """Every prediction of the shipment's delivery, oldest first; the last is the current one."""
        session = db()
        shipment = shipment_service.get_shipment(session, auth.current().tenant_id, shipment_id)
        rows = session.execute(
            sa.select(ShipmentPrediction)
            .where(ShipmentPrediction.shipment_id == shipment.id)
            .order_by(ShipmentPrediction.made_at, ShipmentPrediction.id)
            .limit(LISTED_PREDICTIONS)
        ).scalars()
        return {
            "data": [
                {
                    "made_at": r.made_at,
                    "trigger": r.trigger,
                    "milestone": r.milestone,
                    "p10": r.p10,
                    "p50": r.p50,
                    "p90": r.p90,
                    "promise_date": r.promise_date,
                    "carrier_estimate": r.carrier_estimate,
                    "on_time_probability": r.on_time_probability,
                    "risk": None if r.on_time_probability is None else 1 - r.on_time_probability,
                    "basis": r.basis,
                    "samples": r.samples,
                    "model": r.model_id,
                    "factors": r.factors,
                }
                for r in rows
            ]
        }
