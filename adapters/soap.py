"""Hardened zeep plumbing for SOAP adapters: safe XML settings, deadlines, WS-Security, redacted exchanges.

Every collaborator is injected: the requests session goes into :class:`RecordingTransport`, the transport,
settings, WS-Security token and plugins go into :func:`make_client`. :func:`call` runs one operation and turns
every failure into the adapter contract's two outcomes: :class:`adapters.base.CarrierUnavailable` (timeouts,
connection errors, HTTP 5xx, garbled replies: retry later) and :class:`adapters.base.CarrierRejected` (SOAP
faults with the carrier's own code and message, and replies carrying a DTD, entities or external references).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import zeep
import zeep.exceptions
import zeep.proxy
from zeep.wsse.username import UsernameToken

from adapters import base

logger = logging.getLogger(__name__)

DEFAULT_LOAD_TIMEOUT = 5.0
_MAX_RECORDED_BODY = 256 * 1024  # a label reply is mostly base64 image; a dispute needs the rest

# WS-Security secrets inside an envelope, whatever prefix the serializer chose. Masked by element, not by
# value, so a short password that value-based redaction would skip is still never written anywhere.
_WSSE_SECRET = re.compile(
    r"(<(?P<prefix>[\w.-]+:)?(?P<tag>Password|Nonce)\b[^>]*>)(.*?)(</(?P=prefix)?(?P=tag)\s*>)", re.DOTALL
)

ExchangeSink = Callable[[Mapping[str, Any]], None]
"""Receives one HTTP exchange as a dict: ``request`` and ``response`` (redacted) plus ``error``."""


class UnsafeReply(zeep.exceptions.Error):
    """A reply that declares a DTD (entities, external references): refused unparsed."""


def declares_dtd(content: bytes) -> bool:
    """Return whether an XML document declares a DTD in its prolog (UTF-8, UTF-16 or ASCII-compatible)."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        content = content.decode("utf-16", errors="replace").encode("utf-8")
    elif content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    position = content.find(b"<")
    while position != -1:
        if content.startswith(b"<!--", position):
            end = content.find(b"-->", position + 4)
            position = -1 if end == -1 else content.find(b"<", end + 3)
        elif content.startswith(b"<?", position):
            end = content.find(b"?>", position + 2)
            position = -1 if end == -1 else content.find(b"<", end + 2)
        else:
            # The DOCTYPE or else the root element: either way the prolog ends here.
            return content.startswith(b"<!DOCTYPE", position)
    return False


def hardened_settings() -> zeep.Settings:
    """Return zeep settings that refuse DTDs, entity declarations and external fetches, and parse strictly."""
    return zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True)


def username_token(username: str, password: str) -> UsernameToken:
    """Return a WS-Security UsernameToken (PasswordText) for the SOAP header."""
    return UsernameToken(username, password)


def mask_wsse(text: str) -> str:
    """Return envelope text with every WS-Security Password and Nonce value masked."""
    return _WSSE_SECRET.sub(lambda m: f"{m.group(1)}{base.MASK}{m.group(5)}", text)


class RecordingTransport(zeep.Transport):
    """A zeep transport with a per-call deadline that logs and records each exchange with secrets masked.

    zeep's own transport logs full envelopes, WS-Security password included, at DEBUG; this one never does.
    """

    def __init__(
        self,
        session: requests.Session,
        *,
        operation_timeout: float,
        load_timeout: float = DEFAULT_LOAD_TIMEOUT,
        sink: ExchangeSink | None = None,
        redact: Callable[[Any], Any] = base.redact,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(timeout=load_timeout, operation_timeout=operation_timeout, session=session)
        if operation_timeout <= 0:
            raise ValueError("operation_timeout must be positive: zeep's default is to wait forever")
        self.sink = sink
        self.redact = redact
        self._clock = clock
        self._local = threading.local()

    @contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        """Use seconds (at most operation_timeout) as the HTTP timeout of calls made in this block."""
        previous = getattr(self._local, "timeout", None)
        self._local.timeout = min(seconds, self.operation_timeout)
        try:
            yield
        finally:
            self._local.timeout = previous

    @property
    def last_status(self) -> int | None:
        """Return the HTTP status of the last reply received on this thread."""
        return getattr(self._local, "status", None)

    def post(self, address: str, message: bytes | str, headers: Mapping[str, str]) -> requests.Response:
        """Send one envelope with the current deadline; log and record it redacted."""
        timeout = getattr(self._local, "timeout", None) or self.operation_timeout
        text = message.decode("utf-8") if isinstance(message, bytes) else message
        request_record = {
            "method": "POST",
            "url": address,
            "headers": {"SOAPAction": headers.get("SOAPAction", "")},
            "body": mask_wsse(text),
        }
        self._local.status = None
        started = self._clock()
        try:
            response = self.session.post(address, data=message, headers=headers, timeout=timeout)
        except requests.RequestException as exc:
            self._emit(request_record, None, f"{type(exc).__name__}: {exc}", started)
            raise
        self._local.status = response.status_code
        self._emit(request_record, response, None, started)
        if declares_dtd(response.content):
            # Refuse before any parser sees it: libxml2 reports a billion-laughs bomb as a mere syntax
            # error, which would otherwise read as a garbled (retryable) reply instead of an attack.
            raise UnsafeReply(f"reply from {address} declares a DTD")
        return response

    def _emit(
        self,
        request_record: dict[str, Any],
        response: requests.Response | None,
        error: str | None,
        started: float,
    ) -> None:
        response_record = None
        if response is not None:
            response_record = {
                "status": response.status_code,
                "headers": {"Content-Type": response.headers.get("Content-Type", "")},
                # Kept as text, never parsed here: an attack payload is recorded, not expanded.
                "body": response.content[:_MAX_RECORDED_BODY].decode("utf-8", errors="replace"),
            }
        exchange = self.redact(
            {
                "request": request_record,
                "response": response_record,
                "error": error,
                "duration_ms": round((self._clock() - started) * 1000),
            }
        )
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "SOAP POST %s -> %s\n%s",
                request_record["url"],
                response.status_code if response is not None else error,
                exchange["request"]["body"],
            )
        if self.sink is not None:
            self.sink(exchange)


