"""Console pages: fleet (issue 20); see docs/CONSOLE.md. Filled in by the work on this area."""

from __future__ import annotations

from collections.abc import Callable

Route = Callable[..., None]


def register(route: Route) -> None:
    """Add this area's pages with ``route(rule, endpoint, view, methods)``."""


NAV: list[tuple[str, str, tuple[str, ...]]] = []  # (path, label, roles that see it)
