"""A tiny third-party style adapter: flat-rate quotes and fake labels, registered via an entry point.

It shows the whole contract in one screen: a name, declared capabilities, a configuration JSON Schema
with its secret fields, and the hooks for what it declares. Anything else raises CapabilityNotSupported.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from adapters import base
from schemas import carrier, money


class ExampleAdapter(base.Adapter):
    """Quote a flat price per parcel and hand out placeholder labels."""

    name = "example"
    capabilities = frozenset({base.Capability.RATE, base.Capability.LABEL})
    label_formats = frozenset({carrier.LabelFormat.ZPL})
    config_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["api_key", "price_per_parcel", "currency"],
        "properties": {
            "api_key": {"type": "string", "minLength": 1},
            "price_per_parcel": {"type": "string", "pattern": r"^\d+(\.\d+)?$"},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "timeout_seconds": {"type": "number", "exclusiveMinimum": 0},
        },
        "secret": ["api_key"],
    }

    def _rate(self, request: carrier.RateRequest, timeout: float) -> list[carrier.RateResult]:
        price = money.Money(Decimal(self._config["price_per_parcel"]), self._config["currency"])
        return [
            carrier.RateResult(
                carrier=self.name,
                service_code="flat",
                service_name="Example flat rate",
                total=price * len(request.spec.parcels),
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
