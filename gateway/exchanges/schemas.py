"""API schemas for raw carrier exchanges (ops)."""

from __future__ import annotations

from marshmallow import Schema, fields


class CarrierExchangeSchema(Schema):
    id = fields.Integer()
    carrier = fields.String()
    account = fields.String(allow_none=True)
    operation = fields.String(allow_none=True)
    attempt = fields.Integer(allow_none=True)
    method = fields.String(allow_none=True)
    url = fields.String(allow_none=True)
    http_status = fields.Integer(allow_none=True)
    duration_ms = fields.Integer(allow_none=True, metadata={"description": "Latency of this attempt"})
    error = fields.String(allow_none=True)
    request = fields.Dict(allow_none=True, metadata={"description": "Redacted: credentials never stored"})
    response = fields.Dict(allow_none=True, metadata={"description": "Redacted; label images elided"})
    occurred_at = fields.DateTime()


class CarrierExchangeListSchema(Schema):
    data = fields.List(fields.Nested(CarrierExchangeSchema))
