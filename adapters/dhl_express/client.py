"""The DHL Express adapter: MyDHL API over SOAP (rate, label, track), WS-Security, hardened zeep."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import requests
import zeep
import zeep.proxy
from lxml import etree

from adapters import base, soap
from adapters import http as carrier_http
from adapters.dhl_express import callback as dhl_callback
from adapters.dhl_express import mapping, requirements
from schemas import carrier, types

BASE_URLS: Mapping[str, str] = {
    "sandbox": "https://wsbexpress.dhl.com/sndpt",
    "live": "https://wsbexpress.dhl.com/gbl",
}

_RATE_BOOK_NS = "http://scxgxtt.phx-dc.dhl.com/euExpressRateBook/ShipmentMsgRequest"
_TRACK_NS = "http://scxgxtt.phx-dc.dhl.com/glDHLExpressTrack/providers/services/trackShipment"
RATE_BOOK_BINDING = f"{{{_RATE_BOOK_NS}}}gblExpressRateBook"
TRACK_BINDING = f"{{{_TRACK_NS}}}gblDHLExpressTrack"


def wsdl_path(name: str) -> str:
    """Return the filesystem path of one of the adapter's own minimal WSDLs."""
    return str(resources.files(__package__).joinpath("wsdl", name))


class VoidNotOffered(base.CapabilityNotSupported):
    """DHL Express has no label void operation."""

    def __init__(self) -> None:
        super().__init__(DhlExpressAdapter.name, base.Capability.VOID)
        self.args = (
            "DHL Express offers no label void: an unused waybill is simply never tendered and DHL bills on "
            "scan; mark the label void locally (deleteShipmentRequest only cancels a booked courier pickup)",
        )


