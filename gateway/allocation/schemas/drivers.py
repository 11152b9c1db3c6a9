"""API schemas for the driver of a van's route in an applied plan."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from gateway.kernel import schemas as common

# Text a route sheet can print: no control characters, and something besides blanks.
_TEXT = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"


def _text(max_length: int, description: str) -> fields.String:
    return fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=max_length),
            common.FullMatch(_TEXT, error="printable text, not only blanks"),
        ],
        metadata={"description": description},
    )


class RouteDriverWriteSchema(Schema):
    driver_id = _text(64, "The id the driver app sends as driver_id (blanks around it are dropped)")
    driver_name = _text(200, "The name printed on the route sheet (blanks around it are dropped)")


class RouteDriverSchema(Schema):
    plan_id = fields.String(required=True)
    vehicle_id = fields.String(required=True)
    driver_id = fields.String(required=True)
    driver_name = fields.String(required=True)
    assigned_by = fields.String(
        allow_none=True,
        metadata={"description": "The API key id or console user id that assigned the driver"},
    )
    assigned_at = fields.DateTime(required=True)
