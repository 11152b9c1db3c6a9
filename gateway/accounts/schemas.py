"""API schemas for carrier accounts."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from gateway.kernel import schemas as common

_CARRIER = fields.String(
    required=True,
    validate=validate.Length(min=1, max=32),
    metadata={"example": "ups", "description": "The carrier adapter's name (ups, fedex, usps, dhl_express)"},
)


class AccountCreateSchema(Schema):
    carrier = _CARRIER
    label = fields.String(
        load_default="", validate=validate.Length(max=100), metadata={"example": "Main UPS"}
    )
    account_number = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "The carrier account number; read from config when omitted"},
    )
    config = fields.Dict(
        keys=fields.String(),
        required=True,
        metadata={
            "description": "The adapter's configuration (its JSON schema, docs/ADAPTERS.md), secrets included; "
            "secrets are stored encrypted and never returned",
            "example": {"client_id": "abc", "client_secret": "s3cret", "account_number": "A1B2C3"},
        },
    )
    is_default = common.Boolean(load_default=False)
    enabled = common.Boolean(load_default=True)


class AccountUpdateSchema(Schema):
    label = fields.String(validate=validate.Length(max=100))
    account_number = fields.String(validate=validate.Length(min=1, max=64))
    config = fields.Dict(
        keys=fields.String(),
        metadata={
            "description": "Fields to change in the configuration (null removes one); a secret given "
            "replaces the stored one"
        },
    )
    is_default = common.Boolean()
    enabled = common.Boolean()


class AccountListQuerySchema(Schema):
    carrier = fields.String(validate=validate.Length(min=1, max=32))


class AccountSchema(Schema):
    id = fields.String(metadata={"example": "cac_01J..."})
    carrier = fields.String()
    label = fields.String()
    account_number = fields.String(allow_none=True)
    config = fields.Dict(
        metadata={"description": "The configuration with every secret field shown as ********"}
    )
    secret_fields = fields.List(fields.String())
    key_id = fields.String(metadata={"description": "Public id of the key that wraps the secrets"})
    is_default = fields.Boolean()
    enabled = fields.Boolean()
    version = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class AccountPageSchema(Schema):
    data = fields.List(fields.Nested(AccountSchema))


class ConnectionTestSchema(Schema):
    id = fields.String()
    carrier = fields.String()
    account_number = fields.String(allow_none=True)
    ok = fields.Boolean()
    outcome = fields.String(metadata={"description": "authenticated, rejected, unavailable or unsupported"})
    code = fields.String(
        allow_none=True, metadata={"description": "The carrier's own code, when it gave one"}
    )
    message = fields.String(
        metadata={"description": "What was found, in the carrier's words; never a secret"}
    )
