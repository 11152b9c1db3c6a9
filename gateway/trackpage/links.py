"""Tracking links: issued with the shipment, found by token, rendered as an absolute URL.

A link is issued in the flush that inserts its shipment (``install`` adds a session hook), so
every shipment booked through any path has one; shipments booked before the migration got theirs
from it. ``url`` never writes: it reads the link and renders it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from gateway.kernel import config, models, web
from gateway.kernel.types import utcnow
from gateway.trackpage.tables import TrackingLink

PATH = "/t/"
TOKEN_BYTES = 24  # 192 bits, 32 URL-safe characters
_MAX_TOKEN = 64


def new_token() -> str:
    """Return a fresh unguessable token."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def digest(token: str) -> str:
    """Return the SHA-256 (hex) a link is looked up by."""
    return hashlib.sha256(token.encode()).hexdigest()


def _request_base() -> str | None:
    return request.host_url.rstrip("/") if has_request_context() else None


def issue(session: Session, shipment: models.Shipment) -> TrackingLink:
    """Add a link for a shipment (in the caller's transaction) and return it."""
    token = new_token()
    link = TrackingLink(
        shipment=shipment,
        tenant_id=shipment.tenant_id,
        token=token,
        token_sha256=digest(token),
        base_url=_request_base(),
    )
    session.add(link)
    return link


def install(sessions: sessionmaker[Session], _container: Any) -> None:
    """Issue a link for every shipment in the flush that first inserts it."""

    @event.listens_for(sessions, "before_flush")
    def _issue_links(session: Session, _context: Any, _instances: Any) -> None:
        for obj in list(session.new):
            if isinstance(obj, models.Shipment):
                issue(session, obj)


def base_url(settings: Mapping[str, Any], link: TrackingLink | None = None) -> str | None:
    """The public base: PUBLIC_BASE_URL, else this request's host, else the host the link was issued under."""
    configured = str(config.read(settings, "PUBLIC_BASE_URL")).rstrip("/")
    return configured or _request_base() or (link.base_url if link else None)


def render(settings: Mapping[str, Any], link: TrackingLink) -> str | None:
    """Return the link's absolute URL, or None when no base URL is known."""
    base = base_url(settings, link)
    return f"{base}{PATH}{link.token}" if base else None


def url(session: Session, settings: Mapping[str, Any], tenant_id: str, shipment_id: str) -> str | None:
    """Return the tenant's shipment's public tracking URL (None if it has no live link)."""
    link = session.get(TrackingLink, shipment_id)
    if link is None or link.tenant_id != tenant_id or not _live(link):
        return None
    return render(settings, link)


def _live(link: TrackingLink) -> bool:
    if link.revoked_at is not None:
        return False
    return link.expires_at is None or link.expires_at > utcnow()


def find(session: Session, token: str) -> TrackingLink | None:
    """Return the live link a token opens, or None (unknown, malformed, expired or revoked)."""
    if not token or len(token) > _MAX_TOKEN or not token.isascii():
        return None
    link = session.execute(
        sa.select(TrackingLink).where(TrackingLink.token_sha256 == digest(token))
    ).scalar_one_or_none()
    if link is None or not hmac.compare_digest(link.token.encode(), token.encode()):
        return None
    return link if _live(link) else None


def rotate(session: Session, tenant_id: str, shipment_id: str) -> TrackingLink | None:
    """Revoke a shipment's link and issue a new one; return the new link (None: no such shipment)."""
    shipment = session.get(models.Shipment, shipment_id)
    if shipment is None or shipment.tenant_id != tenant_id:
        return None
    old = session.get(TrackingLink, shipment_id)
    if old is not None:
        session.delete(old)
        session.flush()
    return issue(session, shipment)


def for_representation(shipment: Mapping[str, Any]) -> str | None:
    """The ``tracking_url`` of a shipment as the API shows it (the request's session and settings).

    The shipment was read within the caller's tenant, so the link is looked up by its id alone.
    """
    link = web.db().get(TrackingLink, shipment["id"])
    return render(current_app.config, link) if link is not None and _live(link) else None
