"""The DHL Express tracking callback: one checkpoint per push, HMAC-signed (``docs/CALLBACKS.md``).

The body is ``{"awb", "reference"?, "event": {"date", "time"?, "code", "description"?, "service_area"?:
{"code", "description"}, "signatory"?}}``. Pure: no I/O; the gateway authenticates the push first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from adapters import base, codes
from adapters.dhl_express import mapping
from schemas import events

CARRIER = "dhl_express"


def parse(payload: Mapping[str, Any], table: codes.CodeTable) -> list[base.PushedEvent]:
    """Translate one callback body with the DHL code table; ``PushPayloadError`` when it is unreadable."""
    try:
        awb = str(payload["awb"])
        item = payload["event"]
        code = str(item["code"])
        day, clock = str(item["date"]), str(item.get("time") or "00:00:00")
    except (KeyError, TypeError) as exc:
        raise base.PushPayloadError("DHL callback without awb/event/code/date") from exc
    try:
        # DHL gives local wall-clock time without an offset; kept as UTC, as the DHL adapter does.
        occurred = datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=UTC)
    except ValueError as exc:
        raise base.PushPayloadError(f"DHL callback date/time {day!r} {clock!r} unreadable") from exc
    area = item.get("service_area") or {}
    location = events.Location(facility=area.get("code"), city=area.get("description")) if area else None
    signatory = mapping.signatory_name(str(item.get("signatory") or ""))
    attributes = {"signatory": signatory} if signatory else None
    event = codes.to_event(
        table,
        tracking_number=awb,
        occurred_at=occurred,
        code=code,
        message=" ".join(str(item.get("description") or "").split()) or None,
        location=location,
        source_event_id=f"{awb}:{day}T{clock}:{code}:{area.get('code') or ''}",
        source=events.EventSource.WEBHOOK,
        attributes=attributes,
    )
    return [base.PushedEvent(event)]