class DhlExpressAdapter(base.Adapter):
    """DHL Express over its published SOAP contract: rating, labels (PDF or ZPL) and tracking by polling."""

    name = "dhl_express"
    display_name = "DHL Express"
    capabilities = frozenset({base.Capability.RATE, base.Capability.LABEL, base.Capability.TRACK_POLL})
    config_schema_resource = ("adapters.dhl_express", "config.schema.json")
    label_formats = mapping.LABEL_FORMATS
    # The optional tracking callback, HMAC-signed with CALLBACK_SECRETS["dhl_express"].
    callback = base.CallbackSpec(base.PushScheme.SIGNED)
    # This integration books no DHL pickups; one booked elsewhere is cancelled there.
    pickup_cancel_elsewhere = "on mydhl.express.com or by phone with DHL Express customer service"

    @classmethod
    def check(cls, spec: types.ShipmentSpec, service: str) -> list[base.Requirement]:
        return requirements.check(spec, service)

    @classmethod
    def parse_callback(cls, payload: Mapping[str, Any]) -> list[base.PushedEvent]:
        return dhl_callback.parse(payload, cls.code_table())

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        recorder: base.Recorder | None = None,
        session: requests.Session | None = None,
        breaker: carrier_http.CircuitBreaker | None = None,
        retry: carrier_http.RetryPolicy | None = None,
        plugins: Sequence[zeep.Plugin] = (),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_reference: Callable[[], str] = lambda: uuid.uuid4().hex,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(config, recorder=recorder)
        base_url = self._config.get("base_url") or BASE_URLS[self._config.get("environment", "sandbox")]
        self.rate_book_url = f"{base_url}/expressRateBook"
        self.tracking_url = f"{base_url}/glDHLExpressTrack"
        self._session = session or carrier_http.make_session(self.timeout)
        self._owns_session = session is None
        self._breaker = breaker or carrier_http.BREAKERS.get(self.name, self.account_id)
        self._retry = retry or carrier_http.RetryPolicy()
        self._plugins = tuple(plugins)
        self._now = now
        self._new_reference = new_reference
        self._clock = clock
        self._context = threading.local()
        self._lock = threading.Lock()
        self._transport = soap.RecordingTransport(
            self._session,
            operation_timeout=self.timeout,
            sink=self._on_exchange,
            redact=self.redact,
            clock=clock,
        )
        self._proxies: dict[str, zeep.proxy.ServiceProxy] = {}

    # -- capabilities --------------------------------------------------------------------------------------

    def _rate(self, request: carrier.RateRequest, timeout: float) -> list[carrier.RateResult]:
        body = mapping.rate_request(
            request,
            account=self._config["account_number"],
            ship_time=self._now(),
            message_time=self._now(),
            message_reference=self._new_reference(),
        )
        result = self._invoke("rate_book", "getRateRequest", body, timeout, idempotent=True)
        return mapping.parse_rate_response(_reply(result, "RateResponse"), request.services)

    def _label(self, request: carrier.LabelRequest, timeout: float) -> carrier.LabelResult:
        body = mapping.label_request(
            request,
            account=self._config["account_number"],
            ship_time=self._now(),
            message_time=self._now(),
            message_reference=self._new_reference(),
            contents=self._config.get("contents_description", "Merchandise"),
        )
        # Never retried here: a lost answer may still have bought a waybill.
        result = self._invoke("rate_book", "createShipmentRequest", body, timeout, idempotent=False)
        return mapping.parse_label_response(_reply(result, "ShipmentResponse"))

    def _track(self, request: carrier.TrackRequest, timeout: float) -> carrier.TrackResult:
        body = mapping.track_request(
            request, message_time=self._now(), message_reference=self._new_reference()
        )
        result = self._invoke("track", "trackShipmentRequest", body, timeout, idempotent=True)
        return mapping.parse_track_response(
            _reply(result, "trackShipmentRequestResponse"), request.tracking_number
        )

    def void(self, request: carrier.VoidRequest, *, timeout: float | None = None) -> carrier.VoidResult:
        """Refuse clearly: DHL Express has no operation that voids a label."""
        raise VoidNotOffered()

    def close(self) -> None:
        """Release the HTTP session if the adapter created it."""
        if self._owns_session:
            self._session.close()

    # -- plumbing ------------------------------------------------------------------------------------------

    def _proxy(self, service: str) -> zeep.proxy.ServiceProxy:
        with self._lock:
            if service not in self._proxies:
                wsse = soap.username_token(self._config["username"], self._config["password"])
                if service == "rate_book":
                    client = soap.make_client(
                        wsdl_path("expressRateBook.wsdl"),
                        transport=self._transport,
                        wsse=wsse,
                        plugins=self._plugins,
                    )
                    self._proxies[service] = soap.bind(client, RATE_BOOK_BINDING, self.rate_book_url)
                else:
                    client = soap.make_client(
                        wsdl_path("glDHLExpressTrack.wsdl"),
                        transport=self._transport,
                        wsse=wsse,
                        plugins=self._plugins,
                    )
                    self._proxies[service] = soap.bind(client, TRACK_BINDING, self.tracking_url)
            return self._proxies[service]

    def _invoke(
        self, service: str, operation: str, body: Mapping[str, Any], timeout: float, *, idempotent: bool
    ) -> Any:
        if not self._breaker.allow():
            raise base.CarrierUnavailable(
                self.name, f"{operation}: circuit open, DHL not called", code="circuit_open"
            )
        proxy = self._proxy(service)
        deadline = self._clock() + timeout
        attempts = self._retry.attempts if idempotent else 1
        last: base.CarrierUnavailable | None = None
        for attempt in range(1, attempts + 1):
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            self._context.operation, self._context.attempt = operation, attempt
            try:
                result = soap.call(
                    self.name, proxy, operation, body, transport=self._transport, timeout=remaining
                )
            except base.CarrierRejected:
                self._breaker.record_success()  # DHL answered; the request was wrong, not the carrier
                raise
            except base.CarrierUnavailable as exc:
                last = exc
                if attempt < attempts:
                    pause = self._retry.delay(attempt)
                    if self._clock() + pause >= deadline:
                        break
                    self._retry.sleep(pause)
                continue
            self._breaker.record_success()
            return result
        self._breaker.record_failure()
        raise last or base.CarrierUnavailable(self.name, f"{operation}: deadline exceeded", code="timeout")

    def _on_exchange(self, exchange: Mapping[str, Any]) -> None:
        self.record(
            {
                "carrier": self.name,
                "account": self.account_id,
                "operation": getattr(self._context, "operation", None),
                "attempt": getattr(self._context, "attempt", None),
                "at": self._now().isoformat(),
                **exchange,
            }
        )


def _reply(result: Any, name: str) -> etree._Element:
    """Rebuild the reply element zeep left as open content, for the pure parsers."""
    root = etree.Element(name)
    if result is None:
        return root
    # zeep hands back the open content either bare (a list) or in a value object with _value_1/_attr_1.
    children = result if isinstance(result, list) else getattr(result, "_value_1", None) or []
    for key, value in (getattr(result, "_attr_1", None) or {}).items():
        root.set(key, value)
    for child in children:
        if isinstance(child, etree._Element):
            root.append(child)
    return root
