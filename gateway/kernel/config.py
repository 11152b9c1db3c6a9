"""Configuration: every setting, declared once with its type, default and meaning.

Effective values are the declared defaults, then prefixed environment variables, then explicit
overrides. Every setting can be given as ``GATEWAY_<NAME>``. ``DATABASE_URL`` and ``REDIS_URL`` are
also read without the prefix because that is what platforms (Heroku, Render, Fly, Kubernetes
secrets) conventionally inject. Values are converted to the declared type (int, float, bool, str,
JSON) when loaded; a value that cannot be is a ``ConfigError`` naming the variable. Feature code
reads ``settings["NAME"]`` (or ``read(settings, "NAME")`` when given a partial mapping) and never
carries a default of its own. ``docs/CONFIG.md`` is generated from ``SETTINGS`` (``markdown_table``).
Nothing here touches the network or the disk: paths are computed, not created.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

PREFIX = "GATEWAY_"

Kind = Literal["str", "int", "float", "bool", "json"]


@dataclass(frozen=True)
class Setting:
    """One setting: its name (the environment variable is ``GATEWAY_<name>``), type, default, meaning."""

    name: str
    type: Kind
    default: Any
    doc: str
    minimum: float | None = None  # numbers below it are a ConfigError

    @property
    def env(self) -> str:
        return f"{PREFIX}{self.name}"


_DAY = 24 * 3600

SETTINGS: tuple[Setting, ...] = (
    # -- storage ------------------------------------------------------------------------------------
    Setting(
        "DATABASE_URL",
        "str",
        "",
        "SQLAlchemy/PostgreSQL URL (also read unprefixed); empty: SQLite file in DATA_DIR",
    ),
    Setting(
        "REDIS_URL", "str", "", "Redis URL (also read unprefixed); empty: an embedded Redis under DATA_DIR"
    ),
    Setting(
        "DATA_DIR", "str", "var", "directory of the embedded database, embedded Redis and local label files"
    ),
    Setting(
        "SQLITE_BUSY_TIMEOUT_MS",
        "int",
        10000,
        "a SQLite write waits this long for a lock, then answers 503 database-busy",
        0,
    ),
    Setting(
        "POSTGRES_LOCK_TIMEOUT_MS",
        "int",
        0,
        "PostgreSQL lock_timeout, then 503 database-busy; 0 waits (PostgreSQL's default)",
        0,
    ),
    Setting(
        "ENV", "str", "production", "mode; production turns on the strict checks (e.g. webhook URL safety)"
    ),
    # -- HTTP ---------------------------------------------------------------------------------------
    Setting("MAX_CONTENT_LENGTH", "int", 1024 * 1024, "bytes; a larger request body gets 413", 1),
    Setting(
        "BULK_MAX_BYTES", "int", 32 * 1024 * 1024, "largest bulk booking upload (JSON or CSV), in bytes", 1
    ),
    Setting("RATE_LIMIT_PER_MINUTE", "int", 6000, "requests per API key per minute; 0 disables", 0),
    Setting("IDEMPOTENCY_TTL_HOURS", "int", 24, "how long an Idempotency-Key's stored answer is replayed", 1),
    Setting(
        "IDEMPOTENCY_LOCK_SECONDS",
        "int",
        60,
        "an in-progress idempotency key older than this may be taken over",
        1,
    ),
    Setting("PAGE_SIZE_DEFAULT", "int", 50, "list endpoints' page size when no limit is given", 1),
    Setting(
        "PAGE_SIZE_MAX",
        "int",
        200,
        "the largest list page; the list schemas fix it at 200 today (not read at run time)",
        1,
    ),
    Setting("PROBLEM_TYPE_BASE", "str", "https://handoff.dev/problems/", "prefix of problem+json type URIs"),
    Setting(
        "PUBLIC_BASE_URL",
        "str",
        "",
        "absolute base of public links (tracking pages, /t/…) and of the listener URL carriers that "
        "subscribe by account post to (USPS); empty: the request's host, and no such subscription",
    ),
    Setting("LOG_LEVEL", "str", "INFO", "root log level"),
    Setting("LOG_JSON", "bool", True, "log one JSON object per line (false: plain text)"),
    Setting("SECRET_PEPPER", "str", "", "optional extra secret mixed into API key hashes"),
    # -- serving (read from the environment by gateway/gunicorn_conf.py and handoff serve) ---------
    Setting("BIND", "str", "0.0.0.0:8000", "gunicorn's listen address (gateway/gunicorn_conf.py)"),
    Setting("WEB_WORKERS", "int", 0, "gunicorn worker processes; 0: 2 x CPUs + 1", 0),
    Setting("WEB_THREADS", "int", 4, "threads per gunicorn worker", 1),
    Setting("FORWARDED_ALLOW_IPS", "str", "127.0.0.1", "proxies whose X-Forwarded-* headers gunicorn trusts"),
    Setting("PORT", "int", 8000, "the gateway's port under handoff serve (--port wins)", 1),
    # -- jobs ---------------------------------------------------------------------------------------
    Setting(
        "QUEUES",
        "str",
        "default,labels,tracking,webhooks,reconciliation,allocation",
        "RQ queues a worker serves, comma-separated",
    ),
    Setting(
        "WORKER_MONITORING_INTERVAL",
        "int",
        30,
        "seconds between a busy worker's heartbeats; keep well under OUTBOX_STALE_SECONDS",
        1,
    ),
    Setting(
        "OUTBOX_STALE_SECONDS",
        "int",
        120,
        "a started job with no heartbeat for this long is re-driven (its worker died)",
        1,
    ),
    Setting("OUTBOX_MAX_ATTEMPTS", "int", 20, "failures before an outbox row is dead and shown to ops", 1),
    Setting("OUTBOX_JOB_TIMEOUT_SECONDS", "int", 300, "RQ job timeout of relayed jobs", 1),
    # -- allocation (docs/ALLOCATION.md) -------------------------------------------------------------
    Setting(
        "ALLOCATION_SOLVER_WORKERS",
        "int",
        1,
        "PyVRP searches a plan runs side by side, one per core (child processes); the best is kept",
        1,
    ),
    # -- rating -------------------------------------------------------------------------------------
    Setting(
        "CARRIERS",
        "json",
        [],
        'enabled carrier adapters: JSON list of {"adapter", "id"?, "enabled"?, "config"}',
    ),
    Setting(
        "ETA_WINDOW_DAYS",
        "int",
        90,
        "delivery-time models learn from labels bought in the last this many days (docs/PREDICTIONS.md)",
        1,
    ),
    Setting(
        "ETA_MIN_SAMPLES",
        "int",
        20,
        "deliveries a carrier service (and lane) needs before its own percentiles are used",
        1,
    ),
    Setting(
        "ETA_POOLED",
        "bool",
        True,
        "a tenant without a model of its own is predicted with the model of every tenant's deliveries",
    ),
    Setting(
        "TEST_CARRIERS",
        "json",
        [],
        "the operator's carrier accounts for test keys, as CARRIERS: carriers' sandboxes or the simulator "
        "(docs/TEST_MODE.md); empty: test keys use only their own test accounts",
    ),
    Setting(
        "RATE_DEADLINE_MS", "int", 2000, "deadline of a whole POST /v1/rates call, live carriers included", 1
    ),
    Setting(
        "RATE_CACHE_TTL_SECONDS",
        "int",
        300,
        "live carrier answers are reused this long for identical shipments; 0 disables",
        0,
    ),
    Setting("RATE_QUOTE_TTL_MINUTES", "int", 60, "how long a returned rate id can be selected", 1),
    # -- addresses (docs/ADDRESSES.md) --------------------------------------------------------------
    Setting(
        "ADDRESS_CACHE_TTL_SECONDS",
        "int",
        30 * _DAY,
        "a carrier's address validation is reused this long (per tenant); 0 disables",
        0,
    ),
    Setting(
        "ADDRESS_CLASSIFY_AT_BOOKING",
        "bool",
        False,
        "at booking, ask a carrier whether a destination given without `residential` is a home "
        "(cached; a carrier failure never fails the booking)",
    ),
    Setting(
        "GEOCODER", "str", "offline", "geocoder: offline (embedded US ZIP centroids, approximate) or http"
    ),
    Setting(
        "GEOCODER_URL", "str", "", "http geocoder endpoint (GEOCODER=http); destinations as for webhooks"
    ),
    Setting("GEOCODER_TIMEOUT_SECONDS", "float", 3.0, "timeout of one http geocoder call", 0),
    # -- labels -------------------------------------------------------------------------------------
    Setting("LABEL_STORAGE", "str", "local", "label document storage backend (local)"),
    Setting("LABEL_STORAGE_DIR", "str", "", "directory of stored label documents; empty: DATA_DIR/labels"),
    Setting(
        "LABEL_MAX_ATTEMPTS",
        "int",
        8,
        "purchase calls for one label job before it fails as carrier_unavailable",
        1,
    ),
    Setting(
        "LABEL_LOOKUP_SETTLE_SECONDS",
        "float",
        120.0,
        "wait this long after a lost carrier answer before asking by reference",
        0,
    ),
    Setting(
        "LABEL_RETRY_BASE_SECONDS",
        "float",
        5.0,
        "first retry delay of a label purchase (doubles, jittered)",
        0,
    ),
    Setting("LABEL_RETRY_CAP_SECONDS", "float", 900.0, "longest retry delay of a label purchase", 0),
    Setting(
        "LABEL_BUSY_RETRY_SECONDS", "float", 3.0, "retry delay when another runner holds the shipment", 0
    ),
    Setting(
        "LABEL_URL_SECRET",
        "str",
        "",
        "HMAC key of signed label download URLs (secret); empty: derived from SECRET_PEPPER; with "
        "neither, production issues no URLs and test/development use a fixed key",
    ),
    Setting("LABEL_URL_TTL_SECONDS", "int", 900, "how long a signed label download URL is valid", 1),
    Setting(
        "CREDENTIALS_KEYS",
        "str",
        "",
        "keys that encrypt tenants' carrier account secrets (secret): comma-separated Fernet keys (or "
        "any secret strings), the first encrypts, all decrypt; empty: test/development derive one per "
        "DATA_DIR and production refuses to store credentials",
    ),
    # -- tracking and carrier callbacks -------------------------------------------------------------
    Setting(
        "CALLBACK_SECRETS",
        "json",
        {},
        "JSON object carrier -> shared credential (ups) or HMAC key (dhl_express, fleet)",
    ),
    Setting("CALLBACK_TOLERANCE_SECONDS", "int", 300, "max clock skew of a signed callback's timestamp", 1),
    Setting(
        "CALLBACK_FAILURE_WINDOW_SECONDS",
        "int",
        300,
        "window over which failed callback authentications are counted",
        1,
    ),
    Setting(
        "CALLBACK_FAILURES_PER_SOURCE",
        "int",
        20,
        "failed authentications per client address (IPv6: its /64) before 429; 0 disables",
        0,
    ),
    Setting(
        "CALLBACK_FAILURES_PER_CARRIER",
        "int",
        500,
        "failed authentications per carrier, all sources, before 429; 0 disables",
        0,
    ),
    Setting(
        "TRACKING_DRAIN_JOBS",
        "int",
        1,
        "tracking drain jobs queued at once (1-16), run side by side by as many workers",
        1,
    ),
    # -- webhooks -----------------------------------------------------------------------------------
    Setting(
        "WEBHOOK_ALLOW_LOCAL_HTTP",
        "bool",
        False,
        "allow webhook endpoints on this machine (loopback), over http too",
    ),
    Setting(
        "WEBHOOK_ALLOWLIST",
        "str",
        "",
        "hosts or networks (comma/space separated) allowed as webhook endpoints in production",
    ),
    Setting(
        "WEBHOOK_NOTIFIER",
        "str",
        "",
        "dotted path of the class told when an endpoint is disabled; empty: log it",
    ),
    Setting("WEBHOOK_CONNECT_TIMEOUT_SECONDS", "float", 5.0, "connect timeout of a webhook delivery", 0),
    Setting(
        "WEBHOOK_TIMEOUT_SECONDS",
        "float",
        15.0,
        "read timeout of a delivery, and the deadline of the whole exchange",
        0,
    ),
    Setting(
        "WEBHOOK_RESPONSE_BYTES",
        "int",
        4096,
        "at most this much of a receiver's answer is read and logged",
        0,
    ),
    Setting(
        "WEBHOOK_RETRY_BASE_SECONDS",
        "float",
        30.0,
        "first retry delay of a failed delivery (doubles, jittered)",
        0,
    ),
    Setting("WEBHOOK_RETRY_CAP_SECONDS", "float", 6.0 * 3600, "longest retry delay of a delivery", 0),
    Setting(
        "WEBHOOK_RETRY_WINDOW_SECONDS",
        "float",
        3.0 * _DAY,
        "a delivery is retried for this long, then failed",
        0,
    ),
    Setting(
        "WEBHOOK_RETRY_AFTER_MAX_SECONDS",
        "float",
        1.0 * _DAY,
        "a receiver's Retry-After is honoured up to this",
        0,
    ),
    Setting(
        "WEBHOOK_DISABLE_AFTER_SECONDS",
        "float",
        5.0 * _DAY,
        "an endpoint whose every attempt failed for this long is disabled",
        0,
    ),
    Setting(
        "WEBHOOK_DISABLE_AFTER_FAILURES",
        "int",
        0,
        "also disable after this many consecutive failed attempts; 0: only the time rule",
        0,
    ),
    Setting(
        "WEBHOOK_RETENTION_DAYS",
        "float",
        30.0,
        "webhook events older than this and no longer pending are purged hourly",
        1,
    ),
    # -- carrier exchanges and reconciliation --------------------------------------------------------
    Setting(
        "EXCHANGE_RETENTION_DAYS",
        "int",
        30,
        "raw carrier exchanges (redacted) are kept this many days for disputes",
        1,
    ),
    Setting(
        "INVOICE_MAX_BYTES", "int", 2 * 1024 * 1024 * 1024, "largest carrier invoice upload, in bytes", 1
    ),
    Setting(
        "RECON_TOTAL_TOLERANCE_PERCENT",
        "int",
        2,
        "flag a shipment billed above its frozen quote's total by more than this",
        0,
    ),
    Setting(
        "RECON_WEIGHT_TOLERANCE_PERCENT",
        "int",
        5,
        "flag billed weight above the declared weight by more than this",
        0,
    ),
    Setting(
        "RECON_DIMENSION_TOLERANCE_PERCENT",
        "int",
        10,
        "flag billed dimensions above the declared ones by more than this",
        0,
    ),
    Setting(
        "RECON_CHUNK_LINES",
        "int",
        20000,
        "a reconciliation run walks the invoice in id ranges of this many lines",
        1,
    ),
    Setting("RECON_LEASE_SECONDS", "int", 300, "a run's lease; a stalled run is taken over after it", 1),
    # -- web console (docs/CONSOLE.md) ---------------------------------------------------------------
    Setting("CONSOLE_SESSION_HOURS", "int", 12, "how long a console sign-in lasts before it expires", 1),
    Setting(
        "CONSOLE_IDLE_MINUTES",
        "int",
        30,
        "a console session unused this many minutes is refused (sign in again); CONSOLE_SESSION_HOURS still caps it",
        1,
    ),
    Setting(
        "CONSOLE_COOKIE_SECURE",
        "str",
        "auto",
        "the console cookies' Secure flag: auto (set when the request came over https), always, never",
    ),
    Setting(
        "CONSOLE_LOGIN_FAILURES",
        "int",
        5,
        "failed console sign-ins allowed per email and client address within the window; 0: no limit",
        0,
    ),
    Setting(
        "CONSOLE_LOGIN_WINDOW_SECONDS", "int", 900, "the window of CONSOLE_LOGIN_FAILURES (from the first)", 1
    ),
    Setting("CONSOLE_INVITATION_HOURS", "int", 72, "how long an admin's console invitation link works", 1),
    Setting(
        "CONSOLE_MAP_TILES",
        "str",
        "",
        "console maps' tile server, an https URL template with {z}, {x} and {y} (browsers fetch the tiles "
        "from it, and the CSP allows its origin); empty: plain offline maps",
    ),
    Setting(
        "CONSOLE_MAP_ATTRIBUTION", "str", "", "the credit the tile server asks for, shown under each map"
    ),
    Setting("CONSOLE_MAP_MAX_ZOOM", "int", 19, "the highest zoom the tile server serves", 0),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
# The defaults by name (what ``load`` starts from).
DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS}
_UNPREFIXED = ("DATABASE_URL", "REDIS_URL")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_JSON_SHAPES: dict[type[Any], str] = {list: "a JSON array", dict: "a JSON object"}


class ConfigError(ValueError):
    """A setting has a value the gateway cannot use."""


def _fail(setting: Setting, what: str, value: Any) -> ConfigError:
    return ConfigError(f"{setting.env} must be {what}, got {value!r}")


def convert(name: str, value: Any) -> Any:
    """Return ``value`` as the declared type of setting ``name`` (strings are parsed); undeclared names pass."""
    setting = BY_NAME.get(name)
    if setting is None:
        return value
    kind = setting.type
    if kind == "bool":
        if isinstance(value, bool):
            return value
        lowered = str(value).strip().lower() if isinstance(value, str | int) else None
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise _fail(setting, "a boolean", value)
    if kind == "json":
        parsed = value
        if isinstance(value, str):
            if not value.strip():
                return json.loads(json.dumps(setting.default))  # a fresh copy
            try:
                parsed = json.loads(value)
            except ValueError as exc:
                raise _fail(setting, "valid JSON", value) from exc
        shape = type(setting.default)
        if not isinstance(parsed, shape):
            raise _fail(setting, _JSON_SHAPES.get(shape, shape.__name__), value)
        return parsed
    if kind == "str":
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        if not isinstance(value, str):
            raise _fail(setting, "a string", value)
        return value
    number: int | float
    if isinstance(value, bool):
        raise _fail(setting, "an integer" if kind == "int" else "a number", value)
    try:
        if kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            number = int(value.strip()) if isinstance(value, str) else int(value)
        else:
            number = float(value.strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError) as exc:
        raise _fail(setting, "an integer" if kind == "int" else "a number", value) from exc
    if setting.minimum is not None and number < setting.minimum:
        raise _fail(setting, f"at least {setting.minimum:g}", value)
    return number


def read(settings: Mapping[str, Any], name: str) -> Any:
    """Return setting ``name`` from a possibly partial mapping: converted if present, else its default.

    For functions that take a caller's mapping (tests, tools); the loaded settings are complete, so
    code holding them reads ``settings["NAME"]``.
    """
    setting = BY_NAME.get(name)
    if setting is None:
        raise KeyError(f"{name!r} is not a declared setting (gateway/kernel/config.py)")
    if name in settings:
        return convert(name, settings[name])
    return DEFAULTS[name] if setting.type != "json" else json.loads(json.dumps(setting.default))


def from_environment(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """Return one setting from ``GATEWAY_<name>`` alone (blank or unset: its default), for launchers."""
    env = os.environ if environ is None else environ
    raw = env.get(f"{PREFIX}{name}", "")
    return read({name: raw} if raw.strip() else {}, name)


def load(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return the effective settings: defaults < environment < overrides, each converted to its type."""
    env = os.environ if environ is None else environ
    settings = {s.name: read({}, s.name) for s in SETTINGS}
    for key in _UNPREFIXED:
        if env.get(key):
            settings[key] = env[key]
    for name, value in env.items():
        if name.startswith(PREFIX):
            key = name[len(PREFIX) :]
            settings[key] = convert(key, value)
    for key, value in (overrides or {}).items():
        settings[key] = convert(key, value)
    return settings


def database_url(settings: Mapping[str, Any]) -> str:
    """Return the SQLAlchemy URL, defaulting to a SQLite file in the data directory."""
    url: str = read(settings, "DATABASE_URL")
    if not url:
        path = Path(read(settings, "DATA_DIR")).resolve() / "handoff.sqlite3"
        return f"sqlite:///{path}"
    # Accept the common "postgres://" and driver-less forms and use psycopg 3.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def markdown_table() -> str:
    """Return the table of every setting that ``docs/CONFIG.md`` embeds (a test keeps them equal)."""

    def shown(setting: Setting) -> str:
        value = setting.default
        if setting.type == "json":
            text = json.dumps(value)
        elif setting.type == "bool":
            text = "true" if value else "false"
        elif setting.type == "float":
            text = f"{value:g}"
        else:
            text = str(value)
        return f"`{text}`" if text else "(empty)"

    rows = ["| Setting | Environment variable | Type | Default | Meaning |", "|---|---|---|---|---|"]
    for s in SETTINGS:
        meaning = s.doc.replace("|", "\\|")
        rows.append(f"| `{s.name}` | `{s.env}` | {s.type} | {shown(s)} | {meaning} |")
    return "\n".join(rows) + "\n"
