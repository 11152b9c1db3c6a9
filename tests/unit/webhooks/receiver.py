"""A real HTTP receiver for webhook tests: a threaded server that verifies every delivery's signature.

Verification uses the ``standardwebhooks`` reference package (the spec authors' implementation),
never the gateway's own signing code. Responses are scripted per request; the server can be taken
down and brought back on the same port to play an outage.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    verified_with: list[str]  # which known secrets verified the signature
    received_at: float

    @property
    def msg_id(self) -> str:
        return self.headers.get("webhook-id", "")

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def verified(self) -> bool:
        return bool(self.verified_with)


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


class Receiver:
    def __init__(self, secrets: list[str] | None = None) -> None:
        self.secrets: list[str] = list(secrets or [])
        self.deliveries: list[Delivery] = []
        self.script: deque[Reply] = deque()
        self.default = Reply()
        self.on_request: Callable[[Delivery], None] | None = None
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                delivery = Delivery(headers, body, receiver._verify(headers, body), time.time())
                with receiver._lock:
                    receiver.deliveries.append(delivery)
                    reply = receiver.script.popleft() if receiver.script else receiver.default
                if receiver.on_request is not None:
                    receiver.on_request(delivery)
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the gateway stopped reading: its cap
                    self.wfile.write(reply.body)

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (connections are refused until ``start`` is called again, same port)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    # -- checks -----------------------------------------------------------------------------------

    def _verify(self, headers: dict[str, str], body: bytes) -> list[str]:
        ok = []
        for secret in list(self.secrets):
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            ok.append(secret)
        return ok

    def ids(self) -> set[str]:
        with self._lock:
            return {d.msg_id for d in self.deliveries}

    def wait_for(self, predicate: Callable[[Receiver], bool], timeout: float = 30.0) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if predicate(self):
                return True
            time.sleep(0.05)
        return predicate(self)
