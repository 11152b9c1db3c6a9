"""Terminal output: progress bars for the long steps and phase headings with their durations.

No dependency: on a terminal a bar redraws itself in place; in a log or a pipe (CI, the tests) it
prints a line at every quarter so the output stays readable.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

WIDTH = 28


def fmt_seconds(seconds: float) -> str:
    """Return ``12.3 s`` or ``2 min 05 s``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


class Bar:
    """A thread-safe progress bar: ``with Bar("Booking", total) as bar: bar.advance()``."""

    def __init__(self, label: str, total: int, out: TextIO | None = None, unit: str = "") -> None:
        self.label = label
        self.total = max(0, total)
        self.done = 0
        self.unit = unit
        self.out = out or sys.stdout
        self.tty = bool(getattr(self.out, "isatty", lambda: False)())
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._last_draw = 0.0
        self._next_quarter = 1
        self.note = ""

    def __enter__(self) -> Bar:
        self._draw(force=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()

    def advance(self, n: int = 1, note: str | None = None) -> None:
        with self._lock:
            self.done = min(self.total, self.done + n) if self.total else self.done + n
            if note is not None:
                self.note = note
            self._draw()

    def set(self, done: int, total: int | None = None, note: str | None = None) -> None:
        with self._lock:
            if total is not None:
                self.total = max(0, total)
            self.done = done
            if note is not None:
                self.note = note
            self._draw()

    def _line(self) -> str:
        total = self.total or 1
        share = min(1.0, self.done / total)
        filled = int(share * WIDTH)
        bar = "█" * filled + "░" * (WIDTH - filled)
        elapsed = time.monotonic() - self._started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        unit = f" {self.unit}" if self.unit else ""
        note = f"  {self.note}" if self.note else ""
        return (
            f"  {self.label:<22} {bar} {self.done:>5}/{self.total:<5}{unit} "
            f"{share * 100:5.1f}%  {rate:6.1f}/s  {fmt_seconds(elapsed)}{note}"
        )

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.tty:
            if force or now - self._last_draw > 0.1 or self.done >= self.total:
                self.out.write("\r\033[2K" + self._line())
                self.out.flush()
                self._last_draw = now
            return
        total = self.total or 1
        quarter = min(4, self.done * 4 // total)
        if quarter >= self._next_quarter:
            self._next_quarter = quarter + 1
            if quarter < 4:  # the end is printed by finish()
                self.out.write(self._line() + "\n")
                self.out.flush()

    def finish(self) -> None:
        with self._lock:
            if self.tty:
                self.out.write("\r\033[2K" + self._line() + "\n")
            else:
                self.out.write(self._line() + "\n")
            self.out.flush()
