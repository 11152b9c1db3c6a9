"""What happens at the warehouse door: pickups booked, FedEx Ground closes and USPS SCAN forms, and addresses.

Kept beside the label ledger (``Simulator.warehouse``) so tests can see what the carriers were asked
(``GET /_sim/warehouse``). Addresses are classified by one deterministic rule shared by the UPS, FedEx
and USPS address endpoints, so the three carriers agree on every address (``classify``).
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

import flask

# Words in a street line that make an address commercial: suites, floors, docks, business parks.
COMMERCIAL_WORDS = frozenset(
    {
        "STE",
        "SUITE",
        "FL",
        "FLOOR",
        "DOCK",
        "BLDG",
        "PLAZA",
        "PKWY",
        "PARKWAY",
        "INDUSTRIAL",
        "WAREHOUSE",
        "CTR",
        "CENTER",
        "HWY",
    }
)
RESIDENTIAL, COMMERCIAL = "residential", "commercial"


def _words(lines: list[str]) -> list[str]:
    return re.findall(r"[A-Z0-9]+", " ".join(lines).upper())


def classify(lines: list[str]) -> str | None:
    """Return residential or commercial for the street lines, or None when no such address exists.

    The rule: an address whose first line does not start with a house number other than 0 is not
    found; one that names a suite, floor, dock, building, plaza, parkway, industrial park, warehouse,
    center or highway (``COMMERCIAL_WORDS``) is commercial; any other is residential.
    """
    first = lines[0].strip() if lines and lines[0] else ""
    number = re.match(r"^(\d+)\b", first)
    if number is None or int(number.group(1)) == 0:
        return None
    return COMMERCIAL if any(word in COMMERCIAL_WORDS for word in _words(lines)) else RESIDENTIAL


def plus4(lines: list[str], postal_code: str) -> str:
    """A stable ZIP+4 add-on for an address (the same every time it is asked)."""
    digest = hashlib.sha256(("|".join(_words(lines)) + postal_code[:5]).encode()).hexdigest()
    return f"{int(digest[:8], 16) % 9000 + 1000:04d}"


@dataclass
class Pickup:
    """A pickup a carrier booked (and maybe cancelled)."""

    carrier: str
    confirmation: str
    account: str
    date: str
    location: str
    postal_code: str
    street: str
    package_count: int
    booked_at: str
    cancelled: bool = False
    cancelled_at: str | None = None


@dataclass
class Close:
    """A FedEx Ground end-of-day close or a USPS SCAN form: the labels it took."""

    carrier: str
    reference: str  # FedEx shipping cycle or USPS manifest number (EFN)
    account: str
    date: str
    tracking_numbers: list[str] = field(default_factory=list)
    at: str = ""


class Book:
    """Thread-safe record of pickups and closes; a label is on at most one close."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.pickups: list[Pickup] = []
        self.closes: list[Close] = []
        self._closed: dict[str, str] = {}  # tracking number -> the close's reference
        self._etags: dict[tuple[str, str], str] = {}  # (carrier, confirmation) -> its current entity tag

    def book(self, pickup: Pickup) -> Pickup:
        with self._lock:
            self.pickups.append(pickup)
        return pickup

    def all_pickups(self) -> list[Pickup]:
        with self._lock:
            return list(self.pickups)

    def pickup(self, carrier: str, confirmation: str) -> Pickup | None:
        with self._lock:
            return next(
                (p for p in self.pickups if p.carrier == carrier and p.confirmation == confirmation), None
            )

    def tag(self, carrier: str, confirmation: str, etag: str) -> str:
        """Make ``etag`` the pickup's current entity tag (USPS: the one an update or cancel must quote)."""
        with self._lock:
            self._etags[(carrier, confirmation)] = etag
        return etag

    def spend_tag(self, carrier: str, confirmation: str, etag: str) -> bool:
        """True, and the tag is used up, when ``etag`` is the pickup's current entity tag."""
        with self._lock:
            current = self._etags.get((carrier, confirmation))
            if current is None or current != etag:
                return False
            del self._etags[(carrier, confirmation)]
            return True

    def closed_by(self, tracking_number: str) -> str | None:
        """The reference of the close a label is on, or None."""
        with self._lock:
            return self._closed.get(tracking_number)

    def close(self, record: Close) -> Close:
        """Record a close; refuses a label that is on another close already."""
        with self._lock:
            taken = [n for n in record.tracking_numbers if n in self._closed]
            if taken:
                raise ValueError(f"already closed: {', '.join(taken)}")
            self.closes.append(record)
            for number in record.tracking_numbers:
                self._closed[number] = record.reference
        return record

    def public(self) -> dict[str, Any]:
        with self._lock:
            return {
                "pickups": [asdict(p) for p in self.pickups],
                "closes": [asdict(c) for c in self.closes],
            }

    def clear(self) -> None:
        with self._lock:
            self.pickups.clear()
            self.closes.clear()
            self._closed.clear()
            self._etags.clear()


bp = flask.Blueprint("sim_warehouse", __name__, url_prefix="/_sim")


@bp.get("/warehouse")
def warehouse() -> flask.Response:
    """Every pickup booked or cancelled, and every Ground close and SCAN form, oldest first."""
    book: Book = flask.current_app.extensions["handoff_simulator"].warehouse
    data = book.public()
    carrier = flask.request.args.get("carrier")
    if carrier:
        data = {key: [item for item in items if item["carrier"] == carrier] for key, items in data.items()}
    return flask.jsonify(data)
