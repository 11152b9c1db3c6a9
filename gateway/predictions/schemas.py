"""API schemas of delivery-time predictions and model versions."""

from __future__ import annotations

from marshmallow import Schema, fields


class PredictionSchema(Schema):
    p50 = fields.Date(required=True, metadata={"description": "Half of such deliveries arrive by this date"})
    p80 = fields.Date(required=True)
    p95 = fields.Date(required=True)
    on_time_probability = fields.Float(
        allow_none=True,
        metadata={
            "description": "The share of such deliveries that arrived by the promise date; null without a "
            "promise date or without history (basis carrier_estimate)"
        },
    )
    basis = fields.String(
        required=True,
        metadata={
            "enum": ["history", "history_any_lane", "carrier_estimate"],
            "description": "history: this carrier, service and lane; history_any_lane: the service over "
            "every lane; carrier_estimate: too little history, the carrier's (or card's) estimate for all",
        },
    )
    samples = fields.Integer(required=True, metadata={"description": "Deliveries the percentiles come from"})
    model = fields.String(allow_none=True, metadata={"description": "The model version (GET /v1/eta-models)"})


class EtaModelSchema(Schema):
    id = fields.String(required=True)
    pooled = fields.Boolean(required=True, metadata={"description": "Trained on every tenant's deliveries"})
    kind = fields.String(required=True, metadata={"example": "empirical_quantile"})
    trained_at = fields.DateTime(required=True)
    window_from = fields.Date(required=True)
    window_to = fields.Date(required=True)
    deliveries = fields.Integer(required=True)
    holdout = fields.Integer(
        required=True, metadata={"description": "The latest deliveries held out to measure"}
    )
    # Exact decimals, as strings (as every decimal in the API); null when the holdout predicted nothing.
    holdout_mae_days = fields.String(
        allow_none=True,
        metadata={"example": "0.420", "description": "Mean absolute error of the p50 date, in business days"},
    )
    holdout_p80_coverage = fields.String(
        allow_none=True,
        metadata={
            "example": "0.8100",
            "description": "Share of holdout deliveries on or before the p80 date",
        },
    )
    segments = fields.Integer(required=True)


class EtaModelListSchema(Schema):
    data = fields.List(fields.Nested(EtaModelSchema), required=True)


class ShipmentPredictionSchema(Schema):
    made_at = fields.DateTime(required=True)
    trigger = fields.String(
        required=True,
        metadata={
            "enum": ["booking", "event", "time"],
            "description": "booking: when the label was bought; event: a new tracking event; time: days "
            "passed without one",
        },
    )
    milestone = fields.String(allow_none=True, metadata={"description": "The milestone it was made at"})
    p10 = fields.Date(required=True)
    p50 = fields.Date(required=True, metadata={"description": "The expected delivery"})
    p90 = fields.Date(required=True, metadata={"description": "Eight in ten arrive within p10..p90"})
    promise_date = fields.Date(allow_none=True)
    carrier_estimate = fields.Date(allow_none=True, metadata={"description": "The carrier's estimate then"})
    on_time_probability = fields.Float(allow_none=True)
    risk = fields.Float(allow_none=True, metadata={"description": "The chance of missing the promise date"})
    basis = fields.String(
        required=True,
        metadata={"enum": ["history", "history_any_lane", "overdue", "out_for_delivery", "carrier_estimate"]},
    )
    samples = fields.Integer(required=True, metadata={"description": "Past deliveries it still rests on"})
    model = fields.String(allow_none=True)
    factors = fields.List(fields.String(), required=True, metadata={"description": "What moved it"})


class ShipmentPredictionListSchema(Schema):
    data = fields.List(fields.Nested(ShipmentPredictionSchema), required=True)
