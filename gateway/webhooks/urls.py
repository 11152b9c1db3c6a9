"""Where webhooks may go: public addresses only, unless the mode or an allowlist says otherwise.

A destination whose name resolves to a private, loopback, link-local, multicast, reserved or
otherwise non-global address is refused when ``ENV`` is ``production`` (the default), unless its
host or address is in ``WEBHOOK_ALLOWLIST`` (``GATEWAY_WEBHOOK_ALLOWLIST``: comma- or
space-separated host names, addresses or CIDR networks). The check runs when an endpoint is
saved and again on every delivery, on the very addresses the connection then uses
(``GuardedAdapter``), so a name that re-resolves to an internal address later (DNS rebinding)
is still refused.

An IPv6 address that carries an IPv4 address inside it is judged by that IPv4 address too, since
a translator or relay delivers it there: IPv4-mapped (``::ffff:a.b.c.d``), IPv4-translated
(``::ffff:0:a.b.c.d``), IPv4-compatible (``::a.b.c.d``), NAT64 (``64:ff9b::/96``), 6to4
(``2002::/16``) and Teredo (``2001::/32``, server and client). The local-use NAT64 prefix
``64:ff9b:1::/48`` is never public, wherever its operator puts the IPv4 address.

``WEBHOOK_ALLOW_LOCAL_HTTP`` (set by ``make serve``) also allows a loopback receiver
(``localhost``, ``127.0.0.0/8``, ``::1``), over http or https, in production mode; nothing else.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.connection import create_connection

from gateway.kernel import config

_PERMISSIVE_ENVS = frozenset({"test", "development"})
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# IPv6 forms whose last 32 bits are an IPv4 address a translator delivers to (RFC 6052, 2765, 4291).
_IPV4_IN_LOW_BITS = (
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64 well-known prefix
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (SIIT)
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated): ::a.b.c.d
)
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: not globally reachable


class UnsafeDestination(ValueError):
    """The URL or the address it resolves to is not allowed. ``reason`` is a stable slug."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Policy:
    permissive: bool  # test/development: any address, http allowed
    hosts: frozenset[str]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    local_http: bool = False  # WEBHOOK_ALLOW_LOCAL_HTTP: loopback receivers allowed, over http too

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Policy:
        env = config.read(settings, "ENV").strip().lower()
        hosts: set[str] = set()
        networks = []
        for item in config.read(settings, "WEBHOOK_ALLOWLIST").replace(",", " ").split():
            try:
                networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            except ValueError:
                hosts.add(item.lower().rstrip("."))
        local = config.read(settings, "WEBHOOK_ALLOW_LOCAL_HTTP")  # "true" from the environment too
        return cls(env in _PERMISSIVE_ENVS, frozenset(hosts), tuple(networks), local)

    def local_receiver(self, host: str) -> bool:
        """Whether ``WEBHOOK_ALLOW_LOCAL_HTTP`` is on and the host names this machine (loopback)."""
        return self.local_http and is_loopback_host(host)

    def host_allowed(self, host: str) -> bool:
        """Whether the host itself is allowlisted (by name, or as an address in an allowlisted network)."""
        if self.permissive or host.lower().rstrip(".") in self.hosts:
            return True
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return False
        return any(literal in net for net in self.networks if net.version == literal.version)

    def address_allowed(self, host: str, address: IPAddress) -> bool:
        if self.host_allowed(host) or is_public(address):
            return True
        if self.local_receiver(host) and address.is_loopback:
            return True
        return any(address in net for net in self.networks if net.version == address.version)


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Return the IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo, NAT64, compatible)."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)  # (server, client)
    if address.ipv4_mapped is None and any(address in net for net in _IPV4_IN_LOW_BITS):
        found.append(ipaddress.IPv4Address(address.packed[-4:]))
    return found


def is_public(address: IPAddress) -> bool:
    """Return whether an address is globally routable unicast (not private, loopback, link-local, ...).

    An IPv6 address is public only if every IPv4 address inside it is public too.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64_LOCAL_USE:
            return False
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)  # an IPv4 connection: judged as IPv4 alone
        if not all(is_public(inner) for inner in embedded_ipv4(address)):
            return False
    return address.is_global and not address.is_multicast


def is_loopback_host(host: str) -> bool:
    """Return whether a URL host is ``localhost`` or a loopback address literal."""
    host = host.lower().rstrip(".").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, policy: Policy) -> tuple[str, int]:
    """Refuse a URL that is malformed or not allowed by its form; return (host, port)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeDestination("invalid", f"Not a valid URL: {exc}.") from exc
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        raise UnsafeDestination("invalid", "The URL must be an absolute http(s) URL with a host.")
    if parts.username or parts.password:
        raise UnsafeDestination("credentials", "The URL must not carry credentials; sign-verify instead.")
    if scheme == "http" and not (policy.host_allowed(host) or policy.local_receiver(host)):
        raise UnsafeDestination("insecure", "Webhook URLs must use https.")
    return host, port or (443 if scheme == "https" else 80)


def resolve(host: str, port: int, policy: Policy) -> list[str]:
    """Resolve ``host`` and return its addresses, refusing if any of them is not allowed."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise UnsafeDestination("unresolvable", f"The host {host} does not resolve.") from exc
        addresses = list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))
    for text in addresses:
        if not policy.address_allowed(host, ipaddress.ip_address(text)):
            raise UnsafeDestination(
                "private_address",
                f"The host {host} resolves to a private, loopback or link-local address, which is refused.",
            )
    return addresses


def check(url: str, policy: Policy) -> None:
    """Refuse a URL by its form or by what it resolves to now (used when an endpoint is saved).

    In test/development mode any address is allowed, so the name is not looked up at all.
    """
    host, port = check_url(url, policy)
    if not policy.permissive:
        resolve(host, port, policy)


# -- the connection guard -------------------------------------------------------------------------


def _connect(conn: HTTPConnection, policy: Policy) -> socket.socket:
    """Resolve, check every address, then connect to the checked addresses only."""
    addresses = resolve(conn.host, conn.port or 0, policy)
    last: OSError | None = None
    for address in addresses:
        try:
            return create_connection(
                (address, conn.port),
                conn.timeout,
                source_address=conn.source_address,
                socket_options=conn.socket_options,
            )
        except OSError as exc:
            last = exc
    raise last or OSError(f"could not connect to {conn.host}")


def _connection_classes(policy: Policy) -> tuple[type[HTTPConnection], type[HTTPSConnection]]:
    class GuardedHTTPConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return _connect(self, policy)

    class GuardedHTTPSConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return _connect(self, policy)

    return GuardedHTTPConnection, GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections go only to addresses the policy allows."""

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        super().__init__(max_retries=0, pool_connections=4, pool_maxsize=4)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        http_cls, https_cls = _connection_classes(self._policy)

        class HTTPPool(HTTPConnectionPool):
            ConnectionCls = http_cls

        class HTTPSPool(HTTPSConnectionPool):
            ConnectionCls = https_cls

        self.poolmanager.pool_classes_by_scheme = {"http": HTTPPool, "https": HTTPSPool}
