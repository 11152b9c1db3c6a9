"""What every REST carrier behind OAuth client credentials shares: its HTTP client and its bearer token.

A subclass names its hosts (``HOSTS``: environment -> base URL) and how it fetches a token
(``_fetch_token``); this class builds the breaker-guarded, recording ``CarrierHttp`` for the account,
caches the token until shortly before it expires, masks it in everything recorded or logged, drops
it after a 401 and runs the connection test. UPS, FedEx and USPS are built on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import requests

from adapters import base
from adapters import http as carrier_http


class OAuthRestAdapter(base.Adapter):
    """A carrier reached over REST with an OAuth bearer token from client credentials."""

    HOSTS: ClassVar[Mapping[str, str]]  # "sandbox" / "live" -> base URL; the config's base_url wins
    TOKEN_REFRESH_MARGIN: ClassVar[float] = 60.0  # seconds before expiry at which a token is replaced

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        recorder: base.Recorder | None = None,
        session: requests.Session | None = None,
        breaker: carrier_http.CircuitBreaker | None = None,
        retry: carrier_http.RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(config, recorder=recorder)
        cfg = self._config
        self.base_url = str(cfg.get("base_url") or self.HOSTS[cfg.get("environment", "sandbox")]).rstrip("/")
        self._clock = clock
        self._tokens = carrier_http.TokenCache(clock, self.TOKEN_REFRESH_MARGIN)
        self.http = carrier_http.CarrierHttp(
            carrier=self.name,
            account=self.account_id,
            session=session or carrier_http.make_session(self.timeout),
            breaker=breaker,
            retry=retry or carrier_http.RetryPolicy(),
            recorder=recorder,
            redact=self.redact,
            clock=clock,
        )

    def _extra_secret_values(self) -> Sequence[str]:
        return [self._tokens.value] if self._tokens.value else []

    def _fetch_token(self, timeout: float) -> tuple[str, float]:
        """Ask the carrier for a new token; return it and how many seconds it lives."""
        raise NotImplementedError

    def _access_token(self, timeout: float) -> str:
        return self._tokens.get(lambda: self._fetch_token(timeout))

    def _invalidate_token(self) -> None:
        self._tokens.invalidate()

    def test_connection(self, *, timeout: float | None = None) -> base.ConnectionReport:
        """Fetch a fresh OAuth token with the account's client credentials (the token is not kept)."""
        return self._token_issued(self._fetch_token(self._timeout(timeout))[1])
