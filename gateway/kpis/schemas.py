"""API schemas for the ops KPIs (GET /v1/kpis)."""

from __future__ import annotations

from datetime import date

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from gateway.kernel import schemas as common

MAX_RANGE_DAYS = 92
# Days a period may name: a window's edges, shifted by a time zone, stay inside what datetime holds.
_DAYS = validate.Range(
    min=date(1970, 1, 1), max=date(9999, 12, 1), error="a day from 1970-01-01 to 9999-12-01"
)


class KpiQuerySchema(Schema):
    from_ = fields.Date(
        data_key="from",
        load_default=None,
        validate=_DAYS,
        metadata={"description": "First booking day (inclusive); default: six days before `to`"},
    )
    to = fields.Date(
        load_default=None,
        validate=_DAYS,
        metadata={"description": "Last booking day (inclusive); default: today"},
    )
    tz = fields.String(
        load_default="UTC",
        validate=common.TimeZoneName(),
        metadata={"description": "IANA time zone the days are counted in", "example": "America/New_York"},
    )
    carrier = fields.String(
        validate=validate.Length(min=1, max=50),
        metadata={"description": "Only this carrier (`fleet` for the own fleet)"},
    )

    @validates_schema
    def _range(self, data: dict, **_kw: object) -> None:
        start, end = data.get("from_"), data.get("to")
        if start and end and start > end:
            raise ValidationError("from must not be after to", field_name="from")
        if start and end and (end - start).days >= MAX_RANGE_DAYS:
            raise ValidationError(f"at most {MAX_RANGE_DAYS} days at a time", field_name="from")


class CountSchema(Schema):
    reason = fields.String(required=True, metadata={"example": "recipient_unavailable"})
    shipments = fields.Integer(required=True)


class EtaKpiSchema(Schema):
    deliveries = fields.Integer(
        required=True, metadata={"description": "Delivered shipments that had a booking prediction"}
    )
    from_history = fields.Integer(
        required=True,
        metadata={"description": "Of which the prediction came from history, not the carrier's estimate"},
    )
    mae_days = fields.String(
        allow_none=True,
        required=True,
        metadata={
            "description": "Mean absolute error of the booking p50, in business days",
            "example": "0.42",
        },
    )
    carrier_estimate_mae_days = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "The same for the carrier's own estimate at booking"},
    )
    window_coverage_percent = fields.String(
        allow_none=True, required=True, metadata={"description": "Delivered within the p10..p90 window"}
    )
    at_risk_alerts = fields.Integer(
        required=True,
        metadata={"description": "Delivered shipments with a promise that had an at_risk alert"},
    )
    at_risk_precision = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Alerted shipments that did miss the promise"},
    )
    at_risk_recall = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Late deliveries alerted on or before the promise date"},
    )


