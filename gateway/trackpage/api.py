"""The public tracking page (``GET /t/<token>``, no API key) and its branding API (``/v1/branding``).

The page and its stylesheet are HTML and CSS, not API operations: they are registered on the
blueprint as plain Flask routes, so the OpenAPI document lists only the ``/v1/`` operations.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import flask
from flask import current_app, render_template, send_from_directory
from flask.views import MethodView

from gateway.kernel import auth, idempotency, models
from gateway.kernel.errors import Problem
from gateway.kernel.http import IDEMPOTENCY_HEADER, Blueprint
from gateway.kernel.web import db
from gateway.trackpage import branding, links, page
from gateway.trackpage import schemas as schema

blp = Blueprint(
    "trackpage",
    __name__,
    description="Public tracking pages: the tenant's branding, and a shipment's page link",
)

STYLESHEET = "trackpage.css"
STYLESHEET_URL = f"{links.PATH}assets/{STYLESHEET}"
PAGE_MAX_AGE = 60  # seconds: short, so a page reloaded in a hurry is served from the browser's cache


def csp(brand_css: str, logo_origin: str | None) -> str:
    """The page's Content-Security-Policy: no script at all, styles from the gateway and the one
    inline brand rule (by hash), images from the gateway and the tenant's logo origin only."""
    digest = base64.b64encode(hashlib.sha256(brand_css.encode()).digest()).decode()
    images = "'self'" + (f" {logo_origin}" if logo_origin else "")
    return (
        f"default-src 'none'; style-src 'self' 'sha256-{digest}'; img-src {images}; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _headers(response: flask.Response, policy: str, max_age: int) -> flask.Response:
    response.headers["Content-Security-Policy"] = policy
    response.headers["Cache-Control"] = f"private, max-age={max_age}"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _brand_css(look: branding.Look) -> str:
    return f":root{{--brand:{look.colour};--on-brand:{look.text_colour}}}"


def tracking_page(token: str) -> flask.Response:
    """The shipment's public page, or a plain 404 page for an unknown, expired or revoked link."""
    session = db()
    link = links.find(session, token)
    if link is None:
        look = branding.Look("Parcel tracking", branding.DEFAULT_COLOUR, branding.WHITE, None)
        css = _brand_css(look)
        html = render_template("trackpage.html", page=None, look=look, brand_css=css, css_url=STYLESHEET_URL)
        return _headers(flask.Response(html, 404, mimetype="text/html"), csp(css, None), PAGE_MAX_AGE)
    built = page.build(session, link)
    css = _brand_css(built.look)
    html = render_template(
        "trackpage.html", page=built, look=built.look, brand_css=css, css_url=STYLESHEET_URL
    )
    response = flask.Response(html, 200, mimetype="text/html")
    return _headers(response, csp(css, built.look.logo_origin), PAGE_MAX_AGE)


def stylesheet() -> flask.Response:
    """The page's stylesheet, served by the gateway (no asset comes from elsewhere)."""
    response = send_from_directory(Path(__file__).parent, STYLESHEET, max_age=3600, mimetype="text/css")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# Plain Flask routes (flask.Blueprint.add_url_rule): HTML, not API operations, so not in OpenAPI.
flask.Blueprint.add_url_rule(blp, STYLESHEET_URL, "stylesheet", stylesheet, methods=["GET"])
flask.Blueprint.add_url_rule(blp, f"{links.PATH}<string:token>", "page", tracking_page, methods=["GET"])


def _present_default(tenant: models.Tenant) -> dict[str, Any]:
    look = branding.look(db(), tenant)
    return {
        "display_name": look.name,
        "colour": look.colour,
        "text_colour": look.text_colour,
        "contrast_ratio": round(branding.contrast(look.colour, look.text_colour), 2),
        "logo_url": look.logo_url,
        "updated_at": None,
    }


@blp.route("/v1/branding")
class Branding(MethodView):
    @auth.require("platform", "ops")
    @blp.response(200, schema.BrandingSchema)
    def get(self) -> Any:
        """Your tracking pages' branding (the defaults until you set it)."""
        session = db()
        tenant_id = auth.current().tenant_id
        row = branding.get(session, tenant_id)
        if row is not None:
            return branding.present(row)
        tenant = session.get(models.Tenant, tenant_id)
        assert tenant is not None  # the caller's key belongs to it
        return _present_default(tenant)

    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @auth.require("platform")
    @idempotency.write_endpoint
    @blp.arguments(schema.BrandingPutSchema)
    @blp.response(200, schema.BrandingSchema)
    def put(self, data: dict[str, Any]) -> Any:
        """Set the name, colour and logo your recipients see on tracking pages."""
        return branding.present(branding.put(db(), auth.current().tenant_id, data))


@blp.route("/v1/shipments/<string:shipment_id>/tracking-link")
class TrackingLink(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @auth.require("platform")
    @idempotency.write_endpoint
    @blp.response(200, schema.TrackingLinkSchema)
    def post(self, shipment_id: str) -> Any:
        """Revoke the shipment's tracking page link and issue a new one (the old link then shows a 404)."""
        session = db()
        link = links.rotate(session, auth.current().tenant_id, shipment_id)
        if link is None:
            raise Problem("not-found", f"No shipment {shipment_id!r}.")
        session.flush()
        return {"tracking_url": links.render(current_app.config, link)}
