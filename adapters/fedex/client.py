"""FedEx adapter I/O: OAuth token cache, HTTP calls through adapters.http, AIV webhook pushes."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import requests

from adapters import base, rest
from adapters import http as carrier_http
from adapters.fedex import callback as fedex_callback
from adapters.fedex import mapping, requirements, services
from schemas import carrier, types

_GROUND = "GROUND"  # in the service codes the Ground close covers: FEDEX_GROUND, GROUND_HOME_DELIVERY
_ADDRESS_CLASSES = {
    "RESIDENTIAL": carrier.AddressClass.RESIDENTIAL,
    "BUSINESS": carrier.AddressClass.COMMERCIAL,
}


class FedexAdapter(rest.OAuthRestAdapter):
    """FedEx over REST: rates with transit times, labels (PDF/PNG/ZPL/EPL), cancel, tracking and pickups.

    Address Validation (``validate_address``, several addresses; ``classify_address``, the canonical
    one) and the Ground end-of-day close (``close_ground_day``; ``close_day`` for a manifest, which
    applies to a day holding Ground labels only).

    Tracking pushes (Advanced Integrated Visibility) are read class-level (``parse_callback``); FedEx
    publishes no API path for subscribing numbers, so the adapter declares ``track_poll`` only and an
    account subscribes by account number in the FedEx Developer Portal.
    """

    name = "fedex"
    display_name = "FedEx"
    invoice_layout = "fedex"
    capabilities = frozenset(
        {
            base.Capability.RATE,
            base.Capability.LABEL,
            base.Capability.VOID,
            base.Capability.TRACK_POLL,
            base.Capability.PICKUP,
            base.Capability.RETURN,
            base.Capability.ADDRESS_VALIDATION,
            base.Capability.CLOSE_DAY,
        }
    )
    config_schema_resource = ("adapters.fedex", "config.schema.json")
    close_day_title = "FedEx Ground end-of-day close"
    pickup_cancel_elsewhere = "on fedex.com (Manage pickups) or by phone with FedEx customer service"
    label_formats = frozenset(
        {carrier.LabelFormat.PDF, carrier.LabelFormat.PNG, carrier.LabelFormat.ZPL, carrier.LabelFormat.EPL}
    )

    # AIV signs the raw body: ``fdx-signature`` = base64(HMAC-SHA256(security token, body)), no timestamp
    # (``CALLBACK_SECRETS["fedex"]`` is the security token).
    callback = base.CallbackSpec(
        base.PushScheme.SIGNED_BODY,
        signature_headers=(fedex_callback.SIGNATURE_HEADER,),
        timestamp_headers=(),
    )

    @classmethod
    def check(cls, spec: types.ShipmentSpec, service: str) -> list[base.Requirement]:
        return requirements.check(spec, service)

    @classmethod
    def parse_callback(cls, payload: Mapping[str, Any]) -> list[base.PushedEvent]:
        return fedex_callback.parse(payload, cls.code_table())

    HOSTS = {"sandbox": "https://apis-sandbox.fedex.com", "live": "https://apis.fedex.com"}

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        recorder: base.Recorder | None = None,
        session: requests.Session | None = None,
        breaker: carrier_http.CircuitBreaker | None = None,
        retry: carrier_http.RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            config, recorder=recorder, session=session, breaker=breaker, retry=retry, clock=clock
        )
        cfg = self._config
        self.account_number = str(cfg["account_number"])
        self.rate_type = str(cfg.get("rate_request_type", mapping.DEFAULT_RATE_TYPE))
        self.pickup_type = str(cfg.get("pickup_type", mapping.DEFAULT_PICKUP_TYPE))

    # -- OAuth ---------------------------------------------------------------------------------------------

    def _fetch_token(self, timeout: float) -> tuple[str, float]:
        call = mapping.oauth_request(self._config["client_id"], self._config["client_secret"])
        response = self.http.send(
            call.method,
            self.base_url + call.path,
            operation="oauth",
            timeout=timeout,
            idempotent=True,
            headers=dict(call.headers),
            data=call.form,
        )
        body = _json(response)
        if response.status_code != 200:
            raise mapping.parse_error(response.status_code, body)
        return mapping.parse_oauth_response(body)

    def _call(self, call: mapping.HttpCall, *, operation: str, timeout: float, idempotent: bool) -> Any:
        """Send an API call with a bearer token, fetching a new token once on a 401; return the JSON body."""
        deadline = self._clock() + timeout
        for attempt in (1, 2):
            token = self._access_token(max(deadline - self._clock(), 0.001))
            headers = {
                "Authorization": f"Bearer {token}",
                "x-locale": str(self._config.get("locale", "en_US")),
                "x-customer-transaction-id": uuid.uuid4().hex,
                **call.headers,
            }
            response = self.http.send(
                call.method,
                self.base_url + call.path,
                operation=operation,
                timeout=max(deadline - self._clock(), 0.001),
                idempotent=idempotent,
                headers=headers,
                json_body=call.json,
            )
            if response.status_code == 401 and attempt == 1:
                # FedEx answers 401 (NOT.AUTHORIZED.ERROR, also for an expired token) before doing any
                # work, so even a label purchase is safe to send again with a new token.
                self._invalidate_token()
                continue
            body = _json(response)
            if response.status_code != 200:
                raise mapping.parse_error(response.status_code, body)
            if not isinstance(body, Mapping):
                raise mapping.malformed(f"{operation}: reply is not a JSON object")
            return body
        raise AssertionError("unreachable")

    # -- operations ----------------------------------------------------------------------------------------

    def _rate(self, request: carrier.RateRequest, timeout: float) -> list[carrier.RateResult]:
        call = mapping.rate_request(
            request, self.account_number, rate_type=self.rate_type, pickup_type=self.pickup_type
        )
        body = self._call(call, operation="rate", timeout=timeout, idempotent=True)
        return mapping.parse_rate_response(body, request.services, self.rate_type)

    def _label(self, request: carrier.LabelRequest, timeout: float) -> carrier.LabelResult:
        call = mapping.ship_request(
            request,
            self.account_number,
            rate_type=self.rate_type,
            pickup_type=self.pickup_type,
            label_stock_type=self._config.get("label_stock_type"),
        )
        # Never retried: a second create is a second shipment.
        body = self._call(call, operation="label", timeout=timeout, idempotent=False)
        return mapping.parse_ship_response(body)

    def _void(self, request: carrier.VoidRequest, timeout: float) -> carrier.VoidResult:
        call = mapping.cancel_request(request, self.account_number)
        # Not retried blindly: a cancel that went through answers the retry with an error, which would
        # read as a refusal. The caller may ask again.
        body = self._call(call, operation="void", timeout=timeout, idempotent=False)
        return mapping.parse_cancel_response(body, request)

    def _track(self, request: carrier.TrackRequest, timeout: float) -> carrier.TrackResult:
        call = mapping.track_request([request.tracking_number])
        body = self._call(call, operation="track", timeout=timeout, idempotent=True)
        return mapping.parse_track_response(body, request.tracking_number.strip())

    def _pickup(self, request: carrier.PickupRequest, timeout: float) -> carrier.PickupResult:
        carrier_code = str(self._config.get("pickup_carrier_code", "FDXE"))
        call = services.pickup_request(request, self.account_number, carrier_code)
        # Not retried: a second create books a second courier.
        body = self._call(call, operation="pickup", timeout=timeout, idempotent=False)
        return services.parse_pickup_response(body, request, carrier_code)

    def _cancel_pickup(
        self, request: carrier.PickupRequest, confirmation: str, details: Mapping[str, str], timeout: float
    ) -> None:
        if (details.get("carrier_code") or "FDXE") == "FDXE" and not details.get("location"):
            # Booked before the location was kept: FedEx Express cannot cancel it through the API.
            raise base.CapabilityNotSupported(self.name, base.Capability.PICKUP)
        call = services.cancel_pickup_request(request, confirmation, details, self.account_number)
        # Not retried blindly: a cancel that went through answers the retry with an error.
        body = self._call(call, operation="cancel_pickup", timeout=timeout, idempotent=False)
        services.parse_cancel_pickup_response(body, confirmation)

    def validate_address(
        self, addresses: Sequence[types.Address], *, timeout: float | None = None
    ) -> list[services.AddressCheck]:
        """Ask FedEx to standardise and classify addresses (BUSINESS, RESIDENTIAL, MIXED, UNKNOWN)."""
        call = services.address_request(list(addresses))
        body = self._call(
            call, operation="address_validation", timeout=self._timeout(timeout), idempotent=True
        )
        return services.parse_address_response(body, list(addresses))

    def close_ground_day(
        self, close_date: date | None = None, *, timeout: float | None = None
    ) -> services.GroundClose:
        """Close the day's FedEx Ground shipments and return the OP-950 manifest documents."""
        call = services.ground_close_request(self.account_number, close_date)
        body = self._call(call, operation="ground_close", timeout=self._timeout(timeout), idempotent=False)
        return services.parse_ground_close_response(body)

    def _classify_address(self, address: types.Address, timeout: float) -> carrier.AddressValidation:
        checks = self.validate_address([address], timeout=timeout)
        if not checks:
            raise base.CarrierUnavailable(
                self.name, "FedEx returned no resolved address", code="malformed_response"
            )
        check = checks[0]
        return carrier.AddressValidation(
            carrier=self.name,
            address=check.address,
            classification=_ADDRESS_CLASSES.get(check.classification, carrier.AddressClass.UNKNOWN),  # MIXED
            valid=bool(check.resolved),
            messages=tuple(check.messages),
        )

    def closes_day_for(self, services: Collection[str]) -> bool:
        # The Ground close (GCDR) closes FEDEX_GROUND and GROUND_HOME_DELIVERY; Express needs no close.
        return any(_GROUND in (service or "").upper() for service in services)

    def _close_day(self, request: carrier.DayCloseRequest, timeout: float) -> carrier.DayClose:
        closed = self.close_ground_day(request.day, timeout=timeout)
        document = closed.documents[0] if closed.documents else None
        return carrier.DayClose(
            reference=None,
            alerts=tuple(closed.alerts),
            document=document.content if document is not None and document.content else None,
            document_type=document.type if document is not None and document.content else None,
        )

    # -- AIV webhook pushes --------------------------------------------------------------------------------

    def verify_push(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raise CarrierRejected unless ``fdx-signature`` is the HMAC of body with our security token."""
        fedex_callback.authenticate(self._config.get("webhook_security_token"), headers, body)

    def close(self) -> None:
        """Close the HTTP session."""
        self.http.session.close()


def _json(response: requests.Response) -> Any:
    if not response.content:
        return {}
    try:
        # Amounts stay exact: JSON numbers become Decimal, never float.
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        return None
