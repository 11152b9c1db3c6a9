"""A small HTTP client for the public API: keep-alive sessions per thread, retries, parallel maps.

Everything the day does goes through here, so the demo uses the gateway exactly as a platform
would: bearer keys, ``Idempotency-Key`` on writes (so a retried booking is never booked twice),
problem+json errors, and ``Retry-After`` on 429/503.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import Any, TypeVar

import requests

T = TypeVar("T")
R = TypeVar("R")

RETRY_STATUSES = frozenset({429, 502, 503, 504})


class ApiError(RuntimeError):
    """A call answered with an unexpected status; carries the problem+json body when there is one."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        self.method, self.path, self.status, self.body = method, path, status, body
        detail = body.get("detail") or body.get("title") if isinstance(body, dict) else str(body)[:300]
        super().__init__(f"{method} {path} -> {status}: {detail}")


@dataclass(frozen=True)
class Response:
    status: int
    body: Any
    headers: dict[str, str]


class Client:
    """Calls one gateway with one API key; thread-safe (one ``requests.Session`` per thread)."""

    def __init__(
        self, base_url: str, key: str | None = None, *, timeout: float = 30, retries: int = 4
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.timeout = timeout
        self.retries = retries
        self._local = threading.local()

    def with_key(self, key: str) -> Client:
        return Client(self.base_url, key, timeout=self.timeout, retries=self.retries)

    @property
    def session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = requests.Session()
        return s

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        files: Any = None,
        data: Any = None,
        expect: Iterable[int] = (200, 201, 202),
        headers: dict[str, str] | None = None,
    ) -> Response:
        """Call the API; retry 429/5xx and connection errors with backoff; raise ApiError otherwise."""
        sent = dict(headers or {})
        if self.key:
            sent["Authorization"] = f"Bearer {self.key}"
        if idempotency_key:
            sent["Idempotency-Key"] = idempotency_key
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        expected = set(expect)
        attempt = busy_waits = 0
        while True:
            attempt += 1
            try:
                r = self.session.request(
                    method,
                    url,
                    json=json,
                    params=params,
                    headers=sent,
                    files=files,
                    data=data,
                    timeout=self.timeout,
                )
            except requests.RequestException:
                if attempt > self.retries:
                    raise
                time.sleep(min(4.0, 0.25 * 2**attempt))
                continue
            # "The same Idempotency-Key is still in progress" (an earlier try timed out on our side):
            # wait for it, up to the gateway's lock time, then the replay answers.
            if r.status_code == 409 and "idempotency-in-progress" in r.text and busy_waits < 40:
                busy_waits += 1
                time.sleep(2.0)
                continue
            if r.status_code in RETRY_STATUSES and attempt <= self.retries:
                wait = r.headers.get("Retry-After")
                time.sleep(float(wait) if wait and wait.isdigit() else min(4.0, 0.25 * 2**attempt))
                continue
            try:
                body = r.json() if r.content else None
            except ValueError:
                body = r.text
            if r.status_code not in expected:
                raise ApiError(method, path, r.status_code, body)
            return Response(r.status_code, body, dict(r.headers))

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw).body

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, json=body, **kw).body

    def exists(self, path: str) -> bool:
        """Return whether the gateway serves ``path`` (an API that has not landed answers 404/405)."""
        r = self.session.get(f"{self.base_url}{path}", timeout=self.timeout)
        return r.status_code not in (404, 405)

    def openapi_paths(self) -> set[str]:
        """Return the paths the gateway documents: how the demo finds out which APIs exist."""
        return set((self.get("/openapi.json") or {}).get("paths", {}))


def parallel(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int,
    on_done: Callable[[int], None] | None = None,
) -> Iterator[tuple[T, R | BaseException]]:
    """Run ``fn`` over ``items`` on a thread pool; yield ``(item, result or exception)`` as each ends."""
    with futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="demo") as pool:
        pending = {pool.submit(fn, item): item for item in items}
        for fut in futures.as_completed(pending):
            exc = fut.exception()
            if on_done:
                on_done(1)
            yield pending[fut], (exc if exc is not None else fut.result())
