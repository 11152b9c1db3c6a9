"""API schemas for carrier pickups."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from gateway.kernel import schemas as common
from gateway.pickups.tables import STATES
from schemas import units

MAX_WEIGHT = Decimal("99999999")


class PickupWeightSchema(Schema):
    value = common.DecimalString(
        required=True,
        minimum=Decimal(0),
        exclusive_minimum=True,
        maximum=MAX_WEIGHT,
        metadata={"example": "12.5"},
    )
    unit = fields.String(required=True, validate=validate.OneOf(sorted(units.WEIGHT_UNITS)))


# A local wall-clock time, HH:MM (24 h).
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def _time(description: str, **kwargs: Any) -> fields.String:
    return fields.String(
        validate=common.FullMatch(TIME_PATTERN, error="a local time HH:MM (24 h)"),
        metadata={"example": "09:00", "description": description},
        **kwargs,
    )


class PickupCreateSchema(Schema):
    carrier = fields.String(
        required=True, validate=validate.Length(min=1, max=32), metadata={"example": "fedex"}
    )
    account = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "The enabled adapter's id (CARRIERS); needed when the carrier has several"},
    )
    address = fields.Nested(common.AddressSchema, required=True)
    date = fields.Date(required=True, metadata={"description": "The day of the pickup, local to the address"})
    ready_time = _time("Parcels ready from (local time)", required=True)
    close_time = _time("The location closes at (local time)", required=True)
    time_zone = fields.String(
        required=True, validate=common.TimeZoneName(), metadata={"example": "America/Chicago"}
    )
    parcel_count = fields.Integer(required=True, validate=validate.Range(min=1, max=999))
    total_weight = fields.Nested(PickupWeightSchema, load_default=None)
    instructions = fields.String(load_default=None, validate=validate.Length(max=500))
    tracking_numbers = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        load_default=list,
        validate=validate.Length(max=100),
    )

    @validates_schema
    def _window(self, data: dict[str, Any], **_: Any) -> None:
        ready, close = data.get("ready_time"), data.get("close_time")
        if ready is not None and close is not None and close <= ready:
            raise ValidationError("The location must close after the parcels are ready.", "close_time")


class PickupSchema(Schema):
    id = fields.String(required=True)
    carrier = fields.String(required=True)
    account = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(STATES))
    address = fields.Nested(common.AddressSchema, required=True)
    date = fields.Date(required=True)
    ready_time = _time("Parcels ready from (local time)", required=True)
    close_time = _time("The location closes at (local time)", required=True)
    time_zone = fields.String(required=True)
    ready_at = fields.AwareDateTime(required=True)
    close_at = fields.AwareDateTime(required=True)
    parcel_count = fields.Integer(required=True)
    total_weight = fields.Nested(PickupWeightSchema, allow_none=True, required=True)
    instructions = fields.String(allow_none=True, required=True)
    tracking_numbers = fields.List(fields.String(), required=True)
    confirmation = fields.String(
        allow_none=True, required=True, metadata={"description": "The carrier's confirmation number"}
    )
    carrier_code = fields.String(allow_none=True, required=True)
    carrier_message = fields.String(
        allow_none=True, required=True, metadata={"description": "The carrier's last error, if any"}
    )
    attempts = fields.Integer(required=True)
    cancelled_at = fields.AwareDateTime(allow_none=True, required=True)
    created_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)


class PickupListQuerySchema(common.PageQuerySchema):
    carrier = fields.String(validate=validate.Length(min=1, max=32))
    date = fields.Date(metadata={"description": "Pickups on this day"})
    state = fields.String(validate=validate.OneOf(STATES))


class PickupPageSchema(Schema):
    data = fields.List(fields.Nested(PickupSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)
