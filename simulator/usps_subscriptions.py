"""USPS Subscriptions - Tracking v3r2 under ``/usps``: standing push subscriptions by MID or number.

Written from subscriptions-tracking-v3r2_1.yaml and the USPS notes (section 9): a subscription has a
listener URL (at most 200 characters), a 32-character secret, 1 to 3 admin e-mail contacts and a filter
of a MID or one tracking number. ``simulator.push`` posts to every ENABLED subscription whose filter
matches a label (by the MID the label was bought under, or its number), signed with that subscription's
secret. Unlike USPS, the simulator also takes an ``http://`` listener, so a gateway can run without TLS.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import flask

from simulator import usps

bp = flask.Blueprint("usps_subscriptions", __name__, url_prefix="/usps/subscriptions-tracking/v3r2")
# Simulator controls, beside the carrier's API: what USPS does on its own (suspending a subscription).
sim_bp = flask.Blueprint("usps_subscriptions_sim", __name__, url_prefix="/_sim/usps")

UspsError = usps.UspsError
EVENT_TYPES = frozenset({"ALL_UPDATES", "DELIVERY_ACTIVITY", "PACKAGE_DELAYED", "SCAN_EVENT_EXTRACT"})
STATUSES = frozenset({"ENABLED", "DISABLED", "SUSPENDED"})


@bp.errorhandler(UspsError)
@sim_bp.errorhandler(UspsError)
def _usps_error(exc: UspsError) -> flask.Response:
    return usps.error_response(exc.status, exc.code, exc.detail, exc.api)


@dataclass
class TrackingSubscription:
    """One USPS tracking subscription, as the simulator keeps it (the secret is never shown again)."""

    id: str
    listener_url: str
    secret: str
    admin_emails: list[str]
    mid: str | None
    tracking_number: str | None
    event_types: list[str]
    created_at: datetime
    status: str = "ENABLED"
    status_reason: str | None = None
    failures: int = field(default=0)
    etag: str = field(default_factory=lambda: f'"{secrets.token_hex(8)}"')

    def matches(self, mid: str, tracking_number: str) -> bool:
        return (self.mid is not None and self.mid == mid) or self.tracking_number == tracking_number

    def as_json(self) -> dict[str, Any]:
        filters: dict[str, Any] = {"trackingEventTypes": list(self.event_types)}
        if self.mid is not None:
            filters["MID"] = self.mid
        else:
            filters["trackingNumber"] = self.tracking_number
        body: dict[str, Any] = {
            "subscriptionId": self.id,
            "listenerURL": self.listener_url,
            "status": self.status,
            "adminNotification": [{"email": e} for e in self.admin_emails],
            "filterProperties": filters,
        }
        if self.status_reason:
            body["statusReason"] = self.status_reason
        return body


def _book() -> dict[str, Any]:
    book: dict[str, Any] = usps.sim().usps_subscriptions
    return book


def _invalid(detail: str) -> UspsError:
    return UspsError(400, "SIM400", f"Invalid subscription: {detail}")


def _parse(body: dict[str, Any], now: datetime) -> TrackingSubscription:
    listener = body.get("listenerURL")
    if (
        not isinstance(listener, str)
        or not listener.startswith(("https://", "http://"))
        or len(listener) > 200
    ):
        raise _invalid("listenerURL must be an https URL of at most 200 characters.")
    secret = body.get("secret")
    if not isinstance(secret, str) or len(secret) != 32:
        raise _invalid("secret must be exactly 32 characters.")
    contacts = body.get("adminNotification")
    if not isinstance(contacts, list) or not 1 <= len(contacts) <= 3:
        raise _invalid("adminNotification needs 1 to 3 e-mail contacts.")
    emails = [c.get("email") for c in contacts if isinstance(c, dict)]
    if len(emails) != len(contacts) or not all(isinstance(e, str) and "@" in e for e in emails):
        raise _invalid("every adminNotification contact needs an email.")
    status = body.get("status", "ENABLED")
    if status not in ("ENABLED", "DISABLED"):
        raise _invalid("status must be ENABLED or DISABLED.")
    filters = body.get("filterProperties")
    if not isinstance(filters, dict):
        raise _invalid("filterProperties is required.")
    mid, number = filters.get("MID"), filters.get("trackingNumber")
    if (mid is None) == (number is None):
        raise _invalid("filterProperties takes either a MID or a trackingNumber.")
    if mid is not None and not (isinstance(mid, str) and mid.isdigit() and len(mid) in (6, 9)):
        raise _invalid("MID must have 6 or 9 digits.")
    if number is not None and not (isinstance(number, str) and number.strip()):
        raise _invalid("trackingNumber must not be empty.")
    types = filters.get("trackingEventTypes", ["ALL_UPDATES"])
    if not isinstance(types, list) or not types or not set(types) <= EVENT_TYPES:
        raise _invalid(f"trackingEventTypes must be some of {sorted(EVENT_TYPES)}.")
    return TrackingSubscription(
        id=secrets.token_hex(8),
        listener_url=listener,
        secret=secret,
        admin_emails=[str(e) for e in emails],
        mid=mid,
        tracking_number=number.strip() if number is not None else None,
        event_types=list(types),
        created_at=now,
        status=str(status),
    )


@bp.post("/subscriptions")
def create() -> flask.Response:
    """Create a subscription (201, with the id; the secret is not echoed)."""
    usps._require_bearer()

    def normal() -> flask.Response:
        simulator = usps.sim()
        subscription = _parse(usps._object(), simulator.clock.now())
        _book()[subscription.id] = subscription
        response = flask.jsonify(subscription.as_json())
        response.status_code = 201
        response.headers["Location"] = f"{flask.request.base_url}/{subscription.id}"
        response.headers["ETag"] = subscription.etag
        return response

    return usps._guard("track_subscribe", normal)


@bp.get("/subscriptions")
def list_all() -> flask.Response:
    """Every subscription of the simulator (USPS lists the app's own)."""
    usps._require_bearer()
    return flask.jsonify([s.as_json() for s in _book().values()])


def _found(subscription_id: str) -> TrackingSubscription:
    subscription = _book().get(subscription_id)
    if subscription is None:
        raise UspsError(404, "SIM404", f"Subscription {subscription_id} was not found.")
    return subscription


@bp.get("/subscriptions/<subscription_id>")
def read(subscription_id: str) -> flask.Response:
    """One subscription, with the ETag a DELETE (or PUT) must quote in If-Match."""
    usps._require_bearer()

    def normal() -> flask.Response:
        subscription = _found(subscription_id)
        response = flask.jsonify(subscription.as_json())
        response.headers["ETag"] = subscription.etag
        return response

    return usps._guard("track_subscription", normal)


@bp.delete("/subscriptions/<subscription_id>")
def delete(subscription_id: str) -> flask.Response:
    """Delete a subscription; If-Match must carry its current ETag (412 otherwise)."""
    usps._require_bearer()

    def normal() -> flask.Response:
        subscription = _found(subscription_id)
        if flask.request.headers.get("If-Match", "").strip() != subscription.etag:
            raise UspsError(412, "SIM412", "If-Match must carry the subscription's current ETag.")
        _book().pop(subscription_id, None)
        return flask.Response(status=204)

    return usps._guard("track_unsubscribe", normal)


@sim_bp.post("/subscriptions/<subscription_id>/status")
def set_status(subscription_id: str) -> flask.Response:
    """Simulator only: suspend or disable a subscription as USPS would (body ``{status, statusReason}``)."""
    subscription = _found(subscription_id)
    body = usps._object()
    status = body.get("status")
    if status not in STATUSES:
        raise _invalid(f"status must be one of {sorted(STATUSES)}.")
    subscription.status = str(status)
    subscription.status_reason = str(body.get("statusReason") or "") or None
    subscription.etag = f'"{secrets.token_hex(8)}"'  # a changed resource has a new ETag
    return flask.jsonify(subscription.as_json())


def suspend_after_failure(subscription: TrackingSubscription, limit: int) -> None:
    """Count a push the listener did not take; at ``limit`` in a row, USPS suspends the subscription."""
    subscription.failures += 1
    if subscription.failures >= limit:
        subscription.status = "SUSPENDED"
        subscription.status_reason = "Unable to reach the listener URL"
        subscription.etag = f'"{secrets.token_hex(8)}"'