def make_client(
    wsdl: str | Path,
    *,
    transport: zeep.Transport,
    settings: zeep.Settings | None = None,
    wsse: Any = None,
    plugins: Sequence[zeep.Plugin] = (),
) -> zeep.Client:
    """Build a zeep Client from a local WSDL with every collaborator injected and hardened settings."""
    return zeep.Client(
        str(wsdl),
        transport=transport,
        settings=settings or hardened_settings(),
        wsse=wsse,
        plugins=list(plugins),
    )


def bind(client: zeep.Client, binding: str, address: str) -> zeep.proxy.ServiceProxy:
    """Return the service proxy of binding (``{namespace}name``) pointed at address, not the WSDL's own."""
    return client.create_service(binding, address)


def call(
    carrier_name: str,
    proxy: zeep.proxy.ServiceProxy,
    operation: str,
    body: Mapping[str, Any],
    *,
    transport: RecordingTransport,
    timeout: float,
) -> Any:
    """Run one SOAP operation within timeout; raise CarrierUnavailable or CarrierRejected on failure."""
    try:
        with transport.deadline(timeout):
            return getattr(proxy, operation)(**body)
    except zeep.exceptions.Fault as exc:
        status = transport.last_status
        if exc.code is None and status is not None and status >= 500:
            # A 5xx whose body is XML but not a SOAP fault: a proxy or load balancer, not the carrier.
            raise base.CarrierUnavailable(
                carrier_name, f"{operation}: HTTP {status}", code=f"http_{status}", http_status=status
            ) from exc
        if str(exc.code or "").rpartition(":")[2] == "Server":
            # SOAP 1.1: a Server fault is the carrier failing, not the request being wrong; retry later
            # (and let the circuit breaker count it). A Client fault is a refusal.
            raise base.CarrierUnavailable(
                carrier_name, _fault_message(exc), code=str(exc.code), http_status=status
            ) from exc
        raise base.CarrierRejected(
            carrier_name,
            _fault_message(exc),
            code=str(exc.code) if exc.code else "soap_fault",
            http_status=status,
        ) from exc
    except (
        UnsafeReply,
        zeep.exceptions.DTDForbidden,
        zeep.exceptions.EntitiesForbidden,
        zeep.exceptions.ExternalReferenceForbidden,
    ) as exc:
        raise base.CarrierRejected(
            carrier_name,
            f"{operation}: reply refused unprocessed, it carries a DTD, entity declarations or "
            "external references",
            code="unsafe_xml",
            http_status=transport.last_status,
        ) from exc
    except zeep.exceptions.TransportError as exc:
        status = exc.status_code or transport.last_status
        if status is not None and 400 <= status < 500 and status not in (408, 429):
            raise base.CarrierRejected(
                carrier_name, f"{operation}: HTTP {status}", code=f"http_{status}", http_status=status
            ) from exc
        what = f"HTTP {status}" if status and status != 200 else "unreadable reply"
        raise base.CarrierUnavailable(
            carrier_name,
            f"{operation}: {what}",
            code=f"http_{status}" if status and status != 200 else "bad_reply",
            http_status=status,
        ) from exc
    except (zeep.exceptions.XMLSyntaxError, zeep.exceptions.XMLParseError) as exc:
        raise base.CarrierUnavailable(
            carrier_name,
            f"{operation}: reply is not a SOAP envelope of the expected shape",
            code="bad_reply",
            http_status=transport.last_status,
        ) from exc
    except requests.Timeout as exc:
        raise base.CarrierUnavailable(
            carrier_name, f"{operation}: timed out after {timeout:.1f}s", code="timeout"
        ) from exc
    except requests.RequestException as exc:
        raise base.CarrierUnavailable(
            carrier_name, f"{operation}: connection failed ({type(exc).__name__})", code="connection"
        ) from exc
    except zeep.exceptions.ValidationError as exc:
        raise base.CarrierRejected(
            carrier_name,
            f"{operation}: request not sent, it breaks the contract: {exc.message}",
            code="invalid_request",
        ) from exc


def _fault_message(fault: zeep.exceptions.Fault) -> str:
    message = str(fault.message or "SOAP fault without a message")
    detail = fault.detail
    if detail is not None:
        text = " ".join(t.strip() for t in detail.itertext() if t.strip())
        if text and text not in message:
            message = f"{message} ({text})"
    return message
