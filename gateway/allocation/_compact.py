"""A finished plan stored compactly, as online decisions need it: packages, van routes, handovers."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from allocation import model
from gateway.allocation import tables


def pack(pkg: model.Package) -> list[Any]:
    window = None if pkg.window is None else [pkg.window.start, pkg.window.end]
    return [
        pkg.id,
        pkg.location.x,
        pkg.location.y,
        str(pkg.weight_kg),
        str(pkg.volume_m3),
        window,
        pkg.service_minutes,
    ]


def unpack(row: list[Any]) -> model.Package:
    pid, x, y, kg, m3, window, svc = row
    return model.Package(
        id=pid,
        location=model.Location(x, y),
        weight_kg=Decimal(kg),
        volume_m3=Decimal(m3),
        window=None if window is None else model.TimeWindow(window[0], window[1]),
        service_minutes=svc,
    )


@dataclass(frozen=True)
class Dispatch:
    """A finished plan as online decisions need it: packages, stops per van, packages per partner."""

    packages: tuple[model.Package, ...]
    routes: dict[str, tuple[str, ...]]
    handovers: dict[str, tuple[str, ...]]


_DISPATCH: OrderedDict[str, Dispatch] = OrderedDict()
_DISPATCH_LOCK = threading.Lock()


def dispatch(session: Session, plan_id: str) -> Dispatch:
    """Return a finished plan's dispatch (cached by id: a plan's problem and routes never change)."""
    with _DISPATCH_LOCK:
        cached = _DISPATCH.get(plan_id)
        if cached is not None:
            _DISPATCH.move_to_end(plan_id)
            return cached
    stored = session.execute(
        sa.select(tables.PlanRun.problem).where(tables.PlanRun.id == plan_id)
    ).scalar_one()
    stored = stored or {}
    made = Dispatch(
        packages=tuple(unpack(r) for r in stored.get("packages", [])),
        routes={k: tuple(v) for k, v in (stored.get("routes") or {}).items()},
        handovers={k: tuple(v) for k, v in (stored.get("handovers") or {}).items()},
    )
    with _DISPATCH_LOCK:
        _DISPATCH[plan_id] = made
        while len(_DISPATCH) > 16:
            _DISPATCH.popitem(last=False)
    return made
