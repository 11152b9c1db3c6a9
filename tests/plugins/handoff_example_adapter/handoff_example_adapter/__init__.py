"""An out-of-tree Handoff adapter: flat-rate quotes, placeholder labels and HMAC-signed tracking pushes.

It shows the whole contract a third party implements, with no line of gateway code written for it: a
name, declared capabilities, a configuration JSON Schema with its secret fields, the hooks for what it
declares, its own tracking code table (``tracking_codes.csv`` next to this file) and, for pushes to
``/v1/callbacks/example``, how they authenticate (HMAC-signed with ``CALLBACK_SECRETS["example"]``)
and how a push body reads. It also checks addresses and closes a day (placeholder answers), so that the
gateway's address validation and manifests serve it as they serve the built-ins. It is registered by its distribution's ``handoff.adapters`` entry point.

A push body: ``{"parcel": "<tracking number>", "status": "<code>", "at": "<RFC 3339>", "id": "<event id>",
"where": "<city>"?, "note": "<text>"?}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from adapters import base, codes
from schemas import carrier, events, money, types


class ExampleAdapter(base.Adapter):
    """Quote a flat price per parcel (``transit_days``, default 2), hand out placeholder labels, read pushes."""

    name = "example"
    capabilities = frozenset(
        {
            base.Capability.RATE,
            base.Capability.LABEL,
            base.Capability.ADDRESS_VALIDATION,
            base.Capability.CLOSE_DAY,
        }
    )
    close_day_title = "Example end-of-day handover list"
    label_formats = frozenset({carrier.LabelFormat.ZPL})
    config_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["api_key", "price_per_parcel", "currency"],
        "properties": {
            "api_key": {"type": "string", "minLength": 1},
            "price_per_parcel": {"type": "string", "pattern": r"^\d+(\.\d+)?$"},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "transit_days": {"type": "integer", "minimum": 0},
            "timeout_seconds": {"type": "number", "exclusiveMinimum": 0},
        },
        "secret": ["api_key"],
    }
    code_table_package = __name__  # tracking_codes.csv ships inside this package
    callback = base.CallbackSpec(base.PushScheme.SIGNED)

    def _rate(self, request: carrier.RateRequest, timeout: float) -> list[carrier.RateResult]:
        price = money.Money(Decimal(self._config["price_per_parcel"]), self._config["currency"])
        return [
            carrier.RateResult(
                carrier=self.name,
                service_code="flat",
                service_name="Example flat rate",
                total=price * len(request.spec.parcels),
                transit_days=int(self._config.get("transit_days", 2)),
            )
        ]

    def _label(self, request: carrier.LabelRequest, timeout: float) -> carrier.LabelResult:
        number = f"EX{request.reference}"
        return carrier.LabelResult(
            carrier=self.name,
            carrier_shipment_id=number,
            tracking_numbers=(number,),
            label=f"^XA^FO50,50^FD{number}^FS^XZ".encode(),
            label_format=carrier.LabelFormat.ZPL,
        )

    def _classify_address(self, address: types.Address, timeout: float) -> carrier.AddressValidation:
        # A company name makes an address commercial; the street lines come back upper-cased.
        normalised = replace(address, street_lines=tuple(line.upper() for line in address.street_lines))
        kind = carrier.AddressClass.COMMERCIAL if address.company else carrier.AddressClass.RESIDENTIAL
        return carrier.AddressValidation(
            self.name, normalised, kind, valid=True, messages=("example: checked against nothing",)
        )

    def _close_day(self, request: carrier.DayCloseRequest, timeout: float) -> carrier.DayClose:
        listed = "\n".join(request.tracking_numbers)
        return carrier.DayClose(
            reference=f"EXC-{request.day:%Y%m%d}-{len(request.tracking_numbers)}",
            document=f"%PDF-1.4 handover {request.day.isoformat()}\n{listed}\n".encode(),  # a placeholder
            document_type="HANDOVER",
        )

    @classmethod
    def parse_callback(cls, payload: Mapping[str, Any]) -> list[base.PushedEvent]:
        try:
            number, code, at, event_id = (str(payload[k]) for k in ("parcel", "status", "at", "id"))
            occurred = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except (KeyError, TypeError, ValueError) as exc:
            raise base.PushPayloadError(f"example push unreadable: {exc}") from exc
        if occurred.tzinfo is None:
            raise base.PushPayloadError("example push time has no UTC offset")
        where = payload.get("where")
        event = codes.to_event(
            cls.code_table(),
            tracking_number=number,
            occurred_at=occurred.astimezone(UTC),
            code=code,
            message=payload.get("note"),
            location=events.Location(city=str(where)) if where else None,
            source_event_id=event_id,
            source=events.EventSource.WEBHOOK,
        )
        return [base.PushedEvent(event)]
