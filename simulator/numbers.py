"""Carrier tracking numbers with their real check digits, from counters that never hand a value out twice.

A real carrier never issues one tracking number to two shipments (not within years), and neither does
the simulator: each number is built from a serial taken from ``Counters``, which keeps the next free
value per kind in ``<data_dir>/counters.json`` so that a restarted simulator carries on where it
stopped instead of starting its sequence again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import re
import threading
from collections.abc import Iterator
from pathlib import Path

UPS_TRACKING = re.compile(r"^1Z[0-9A-Z]{16}$")


def ups_check_digit(body: str) -> str:
    """Return the UPS check digit for the 15 characters after "1Z"."""
    total = 0
    for position, char in enumerate(body, start=1):
        # UPS maps letters onto digits as (ASCII - 63) mod 10: A=2 ... I=0 ... Z=7.
        value = int(char) if char.isdigit() else (ord(char) - 63) % 10
        total += value if position % 2 else 2 * value
    return str((10 - total % 10) % 10)


def ups_tracking_number(shipper_number: str, service_code: str, package_id: int) -> str:
    """Return a 1Z number: shipper account, service, a 7-digit package id and the check digit."""
    account = (re.sub(r"[^0-9A-Z]", "", shipper_number.upper()) + "000000")[:6]
    service = (re.sub(r"\D", "", service_code) + "00")[:2]
    body = f"{account}{service}{package_id:07d}"
    return f"1Z{body}{ups_check_digit(body)}"


def ups_number_is_valid(number: str) -> bool:
    """Return whether a 1Z number is well formed and its check digit matches."""
    return bool(UPS_TRACKING.match(number)) and ups_check_digit(number[2:17]) == number[17]


def dhl_waybill(serial: int) -> str:
    """Return a 10-digit DHL Express waybill whose last digit is the first nine (the serial) modulo 7."""
    return f"{serial}{serial % 7}"


def dhl_waybill_is_valid(number: str) -> bool:
    """Return whether a 10-digit waybill's check digit matches."""
    return len(number) == 10 and number.isdigit() and int(number[:9]) % 7 == int(number[9])


def dhl_piece_id(serial: int) -> str:
    """Return a DHL piece identifier (license plate): "JD" followed by 18 digits."""
    return f"JD01{serial:016d}"


FEDEX_TRACKING = re.compile(r"^\d{12}$")


def fedex_check_digit(body: str) -> str:
    """Return the check digit of an 11-digit FedEx Express body (weights 1, 3, 7 from the right, mod 11)."""
    total = sum(int(digit) * (1, 3, 7)[index % 3] for index, digit in enumerate(reversed(body)))
    return str(total % 11 % 10)


def fedex_tracking_number(serial: int) -> str:
    """Return a 12-digit FedEx tracking number: an 11-digit serial and its check digit."""
    body = f"{serial:011d}"
    return f"{body}{fedex_check_digit(body)}"


def fedex_number_is_valid(number: str) -> bool:
    """Return whether a 12-digit FedEx number's check digit matches."""
    return bool(FEDEX_TRACKING.match(number)) and fedex_check_digit(number[:11]) == number[11]


USPS_TRACKING = re.compile(r"^92\d{20}$")
# IMpb service type codes of the mail classes the simulator sells.
USPS_SERVICE_TYPES = {"USPS_GROUND_ADVANTAGE": "001", "PRIORITY_MAIL": "055", "PRIORITY_MAIL_EXPRESS": "701"}


