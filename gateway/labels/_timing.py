"""How long label jobs wait: the LABEL_* settings, retry backoff, and how long a lost answer settles."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from adapters import base as adapters

if TYPE_CHECKING:
    from gateway.kernel.container import Container


def setting(container: Container, name: str) -> float:
    """Return a numeric ``LABEL_*`` setting (declared, with its default, in ``gateway/kernel/config.py``)."""
    return float(container.settings[name])


def backoff(container: Container, attempt: int) -> float:
    """Exponential backoff with full jitter (half to the whole step), capped."""
    base = setting(container, "LABEL_RETRY_BASE_SECONDS")
    step = min(setting(container, "LABEL_RETRY_CAP_SECONDS"), base * (2 ** max(0, attempt - 1)))
    return step * random.uniform(0.5, 1.0)


def settle_seconds(container: Container, adapter: adapters.Adapter | None) -> float:
    floor = 2 * float(adapter.timeout) + 5 if adapter is not None else 0.0
    return max(setting(container, "LABEL_LOOKUP_SETTLE_SECONDS"), floor)
