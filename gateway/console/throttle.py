"""Login throttling: failed sign-ins counted per email and client address in Redis.

The window starts at the first failure; past the limit, sign-ins for that email from that address are
refused before the password is checked, until the window ends. A success clears the count. Like the
callback throttle (gateway/tracking/callbacks.py) it fails open: a Redis hiccup must not lock people out.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from gateway.kernel.container import Container

log = logging.getLogger(__name__)
_PREFIX = "handoff:console:login-failures:"


def _key(email: str, address: str | None) -> str:
    # Hashed: the Redis key names neither the email nor the address.
    return _PREFIX + hashlib.sha256(f"{email.strip().lower()}|{address or '-'}".encode()).hexdigest()


def _limits(container: Container) -> tuple[int, int]:
    settings: Any = container.settings
    return int(settings["CONSOLE_LOGIN_FAILURES"]), int(settings["CONSOLE_LOGIN_WINDOW_SECONDS"])


def blocked(container: Container, email: str, address: str | None) -> int:
    """Seconds until this email may try again from this address; 0 when it may try now."""
    limit, window = _limits(container)
    if not limit:
        return 0
    try:
        pipe = container.redis.pipeline()
        pipe.get(_key(email, address))
        pipe.ttl(_key(email, address))
        count, ttl = pipe.execute()
    except Exception:  # fail open, as above
        log.warning("console login throttle unavailable", exc_info=True)
        return 0
    if count is None or int(count) < limit:
        return 0
    return max(1, int(ttl)) if ttl and ttl > 0 else window


def failed(container: Container, email: str, address: str | None) -> None:
    """Count one failed sign-in."""
    limit, window = _limits(container)
    if not limit:
        return
    key = _key(email, address)
    try:
        pipe = container.redis.pipeline()
        pipe.set(key, 0, ex=window, nx=True)
        pipe.incr(key)
        pipe.ttl(key)
        _, _, ttl = pipe.execute()
        if ttl < 0:  # expired between SET and INCR
            container.redis.expire(key, window)
    except Exception:
        log.warning("console login throttle unavailable", exc_info=True)


def cleared(container: Container, email: str, address: str | None) -> None:
    """Forget the failures of an email and address after a successful sign-in."""
    try:
        container.redis.delete(_key(email, address))
    except Exception:
        log.warning("console login throttle unavailable", exc_info=True)
