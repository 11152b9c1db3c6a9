"""USPS adapter I/O: OAuth and payment-token caches, HTTP calls through adapters.http, X-HMAC pushes."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import requests

from adapters import base, rest
from adapters import http as carrier_http
from adapters.usps import callback as usps_callback
from adapters.usps import mapping, requirements
from schemas import carrier, events, types, units

log = logging.getLogger(__name__)

# Payments: "Tokens are valid for eight hours after issuance"; replaced ten minutes early.
PAYMENT_TOKEN_LIFETIME = 8 * 3600.0
PAYMENT_TOKEN_MARGIN = 600.0
# Values that are secret wherever they appear in a recorded exchange, beside the config's secrets.
RUNTIME_SECRET_KEYS = frozenset(
    {"paymentAuthorizationToken", "X-Payment-Authorization-Token", "X-HMAC", "secret"}
)


class UspsAdapter(rest.OAuthRestAdapter):
    """USPS over the v3 REST APIs: domestic prices with delivery estimates, labels, refunds, tracking v3r2."""

    name = "usps"
    display_name = "USPS"
    capabilities = frozenset(
        {
            base.Capability.RATE,
            base.Capability.LABEL,
            base.Capability.VOID,
            base.Capability.TRACK_POLL,
            base.Capability.PICKUP,
            base.Capability.RETURN,
            base.Capability.RETURN_QR,
            base.Capability.ADDRESS_VALIDATION,
            base.Capability.CLOSE_DAY,
            base.Capability.TRACK_PUSH_ACCOUNT,
        }
    )
    config_schema_resource = ("adapters.usps", "config.schema.json")
    close_day_title = "USPS SCAN form (PS Form 5630)"
    pickup_cancel_elsewhere = (
        "on usps.com (Schedule a Pickup, then Edit or Cancel) or with USPS customer service"
    )
    label_formats = frozenset(mapping.IMAGE_TYPES)
    # USPS signs pushes with HMAC over two JSON field values (``X-HMAC``), so the adapter checks them:
    # with the account's own ``webhook_secret`` (``verify_push``), or ``CALLBACK_SECRETS["usps"]``
    # (``verify_callback``) for a subscription made outside the gateway.
    callback = base.CallbackSpec(base.PushScheme.ADAPTER, signature_headers=("X-HMAC", "hmac-header"))

    @classmethod
    def check(cls, spec: types.ShipmentSpec, service: str) -> list[base.Requirement]:
        return requirements.check(spec, service)

    @classmethod
    def parse_callback(cls, payload: Mapping[str, Any]) -> list[base.PushedEvent]:
        return [
            base.PushedEvent(cls.canonical(raw, events.EventSource.WEBHOOK))
            for raw in usps_callback.parse(payload)
        ]

    @classmethod
    def push_subscription_id(cls, body: bytes) -> str | None:
        """The ``subscriptionId`` of a push envelope (None when the body is not one)."""
        return usps_callback.subscription_id(body)

    @classmethod
    def verify_callback(cls, secret: str, headers: Mapping[str, str], body: bytes) -> None:
        """Raise CarrierRejected unless the push's ``X-HMAC`` matches ``secret`` (constant time)."""
        usps_callback.verify(secret, headers, body)

    HOSTS = {"sandbox": "https://apis-tem.usps.com", "live": "https://apis.usps.com"}

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        recorder: base.Recorder | None = None,
        session: requests.Session | None = None,
        breaker: carrier_http.CircuitBreaker | None = None,
        retry: carrier_http.RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            config, recorder=recorder, session=session, breaker=breaker, retry=retry, clock=clock
        )
        self._wall_clock = wall_clock
        self._payment_tokens = carrier_http.TokenCache(clock, PAYMENT_TOKEN_MARGIN)

    def redact(self, value: Any) -> Any:
        """Mask config secrets, cached tokens and the payment token wherever they appear."""
        return base.redact(value, self.secret_fields() | RUNTIME_SECRET_KEYS, self._secret_values())

    def _extra_secret_values(self) -> Sequence[str]:
        return [t for t in (self._tokens.value, self._payment_tokens.value) if t]

    def _today(self) -> date:
        # UTC is never behind the US date, so a mailing date from it is never "in the past" for USPS.
        return datetime.fromtimestamp(self._wall_clock(), UTC).date()

    def _service(self, code: str) -> mapping.Service:
        return mapping.Service.parse(
            code,
            str(self._config.get("rate_indicator", "SP")),
            str(self._config.get("processing_category", "MACHINABLE")),
        )

    # -- OAuth and payment authorization ------------------------------------------------------------------

    def _fetch_token(self, timeout: float) -> tuple[str, float]:
        call = mapping.oauth_request(self._config["client_id"], self._config["client_secret"])
        response = self.http.send(
            call.method,
            self.base_url + call.path,
            operation="oauth",
            timeout=timeout,
            idempotent=True,
            json_body=call.json,
        )
        body = _json(response)
        if response.status_code != 200 or not isinstance(body, Mapping):
            raise mapping.parse_error(response.status_code, body)
        return mapping.parse_oauth_response(body)

    def _payment_authorization(self, timeout: float) -> str:
        def fetch() -> tuple[str, float]:
            call = mapping.payment_authorization_request(self._config)
            body = self._call(call, operation="payment_authorization", timeout=timeout, idempotent=True)
            return mapping.parse_payment_authorization(body), PAYMENT_TOKEN_LIFETIME

        return self._payment_tokens.get(fetch)

    def _invalidate_payment_token(self) -> None:
        self._payment_tokens.invalidate()

    def _call(
        self,
        call: mapping.HttpCall,
        *,
        operation: str,
        timeout: float,
        idempotent: bool,
        ok: tuple[int, ...] = (200,),
        payment: bool = False,
        raw: bool = False,
    ) -> Any:
        """Send a call with a bearer token (and the payment token), refreshing the bearer once on a 401."""
        deadline = self._clock() + timeout
        response: requests.Response | None = None
        for attempt in (1, 2):
            token = self._access_token(max(deadline - self._clock(), 0.001))
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", **call.headers}
            if payment:
                headers["X-Payment-Authorization-Token"] = self._payment_authorization(
                    max(deadline - self._clock(), 0.001)
                )
            response = self.http.send(
                call.method,
                self.base_url + call.path,
                operation=operation,
                timeout=max(deadline - self._clock(), 0.001),
                idempotent=idempotent,
                headers=headers,
                params=call.params,
                json_body=call.json,
            )
            if response.status_code == 401 and attempt == 1:
                # An expired or revoked bearer is refused before any work is done: safe to resend.
                self._invalidate_token()
                if payment:
                    self._invalidate_payment_token()
                continue
            break
        assert response is not None
        if response.status_code not in ok:
            raise mapping.parse_error(response.status_code, _json(response))
        return response if raw else _json(response)

    # -- operations ----------------------------------------------------------------------------------------

    def _rate(self, request: carrier.RateRequest, timeout: float) -> list[carrier.RateResult]:
        deadline = self._clock() + timeout
        today = self._today()
        if len(request.services) == 1:
            service = self._service(request.services[0])
            call = mapping.base_rates_request(request, service, self._config, today)
            fallback: str | None = service.mail_class
        else:
            call = mapping.total_rates_request(request, self._config, today)
            fallback = None
        body = self._call(call, operation="rate", timeout=timeout, idempotent=True)
        if not isinstance(body, Mapping):
            raise mapping.malformed("price reply is not a JSON object")
        warnings = mapping.rate_warnings(body)
        if warnings:
            log.info("USPS price warnings", extra={"carrier": self.name, "warnings": warnings})
        results = mapping.parse_rates_response(body, fallback)
        if not results or not self._config.get("delivery_estimates", True):
            return results
        return self._with_estimates(request, results, today, deadline)

    def _with_estimates(
        self, request: carrier.RateRequest, results: list[carrier.RateResult], today: date, deadline: float
    ) -> list[carrier.RateResult]:
        """Add Service Standards delivery dates; prices stand without them when that call fails."""
        remaining = deadline - self._clock()
        if remaining <= 0:
            return results
        call = mapping.estimates_request(request.spec, [r.service_code for r in results], today)
        try:
            body = self._call(call, operation="delivery_estimates", timeout=remaining, idempotent=True)
            estimates = mapping.parse_estimates(body)
        except base.CarrierError as exc:
            log.warning(
                "USPS delivery estimates unavailable", extra={"carrier": self.name, "error": str(exc)}
            )
            return results
        weight_lb = units.from_kg(request.spec.parcels[0].weight_kg, "lb")
        return mapping.with_estimates(results, estimates, Decimal(weight_lb))

    def _label(self, request: carrier.LabelRequest, timeout: float) -> carrier.LabelResult:
        returning = request.spec.is_return
        if returning:
            call = mapping.return_label_request(request, self._service(request.service_code))
        else:
            call = mapping.label_request(
                request, self._service(request.service_code), self._today(), self._config
            )
        response = self._call(
            call, operation="label", timeout=timeout, idempotent=False, payment=True, raw=True
        )
        # A label with a customs form is bought as a PDF when PNG or GIF was asked (the form rules them out).
        label_format = mapping.bought_format(request)
        content_type = response.headers.get("Content-Type", "")
        if content_type.lower().startswith("multipart/"):
            # USPS ignored the Accept header: the label is bought, so read the default form too.
            return mapping.parse_label_multipart(response.content, content_type, label_format)
        body = _json(response)
        if not isinstance(body, Mapping):
            raise mapping.malformed("label reply is neither JSON nor multipart")
        if returning:
            return mapping.parse_return_label_json(body, label_format)
        return mapping.parse_label_json(body, label_format)

    def _void(self, request: carrier.VoidRequest, timeout: float) -> carrier.VoidResult:
        numbers = request.tracking_numbers or (request.carrier_shipment_id,)
        if len(numbers) != 1:
            raise base.CarrierRejected(self.name, "USPS cancels one label per call", code="invalid_request")
        call = mapping.cancel_request(numbers[0])
        # Canceling twice is refused, never charged: a retry cannot do harm.
        body = self._call(call, operation="void", timeout=timeout, idempotent=True, payment=True)
        if not isinstance(body, Mapping):
            raise mapping.malformed("cancel reply is not a JSON object")
        return mapping.parse_cancel_response(body, request, numbers[0])

    def _track(self, request: carrier.TrackRequest, timeout: float) -> carrier.TrackResult:
        number = request.tracking_number.strip()
        try:
            return self.track_many([number], timeout=timeout)[number]
        except base.CarrierRejected as exc:
            pending = mapping.pre_transit_result(exc, number)
            if pending is None:
                raise
            return pending

    def track_many(
        self, tracking_numbers: Sequence[str], *, timeout: float | None = None
    ) -> dict[str, carrier.TrackResult]:
        """Track 1 to 35 numbers in one v3r2 call; each number gets a result (failures as warnings)."""
        self._require(base.Capability.TRACK_POLL)
        call = mapping.track_request(tracking_numbers)
        body = self._call(
            call, operation="track", timeout=self._timeout(timeout), idempotent=True, ok=(200, 207)
        )
        return mapping.parse_track_response(body, [n.strip() for n in tracking_numbers])

    # -- Subscriptions - Tracking v3r2: one standing subscription per MID ----------------------------------

    def _subscribe_account_pushes(self, listener_url: str, timeout: float) -> carrier.PushSubscription:
        """Subscribe this account's MID to every tracking update, signed with ``webhook_secret``."""
        secret = self._config.get("webhook_secret")
        emails = self._config.get("admin_emails") or ()
        if not secret or not emails:
            raise base.CarrierRejected(
                self.name,
                "account pushes need webhook_secret and admin_emails in the account's configuration",
                code="invalid_request",
            )
        call = mapping.subscription_request(
            listener_url,
            str(secret),
            list(emails),
            mid=str(self._config["mid"]),
            https_only=not self._config.get("allow_http_listener", False),
        )
        # Sent once: a resend after a lost answer would leave two subscriptions pushing every event.
        body = self._call(call, operation="track_subscribe", timeout=timeout, idempotent=False, ok=(200, 201))
        return mapping.parse_subscription(body)

    def _account_push_subscription(
        self, subscription_id: str, timeout: float
    ) -> carrier.PushSubscription | None:
        call = mapping.subscription_read_request(subscription_id)
        response = self._call(
            call, operation="track_subscription", timeout=timeout, idempotent=True, ok=(200, 404), raw=True
        )
        if response.status_code == 404:
            return None
        return mapping.parse_subscription(_json(response))

    def _cancel_account_pushes(self, subscription_id: str, timeout: float) -> None:
        # Gone already is done; deleting twice answers 404, which is what we wanted: safe to resend.
        self._read_then_delete(
            mapping.subscription_read_request(subscription_id),
            lambda etag: mapping.subscription_delete_request(subscription_id, etag),
            operations=("track_subscription", "track_unsubscribe"),
            timeout=timeout,
            resend=True,
            ok=(200, 204, 404),
            gone_is_done=True,
        )

    def _read_then_delete(
        self,
        read: mapping.HttpCall,
        delete: Callable[[str], mapping.HttpCall],
        *,
        operations: tuple[str, str],
        timeout: float,
        resend: bool,
        ok: tuple[int, ...],
        gone_is_done: bool = False,
    ) -> None:
        """GET a resource for its current ETag, then DELETE it quoting that ETag in If-Match (USPS's rule)."""
        deadline = self._clock() + timeout
        found = self._call(
            read,
            operation=operations[0],
            timeout=timeout,
            idempotent=True,
            ok=(200, 404) if gone_is_done else (200,),
            raw=True,
        )
        if gone_is_done and found.status_code == 404:
            return
        self._call(
            delete(found.headers.get("ETag", "")),
            operation=operations[1],
            timeout=max(deadline - self._clock(), 0.001),
            idempotent=resend,
            ok=ok,
        )

    def verify_push(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raise CarrierRejected unless ``X-HMAC`` is signed with this account's ``webhook_secret``."""
        usps_callback.verify(str(self._config.get("webhook_secret") or ""), headers, body)

    def _pickup(self, request: carrier.PickupRequest, timeout: float) -> carrier.PickupResult:
        weight = Decimal(str(self._config.get("pickup_weight_lb_per_parcel", 5)))
        call = mapping.pickup_request(request, weight)
        # Booking twice books two pickups: never resent.
        body = self._call(call, operation="pickup", timeout=timeout, idempotent=False, ok=(200, 201))
        if not isinstance(body, Mapping):
            raise mapping.malformed("pickup reply is not a JSON object")
        return mapping.parse_pickup_response(body, request)

    def _cancel_pickup(
        self, request: carrier.PickupRequest, confirmation: str, details: Mapping[str, str], timeout: float
    ) -> None:
        # The pickup's ETag is good for one hour and one use: a cancel that went through spends it, so a
        # resend would be refused. Not resent.
        self._read_then_delete(
            mapping.pickup_lookup_request(confirmation),
            lambda etag: mapping.pickup_cancel_request(confirmation, etag),
            operations=("pickup_lookup", "cancel_pickup"),
            timeout=timeout,
            resend=False,
            ok=(200, 204),
        )

    def check_address(self, address: types.Address, *, timeout: float | None = None) -> mapping.AddressCheck:
        """Standardise a US address with USPS and say whether it is a confirmed delivery point."""
        call = mapping.address_request(address)
        body = self._call(call, operation="address", timeout=self._timeout(timeout), idempotent=True)
        if not isinstance(body, Mapping):
            raise mapping.malformed("address reply is not a JSON object")
        return mapping.parse_address_response(body, address)

    def scan_form(
        self,
        address: types.Address,
        tracking_numbers: Sequence[str] = (),
        *,
        mailing_date: date | None = None,
        timeout: float | None = None,
    ) -> mapping.ScanForm:
        """Create the end-of-day SCAN form (PS 5630) for the listed labels, or every open label of our MID."""
        call = mapping.scan_form_request(
            address,
            mailing_date or self._today(),
            tracking_numbers,
            None if tracking_numbers else str(self._config["mid"]),
        )
        response = self._call(
            call,
            operation="scan_form",
            timeout=self._timeout(timeout),
            idempotent=False,
            ok=(200, 201),
            payment=False,
            raw=True,
        )
        content_type = response.headers.get("Content-Type", "")
        if content_type.lower().startswith("multipart/"):
            return mapping.parse_scan_form(
                *mapping.multipart_metadata_and_image(response.content, content_type)
            )
        body = _json(response)
        if not isinstance(body, Mapping):
            raise mapping.malformed("SCAN form reply is neither JSON nor multipart")
        return mapping.parse_scan_form_json(body)

    def _classify_address(self, address: types.Address, timeout: float) -> carrier.AddressValidation:
        check = self.check_address(address, timeout=timeout)
        if check.business is True:
            kind = carrier.AddressClass.COMMERCIAL
        elif check.business is False:
            kind = carrier.AddressClass.RESIDENTIAL
        else:
            kind = carrier.AddressClass.UNKNOWN
        messages = tuple(check.corrections) + tuple(check.warnings)
        if check.vacant:
            messages = (*messages, "USPS: the delivery point is vacant")
        return carrier.AddressValidation(
            carrier=self.name,
            address=check.address,
            classification=kind,
            valid=check.deliverable,
            messages=messages,
        )

    def _close_day(self, request: carrier.DayCloseRequest, timeout: float) -> carrier.DayClose:
        # A SCAN form for exactly the day's labels (never "every open label of the MID": another
        # day's or another tool's labels are not this manifest's).
        numbers = [n for n in request.tracking_numbers if n]
        if request.origin is None or not numbers:
            raise base.CarrierRejected(
                self.name, "a SCAN form needs the labels' tracking numbers", code="invalid_request"
            )
        form = self.scan_form(request.origin, numbers, mailing_date=request.day, timeout=timeout)
        left_out = [n for n in numbers if form.tracking_numbers and n not in form.tracking_numbers]
        alerts = (
            (f"USPS did not list {len(left_out)} label(s) on the form: {', '.join(left_out[:20])}",)
            if left_out
            else ()
        )
        return carrier.DayClose(
            reference=form.manifest_number,
            alerts=alerts,
            document=form.image or None,
            document_type="PS_5630" if form.image else None,
        )

    # -- pushes --------------------------------------------------------------------------------------------

    def _parse_push(self, headers: Mapping[str, str], body: bytes) -> list[carrier.RawTrackingEvent]:
        usps_callback.verify(str(self._config.get("webhook_secret") or ""), headers, body)
        try:
            return usps_callback.parse(json.loads(body))
        except base.PushPayloadError as exc:
            raise base.CarrierRejected(self.name, str(exc), code="push_malformed") from exc

    def parse_push(self, headers: Mapping[str, str], body: bytes) -> list[carrier.RawTrackingEvent]:
        """Verify ``X-HMAC`` with this account's ``webhook_secret`` and return the push's events."""
        return self._parse_push(headers, body)

    def close(self) -> None:
        """Close the HTTP session."""
        self.http.session.close()


def _json(response: requests.Response) -> Any:
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        return None
