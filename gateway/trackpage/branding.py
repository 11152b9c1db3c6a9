"""A tenant's tracking-page branding: name, colour (with a text colour that passes WCAG AA) and logo."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.trackpage.tables import Branding

COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")
DEFAULT_COLOUR = "#1F4E79"
WHITE, BLACK = "#FFFFFF", "#000000"
AA_NORMAL_TEXT = 4.5  # WCAG 2.x success criterion 1.4.3, normal-size text


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """Return the WCAG relative luminance of a #RRGGBB colour."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    """Return the WCAG contrast ratio of two #RRGGBB colours (1 to 21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_colour(background: str) -> str:
    """Return white or black, whichever contrasts more with the background (always at least 4.5:1)."""
    return WHITE if contrast(background, WHITE) >= contrast(background, BLACK) else BLACK


@dataclass(frozen=True)
class Look:
    """What a page shows of the tenant: name, colours and logo."""

    name: str
    colour: str
    text_colour: str
    logo_url: str | None

    @property
    def logo_origin(self) -> str | None:
        """The logo's scheme and host, the only origin other than the gateway a page may load from."""
        if not self.logo_url:
            return None
        parts = urlsplit(self.logo_url)
        return f"{parts.scheme}://{parts.netloc}"


def validate_logo_url(value: str | None) -> str | None:
    """Return an https logo URL with a host and no credentials, or raise a 422."""
    if value is None or value == "":
        return None
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        raise Problem(
            "validation-error",
            "logo_url must be an https URL with a host and no credentials.",
            errors={"logo_url": ["must be an https URL"]},
        )
    if any(c in value for c in "\"'<> \\"):
        raise Problem(
            "validation-error", "logo_url holds a character a URL may not.", errors={"logo_url": ["invalid"]}
        )
    return value


def present(row: Branding) -> dict[str, Any]:
    """The branding as the API shows it, with the text colour chosen for it and its contrast."""
    text = text_colour(row.colour)
    return {
        "display_name": row.display_name,
        "colour": row.colour,
        "text_colour": text,
        "contrast_ratio": round(contrast(row.colour, text), 2),
        "logo_url": row.logo_url,
        "updated_at": row.updated_at,
    }


def get(session: Session, tenant_id: str) -> Branding | None:
    """Return the tenant's branding row, if it set one."""
    return session.get(Branding, tenant_id)


def put(session: Session, tenant_id: str, data: dict[str, Any]) -> Branding:
    """Set the tenant's branding (the whole of it) and return the row."""
    colour = str(data["colour"]).upper()
    if not COLOUR.match(colour):
        raise Problem("validation-error", "colour must be #RRGGBB.", errors={"colour": ["must be #RRGGBB"]})
    logo = validate_logo_url(data.get("logo_url"))
    row = session.get(Branding, tenant_id)
    if row is None:
        row = Branding(tenant_id=tenant_id)
        session.add(row)
    row.display_name = data["display_name"]
    row.colour = colour
    row.logo_url = logo
    session.flush()
    return row


def look(session: Session, tenant: models.Tenant) -> Look:
    """What the tenant's pages show: its branding, or its name on the default colour."""
    row = session.get(Branding, tenant.id)
    if row is None:
        return Look(tenant.name, DEFAULT_COLOUR, text_colour(DEFAULT_COLOUR), None)
    return Look(row.display_name.strip() or tenant.name, row.colour, text_colour(row.colour), row.logo_url)
