"""The own fleet's cost model: what one more stop costs, estimated before routes are planned."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

_MINUTES_PER_HOUR = Decimal(60)
LINE_CODES: frozenset[str] = frozenset({"FLEET_KM", "FLEET_STOP", "FLEET_DRIVER", "FLEET_VEHICLE"})


@dataclass(frozen=True, slots=True)
class CostModel:
    """Cost per km, stop, driver hour and vehicle-day, with the average detour per stop by zone."""

    cost_per_km: Decimal
    cost_per_stop: Decimal
    cost_per_driver_hour: Decimal
    cost_per_vehicle_day: Decimal
    average_speed_kmh: Decimal
    minutes_per_stop: Decimal
    stops_per_vehicle_day: int
    marginal_km_by_zone: Mapping[str, Decimal]


def marginal_stop_cost(model: CostModel, zone: str) -> tuple[tuple[str, str, Decimal], ...]:
    """Return the unrounded (code, description, cost) parts of adding one stop in ``zone``.

    The allocation planner replaces this estimate with the cost of the planned routes.
    """
    km = model.marginal_km_by_zone[zone]
    hours = km / model.average_speed_kmh + model.minutes_per_stop / _MINUTES_PER_HOUR
    return (
        ("FLEET_KM", f"Fleet distance, {km} km marginal detour", km * model.cost_per_km),
        ("FLEET_STOP", "Fleet stop handling", model.cost_per_stop),
        ("FLEET_DRIVER", f"Driver time, {hours:.3f} h", hours * model.cost_per_driver_hour),
        (
            "FLEET_VEHICLE",
            f"Vehicle-day share, 1/{model.stops_per_vehicle_day} of a day",
            model.cost_per_vehicle_day / model.stops_per_vehicle_day,
        ),
    )
