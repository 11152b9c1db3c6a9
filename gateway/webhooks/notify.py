"""Telling a tenant that the gateway switched one of their webhook endpoints off.

The API shows it on the endpoint (``enabled: false``, ``disabled_reason``, ``disabled_at``).
Beside that, a notifier is called once per disablement: the default one writes a log line;
an operator plugs an e-mail (or chat) sender in with ``GATEWAY_WEBHOOK_NOTIFIER`` set to the
dotted path of a class taking the settings, or by calling ``set_notifier`` at start-up.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from gateway.kernel import config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EndpointDisabled:
    tenant_id: str
    endpoint_id: str
    url: str
    reason: str  # gone | failing
    detail: str
    disabled_at: datetime

    @property
    def host(self) -> str:
        """The URL's host only: paths and queries may hold tokens and never reach logs."""
        return urlsplit(self.url).hostname or ""


class Notifier(Protocol):
    def endpoint_disabled(self, notice: EndpointDisabled) -> None:
        """Tell the tenant (e-mail, chat, ...). Failures are logged and never retried."""


class LogNotifier:
    """The default: a warning log line for ops (and a log-based alert) to pick up."""

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        self.settings = settings

    def endpoint_disabled(self, notice: EndpointDisabled) -> None:
        log.warning(
            "webhook endpoint disabled",
            extra={
                "tenant_id": notice.tenant_id,
                "endpoint_id": notice.endpoint_id,
                "host": notice.host,
                "reason": notice.reason,
                "detail": notice.detail,
            },
        )


_override: Notifier | None = None


def set_notifier(notifier: Notifier | None) -> None:
    """Install a notifier for this process (None puts the configured one back)."""
    global _override
    _override = notifier


def get_notifier(settings: Mapping[str, Any]) -> Notifier:
    """Return the installed notifier, else the one ``WEBHOOK_NOTIFIER`` names, else ``LogNotifier``."""
    if _override is not None:
        return _override
    dotted = config.read(settings, "WEBHOOK_NOTIFIER")
    if not dotted:
        return LogNotifier(settings)
    module, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attr)(settings)


def notify_disabled(settings: Mapping[str, Any], notice: EndpointDisabled) -> None:
    """Call the notifier, never letting its failure break a delivery."""
    try:
        get_notifier(settings).endpoint_disabled(notice)
    except Exception:
        log.warning("webhook notifier failed", extra={"endpoint_id": notice.endpoint_id}, exc_info=True)
