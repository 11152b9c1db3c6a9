"""Simulated time: runs faster than real time, and tests or operators can jump it forward."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

SIM_DAY_SECONDS = 86_400


class SimClock:
    """A clock whose simulated day lasts ``day_seconds`` real seconds."""

    def __init__(
        self,
        day_seconds: float,
        start: datetime | None = None,
        real: Callable[[], float] = time.monotonic,
    ) -> None:
        if day_seconds <= 0:
            raise ValueError("day_seconds must be positive")
        self._speed = SIM_DAY_SECONDS / day_seconds
        self._real = real
        self._real_start = real()
        self._sim_start = start or datetime.now(UTC).replace(microsecond=0)
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    @property
    def speed(self) -> float:
        """Return how many simulated seconds pass per real second."""
        return self._speed

    def now(self) -> datetime:
        """Return the current simulated time (UTC, aware)."""
        elapsed = (self._real() - self._real_start) * self._speed
        with self._lock:
            return self._sim_start + timedelta(seconds=elapsed) + self._offset

    def advance(self, seconds: float) -> datetime:
        """Jump simulated time forward and return the new time."""
        if seconds < 0:
            raise ValueError("the simulated clock only moves forward")
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()
