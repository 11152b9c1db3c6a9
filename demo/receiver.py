"""A tiny webhook receiver: what a platform runs to hear from Handoff, verifying every signature.

It listens on 127.0.0.1, takes ``POST /hooks/<tenant>``, checks the Standard Webhooks headers
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature``: ``v1,`` + base64 HMAC-SHA256 of
``id.timestamp.body`` keyed with the endpoint's ``whsec_`` secret), and records what arrived. The
verifier is written from the spec here, independently of the gateway's signer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE_SECONDS = 5 * 60


def verify(
    secret: str, msg_id: str, timestamp: str, body: bytes, signatures: str, now: float | None = None
) -> bool:
    """Return whether one of the space-separated ``v1,`` signatures matches (and the time is fresh)."""
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"))
        stamp = int(timestamp)
    except (ValueError, TypeError):
        return False
    if abs((now or time.time()) - stamp) > TOLERANCE_SECONDS:
        return False
    expected = base64.b64encode(
        hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    for sig in signatures.split():
        version, _, value = sig.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True
    return False


@dataclass
class Received:
    tenant: str
    msg_id: str
    type: str
    verified: bool
    at: float


@dataclass
class Receiver:
    """Start with ``start()``; give it each endpoint's secret with ``add_secret``; read ``stats()``."""

    secrets: dict[str, list[str]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def url(self, tenant: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{tenant}"

    def add_secret(self, tenant: str, secret: str) -> None:
        with self._lock:
            self.secrets.setdefault(tenant, []).append(secret)

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, 1 << 20))
                tenant = self.path.rstrip("/").rsplit("/", 1)[-1]
                msg_id = self.headers.get("webhook-id") or ""
                stamp = self.headers.get("webhook-timestamp") or ""
                sigs = self.headers.get("webhook-signature") or ""
                with receiver._lock:
                    secrets = list(receiver.secrets.get(tenant, ()))
                ok = any(verify(s, msg_id, stamp, body, sigs) for s in secrets)
                try:
                    kind = str(json.loads(body).get("type") or "?")
                except (ValueError, AttributeError):
                    kind = "?"
                with receiver._lock:
                    receiver.received.append(Received(tenant, msg_id, kind, ok, time.monotonic()))
                self.send_response(204 if ok else 401)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:  # quiet: the demo prints its own summary
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="webhook-receiver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def count(self) -> int:
        with self._lock:
            return len(self.received)

    def last_at(self) -> float | None:
        with self._lock:
            return self.received[-1].at if self.received else None

    def stats(self) -> dict[str, Any]:
        with self._lock:
            rows = list(self.received)
        ids = Counter(r.msg_id for r in rows)
        return {
            "received": len(rows),
            "verified": sum(r.verified for r in rows),
            "rejected": sum(not r.verified for r in rows),
            "unique_events": len(ids),
            "redeliveries": sum(n - 1 for n in ids.values()),
            "by_type": dict(Counter(r.type for r in rows).most_common()),
            "by_tenant": dict(Counter(r.tenant for r in rows).most_common()),
        }
