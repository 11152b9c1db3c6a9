"""The own fleet as an adapter: it buys nothing from anyone, it only reads the driver app's signed pushes.

Its labels are made by the gateway itself, so it declares no capability; what the registry needs from it
is its code table (``adapters/fleet/tracking_codes.csv``) and how ``/v1/callbacks/fleet`` authenticates
and reads a driver-app batch (``docs/DRIVER_APP.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from adapters import base
from adapters.fleet import driver


class FleetAdapter(base.Adapter):
    """Driver-app events in (HMAC-signed batches), canonical events with the courier's context out."""

    name = driver.CARRIER
    display_name = "Own fleet"
    capabilities: ClassVar[frozenset[base.Capability]] = frozenset()
    config_schema: ClassVar[dict[str, Any]] = {"type": "object", "additionalProperties": False, "secret": []}
    callback = base.CallbackSpec(base.PushScheme.SIGNED)

    @classmethod
    def parse_callback(cls, payload: Mapping[str, Any]) -> list[base.PushedEvent]:
        try:
            found = driver.parse_payload(payload, cls.code_table())
        except driver.DriverPayloadError as exc:
            raise base.PushPayloadError(str(exc)) from exc
        return [base.PushedEvent(d.event, d.courier) for d in found]
