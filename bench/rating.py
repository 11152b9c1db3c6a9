"""Rate engine benchmark: in-process price() computations per second on one core.

Usage: python bench/rating.py [--seconds 3] [--card ups_ground] [--http URL]

Prints, from the same run, a baseline loop (a dict lookup and a Decimal multiply per
iteration) so figures from a noisy shared machine can be compared as a ratio. ``--http`` is
the POST /v1/rates latency mode, left for the gateway to fill in.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rating import cards, quote
from schemas import types

SHIP_AT = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
ORIGIN = types.Address("US", "07102", "Newark")


def _pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity)"


def _specs() -> list[types.ShipmentSpec]:
    """Return one-parcel shipments across zones, sizes and options (the first is the fixed case)."""
    postals = ["10001", "15001", "30301", "60601", "80202", "94105", "05601", "12812"]
    out = []
    for i in range(64):
        w = Decimal(1 + (i * 7) % 60) + Decimal("0.35")
        side = Decimal(10 + (i * 13) % 70)
        parcel = types.Parcel(w, side, Decimal(25), Decimal(20))
        dest = types.Address("US", postals[i % len(postals)], "X", residential=bool(i % 2))
        opts = frozenset({"signature"}) if i % 3 == 0 else frozenset()
        out.append(types.ShipmentSpec(ORIGIN, dest, (parcel,), options=opts))
    return out


def _rate(fn: Callable[[int], None], seconds: float, batch: int) -> list[float]:
    """Return per-round rates (ops per CPU second) over about ``seconds`` of rounds of ``batch`` calls.

    CPU time rather than wall time, because the machines are shared: time spent waiting for
    the core while another process runs is not the engine's cost.
    """
    fn(batch)  # warm caches
    rates = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(rates) < 3:
        t = time.process_time()
        fn(batch)
        rates.append(batch / (time.process_time() - t))
    return rates


def run_in_process(card_name: str, seconds: float) -> dict[str, list[float]]:
    """Measure the baseline, one fixed shipment, and a rotating mix of 64 shipments."""
    card = cards.load_sample(card_name)
    specs = _specs()
    fixed = specs[0]
    table = {str(i): Decimal(i) + Decimal("0.25") for i in range(100)}
    factor = Decimal("1.1525")
    price = quote.price

    def baseline(n: int) -> None:
        for i in range(n):
            _ = table[str(i % 100)] * factor

    def one(n: int) -> None:
        for _ in range(n):
            price(card, fixed, SHIP_AT)

    def mix(n: int) -> None:
        for i in range(n):
            price(card, specs[i & 63], SHIP_AT)

    assert isinstance(price(card, fixed, SHIP_AT), quote.Quote)
    return {
        "baseline (dict lookup + Decimal multiply)": _rate(baseline, seconds, 200_000),
        f"price(): one parcel, {card.carrier} {card.service_code}, fixed shipment": _rate(
            one, seconds, 20_000
        ),
        f"price(): one parcel, {card.carrier} {card.service_code}, 64-shipment mix": _rate(
            mix, seconds, 20_000
        ),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per case")
    parser.add_argument("--card", default="ups_ground", help="sample card name (see rating/cards/)")
    parser.add_argument("--http", metavar="URL", help="POST /v1/rates latency mode (not implemented yet)")
    args = parser.parse_args(argv)
    if args.http:
        print("--http: POST /v1/rates latency p50/p99 is not implemented yet (gateway work)", file=sys.stderr)
        return 2
    print(f"python {platform.python_version()} on {platform.machine()}, {_pin_one_core()}")
    results = run_in_process(args.card, args.seconds)
    base = statistics.median(next(iter(results.values())))
    print(f"{'case (per CPU second)':<62} {'median/s':>10} {'best/s':>10} {'vs baseline':>11}")
    for name, rates in results.items():
        med = statistics.median(rates)
        print(f"{name:<62} {med:>10,.0f} {max(rates):>10,.0f} {med / base:>11.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
