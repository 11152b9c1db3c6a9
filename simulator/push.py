"""Tracking pushes: UPS Track Alert, FedEx AIV and USPS Subscriptions - Tracking webhooks, the optional
HMAC-signed DHL callback, fleet driver events."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import requests

from simulator import driver, fedex, progressions, usps, usps_subscriptions
from simulator import ledger as sim_ledger
from simulator import state as sim_state

UPS_USER_AGENT = "UPSPubSubTrackingService"
SIGNATURE_HEADER = "X-Sim-Signature"
TIMESTAMP_HEADER = "X-Sim-Timestamp"
FEDEX_SIGNATURE_HEADER = "fdx-signature"

Post = Callable[..., requests.Response]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the callback signature: "sha256=" + hex HMAC-SHA256 of "<timestamp>.<body>"."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def ups_payload(
    tracking_number: str, when: datetime, step: progressions.Step, scheduled: datetime
) -> dict[str, Any]:
    """Return a Track Alert TrackingEventRequest for one activity (empty fields left out)."""
    location: dict[str, str] = {"country": step.place.country} if step.place.country else {}
    if step.place.city:
        location["city"] = step.place.city
    if len(step.place.state) == 2:
        location["stateProvince"] = step.place.state
    if step.delivered and step.place.postal_code:
        location["postalCode"] = step.place.postal_code
    status = {"type": step.type, "code": step.code, "description": step.description}
    if step.status_code:
        status["descriptionCode"] = step.status_code
    payload: dict[str, Any] = {
        "trackingNumber": tracking_number,
        "localActivityDate": when.strftime("%Y%m%d"),
        "localActivityTime": when.strftime("%H%M%S"),
        "activityLocation": location,
        "activityStatus": status,
        "gmtActivityDate": when.strftime("%Y%m%d"),
        "gmtActivityTime": when.strftime("%H%M%S"),
        "gmtOffset": "+00.00",
    }
    if step.type not in ("M", "MV"):
        payload["scheduledDeliveryDate"] = scheduled.strftime("%Y%m%d")
    if step.delivered:
        payload["actualDeliveryDate"] = when.strftime("%Y%m%d")
        payload["actualDeliveryTime"] = when.strftime("%H%M%S")
        payload["receivedBy"] = step.signatory
    return payload


def fedex_sign(security_token: str, body: bytes) -> str:
    """Return FedEx's ``fdx-signature``: base64 HMAC-SHA256 of the raw body keyed by the security token."""
    return base64.b64encode(hmac.new(security_token.encode(), body, hashlib.sha256).digest()).decode("ascii")


def dhl_payload(label: sim_ledger.LabelRecord, when: datetime, step: progressions.Step) -> dict[str, Any]:
    """Return the simulator's generic DHL callback body for one checkpoint."""
    event: dict[str, Any] = {
        "date": when.strftime("%Y-%m-%d"),
        "time": when.strftime("%H:%M:%S"),
        "code": step.code,
        "description": step.description,
        "service_area": {
            "code": step.place.service_area,
            "description": f"{step.place.city.upper()} - {step.place.country}",
        },
    }
    if step.signatory:
        event["signatory"] = step.signatory
    return {
        "carrier": "dhl_express",
        "awb": label.tracking_number,
        "reference": label.reference,
        "event": event,
    }


