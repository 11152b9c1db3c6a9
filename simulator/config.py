"""Simulator configuration: one frozen dataclass, built from CLI flags or test overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

CARRIERS: tuple[str, ...] = ("ups", "dhl_express", "fedex", "usps")


@dataclass(frozen=True)
class SimConfig:
    """Everything the simulator can be told at start; fault rates can also change at runtime."""

    seed: int = 0
    # Where tracking pushes go. "{carrier}" is replaced by "ups", "dhl_express" or "fleet", so one
    # template can serve a gateway that exposes one webhook route per carrier.
    callback_url: str | None = None
    ups_callback_url: str | None = None
    dhl_callback_url: str | None = None
    fleet_callback_url: str | None = None
    fedex_callback_url: str | None = None
    usps_callback_url: str | None = None
    # UPS OAuth client credentials the simulator accepts, and the token lifetime it grants.
    ups_client_id: str = "sim-ups-client"
    ups_client_secret: str = "sim-ups-secret"  # noqa: S105 - a development default, not a real secret
    ups_token_ttl: int = 14399
    # Track Alert push authentication: "credential" (v1: the opaque `credential` header from the
    # subscription, or ups_webhook_credential) or "oauth" (v2: bearer token from the customer's token URL).
    ups_push_auth: str = "credential"
    ups_webhook_credential: str = "sim-webhook-credential"
    ups_webhook_token_url: str | None = None
    ups_webhook_client_id: str = "sim-webhook-client"
    ups_webhook_client_secret: str = "sim-webhook-secret"  # noqa: S105
    # Push only for subscribed tracking numbers (what Track Alert does) unless this is set.
    ups_push_unsubscribed: bool = False
    # DHL WS-Security UsernameToken the simulator accepts.
    dhl_username: str = "sim-dhl-user"
    dhl_password: str = "sim-dhl-password"  # noqa: S105
    # DHL Express has no push in its WSDLs: this optional HMAC-signed callback is a simulator extra.
    dhl_push_secret: str | None = None
    fleet_push_secret: str = "sim-fleet-secret"  # noqa: S105
    # FedEx OAuth (API key and secret key in the form body) and the AIV webhook security token that
    # signs pushes (fdx-signature); None sends no FedEx pushes.
    fedex_client_id: str = "sim-fedex-client"
    fedex_client_secret: str = "sim-fedex-secret"  # noqa: S105
    fedex_token_ttl: int = 3599
    fedex_security_token: str | None = "sim-fedex-webhook-security-token"  # noqa: S105
    # USPS OAuth (JSON body). USPS pushes go to the subscriptions made through Subscriptions - Tracking
    # (``simulator.usps_subscriptions``), each signed with its own secret. With ``usps_push_unsubscribed``
    # every USPS label is also pushed to the callback URL, signed with ``usps_webhook_secret`` (32
    # characters, X-HMAC over timestamp + payload), as a subscription made outside the gateway would.
    usps_client_id: str = "sim-usps-client"
    usps_client_secret: str = "sim-usps-secret"  # noqa: S105
    usps_token_ttl: int = 28799
    usps_webhook_secret: str | None = "sim-usps-webhook-secret-0123456x"  # noqa: S105
    usps_push_unsubscribed: bool = False
    # USPS suspends a subscription whose listener keeps failing; after this many failed pushes in a row.
    usps_suspend_after_failures: int = 5
    # Real seconds one simulated day lasts (tracking progressions span about one simulated day).
    day_seconds: float = 120.0
    exception_share: float = 0.2
    # How long a "timeout" fault sleeps: longer than any sane client timeout.
    timeout_sleep_seconds: float = 35.0
    push_timeout_seconds: float = 5.0
    ledger_path: str | None = None
    # Where the tracking-number counters live (counters.json), so a restart never reissues a number.
    # None: in memory only (unique within this process).
    data_dir: str | None = None
    faults: dict[str, dict[str, Any]] = field(default_factory=dict)
    # A world model for delivery times, failed attempts and carrier estimates (docs/WORLDS.md): a shipped
    # world's name ("steady", "metro", "storm") or a path to a world file. None keeps the fixed progressions.
    world: str | None = None
    # Where the simulated clock starts (an aware datetime, or ISO 8601 with an offset); None: now. The
    # demo day starts it on the morning of its day, so the world's "+N" dates and cut-off follow that day.
    start: datetime | str | None = None

    def clock_start(self) -> datetime | None:
        """Return ``start`` as an aware UTC datetime (None: the clock starts now)."""
        if self.start is None:
            return None
        at = self.start if isinstance(self.start, datetime) else datetime.fromisoformat(self.start)
        if at.tzinfo is None:
            raise ValueError(f"the simulator's start {self.start!r} needs a UTC offset")
        return at.astimezone(UTC).replace(microsecond=0)

    def replace(self, **overrides: Any) -> SimConfig:
        """Return a copy with some fields replaced (unknown names are an error)."""
        return dataclasses.replace(self, **overrides)

    def callback_for(self, carrier: str) -> str | None:
        """Return the push URL for a carrier ("ups", "dhl_express", "fleet", "fedex" or "usps"), if any."""
        specific = {
            "ups": self.ups_callback_url,
            "dhl_express": self.dhl_callback_url,
            "fleet": self.fleet_callback_url,
            "fedex": self.fedex_callback_url,
            "usps": self.usps_callback_url,
        }.get(carrier)
        url = specific or self.callback_url
        return url.replace("{carrier}", carrier) if url else None


def from_mapping(values: dict[str, Any] | SimConfig | None) -> SimConfig:
    """Build a config from a dict of field overrides (or pass a SimConfig through)."""
    if isinstance(values, SimConfig):
        return values
    names = {f.name for f in dataclasses.fields(SimConfig)}
    unknown = set(values or {}) - names
    if unknown:
        raise ValueError(f"unknown simulator settings: {sorted(unknown)}")
    return SimConfig(**(values or {}))
