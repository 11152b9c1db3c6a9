"""Structured JSON logs with the request id, and redaction of secrets before anything is written."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from flask import g, has_request_context

# Patterns that must never reach a log line, whatever logged them.
_SECRET_PATTERNS = [
    re.compile(r"hk_(?:live_|test_)?[0-9a-f]{16}_[A-Za-z0-9_\-]+"),  # our API keys
    re.compile(r"whsec_[A-Za-z0-9+/=_\-]+"),  # webhook secrets
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/\-]+=*"),
    re.compile(r"(?i)(basic\s+)[A-Za-z0-9+/]+=*"),
    re.compile(
        r'(?i)("?(?:password|client_secret|secret|access_token|refresh_token|api_key|authorization)"?\s*[:=]\s*"?)[^",\s}]+'
    ),
]
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def redact(text: str) -> str:
    """Replace anything that looks like a credential with ``[REDACTED]``."""
    for pattern in _SECRET_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + "[REDACTED]", text)
        else:
            text = pattern.sub("[REDACTED]", text)
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and extras."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():
            payload["request_id"] = getattr(g, "request_id", None)
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(payload, default=str))


class PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure(level: str = "INFO", json_lines: bool = True) -> None:
    """Send the root logger to stderr with the chosen format (idempotent)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_handoff", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._handoff = True  # type: ignore[attr-defined]  # our mark, so a second configure replaces it
    handler.setFormatter(
        JsonFormatter() if json_lines else PlainFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level.upper())
