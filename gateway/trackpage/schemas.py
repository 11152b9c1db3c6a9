"""API schemas of the tracking-page branding."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

COLOUR_PATTERN = r"^#[0-9A-Fa-f]{6}$"
# What branding.validate_logo_url accepts: https, a host (no credentials), an optional port and path.
LOGO_PATTERN = r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s\"'<>\\]*)?$"


class BrandingPutSchema(Schema):
    display_name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "The name recipients see at the top of the page", "example": "Acme Shoes"},
    )
    colour = fields.String(
        required=True,
        validate=validate.Regexp(COLOUR_PATTERN),
        metadata={"description": "Brand colour as #RRGGBB; the text on it is chosen for WCAG AA contrast"},
    )
    logo_url = fields.String(
        load_default=None,
        allow_none=True,
        validate=[validate.Length(max=500), validate.Regexp(LOGO_PATTERN)],
        metadata={
            "description": "An https image URL; pages allow that one origin in their img-src "
            "(docs/TRACKING_PAGE.md). Null: the name alone."
        },
    )


class BrandingSchema(Schema):
    display_name = fields.String(required=True)
    colour = fields.String(required=True, metadata={"example": "#0A7D4F"})
    text_colour = fields.String(
        required=True, metadata={"description": "#FFFFFF or #000000, whichever contrasts more with colour"}
    )
    contrast_ratio = fields.Float(required=True, metadata={"description": "WCAG contrast, at least 4.5"})
    logo_url = fields.String(allow_none=True, required=True)
    updated_at = fields.DateTime(allow_none=True, required=True)


class TrackingLinkSchema(Schema):
    tracking_url = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "The new public tracking page URL; the old one stops working"},
    )
