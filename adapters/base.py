"""The carrier adapter contract: declared capabilities, validated configuration, masked secrets, two failures.

An adapter subclasses :class:`Adapter`, sets ``name``, ``capabilities`` and ``config_schema`` (or
``config_schema_resource``), a JSON Schema whose top-level ``"secret"`` list names the secret fields, and
implements the ``_rate``/``_label``/... hooks for the capabilities it declares. Callers use the public
methods (``rate``, ``label``, ...), which check the capability and apply the timeout; carrier failures
surface only as :class:`CarrierUnavailable` (retry later) or :class:`CarrierRejected` (don't retry).

Tracking knowledge lives here too, so that the gateway never branches on a carrier's name: each adapter
class names its tracking code table (``code_table_package``, read by ``code_table()``) and, when the
carrier pushes events to ``/v1/callbacks/<name>``, declares how those pushes authenticate
(``callback``: a :class:`CallbackSpec`) and turns a push body into canonical events
(``parse_callback``). Both are class-level: a push is received and normalised whether or not an account
of that carrier is enabled.
"""

from __future__ import annotations

import abc
import copy
import enum
import importlib.resources
import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import jsonschema

from adapters import codes
from schemas import carrier, events, types

MASK = "********"

# Keys whose values are secret wherever they appear (configs, HTTP headers, bodies), whatever the
# adapter declares.
SENSITIVE_KEYS: frozenset[str] = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "password",
        "passwd",
        "secret",
        "client_secret",
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "api_key",
        "apikey",
        "x-api-key",
        "credential",
        "credentials",
        "cookie",
        "set-cookie",
    }
)

# A bearer/basic credential inside free text (a log line, an error message, a serialised header).
_AUTH_IN_TEXT = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_SECRET_PARAM_IN_TEXT = re.compile(
    r"(?i)\b(client_secret|password|access_token|refresh_token|token|api_key)=([^&\s\"']+)"
)

Recorder = Callable[[Mapping[str, Any]], None]
"""Receives one redacted exchange (``carrier``, ``operation``, ``request``, ``response``, ``error``, ...)."""


class Capability(enum.StrEnum):
    """What an adapter can do; declared, never detected."""

    RATE = "rate"
    LABEL = "label"
    VOID = "void"
    TRACK_POLL = "track_poll"
    TRACK_PUSH = "track_push"
    PICKUP = "pickup"
    LOOKUP_SHIPMENT = "lookup_shipment"
    # Print-at-home return labels: a label request whose spec ``is_return`` carries the carrier's return fields.
    RETURN = "return"
    # A return label that also comes with a QR code, for a customer without a printer (USPS Label Broker):
    # asked with "return_qr" in the spec's options, given back as a ``ShippingDocument`` of kind "qr_code".
    RETURN_QR = "return_qr"
    # Standardise an address and classify it residential or commercial (``classify_address``).
    ADDRESS_VALIDATION = "address_validation"
    # An end-of-day close with the carrier, for the manifest of a day's labels (``close_day``).
    CLOSE_DAY = "close_day"
    # Pushes for every package of the account once the account is subscribed (USPS Subscriptions -
    # Tracking by MID): ``subscribe_account_pushes``, ``account_push_subscription``, ``cancel_account_pushes``
    # and ``verify_push`` with the account's own secret.
    TRACK_PUSH_ACCOUNT = "track_push_account"


class AdapterError(Exception):
    """Base of every error an adapter raises."""


class ConfigurationError(AdapterError):
    """The adapter's configuration does not satisfy its JSON Schema."""


class CapabilityNotSupported(AdapterError):
    """The adapter was asked for something it does not declare."""

    def __init__(self, carrier_name: str, capability: Capability | str) -> None:
        self.carrier = carrier_name
        self.capability = capability
        # A str names an optional action that is not a declared capability (e.g. "test_connection").
        name = capability.value if isinstance(capability, Capability) else capability
        super().__init__(f"carrier {carrier_name!r} does not support {name!r}")


class CarrierError(AdapterError):
    """A carrier call failed."""

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        carrier_name: str,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
    ) -> None:
        self.carrier = carrier_name
        self.message = message
        self.code = code
        self.http_status = http_status
        prefix = f"{carrier_name}: " + (f"[{code}] " if code else "")
        super().__init__(prefix + message)


