"""Small constructors for allocation tests (plain functions, no fixtures)."""

from __future__ import annotations

from decimal import Decimal

from allocation import model
from schemas import money


def pkg(pid: str, x: float, y: float, kg: str = "1", **kw: object) -> model.Package:
    return model.Package(id=pid, location=model.Location(x, y), weight_kg=Decimal(kg), **kw)  # type: ignore[arg-type]


def van(
    vid: str, kg: str = "100", per_hour: str = "0", max_stops: int | None = None, **kw: object
) -> model.Vehicle:
    fields: dict[str, object] = {
        "capacity_kg": Decimal(kg),
        "capacity_m3": Decimal(10),
        "shift_start": 8 * 60,
        "shift_end": 18 * 60,
        "cost_per_km": Decimal("1.00"),
        "cost_per_hour": Decimal(per_hour),
        "fixed_cost": Decimal("10.00"),
        "speed_kmh": Decimal(60),
        "max_stops": max_stops,
    }
    fields.update(kw)
    return model.Vehicle(id=vid, **fields)  # type: ignore[arg-type]


def offer(carrier: str, price: str, **kw: object) -> model.PartnerOption:
    return model.PartnerOption(carrier=carrier, service="std", cost=money.Money(Decimal(price), "EUR"), **kw)  # type: ignore[arg-type]


def day(
    packages: list[model.Package],
    vehicles: list[model.Vehicle],
    options: dict[str, tuple[model.PartnerOption, ...]],
    rule_set: model.RuleSet | None = None,
    **kw: object,
) -> model.Problem:
    return model.Problem(
        depot=model.Depot("D", model.Location(0.0, 0.0)),
        vehicles=tuple(vehicles),
        packages=tuple(packages),
        options=options,
        rules=rule_set or model.RuleSet(),
        **kw,  # type: ignore[arg-type]
    )
