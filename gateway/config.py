"""Configuration: defaults, then prefixed environment variables, then explicit overrides.

Every setting can be given as ``GATEWAY_<NAME>``. ``DATABASE_URL`` and ``REDIS_URL`` are also
read without the prefix because that is what platforms (Heroku, Render, Fly, Kubernetes
secrets) conventionally inject. Nothing here touches the network or the disk: paths are
computed, not created.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PREFIX = "GATEWAY_"

DEFAULTS: dict[str, Any] = {
    # Storage. Empty means "embedded default": SQLite file / embedded Redis under DATA_DIR.
    "DATABASE_URL": "",
    "REDIS_URL": "",
    "DATA_DIR": "var",
    # Mode: "production" turns on the strict checks (e.g. webhook URL safety).
    "ENV": "production",
    # HTTP
    "MAX_CONTENT_LENGTH": 1 * 1024 * 1024,  # bytes; larger bodies get 413
    "RATE_LIMIT_PER_MINUTE": 6000,  # per API key; 0 disables
    "IDEMPOTENCY_TTL_HOURS": 24,
    "IDEMPOTENCY_LOCK_SECONDS": 60,  # an in-progress key older than this may be taken over
    "PAGE_SIZE_DEFAULT": 50,
    "PAGE_SIZE_MAX": 200,
    "PROBLEM_TYPE_BASE": "https://handoff.dev/problems/",
    "LOG_LEVEL": "INFO",
    "LOG_JSON": True,
    # RQ
    "QUEUES": "default,labels,tracking,webhooks,reconciliation,allocation",
    # Outbox: a started job with no heartbeat for this long is re-driven (its worker died).
    "OUTBOX_STALE_SECONDS": 120,
    "OUTBOX_MAX_ATTEMPTS": 20,  # failures before a row is dead and shown to ops
    "OUTBOX_JOB_TIMEOUT_SECONDS": 300,
    "SECRET_PEPPER": "",  # optional extra secret mixed into API key hashes
    # Carrier callbacks: JSON object carrier -> shared credential (UPS) or HMAC key (dhl_express, fleet).
    "CALLBACK_SECRETS": "{}",
    "CALLBACK_TOLERANCE_SECONDS": 300,  # max clock skew of a signed callback's timestamp
    # Rating: enabled carrier adapters as a JSON list of {"adapter", "id"?, "enabled"?, "config"}.
    "CARRIERS": "[]",
    "RATE_DEADLINE_MS": 2000,  # the whole POST /v1/rates call, live carriers included
    "RATE_CACHE_TTL_SECONDS": 300,  # live carrier answers are reused for identical shipments
    "RATE_QUOTE_TTL_MINUTES": 60,  # how long a returned rate id can be selected
    # Raw carrier exchanges (redacted) are kept this many days for disputes, then purged by a job.
    "EXCHANGE_RETENTION_DAYS": 30,
}

_INT_KEYS = {k for k, v in DEFAULTS.items() if isinstance(v, int) and not isinstance(v, bool)}
_BOOL_KEYS = {k for k, v in DEFAULTS.items() if isinstance(v, bool)}
_UNPREFIXED = ("DATABASE_URL", "REDIS_URL")


class ConfigError(ValueError):
    """A setting has a value the gateway cannot use."""


def _coerce(key: str, value: Any) -> Any:
    if key in _BOOL_KEYS and isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{PREFIX}{key} must be a boolean, got {value!r}")
    if key in _INT_KEYS and isinstance(value, str):
        try:
            return int(value)
        except ValueError as exc:
            raise ConfigError(f"{PREFIX}{key} must be an integer, got {value!r}") from exc
    return value


def load(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return the effective settings: defaults < environment < overrides."""
    env = os.environ if environ is None else environ
    settings = dict(DEFAULTS)
    for key in _UNPREFIXED:
        if env.get(key):
            settings[key] = env[key]
    for name, value in env.items():
        if name.startswith(PREFIX):
            key = name[len(PREFIX) :]
            settings[key] = _coerce(key, value)
    for key, value in (overrides or {}).items():
        settings[key] = _coerce(key, value)
    return settings


def database_url(settings: Mapping[str, Any]) -> str:
    """Return the SQLAlchemy URL, defaulting to a SQLite file in the data directory."""
    url = settings.get("DATABASE_URL") or ""
    if not url:
        path = Path(settings["DATA_DIR"]).resolve() / "handoff.sqlite3"
        return f"sqlite:///{path}"
    # Accept the common "postgres://" and driver-less forms and use psycopg 3.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url