class CarrierUnavailable(CarrierError):
    """The carrier could not answer (timeout, connection, 5xx, throttling, open circuit): retry later."""

    retryable = True

    def __init__(
        self,
        carrier_name: str,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(carrier_name, message, code=code, http_status=http_status)
        self.retry_after = retry_after


class CarrierRejected(CarrierError):
    """The carrier refused the request; ``code`` and ``message`` are the carrier's own. Do not retry."""

    retryable = False


@dataclass(frozen=True, slots=True)
class ConnectionReport:
    """What a successful connection test found: the carrier authenticated this account's credentials.

    ``message`` says what was checked in plain words; it never holds a secret (nor the token issued).
    """

    carrier: str
    account: str
    message: str


@dataclass(frozen=True, slots=True)
class Requirement:
    """One reason a carrier's service cannot take a shipment, found before anything is sent.

    ``path`` names the field in booking-body terms (``destination.phone``, ``parcels.0.weight``,
    ``service``); ``code`` is stable (clients switch on it); ``message`` is for people.
    """

    path: str
    code: str
    message: str


class InvalidShipment(CarrierRejected):
    """A label request refused before sending: ``problems`` are what the adapter's ``check`` reports.

    ``code`` stays ``invalid_request`` (what callers switched on before checks existed); the stable
    per-problem codes are on ``problems``.
    """

    def __init__(self, carrier_name: str, problems: Sequence[Requirement]) -> None:
        self.problems: tuple[Requirement, ...] = tuple(problems)
        super().__init__(carrier_name, "; ".join(p.message for p in self.problems), code="invalid_request")


def refuse_unless_valid(carrier_name: str, problems: Sequence[Requirement]) -> None:
    """Raise InvalidShipment when a check found anything: label builders call this before building."""
    if problems:
        raise InvalidShipment(carrier_name, problems)


class PushPayloadError(AdapterError, ValueError):
    """A push body that is not a readable push of this carrier (kept in the inbox as failed, never retried)."""


class PushScheme(enum.StrEnum):
    """How a carrier proves that a push to ``/v1/callbacks/<name>`` is its own."""

    # An opaque credential echoed in a header (``CALLBACK_SECRETS[name]``), or checked by an enabled
    # adapter's ``authenticate_push`` (e.g. a bearer token it issued). Guessable: throttled per source first.
    CREDENTIAL = "credential"
    # HMAC-SHA256 of ``"<unix timestamp>." + raw body`` with ``CALLBACK_SECRETS[name]``; each signature
    # is accepted once, within a tolerance around our clock.
    SIGNED = "hmac"
    # HMAC-SHA256 of the raw body alone with ``CALLBACK_SECRETS[name]``, base64, in
    # ``signature_headers[0]`` (FedEx's ``fdx-signature``). No timestamp: a body is accepted once a day
    # (its hash is the replay key), and events are idempotent by id after that.
    SIGNED_BODY = "hmac_body"
    # The adapter checks the signature itself (``Adapter.verify_callback`` with ``CALLBACK_SECRETS[name]``),
    # for carriers that sign something other than the raw body (USPS: timestamp and payload fields).
    # A body is accepted once a day, as for SIGNED_BODY.
    ADAPTER = "adapter"


@dataclass(frozen=True, slots=True)
class CallbackSpec:
    """What the gateway's callback endpoint needs to authenticate one carrier's pushes."""

    scheme: PushScheme
    credential_header: str = "credential"
    signature_headers: tuple[str, ...] = ("X-Handoff-Signature", "X-Sim-Signature")
    timestamp_headers: tuple[str, ...] = ("X-Handoff-Timestamp", "X-Sim-Timestamp")
    # The realm named in ``WWW-Authenticate`` when the adapter issues push tokens (``issue_webhook_token``).
    realm: str | None = None


@dataclass(frozen=True, slots=True)
class Courier:
    """Who handed a parcel over, as a driver app reports it: what the proof-of-delivery checks need."""

    driver_id: str
    vehicle_id: str | None = None
    route_id: str | None = None
    stop_sequence: int | None = None


@dataclass(frozen=True, slots=True)
class PushedEvent:
    """One canonical event read from a push; ``courier`` is set when the carrier's own driver reported it."""

    event: events.CanonicalEvent
    courier: Courier | None = None


def canonical_event(
    table: codes.CodeTable, raw: carrier.RawTrackingEvent, source: events.EventSource
) -> events.CanonicalEvent:
    """Translate an adapter's raw event with a code table (unknown codes stay unmapped)."""
    loc = raw.location
    location = (
        None
        if loc is None
        else events.Location(
            city=loc.city,
            state=loc.state,
            postal_code=loc.postal_code,
            country_code=loc.country_code,
            facility=loc.description,
        )
    )
    return codes.to_event(
        table,
        tracking_number=raw.tracking_number,
        occurred_at=raw.occurred_at,
        code=raw.code,
        subcode=raw.subcode,
        message=raw.description or None,
        location=location,
        estimated_delivery=raw.estimated_delivery,
        source_event_id=raw.source_event_id,
        source=source,
        attributes=raw.attributes or None,
    )


def secret_fields_of(schema: Mapping[str, Any]) -> frozenset[str]:
    """Return the secret field names a configuration JSON Schema declares in its ``secret`` list."""
    return frozenset(schema.get("secret", ()))


def validate_config(schema: Mapping[str, Any], config: Mapping[str, Any], carrier_name: str) -> None:
    """Raise ConfigurationError, naming the field but never its value, when config breaks schema."""
    validator_cls = jsonschema.validators.validator_for(schema)
    errors = sorted(validator_cls(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        # jsonschema messages quote the offending value, which may be a secret: describe by validator instead.
        raise ConfigurationError(
            f"{carrier_name} configuration invalid at {where}: failed {first.validator!r} "
            f"({len(errors)} error(s))"
        )


def redact(value: Any, secret_keys: frozenset[str] = frozenset(), secret_values: Sequence[str] = ()) -> Any:
    """Return a deep copy of value with secret keys masked and known secret strings blanked out."""
    keys = {k.lower() for k in secret_keys} | SENSITIVE_KEYS
    values = sorted({v for v in secret_values if v and len(v) >= 4}, key=len, reverse=True)
    return _redact(value, keys, values)


def _redact(value: Any, keys: set[str], values: list[str]) -> Any:
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            if isinstance(k, str) and k.lower() in keys and v not in (None, ""):
                out[k] = MASK
            else:
                out[k] = _redact(v, keys, values)
        return out
    if isinstance(value, list | tuple):
        return type(value)(_redact(v, keys, values) for v in value)
    if isinstance(value, bytes):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            return value
        return _redact_text(text, values).encode("utf-8")
    if isinstance(value, str):
        return _redact_text(value, values)
    return copy.copy(value)


def _redact_text(text: str, values: list[str]) -> str:
    for secret in values:
        text = text.replace(secret, MASK)
    text = _AUTH_IN_TEXT.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _SECRET_PARAM_IN_TEXT.sub(lambda m: f"{m.group(1)}={MASK}", text)


class Adapter(abc.ABC):
    """One carrier account behind the canonical interface."""

    name: ClassVar[str]
    # How people call the carrier (reports, the tracking page); empty: the name, readable.
    display_name: ClassVar[str] = ""
    # The invoice file layout its bills come in (gateway/reconciliation/parsers.LAYOUTS); None: none of its own.
    invoice_layout: ClassVar[str | None] = None
    capabilities: ClassVar[frozenset[Capability]]
    config_schema: ClassVar[Mapping[str, Any] | None] = None
    # A JSON file next to the adapter's module, read on first use rather than at import time.
    config_schema_resource: ClassVar[tuple[str, str] | None] = None  # (package, file name)
    label_formats: ClassVar[frozenset[carrier.LabelFormat]] = frozenset()
    default_timeout: ClassVar[float] = 10.0
    # The package holding this carrier's ``tracking_codes.csv`` (None: ``adapters/<name>/``, the built-ins').
    code_table_package: ClassVar[str | None] = None
    # How pushes to ``/v1/callbacks/<name>`` authenticate; None: this carrier pushes nothing there.
    callback: ClassVar[CallbackSpec | None] = None
    # What the carrier's end-of-day close is called on a manifest (``CLOSE_DAY``), e.g. "USPS SCAN form".
    close_day_title: ClassVar[str] = ""
    # Where to cancel a pickup that the carrier's API (or this adapter) cannot cancel, as "on ... or ...".
    pickup_cancel_elsewhere: ClassVar[str] = ""

    def __init__(self, config: Mapping[str, Any], *, recorder: Recorder | None = None) -> None:
        validate_config(self.get_config_schema(), config, self.name)
        self._config: dict[str, Any] = copy.deepcopy(dict(config))
        self.timeout: float = float(self._config.get("timeout_seconds", self.default_timeout))
        self._recorder = recorder

    # -- configuration and secrets -------------------------------------------------------------------------

    @classmethod
    def get_config_schema(cls) -> Mapping[str, Any]:
        """Return the JSON Schema of this adapter's configuration."""
        if cls.config_schema is None:
            if cls.config_schema_resource is None:
                raise TypeError(f"{cls.__name__} declares neither config_schema nor config_schema_resource")
            package, filename = cls.config_schema_resource
            text = importlib.resources.files(package).joinpath(filename).read_text(encoding="utf-8")
            cls.config_schema = json.loads(text)
        assert cls.config_schema is not None
        return cls.config_schema

    @classmethod
    def secret_fields(cls) -> frozenset[str]:
        """Return the configuration fields that hold secrets."""
        return secret_fields_of(cls.get_config_schema())

    @property
    def account_id(self) -> str:
        """Return the identifier of this carrier account (for circuit breakers, logs and storage)."""
        return str(self._config.get("account_number") or self._config.get("account") or self.name)

    def masked_config(self) -> dict[str, Any]:
        """Return the configuration with every secret field masked, safe for any output."""
        return self.redact(self._config)

    def _secret_values(self) -> list[str]:
        secrets: list[str] = []
        for key in self.secret_fields():
            value = self._config.get(key)
            if isinstance(value, str):
                secrets.append(value)
        return secrets + list(self._extra_secret_values())

    def _extra_secret_values(self) -> Sequence[str]:
        """Return run-time secrets (e.g. a cached OAuth token) to blank out as well."""
        return ()

    def redact(self, value: Any) -> Any:
        """Return value (config, exchange, log text) with this adapter's secrets masked."""
        return redact(value, self.secret_fields(), self._secret_values())

    def record(self, exchange: Mapping[str, Any]) -> None:
        """Hand a redacted exchange to the recorder, if one is attached."""
        if self._recorder is not None:
            self._recorder(self.redact(exchange))

    # -- tracking knowledge (class-level: no enabled account needed) -------------------------------------

    @classmethod
    def code_table(cls) -> codes.CodeTable:
        """Return this carrier's tracking code table (``codes.MappingError`` when it has none)."""
        return codes.load_table(cls.name, cls.code_table_package)

    @classmethod
    def canonical(cls, raw: carrier.RawTrackingEvent, source: events.EventSource) -> events.CanonicalEvent:
        """Translate one of this adapter's raw events with its code table."""
        return canonical_event(cls.code_table(), raw, source)

    @classmethod
    def parse_callback(cls, payload: Mapping[str, Any]) -> list[PushedEvent]:
        """Turn one authenticated push body (a JSON object) into canonical events (``PushPayloadError``)."""
        raise CapabilityNotSupported(cls.name, Capability.TRACK_PUSH)

    @classmethod
    def verify_callback(cls, secret: str, headers: Mapping[str, str], body: bytes) -> None:
        """Raise CarrierRejected unless the push is signed with ``secret`` (``PushScheme.ADAPTER``)."""
        raise CarrierRejected(cls.name, "this adapter verifies no pushes", code="push_unauthenticated")

    @classmethod
    def push_subscription_id(cls, body: bytes) -> str | None:
        """The carrier's subscription id a push names, if it names one (it picks the account to verify with)."""
        return None

    def authenticate_push(self, headers: Mapping[str, str]) -> None:
        """Raise CarrierRejected unless this account's own push credentials vouch for the push."""
        raise CarrierRejected(
            self.name, "this adapter holds no push credentials", code="push_unauthenticated"
        )

    def verify_push(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raise CarrierRejected unless this account's own push secret signs the push (``PushScheme.ADAPTER``)."""
        raise CarrierRejected(self.name, "this adapter holds no push secret", code="push_unauthenticated")

    def issue_webhook_token(self, authorization: str) -> Mapping[str, Any]:
        """Answer the carrier's client-credentials call for a push token; CarrierRejected when refused."""
        raise CarrierRejected(self.name, "this adapter issues no push tokens", code="push_unauthenticated")

    # -- requirements (class-level: what a label purchase would refuse, checked before buying) ----------

    @classmethod
    def check(cls, spec: types.ShipmentSpec, service: str) -> list[Requirement]:
        """Return every reason this carrier's ``service`` would refuse a label for ``spec`` (none: [])."""
        return []

    # -- public operations ---------------------------------------------------------------------------------

    def supports(self, capability: Capability) -> bool:
        """Return whether this adapter declares capability."""
        return capability in self.capabilities

    def _require(self, capability: Capability) -> None:
        if capability not in self.capabilities:
            raise CapabilityNotSupported(self.name, capability)

    def _timeout(self, timeout: float | None) -> float:
        if timeout is not None and timeout <= 0:
            raise CarrierUnavailable(self.name, "deadline already passed before the call")
        return self.timeout if timeout is None else min(timeout, self.timeout)

    def rate(self, request: carrier.RateRequest, *, timeout: float | None = None) -> list[carrier.RateResult]:
        """Return the carrier's prices for a shipment."""
        self._require(Capability.RATE)
        return self._rate(request, self._timeout(timeout))

    def label(self, request: carrier.LabelRequest, *, timeout: float | None = None) -> carrier.LabelResult:
        """Buy a label; never retried automatically, because a retry may buy twice."""
        self._require(Capability.LABEL)
        if request.spec.is_return and Capability.RETURN not in self.capabilities:
            raise CarrierRejected(
                self.name,
                f"{self.display_name or self.name} return labels are not offered through this integration",
                code="returns_not_supported",
            )
        if self.label_formats and request.label_format not in self.label_formats:
            raise CarrierRejected(
                self.name,
                f"label format {request.label_format.value} not offered; "
                f"use one of {sorted(f.value for f in self.label_formats)}",
                code="unsupported_label_format",
            )
        return self._label(request, self._timeout(timeout))

    def void(self, request: carrier.VoidRequest, *, timeout: float | None = None) -> carrier.VoidResult:
        """Cancel a bought, unused label."""
        self._require(Capability.VOID)
        return self._void(request, self._timeout(timeout))

    def track(self, request: carrier.TrackRequest, *, timeout: float | None = None) -> carrier.TrackResult:
        """Poll the carrier for a tracking number's events."""
        self._require(Capability.TRACK_POLL)
        return self._track(request, self._timeout(timeout))

    def subscribe_tracking(
        self, tracking_numbers: Sequence[str], *, timeout: float | None = None
    ) -> tuple[list[str], list[str]]:
        """Ask the carrier to push events for tracking numbers; return (accepted, refused)."""
        self._require(Capability.TRACK_PUSH)
        return self._subscribe_tracking(list(tracking_numbers), self._timeout(timeout))

    def parse_push(self, headers: Mapping[str, str], body: bytes) -> list[carrier.RawTrackingEvent]:
        """Authenticate and parse one carrier push; raise CarrierRejected when it is not genuine."""
        self._require(Capability.TRACK_PUSH)
        return self._parse_push(headers, body)

    def subscribe_account_pushes(
        self, listener_url: str, *, timeout: float | None = None
    ) -> carrier.PushSubscription:
        """Ask the carrier to push every package of this account to ``listener_url``; not resent blindly."""
        self._require(Capability.TRACK_PUSH_ACCOUNT)
        return self._subscribe_account_pushes(listener_url, self._timeout(timeout))

    def account_push_subscription(
        self, subscription_id: str, *, timeout: float | None = None
    ) -> carrier.PushSubscription | None:
        """Read an account subscription back (None: the carrier no longer has it)."""
        self._require(Capability.TRACK_PUSH_ACCOUNT)
        return self._account_push_subscription(subscription_id, self._timeout(timeout))

    def cancel_account_pushes(self, subscription_id: str, *, timeout: float | None = None) -> None:
        """Delete an account subscription (one the carrier no longer has is not an error)."""
        self._require(Capability.TRACK_PUSH_ACCOUNT)
        self._cancel_account_pushes(subscription_id, self._timeout(timeout))

    def pickup(self, request: carrier.PickupRequest, *, timeout: float | None = None) -> carrier.PickupResult:
        """Book a collection."""
        self._require(Capability.PICKUP)
        return self._pickup(request, self._timeout(timeout))

    def cancel_pickup(
        self,
        request: carrier.PickupRequest,
        confirmation: str,
        details: Mapping[str, str] | None = None,
        *,
        timeout: float | None = None,
    ) -> None:
        """Cancel a booked collection by its confirmation number (``request`` is what was booked).

        ``details`` are the booking's ``PickupResult.details`` as stored (empty when there were none).
        An adapter whose carrier API cancels pickups overrides ``_cancel_pickup``; the default raises
        CapabilityNotSupported (the pickup is then cancelled with the carrier by other means).
        """
        self._require(Capability.PICKUP)
        self._cancel_pickup(request, confirmation, dict(details or {}), self._timeout(timeout))

    def _cancel_pickup(
        self, request: carrier.PickupRequest, confirmation: str, details: Mapping[str, str], timeout: float
    ) -> None:
        raise CapabilityNotSupported(self.name, Capability.PICKUP)

    def lookup_shipment(self, reference: str, *, timeout: float | None = None) -> carrier.ShipmentLookup:
        """Ask the carrier whether a purchase under our reference happened (after a lost answer)."""
        self._require(Capability.LOOKUP_SHIPMENT)
        return self._lookup_shipment(reference, self._timeout(timeout))

    def classify_address(
        self, address: types.Address, *, timeout: float | None = None
    ) -> carrier.AddressValidation:
        """Ask the carrier to standardise and classify one address (residential or commercial)."""
        self._require(Capability.ADDRESS_VALIDATION)
        return self._classify_address(address, self._timeout(timeout))

    def close_day(
        self, request: carrier.DayCloseRequest, *, timeout: float | None = None
    ) -> carrier.DayClose:
        """Close a day's labels with the carrier (its end-of-day manifest); not retried blindly."""
        self._require(Capability.CLOSE_DAY)
        return self._close_day(request, self._timeout(timeout))

    def closes_day_for(self, services: Collection[str]) -> bool:
        """Whether the carrier's close applies to a day holding labels of these service codes."""
        return Capability.CLOSE_DAY in self.capabilities

    def test_connection(self, *, timeout: float | None = None) -> ConnectionReport:
        """Authenticate with the carrier using this account's credentials, with one cheap call.

        Returns what was found; raises ``CarrierRejected`` (the carrier refused the credentials, with its
        own code and message) or ``CarrierUnavailable`` (no answer). An adapter with no cheap authenticated
        call raises ``CapabilityNotSupported`` (the default).
        """
        raise CapabilityNotSupported(self.name, "test_connection")

    def _token_issued(self, lifetime: float) -> ConnectionReport:
        """The report of a connection test that fetched a fresh OAuth token (the token is not kept)."""
        return ConnectionReport(
            self.name,
            self.account_id,
            f"authenticated: the OAuth token endpoint issued a token valid for {int(lifetime)} s",
        )

    # -- hooks: implement those you declare ----------------------------------------------------------------

    def _rate(self, request: carrier.RateRequest, timeout: float) -> list[carrier.RateResult]:
        raise CapabilityNotSupported(self.name, Capability.RATE)

    def _label(self, request: carrier.LabelRequest, timeout: float) -> carrier.LabelResult:
        raise CapabilityNotSupported(self.name, Capability.LABEL)

    def _void(self, request: carrier.VoidRequest, timeout: float) -> carrier.VoidResult:
        raise CapabilityNotSupported(self.name, Capability.VOID)

    def _track(self, request: carrier.TrackRequest, timeout: float) -> carrier.TrackResult:
        raise CapabilityNotSupported(self.name, Capability.TRACK_POLL)

    def _subscribe_tracking(self, tracking_numbers: list[str], timeout: float) -> tuple[list[str], list[str]]:
        raise CapabilityNotSupported(self.name, Capability.TRACK_PUSH)

    def _parse_push(self, headers: Mapping[str, str], body: bytes) -> list[carrier.RawTrackingEvent]:
        raise CapabilityNotSupported(self.name, Capability.TRACK_PUSH)

    def _subscribe_account_pushes(self, listener_url: str, timeout: float) -> carrier.PushSubscription:
        raise CapabilityNotSupported(self.name, Capability.TRACK_PUSH_ACCOUNT)

    def _account_push_subscription(
        self, subscription_id: str, timeout: float
    ) -> carrier.PushSubscription | None:
        raise CapabilityNotSupported(self.name, Capability.TRACK_PUSH_ACCOUNT)

    def _cancel_account_pushes(self, subscription_id: str, timeout: float) -> None:
        raise CapabilityNotSupported(self.name, Capability.TRACK_PUSH_ACCOUNT)

    def _pickup(self, request: carrier.PickupRequest, timeout: float) -> carrier.PickupResult:
        raise CapabilityNotSupported(self.name, Capability.PICKUP)

    def _lookup_shipment(self, reference: str, timeout: float) -> carrier.ShipmentLookup:
        raise CapabilityNotSupported(self.name, Capability.LOOKUP_SHIPMENT)

    def _classify_address(self, address: types.Address, timeout: float) -> carrier.AddressValidation:
        raise CapabilityNotSupported(self.name, Capability.ADDRESS_VALIDATION)

    def _close_day(self, request: carrier.DayCloseRequest, timeout: float) -> carrier.DayClose:
        raise CapabilityNotSupported(self.name, Capability.CLOSE_DAY)

    def close(self) -> None:  # noqa: B027 - optional hook, most adapters hold nothing to release
        """Release connections held by the adapter."""
