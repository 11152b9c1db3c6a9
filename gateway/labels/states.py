"""The states a label purchase moves a shipment and its attempts through, and the labels queue."""

from __future__ import annotations

QUEUE = "labels"
OWN_FLEET = "fleet"  # the own fleet's carrier code (allocation's model.FLEET); its labels are made locally
IN_FLIGHT = ("label_requested", "purchasing")
REQUESTABLE = ("draft", "failed")
UNRESOLVED = ("started", "unknown")
MAX_BATCH = 1000
