"""API schemas for the own fleet: depots and vans."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import Schema, fields, validate

from gateway.allocation.schemas.rules import AllocationListQuerySchema
from gateway.kernel import schemas as common
from schemas import money

_CLOCK = {"pattern": r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$", "example": "08:00"}  # fleet.minutes
_HHMM = common.FullMatch(_CLOCK["pattern"], error="not HH:MM")
# Above zero and below what the columns hold (allocation_vehicles: numeric(12,3) kg, numeric(12,4) m3).
_CAPACITY_KG: dict[str, Any] = {
    "minimum": Decimal(0),
    "exclusive_minimum": True,
    "maximum": Decimal(10**9),
    "exclusive_maximum": True,
}
_CAPACITY_M3: dict[str, Any] = {**_CAPACITY_KG, "maximum": Decimal(10**8)}


class DepotWriteSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    latitude = common.DecimalString(required=True, validate=validate.Range(min=-90, max=90))
    longitude = common.DecimalString(required=True, validate=validate.Range(min=-180, max=180))
    opens = fields.String(load_default="00:00", validate=_HHMM, metadata=_CLOCK)
    closes = fields.String(load_default="24:00", validate=_HHMM, metadata={**_CLOCK, "example": "20:00"})
    timezone = fields.String(
        load_default="UTC", validate=common.TimeZoneName(), metadata={"example": "Europe/Berlin"}
    )
    currency = fields.String(
        required=True,
        validate=validate.OneOf(sorted(money.CURRENCIES)),
        metadata={"description": "Fleet costs and plans are in this currency"},
    )
    road_factor = common.DecimalString(
        load_default=None,
        validate=validate.Range(min=1, max=3),
        metadata={"description": "Road km per straight-line km (default 1.3)"},
    )


class DepotUpdateSchema(DepotWriteSchema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    latitude = common.DecimalString(validate=validate.Range(min=-90, max=90))
    longitude = common.DecimalString(validate=validate.Range(min=-180, max=180))
    opens = fields.String(validate=_HHMM, metadata=_CLOCK)
    closes = fields.String(validate=_HHMM, metadata=_CLOCK)
    timezone = fields.String(validate=common.TimeZoneName())
    currency = fields.String(validate=validate.OneOf(sorted(money.CURRENCIES)))
    road_factor = common.DecimalString(validate=validate.Range(min=1, max=3))
    active = common.Boolean(metadata={"description": "true reactivates a deactivated depot"})


class DepotSchema(Schema):
    id = fields.String(required=True, metadata={"example": "dep_01JD3ZQ4Y8K6V2N0M5T7R9W1XB"})
    name = fields.String(required=True)
    latitude = common.DecimalString(required=True)
    longitude = common.DecimalString(required=True)
    opens = fields.String(required=True)
    closes = fields.String(required=True)
    timezone = fields.String(required=True)
    currency = fields.String(required=True)
    road_factor = common.DecimalString(required=True)
    active = fields.Boolean(required=True)
    version = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class DepotListSchema(Schema):
    data = fields.List(fields.Nested(DepotSchema), required=True)


class _VehicleFields(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    capacity_kg = common.DecimalString(required=True, **_CAPACITY_KG)
    capacity_m3 = common.DecimalString(required=True, **_CAPACITY_M3)
    shift_start = fields.String(validate=_HHMM, metadata=_CLOCK)
    shift_end = fields.String(validate=_HHMM, metadata={**_CLOCK, "example": "18:00"})
    max_stops = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=10_000))
    speed_kmh = common.DecimalString(
        minimum=Decimal(0),
        exclusive_minimum=True,
        validate=validate.Range(max=200),
        metadata={"example": "30"},
    )
    cost_per_km = common.DecimalString(
        required=True, minimum=Decimal(0), metadata={"description": "In the depot's currency"}
    )
    cost_per_hour = common.DecimalString(required=True, minimum=Decimal(0))
    cost_per_day = common.DecimalString(
        required=True, minimum=Decimal(0), metadata={"description": "Fixed, per day the van is used"}
    )


class VehicleWriteSchema(_VehicleFields):
    depot_id = fields.String(required=True, validate=validate.Length(min=1, max=32))


class VehicleUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    capacity_kg = common.DecimalString(**_CAPACITY_KG)
    capacity_m3 = common.DecimalString(**_CAPACITY_M3)
    shift_start = fields.String(validate=_HHMM, metadata=_CLOCK)
    shift_end = fields.String(validate=_HHMM, metadata=_CLOCK)
    max_stops = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=10_000))
    speed_kmh = common.DecimalString(
        minimum=Decimal(0), exclusive_minimum=True, validate=validate.Range(max=200)
    )
    cost_per_km = common.DecimalString(minimum=Decimal(0))
    cost_per_hour = common.DecimalString(minimum=Decimal(0))
    cost_per_day = common.DecimalString(minimum=Decimal(0))
    active = common.Boolean(metadata={"description": "true reactivates a deactivated van"})


class VehicleSchema(Schema):
    id = fields.String(required=True, metadata={"example": "veh_01JD3ZQ4Y8K6V2N0M5T7R9W1XB"})
    depot_id = fields.String(required=True)
    name = fields.String(required=True)
    capacity_kg = common.DecimalString(required=True)
    capacity_m3 = common.DecimalString(required=True)
    shift_start = fields.String(required=True)
    shift_end = fields.String(required=True)
    max_stops = fields.Integer(allow_none=True)
    speed_kmh = common.DecimalString(required=True)
    cost_per_km = fields.Nested(common.MoneySchema, required=True)
    cost_per_hour = fields.Nested(common.MoneySchema, required=True)
    cost_per_day = fields.Nested(common.MoneySchema, required=True)
    active = fields.Boolean(required=True)
    version = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class VehicleListSchema(Schema):
    data = fields.List(fields.Nested(VehicleSchema), required=True)


class VehicleListQuerySchema(AllocationListQuerySchema):
    depot_id = fields.String(validate=validate.Length(max=32))
