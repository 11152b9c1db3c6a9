"""Signed label download links: the document without an API key, while the link's signature holds.

Outside ``/v1/`` on purpose: the gateway authenticates every ``/v1/`` request by API key, and this
route is authorised by the signature alone (``gateway.labels.signed_urls``). Labels carry the link
as ``url``; it is valid for ``LABEL_URL_TTL_SECONDS``.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask.views import MethodView

from gateway.kernel.errors import Problem
from gateway.kernel.http import Blueprint, attachment
from gateway.kernel.web import container, db
from gateway.labels import documents, render, signed_urls
from gateway.labels import schemas as schema
from gateway.labels.tables import Label

blp = Blueprint(
    "label_files",
    __name__,
    url_prefix="/label-files",
    description="Label documents by signed, expiring link (no API key)",
)

_BINARY = {"schema": {"type": "string", "format": "binary"}}


@blp.route("/<string:label_id>.<string:ext>")
class LabelFile(MethodView):
    @blp.arguments(schema.LabelFileQuerySchema, location="query")
    @blp.doc(
        security=[],
        responses={
            "200": {
                "description": "The label document",
                "content": {t: _BINARY for t in ("application/pdf", "image/png", "application/zpl")},
            },
        },
    )
    @blp.alt_response(403, description="The link's signature does not match (altered, or not ours)")
    @blp.alt_response(404, description="No such label for the signed tenant, or its document is gone")
    @blp.alt_response(406, description="The label cannot be converted to the signed format")
    @blp.alt_response(410, description="The link has expired: read the label again for a fresh one")
    def get(self, query: dict[str, Any], label_id: str, ext: str) -> Any:
        """Download a label by the signed link from its ``url`` (tenant, label, format, expiry signed)."""
        tenant_id = query.get("tenant")
        expires = query.get("expires")
        signed_urls.verify(
            current_app.config,
            tenant_id=tenant_id,
            label_id=label_id,
            fmt=ext,
            expires=expires,
            given=query.get("signature"),
        )
        tenant_id, expiry = str(tenant_id), int(str(expires))  # verify() refused anything else
        label = (
            db()
            .execute(sa.select(Label).where(Label.id == label_id, Label.tenant_id == tenant_id))
            .scalar_one_or_none()
        )
        if label is None:
            raise Problem("not-found", f"No label {label_id!r}.")
        data, fmt, label = documents.label_document(container(), db(), tenant_id, label.shipment_id, ext)
        response = current_app.response_class(
            data, mimetype=render.CONTENT_TYPES.get(fmt, "application/octet-stream")
        )
        response.headers["Content-Disposition"] = attachment(
            f"{label.tracking_number}.{render.EXTENSIONS.get(fmt, 'bin')}"
        )
        if fmt == (label.format or "").upper() and label.checksum:
            response.headers["ETag"] = f'"{label.checksum}"'
        response.headers["X-Label-Status"] = label.status
        # A capability URL: no shared cache, not beyond its expiry, and never leaked as a Referer.
        response.headers["Cache-Control"] = f"private, max-age={max(0, expiry - int(time.time()))}"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response
