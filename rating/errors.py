"""Small, named exceptions of the rate engine."""

from __future__ import annotations

from collections.abc import Sequence


class RatingError(ValueError):
    """Input the engine cannot price (naive datetime, mixed currencies, no parcels)."""


class CardError(ValueError):
    """A rate card that fails validation; ``problems`` names each bad field."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid rate card: " + "; ".join(self.problems))