class KpiBlockSchema(Schema):
    shipments = fields.Integer(
        required=True, metadata={"description": "Booked in the period (returns are counted in `returns`)"}
    )
    returns = fields.Integer(
        metadata={
            "description": "Return shipments booked in the period (POST /v1/shipments/{id}/return): not in "
            "shipments, tracked, deliveries, on-time, first-attempt, exceptions nor in-flight"
        }
    )
    returns_delivered = fields.Integer(
        metadata={"description": "Returns delivered back to the return address"}
    )
    returns_cost = fields.Nested(
        common.MoneySchema,
        metadata={"description": "What the return labels cost (included in cost, not in cost_per_delivery)"},
    )
    labelled = fields.Integer(required=True, metadata={"description": "With a purchased (not voided) label"})
    voided = fields.Integer(required=True)
    tracked = fields.Integer(required=True, metadata={"description": "With at least one tracking event"})
    delivered = fields.Integer(required=True)
    delivered_on_time = fields.Integer(
        required=True, metadata={"description": "Delivered on or before the promise date (in `tz`)"}
    )
    delivered_with_promise = fields.Integer(required=True)
    on_time_percent = fields.String(allow_none=True, required=True, metadata={"example": "96.4"})
    first_attempt = fields.Integer(
        required=True, metadata={"description": "Delivered with no failed attempt"}
    )
    first_attempt_percent = fields.String(allow_none=True, required=True)
    failed_attempts = fields.Integer(
        required=True, metadata={"description": "Shipments with a failed attempt"}
    )
    with_exception = fields.Integer(
        required=True, metadata={"description": "Shipments with an exception or failed attempt"}
    )
    exception_rate_percent = fields.String(
        allow_none=True, required=True, metadata={"description": "with_exception / tracked"}
    )
    returned = fields.Integer(required=True, metadata={"description": "Returning or returned to sender"})
    in_flight = fields.Integer(required=True, metadata={"description": "Tracked, not delivered nor returned"})
    proof_under_review = fields.Integer(
        required=True,
        metadata={"description": "Delivered with a proof flagged suspicious that ops have not cleared"},
    )
    cost = fields.Nested(common.MoneySchema, required=True)
    cost_per_delivery = fields.Nested(common.MoneySchema, allow_none=True, required=True)
    exceptions_by_reason = fields.List(fields.Nested(CountSchema), required=True)
    recoverable = fields.Nested(
        common.MoneySchema,
        allow_none=True,
        required=True,
        metadata={"description": "Found in reconciled carrier invoices (null without reconciliation)"},
    )
    eta = fields.Nested(
        EtaKpiSchema, required=True, metadata={"description": "ETA accuracy (docs/PREDICTIONS.md)"}
    )


class CarrierKpiSchema(KpiBlockSchema):
    carrier = fields.String(required=True, metadata={"example": "ups"})


class DayKpiSchema(KpiBlockSchema):
    day = fields.Date(required=True)


class FleetKpiSchema(Schema):
    plans = fields.Integer(required=True, metadata={"description": "Applied allocation plans in the period"})
    vans_available = fields.Integer(required=True)
    vans_used = fields.Integer(required=True)
    stops = fields.Integer(required=True)
    distance_km = common.DecimalString(required=True)
    utilisation_kg_percent = fields.String(allow_none=True, required=True)
    utilisation_shift_percent = fields.String(allow_none=True, required=True)
    planned_cost = fields.Nested(
        common.MoneySchema, required=True, metadata={"description": "Fleet + partners"}
    )
    baseline_cost = fields.Nested(
        common.MoneySchema,
        required=True,
        metadata={
            "description": "Every package to its cheapest partner; vans only for what no partner may take"
        },
    )
    savings = fields.Nested(common.MoneySchema, required=True, metadata={"description": "May be negative"})
    savings_percent = fields.String(allow_none=True, required=True)


class ReconciliationKpiSchema(Schema):
    invoices = fields.Integer(required=True)
    billed = fields.Nested(common.MoneySchema, required=True)
    expected = fields.Nested(common.MoneySchema, required=True)
    recoverable = fields.Nested(common.MoneySchema, required=True)
    flagged_lines = fields.Integer(required=True)
    by_class = fields.Dict(keys=fields.String(), values=fields.Nested(common.MoneySchema), required=True)


class KpiSchema(Schema):
    tenant_id = fields.String(required=True)
    from_ = fields.Date(data_key="from", required=True)
    to = fields.Date(required=True)
    tz = fields.String(required=True)
    currency = fields.String(required=True, metadata={"example": "USD"})
    totals = fields.Nested(KpiBlockSchema, required=True)
    by_carrier = fields.List(fields.Nested(CarrierKpiSchema), required=True)
    by_day = fields.List(fields.Nested(DayKpiSchema), required=True)
    fleet = fields.Nested(
        FleetKpiSchema,
        allow_none=True,
        required=True,
        metadata={"description": "From applied allocation plans"},
    )
    reconciliation = fields.Nested(
        ReconciliationKpiSchema,
        allow_none=True,
        required=True,
        metadata={"description": "Reconciled invoices uploaded in the period; null where not available"},
    )
    notes = fields.List(fields.String(), required=True)