def usps_check_digit(body: str) -> str:
    """Return the IMpb (mod 10) check digit: digits from the right weighted 3, 1, 3, 1..."""
    total = sum(int(digit) * (3 if index % 2 == 0 else 1) for index, digit in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def usps_tracking_number(mail_class: str, mid: str, serial: int) -> str:
    """Return a 22-digit IMpb: "92", the service type code, the 9-digit MID, a 7-digit serial, the check digit."""
    service = USPS_SERVICE_TYPES.get(mail_class, "001")
    mailer = (re.sub(r"\D", "", mid) + "0" * 9)[:9]
    body = f"92{service}{mailer}{serial:07d}"
    return f"{body}{usps_check_digit(body)}"


def usps_number_is_valid(number: str) -> bool:
    """Return whether a 22-digit IMpb tracking number's check digit matches."""
    return bool(USPS_TRACKING.match(number)) and usps_check_digit(number[:21]) == number[21]


# Counter name -> (where a fresh counter starts, drawn from the seed; the first value it may not reach).
UPS_PACKAGE, DHL_WAYBILL, DHL_PIECE = "ups_package", "dhl_waybill", "dhl_piece"
FEDEX_PACKAGE, USPS_PACKAGE = "fedex_package", "usps_package"
FEDEX_PICKUP, USPS_PICKUP, USPS_SCAN_FORM = "fedex_pickup", "usps_pickup", "usps_scan_form"
_SPANS: dict[str, tuple[tuple[int, int], int]] = {
    UPS_PACKAGE: ((0, 10**6), 10**7),  # the 7-digit package id of a 1Z number
    DHL_WAYBILL: ((10**8, 2 * 10**8), 10**9),  # the 9 digits before the waybill's check digit
    DHL_PIECE: ((0, 10**12), 10**16),
    FEDEX_PACKAGE: ((79 * 10**9, 79 * 10**9 + 10**9), 10**11),  # the 11 digits before the check digit
    USPS_PACKAGE: ((0, 10**6), 10**7),  # the 7-digit serial of an IMpb after the MID
    FEDEX_PICKUP: ((1000, 10**6), 10**8),  # a pickup confirmation code
    USPS_PICKUP: ((0, 10**7), 10**8),  # the 8 digits of a carrier pickup confirmation number
    USPS_SCAN_FORM: ((0, 10**6), 10**7),  # the 7-digit serial of a SCAN form's manifest number (EFN)
}


class NumbersExhausted(RuntimeError):
    """A counter reached the end of its range: the simulator would have to reissue a number."""


class Counters:
    """Serials that are never handed out twice, even across restarts.

    With a data directory, every take runs under an exclusive lock on ``counters.lock`` (simulators
    may share a directory), reads ``counters.json`` (the next free value per counter), writes the
    advanced value to a temporary file and renames it over the old one, and only then returns: a
    crash may skip the values it reserved, never hand them out again. Without one, the counters live
    in memory and are unique within this process only. A fresh counter starts at a point drawn from
    the seed, so simulators with different seeds do not start on the same numbers.
    """

    FILE = "counters.json"

    def __init__(self, data_dir: str | os.PathLike[str] | None, seed: int = 0) -> None:
        self._dir = Path(data_dir) if data_dir else None
        self._seed = seed
        self._memory: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def path(self) -> Path | None:
        return self._dir / self.FILE if self._dir else None

    def _start(self, name: str) -> int:
        (low, high), _end = _SPANS[name]
        return random.Random(f"{self._seed}:{name}").randrange(low, high)

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        assert self._dir is not None
        self._dir.mkdir(parents=True, exist_ok=True)
        with open(self._dir / "counters.lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _read(self) -> dict[str, int]:
        assert self.path is not None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {str(k): int(v) for k, v in data.items()}

    def _write(self, values: dict[str, int]) -> None:
        assert self.path is not None
        temporary = self.path.with_name(f"{self.FILE}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(values, sort_keys=True), encoding="utf-8")
        os.replace(temporary, self.path)

    def take(self, name: str, count: int = 1) -> range:
        """Reserve ``count`` consecutive serials of a counter and return them."""
        _start, end = _SPANS[name]
        with self._lock:
            if self._dir is None:
                first = self._memory.get(name, self._start(name))
                if first + count > end:
                    raise NumbersExhausted(f"counter {name} is used up")
                self._memory[name] = first + count
                return range(first, first + count)
            with self._file_lock():
                values = self._read()
                first = values.get(name, self._start(name))
                if first + count > end:
                    raise NumbersExhausted(f"counter {name} in {self.path} is used up")
                values[name] = first + count
                self._write(values)
        return range(first, first + count)
