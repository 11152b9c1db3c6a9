"""The ledger of every label the simulator sold: the proof that no label was bought twice.

Kept in process and, when a path is given, appended to a JSON-lines file as it changes, so a
crash test can restart the simulator and still see what was charged before the crash.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass
class LabelRecord:
    """One label sold: who asked, for which reference, and whether it was voided since."""

    carrier: str
    tracking_number: str
    reference: str | None
    requested_at: str  # simulated time, ISO 8601
    service: str
    label_format: str
    charge_amount: str
    charge_currency: str
    package_tracking_numbers: list[str] = field(default_factory=list)
    origin_country: str = ""
    origin_city: str = ""
    origin_state: str = ""
    origin_postal_code: str = ""
    destination_country: str = ""
    destination_city: str = ""
    destination_state: str = ""
    destination_postal_code: str = ""
    shipper_name: str = ""
    recipient_name: str = ""
    weight_kg: str = ""
    scenario: str = "normal"
    label_base64: str = ""
    voided: bool = False
    voided_at: str | None = None
    # The carrier account the label was sold on (FedEx account number, USPS EPS account/MID; "" if unknown).
    account: str = ""
    # USPS: the MID of the label owner (the IMpb's mailer id), which tracking subscriptions filter on.
    mailer_id: str = ""
    # A label sold under the "charged then timed out" fault: the client never saw the answer.
    response_lost: bool = False
    # A return label: the carrier's return type as asked (UPS ReturnService Code, FedEx returnType); "" if none.
    return_type: str = ""

    def public(self, with_label: bool = False) -> dict[str, Any]:
        """Return the record as JSON-ready data (without the label image unless asked)."""
        data = dataclasses.asdict(self)
        if not with_label:
            data.pop("label_base64")
        return data


class Ledger:
    """Thread-safe record of labels sold, optionally persisted as JSON lines."""

    def __init__(self, path: str | Path | None = None) -> None:
        self._lock = threading.Lock()
        self._labels: list[LabelRecord] = []
        self._by_number: dict[str, LabelRecord] = {}
        self._path = Path(path) if path else None
        if self._path and self._path.exists():
            self._replay(self._path)

    def _replay(self, path: Path) -> None:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            entry = json.loads(line)
            if entry["event"] == "sold":
                record = LabelRecord(**entry["label"])
                self._labels.append(record)
                self._by_number[record.tracking_number] = record
            elif entry["event"] == "voided" and entry["tracking_number"] in self._by_number:
                record = self._by_number[entry["tracking_number"]]
                record.voided, record.voided_at = True, entry["at"]
            elif entry["event"] == "response_lost" and entry["tracking_number"] in self._by_number:
                self._by_number[entry["tracking_number"]].response_lost = True

    def _append(self, entry: dict[str, Any]) -> None:
        if self._path is None:
            return
        with self._path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")
            fh.flush()

    def record(self, label: LabelRecord) -> LabelRecord:
        """Record a sold label (before its response leaves, so a crash cannot lose it)."""
        with self._lock:
            if label.tracking_number in self._by_number:
                raise ValueError(f"tracking number {label.tracking_number} already issued")
            self._labels.append(label)
            self._by_number[label.tracking_number] = label
            self._append({"event": "sold", "label": dataclasses.asdict(label)})
        return label

    def mark_response_lost(self, tracking_number: str) -> None:
        """Flag a label whose response the client never received."""
        with self._lock:
            self._by_number[tracking_number].response_lost = True
            self._append({"event": "response_lost", "tracking_number": tracking_number})

    def void(self, tracking_number: str, at: datetime) -> LabelRecord | None:
        """Mark a label voided; return it, or None when the number is unknown."""
        with self._lock:
            record = self._by_number.get(tracking_number)
            if record is None:
                return None
            if not record.voided:
                record.voided, record.voided_at = True, at.isoformat()
                self._append({"event": "voided", "tracking_number": tracking_number, "at": record.voided_at})
            return record

    def get(self, tracking_number: str) -> LabelRecord | None:
        """Return the label with this shipment or package tracking number, if sold."""
        with self._lock:
            record = self._by_number.get(tracking_number)
            if record is not None:
                return record
            for label in self._labels:
                if tracking_number in label.package_tracking_numbers:
                    return label
            return None

    def by_reference(self, reference: str, carrier: str | None = None) -> list[LabelRecord]:
        """Return every label sold under a shipper reference, oldest first."""
        with self._lock:
            return [
                label
                for label in self._labels
                if label.reference == reference and (carrier is None or label.carrier == carrier)
            ]

    def all(self) -> list[LabelRecord]:
        """Return every label sold, oldest first."""
        with self._lock:
            return list(self._labels)

    def duplicates(self, active_only: bool = False) -> dict[str, list[str]]:
        """Return references that bought more than one label, as "carrier:tracking number" lists."""
        # Keyed by reference alone: a label at UPS and another at DHL for one shipment is a double buy too.
        groups: dict[str, list[str]] = defaultdict(list)
        for label in self.all():
            if label.reference is None or (active_only and label.voided):
                continue
            groups[label.reference].append(f"{label.carrier}:{label.tracking_number}")
        return {key: numbers for key, numbers in groups.items() if len(numbers) > 1}

    def clear(self) -> None:
        """Forget every label (the JSON-lines file is truncated too)."""
        with self._lock:
            self._labels.clear()
            self._by_number.clear()
            if self._path is not None:
                self._path.write_text("", encoding="utf-8")
