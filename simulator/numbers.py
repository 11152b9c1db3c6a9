"""Carrier tracking numbers with their real check digits."""

from __future__ import annotations

import random
import re

UPS_TRACKING = re.compile(r"^1Z[0-9A-Z]{16}$")


def ups_check_digit(body: str) -> str:
    """Return the UPS check digit for the 15 characters after "1Z"."""
    total = 0
    for position, char in enumerate(body, start=1):
        # UPS maps letters onto digits as (ASCII - 63) mod 10: A=2 ... I=0 ... Z=7.
        value = int(char) if char.isdigit() else (ord(char) - 63) % 10
        total += value if position % 2 else 2 * value
    return str((10 - total % 10) % 10)


def ups_tracking_number(shipper_number: str, service_code: str, rng: random.Random) -> str:
    """Return a 1Z number: shipper account, service, a 7-digit package id and the check digit."""
    account = (re.sub(r"[^0-9A-Z]", "", shipper_number.upper()) + "000000")[:6]
    service = (re.sub(r"\D", "", service_code) + "00")[:2]
    body = f"{account}{service}{rng.randrange(10**7):07d}"
    return f"1Z{body}{ups_check_digit(body)}"


def ups_number_is_valid(number: str) -> bool:
    """Return whether a 1Z number is well formed and its check digit matches."""
    return bool(UPS_TRACKING.match(number)) and ups_check_digit(number[2:17]) == number[17]


def dhl_waybill(rng: random.Random) -> str:
    """Return a 10-digit DHL Express waybill whose last digit is the first nine modulo 7."""
    first = rng.randrange(10**8, 10**9)
    return f"{first}{first % 7}"


def dhl_waybill_is_valid(number: str) -> bool:
    """Return whether a 10-digit waybill's check digit matches."""
    return len(number) == 10 and number.isdigit() and int(number[:9]) % 7 == int(number[9])


def dhl_piece_id(rng: random.Random) -> str:
    """Return a DHL piece identifier (license plate): "JD" followed by 18 digits."""
    return f"JD01{rng.randrange(10**16):016d}"
