"""UPS adapter I/O: OAuth token cache, HTTP calls through adapters.http, Track Alert push authentication."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import requests

from adapters import base, rest
from adapters import http as carrier_http
from adapters.ups import address as ups_address
from adapters.ups import mapping, requirements
from schemas import carrier, events, types

TRACK_ALERT_USER_AGENT = "UPSPubSubTrackingService"
WEBHOOK_TOKEN_LIFETIME = 3600


class UpsAdapter(rest.OAuthRestAdapter):
    """UPS over REST: Shop rating, labels (GIF/PNG/ZPL), void, tracking and Track Alert pushes."""

    name = "ups"
    display_name = "UPS"
    invoice_layout = "ups"
    capabilities = frozenset(
        {
            base.Capability.RATE,
            base.Capability.LABEL,
            base.Capability.VOID,
            base.Capability.TRACK_POLL,
            base.Capability.TRACK_PUSH,
            base.Capability.LOOKUP_SHIPMENT,
            base.Capability.RETURN,
            base.Capability.ADDRESS_VALIDATION,
        }
    )
    config_schema_resource = ("adapters.ups", "config.schema.json")
    label_formats = frozenset({carrier.LabelFormat.GIF, carrier.LabelFormat.PNG, carrier.LabelFormat.ZPL})
    # Track Alert signs nothing: v1 echoes the ``credential`` header (CALLBACK_SECRETS["ups"] or an enabled
    # account's webhook_credential); v2 sends a bearer token we issued (issue_webhook_token).
    callback = base.CallbackSpec(base.PushScheme.CREDENTIAL, realm="ups-track-alert")

    @classmethod
    def check(cls, spec: types.ShipmentSpec, service: str) -> list[base.Requirement]:
        return requirements.check(spec, service)

    @classmethod
    def parse_callback(cls, payload: Mapping[str, Any]) -> list[base.PushedEvent]:
        try:
            raw = mapping.parse_track_alert_push(payload)
        except base.CarrierRejected as exc:
            raise base.PushPayloadError(exc.message) from exc
        return [base.PushedEvent(cls.canonical(r, events.EventSource.WEBHOOK)) for r in raw]

    HOSTS = {"sandbox": "https://wwwcie.ups.com", "live": "https://onlinetools.ups.com"}

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

    # -- OAuth ---------------------------------------------------------------------------------------------

    def _fetch_token(self, timeout: float) -> tuple[str, float]:
        call = mapping.oauth_request(self._config.get("merchant_id"))
        response = self.http.send(
            call.method,
            self.base_url + call.path,
            operation="oauth",
            timeout=timeout,
            idempotent=True,
            headers=dict(call.headers),
            data=call.form,
            auth=(self._config["client_id"], self._config["client_secret"]),
        )
        body = _json(response)
        if response.status_code != 200:
            raise mapping.parse_error(response.status_code, body)
        return mapping.parse_oauth_response(body)

    def _call(
        self,
        call: mapping.HttpCall,
        *,
        operation: str,
        timeout: float,
        idempotent: bool,
        ok: tuple[int, ...] = (200,),
    ) -> Any:
        """Send an API call with a bearer token, refreshing the token once on a 401; return the JSON body."""
        deadline = self._clock() + timeout
        for attempt in (1, 2):
            token = self._access_token(max(deadline - self._clock(), 0.001))
            headers = {
                "Authorization": f"Bearer {token}",
                "transId": uuid.uuid4().hex,
                "transactionSrc": str(self._config.get("transaction_src", "handoff")),
                **call.headers,
            }
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
                # UPS answers 401 before doing any work, so even a label purchase is safe to resend.
                self._invalidate_token()
                continue
            body = _json(response)
            if response.status_code not in ok:
                raise mapping.parse_error(response.status_code, body)
            if not isinstance(body, Mapping):
                raise mapping.malformed(f"{operation}: reply is not a JSON object")
            return body
        raise AssertionError("unreachable")

    # -- operations ----------------------------------------------------------------------------------------

    def _rate(self, request: carrier.RateRequest, timeout: float) -> list[carrier.RateResult]:
        call = mapping.rate_request(request, self._config.get("shipper_name"))
        body = self._call(call, operation="rate", timeout=timeout, idempotent=True)
        return mapping.parse_rate_response(body, request.services)

    def _label(self, request: carrier.LabelRequest, timeout: float) -> carrier.LabelResult:
        call = mapping.ship_request(request, self._config.get("shipper_name"))
        body = self._call(call, operation="label", timeout=timeout, idempotent=False)
        return mapping.parse_ship_response(body)

    def _void(self, request: carrier.VoidRequest, timeout: float) -> carrier.VoidResult:
        call = mapping.void_request(request)
        # Voiding twice answers "already voided" (status 1), so a retry cannot do harm.
        body = self._call(call, operation="void", timeout=timeout, idempotent=True)
        return mapping.parse_void_response(body, request)

    def _track(self, request: carrier.TrackRequest, timeout: float) -> carrier.TrackResult:
        call = mapping.track_request(request.tracking_number)
        body = self._call(call, operation="track", timeout=timeout, idempotent=True)
        return mapping.parse_track_response(body, request.tracking_number)

    def _lookup_shipment(self, reference: str, timeout: float) -> carrier.ShipmentLookup:
        call = mapping.reference_track_request(reference)
        try:
            body = self._call(call, operation="lookup_shipment", timeout=timeout, idempotent=True)
        except base.CarrierRejected as exc:
            if exc.http_status == 404:
                return carrier.ShipmentLookup(reference=reference, found=False)
            raise
        return mapping.parse_reference_lookup(body, reference)

    def _classify_address(self, address: types.Address, timeout: float) -> carrier.AddressValidation:
        # Street-level validation with classification (XAV request option 3), in adapters/ups/address.py.
        return ups_address.validate_address(self, address, timeout=timeout)

    def _subscribe_tracking(self, tracking_numbers: list[str], timeout: float) -> tuple[list[str], list[str]]:
        call = mapping.track_alert_subscription_request(tracking_numbers)
        body = self._call(call, operation="track_subscribe", timeout=timeout, idempotent=True, ok=(200, 207))
        return mapping.parse_subscription_response(body)

    # -- Track Alert pushes --------------------------------------------------------------------------------

    def _parse_push(self, headers: Mapping[str, str], body: bytes) -> list[carrier.RawTrackingEvent]:
        self.authenticate_push(headers)
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise base.CarrierRejected(
                self.name, "Track Alert payload is not JSON", code="push_malformed"
            ) from exc
        if not isinstance(payload, Mapping):
            raise base.CarrierRejected(
                self.name, "Track Alert payload is not an object", code="push_malformed"
            )
        return mapping.parse_track_alert_push(payload)

    def authenticate_push(self, headers: Mapping[str, str]) -> None:
        """Raise CarrierRejected unless a push carries the credential we registered with UPS."""
        lowered = {k.lower(): v for k, v in headers.items()}
        if not lowered.get("user-agent", "").startswith(TRACK_ALERT_USER_AGENT):
            raise _unauthenticated("unexpected User-Agent")
        credential = self._config.get("webhook_credential")
        if credential and "credential" in lowered:
            # Track Alert v1: the opaque credential we gave in the subscription comes back verbatim.
            if hmac.compare_digest(lowered["credential"].encode(), credential.encode()):
                return
            raise _unauthenticated("wrong credential header")
        if self._config.get("webhook_client_secret"):
            # Track Alert v2: UPS fetched a bearer token from our token endpoint (issue_webhook_token).
            authorization = lowered.get("authorization", "")
            if not authorization.lower().startswith("bearer "):
                raise _unauthenticated("missing bearer token")
            client_id = self._verify_webhook_token(authorization[7:].strip())
            api_key = lowered.get("x-api-key")
            if api_key is not None and not hmac.compare_digest(api_key.encode(), client_id.encode()):
                raise _unauthenticated("x-api-key does not match the token's client")
            return
        raise _unauthenticated("no webhook credential configured or presented")

    def issue_webhook_token(self, authorization: str) -> dict[str, Any]:
        """Answer UPS's client-credentials call to our token endpoint (client_secret_basic) with a token."""
        client_id = self._config.get("webhook_client_id")
        secret = self._config.get("webhook_client_secret")
        if not client_id or not secret:
            raise _unauthenticated("Track Alert v2 webhook credentials are not configured")
        if not authorization.lower().startswith("basic "):
            raise _unauthenticated("token request without HTTP Basic credentials")
        try:
            given_id, _, given_secret = base64.b64decode(authorization[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError) as exc:
            raise _unauthenticated("unreadable HTTP Basic credentials") from exc
        id_ok = hmac.compare_digest(given_id.encode(), client_id.encode())
        secret_ok = hmac.compare_digest(given_secret.encode(), secret.encode())
        if not (id_ok and secret_ok):
            raise _unauthenticated("wrong webhook client credentials")
        claims = {"sub": client_id, "exp": int(self._wall_clock()) + WEBHOOK_TOKEN_LIFETIME}
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        token = f"{payload}.{_b64(self._sign(payload))}"
        return {"access_token": token, "token_type": "Bearer", "expires_in": WEBHOOK_TOKEN_LIFETIME}

    def _sign(self, payload: str) -> bytes:
        return hmac.new(
            str(self._config["webhook_client_secret"]).encode(), payload.encode(), hashlib.sha256
        ).digest()

    def _verify_webhook_token(self, token: str) -> str:
        payload, _, signature = token.partition(".")
        try:
            given = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError as exc:
            raise _unauthenticated("unreadable bearer token") from exc
        if not hmac.compare_digest(given, self._sign(payload)):
            raise _unauthenticated("bearer token signature mismatch")
        if not isinstance(claims, dict) or int(claims.get("exp", 0)) < self._wall_clock():
            raise _unauthenticated("bearer token expired")
        return str(claims.get("sub", ""))

    def close(self) -> None:
        """Close the HTTP session."""
        self.http.session.close()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unauthenticated(reason: str) -> base.CarrierRejected:
    return base.CarrierRejected(
        mapping.CARRIER, f"Track Alert push rejected: {reason}", code="push_unauthenticated"
    )


def _json(response: requests.Response) -> Any:
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        return None