class Pusher:
    """Send every push that has come due in simulated time, once each."""

    def __init__(
        self, sim: sim_state.Simulator, post: Post | None = None, wall: Callable[[], float] = time.time
    ) -> None:
        self.sim = sim
        self._post = post or requests.post
        self._wall = wall
        self._lock = threading.Lock()
        self._webhook_token: tuple[str, float] | None = None

    def tick(self) -> int:
        """Deliver every due push not delivered yet; return how many were attempted."""
        with self._lock:
            sent = 0
            for label in self.sim.ledger.all():
                if label.carrier == "ups":
                    sent += self._ups(label)
                elif label.carrier == "dhl_express" and self.sim.config.dhl_push_secret:
                    sent += self._dhl(label)
                elif label.carrier == "fedex" and self.sim.config.fedex_security_token:
                    sent += self._fedex(label)
                elif label.carrier == "usps":
                    sent += self._usps(label)
            sent += self._fleet()
            return sent

    def _due(self, key: str) -> bool:
        return key not in self.sim.pushed_keys

    def _send(
        self,
        kind: str,
        key: str,
        url: str,
        payload: dict[str, Any],
        headers: dict[str, str],
        sign_body: Callable[[bytes], dict[str, str]] | None = None,
    ) -> bool:
        """Post one push once; return whether the listener took it (2xx)."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        if sign_body is not None:
            headers = {**headers, **sign_body(body)}
        status, error = None, None
        try:
            response = self._post(
                url,
                data=body,
                headers={"Content-Type": "application/json", **headers},
                timeout=self.sim.config.push_timeout_seconds,
            )
            status = response.status_code
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
        # Track Alert does not redeliver: a failed push is lost, as UPS warns. Keep it in the log.
        self.sim.pushed_keys.add(key)
        self.sim.record_push(
            sim_state.PushRecord(
                kind=kind,
                url=url,
                key=key,
                status=status,
                error=error,
                at=self.sim.clock.now().isoformat(),
                payload=payload,
            )
        )
        return status is not None and 200 <= status < 300

    def _ups_headers(self, subscription: sim_state.Subscription | None) -> dict[str, str]:
        config = self.sim.config
        headers = {"User-Agent": UPS_USER_AGENT}
        if subscription is not None and subscription.version == "v1":
            headers["credential"] = subscription.credential or ""
        elif config.ups_push_auth == "oauth":
            headers["Authorization"] = f"Bearer {self._customer_token()}"
            headers["x-api-key"] = config.ups_webhook_client_id
        else:
            headers["credential"] = config.ups_webhook_credential
        return headers

    def _customer_token(self) -> str:
        """Fetch (and cache) a bearer token from the customer's token URL, as Track Alert v2 does."""
        if self._webhook_token and self._webhook_token[1] > self._wall() + 30:
            return self._webhook_token[0]
        config = self.sim.config
        if not config.ups_webhook_token_url:
            raise RuntimeError("ups_push_auth=oauth needs ups_webhook_token_url")
        response = self._post(
            config.ups_webhook_token_url,
            data={"grant_type": "client_credentials"},
            auth=(config.ups_webhook_client_id, config.ups_webhook_client_secret),
            timeout=config.push_timeout_seconds,
        )
        response.raise_for_status()
        body = response.json()
        self._webhook_token = (body["access_token"], self._wall() + float(body.get("expires_in", 3600)))
        return self._webhook_token[0]

    def _ups(self, label: sim_ledger.LabelRecord) -> int:
        config = self.sim.config
        sent = 0
        for number in label.package_tracking_numbers:
            subscription = self.sim.subscriptions.get(number)
            if subscription is None and not config.ups_push_unsubscribed:
                continue
            url = (subscription.url if subscription and subscription.url else None) or config.callback_for(
                "ups"
            )
            if not url:
                continue
            now = self.sim.clock.now()
            scheduled = self.sim.estimated_delivery(label) or datetime.fromisoformat(
                label.requested_at
            ).replace(hour=23, minute=0, second=0)
            for index, (when, step) in enumerate(self.sim.events_so_far(label, now)):
                key = f"ups:{number}:{index}:{step.code}"
                # Track Alert sends no history: only events after the subscription started.
                if subscription is not None and when < subscription.subscribed_at:
                    self.sim.pushed_keys.add(key)
                    continue
                if not self._due(key):
                    continue
                try:
                    headers = self._ups_headers(subscription)
                except (requests.RequestException, RuntimeError, KeyError, ValueError) as exc:
                    self.sim.record_push(
                        sim_state.PushRecord("ups", url, key, None, f"webhook token: {exc}", now.isoformat())
                    )
                    return sent
                self._send("ups", key, url, ups_payload(number, when, step, scheduled), headers)
                sent += 1
        return sent

    def _signed(self, secret: str, payload: dict[str, Any]) -> dict[str, str]:
        timestamp = str(int(self._wall()))
        body = json.dumps(payload, separators=(",", ":")).encode()
        return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}

    def _dhl(self, label: sim_ledger.LabelRecord) -> int:
        url = self.sim.config.callback_for("dhl_express")
        secret = self.sim.config.dhl_push_secret
        if not url or not secret:
            return 0
        sent = 0
        for index, (when, step) in enumerate(self.sim.events_so_far(label)):
            key = f"dhl_express:{label.tracking_number}:{index}:{step.code}"
            if self._due(key):
                payload = dhl_payload(label, when, step)
                self._send("dhl_express", key, url, payload, self._signed(secret, payload))
                sent += 1
        return sent

    def _fedex(self, label: sim_ledger.LabelRecord) -> int:
        """AIV: every scan of every package the account shipped, one track result per push, body-signed."""
        url = self.sim.config.callback_for("fedex")
        token = self.sim.config.fedex_security_token
        if not url or not token:
            return 0
        sent = 0
        events = self.sim.events_so_far(label)
        for number in label.package_tracking_numbers:
            for index, (_when, step) in enumerate(events):
                key = f"fedex:{number}:{index}:{step.code}"
                if not self._due(key):
                    continue
                result = fedex.track_result(
                    label, number, events[: index + 1], self.sim.estimated_delivery(label)
                )
                result["scanEvents"] = result["scanEvents"][:1]  # this scan only: the newest
                self._send(
                    "fedex",
                    key,
                    url,
                    result,
                    {"User-Agent": "FedEx-AIV-Webhook"},
                    lambda body: {FEDEX_SIGNATURE_HEADER: fedex_sign(token, body)},
                )
                sent += 1
        return sent

    def _usps(self, label: sim_ledger.LabelRecord) -> int:
        """Subscriptions - Tracking: one event per push to every ENABLED subscription whose filter (the
        label's MID or its number) matches, ``X-HMAC`` over timestamp + payload with its secret."""
        config = self.sim.config
        targets: list[tuple[str, str, str, Any]] = [
            (s.id, s.listener_url, s.secret, s)
            for s in list(self.sim.usps_subscriptions.values())
            if s.status == "ENABLED" and s.matches(label.mailer_id, label.tracking_number)
        ]
        unsubscribed_url = config.callback_for("usps")
        if config.usps_push_unsubscribed and unsubscribed_url and config.usps_webhook_secret:
            targets.append(("sim-subscription", unsubscribed_url, config.usps_webhook_secret, None))
        sent = 0
        events = self.sim.events_so_far(label)
        for subscription_id, url, secret, subscription in targets:
            for index, (_when, step) in enumerate(events):
                key = f"usps:{subscription_id}:{label.tracking_number}:{index}:{step.code}"
                if not self._due(key):
                    continue
                if subscription is not None and subscription.status != "ENABLED":
                    break  # suspended by the failures below: USPS stops posting
                detail = usps.tracking_detail(label, events[: index + 1], self.sim.estimated_delivery(label))
                detail["trackingEvents"] = detail["trackingEvents"][:1]  # this event only: the newest
                stamp = self.sim.clock.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
                envelope = usps.push_envelope(detail, stamp, subscription_id)
                taken = self._send(
                    "usps", key, url, envelope, {"X-HMAC": usps.push_signature(secret, envelope)}
                )
                if subscription is not None:
                    if taken:
                        subscription.failures = 0
                    else:
                        usps_subscriptions.suspend_after_failure(
                            subscription, config.usps_suspend_after_failures
                        )
                sent += 1
        return sent

    def _fleet(self) -> int:
        url = self.sim.config.callback_for("fleet")
        if not url:
            return 0
        sent = 0
        now = self.sim.clock.now()
        for route in list(self.sim.routes.values()):
            due = []
            for event in driver.route_events(route, self.sim.config.seed, self.sim.config.exception_share):
                key = f"fleet:{route['route_id']}:{event['event_id']}"
                if datetime.fromisoformat(event["occurred_at"]) <= now and self._due(key):
                    due.append((key, event))
            if not due:
                continue
            # The app syncs what happened since its last sync as one batch.
            batch = driver.build_batch([event for _, event in due], device_id=f"sim-{route['driver_id']}")
            self._send(
                "fleet",
                ",".join(key for key, _ in due),
                url,
                batch,
                self._signed(self.sim.config.fleet_push_secret, batch),
            )
            self.sim.pushed_keys.update(key for key, _ in due)
            sent += len(due)
        return sent


def run_forever(pusher: Pusher, interval: float, stop: threading.Event) -> None:
    """Tick the pusher every ``interval`` real seconds until ``stop`` is set."""
    while not stop.wait(interval):
        pusher.tick()
