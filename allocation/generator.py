"""A seeded, realistic day for one depot: packages, 25 vans, three partners and a rule set.

Packages cluster in a dense city around the depot, thin out over the suburbs and scatter across
the countryside. Partner prices come from small rate tables here (zone base plus per-kg), kept
apart from ``rating/`` on purpose until the rate engine settles. Same seed, same day.
"""

from __future__ import annotations

import math
import random
from decimal import ROUND_HALF_UP, Decimal

from allocation import model, rules
from schemas import money

CURRENCY = "EUR"
ZONES = (("Z1", 10.0), ("Z2", 25.0), ("Z3", 50.0), ("Z4", math.inf))
TENANTS = ("acme", "globex", "initech", "umbrella")


def zone_of(km_from_depot: float) -> str:
    """Return the rate zone for a straight-line distance from the depot."""
    return next(name for name, limit in ZONES if km_from_depot < limit)


# carrier -> (service, base per zone, per kg over the first kg, transit days per zone, max kg, hazmat fee)
_RATES: dict[str, tuple[str, dict[str, str], str, dict[str, int], str, str | None]] = {
    "ParcelCo": (
        "ground",
        {"Z1": "4.60", "Z2": "5.10", "Z3": "5.90", "Z4": "7.20"},
        "0.30",
        {"Z1": 1, "Z2": 1, "Z3": 1, "Z4": 2},
        "31.5",
        None,
    ),
    "SwiftExpress": (
        "express",
        {"Z1": "7.40", "Z2": "7.90", "Z3": "8.60", "Z4": "9.80"},
        "0.45",
        {"Z1": 1, "Z2": 1, "Z3": 1, "Z4": 1},
        "70",
        "18.00",
    ),
    "CheapPost": (
        "economy",
        {"Z1": "3.90", "Z2": "4.20", "Z3": "4.90", "Z4": "6.10"},
        "0.25",
        {"Z1": 2, "Z2": 3, "Z3": 3, "Z4": 4},
        "20",
        None,
    ),
}


def partner_options(pkg: model.Package) -> tuple[model.PartnerOption, ...]:
    """Quote the three partners for one package from their rate tables."""
    out = []
    for carrier, (service, base, per_kg, transit, max_kg, hazmat_fee) in _RATES.items():
        zone = pkg.zone or "Z4"
        extra_kg = max(Decimal(0), pkg.weight_kg - 1).to_integral_value(rounding="ROUND_CEILING")
        price = Decimal(base[zone]) + extra_kg * Decimal(per_kg)
        eligible, reason = True, None
        if pkg.weight_kg > Decimal(max_kg):
            eligible, reason = False, f"over {max_kg} kg"
        elif pkg.hazmat and hazmat_fee is None:
            eligible, reason = False, "no dangerous goods"
        elif pkg.hazmat and hazmat_fee is not None:
            price += Decimal(hazmat_fee)
        days = transit[zone]
        meets = pkg.promise_days is None or days <= pkg.promise_days
        out.append(
            model.PartnerOption(
                carrier=carrier,
                service=service,
                cost=money.Money(price.quantize(Decimal("0.01"), ROUND_HALF_UP), CURRENCY),
                eligible=eligible,
                reason=reason,
                transit_days=days,
                meets_promise=meets,
            )
        )
    return tuple(out)


def default_rules(packages: int = 2000) -> model.RuleSet:
    """Return the ops rules of the generated day, as an ops team might write them.

    The ParcelCo monthly commitment scales with the day so that its daily share stays a tenth
    of the packages (see ``generate_day``'s period progress).
    """
    return rules.parse(
        {
            "version": 1,
            "name": "generated day",
            "rules": [
                {
                    "id": "hazmat-off-vans",
                    "description": "our vans carry no dangerous goods",
                    "when": {"hazmat": True},
                    "action": {"type": "forbid", "target": "fleet"},
                },
                {
                    "id": "city-by-van",
                    "description": "city centre parcels preferably by our vans",
                    "when": {"zone": ["Z1"]},
                    "action": {"type": "prefer", "target": "fleet", "bias": "-0.50"},
                },
                {
                    "id": "fragile-not-cheappost",
                    "when": {"fragile": True},
                    "action": {"type": "forbid", "target": "CheapPost"},
                },
                {
                    "id": "globex-swift",
                    "description": "globex pays for express handling",
                    "when": {"tenant": ["globex"], "service_level": ["express"]},
                    "action": {"type": "require", "target": "SwiftExpress"},
                },
                {
                    "id": "cheappost-daily-cap",
                    "when": {},
                    "action": {"type": "cap", "carrier": "CheapPost", "max_packages": 400},
                },
                {
                    "id": "parcelco-monthly",
                    "when": {},
                    "action": {
                        "type": "commit",
                        "carrier": "ParcelCo",
                        "period": "2026-11",
                        "min_packages": 3 * packages,
                    },
                },
            ],
        }
    )


def _d(value: float, places: str = "0.001") -> Decimal:
    return Decimal(str(value)).quantize(Decimal(places))


def generate_day(
    packages: int = 2000,
    vans: int = 25,
    seed: int = 1,
    *,
    with_rules: bool = True,
) -> model.Problem:
    """Return a seeded day of ``packages`` around one depot with ``vans`` vans and three partners."""
    if packages < 0 or vans < 0:
        raise model.ModelError("package and van counts must not be negative")
    rng = random.Random(seed)
    depot = model.Depot("D1", model.Location(0.0, 0.0), opens=7 * 60, closes=20 * 60)
    # Town centres: the city itself and a ring of suburbs and villages, weighted by population.
    towns = [(0.0, 0.0, 6.0, 0.55)]
    for _ in range(12):
        angle, radius = rng.uniform(0, 2 * math.pi), rng.uniform(12, 45)
        towns.append((radius * math.cos(angle), radius * math.sin(angle), rng.uniform(1.5, 4.0), 0.03))
    towns.append((0.0, 0.0, 60.0, 0.09))  # scattered rural addresses
    weights = [t[3] for t in towns]
    pkgs: list[model.Package] = []
    i = 0
    while len(pkgs) < packages:
        tx, ty, spread, _ = rng.choices(towns, weights)[0]
        x, y = rng.gauss(tx, spread), rng.gauss(ty, spread)
        dist = math.hypot(x, y)
        weight = min(60.0, max(0.1, rng.lognormvariate(0.9, 0.9)))
        volume = weight / rng.uniform(120, 250)
        roll = rng.random()
        level, promise = ("express", 1) if roll < 0.15 else ("economy", 4) if roll < 0.35 else ("standard", 2)
        w_roll = rng.random()
        window = (
            model.TimeWindow(9 * 60, 12 * 60)
            if w_roll < 0.12
            else model.TimeWindow(14 * 60, 18 * 60)
            if w_roll < 0.2
            else None
        )
        zone = zone_of(dist)
        tags = frozenset(t for t, p in (("fragile", 0.05), ("bulky", 0.03)) if rng.random() < p)
        group_size = 1 if rng.random() > 0.03 else rng.randint(2, 3)
        tenant = rng.choice(TENANTS)
        value = money.Money(_d(rng.uniform(10, 400), "0.01"), CURRENCY)
        hazmat = rng.random() < 0.01
        gid = f"G{i + 1:05d}" if group_size > 1 else None
        for k in range(min(group_size, packages - len(pkgs))):
            i += 1
            pkgs.append(
                model.Package(
                    id=f"P{i:05d}",
                    location=model.Location(round(x, 3), round(y, 3)),
                    weight_kg=_d(weight if k == 0 else rng.uniform(0.2, 5)),
                    volume_m3=_d(volume, "0.0001"),
                    window=window,
                    promise_days=promise,
                    service_level=level,
                    group=gid,
                    hazmat=hazmat,
                    fragile="fragile" in tags,
                    value=value,
                    tags=tags,
                    tenant=tenant,
                    postal_code=f"{zone[1]}{abs(int(x)) % 10}{abs(int(y)) % 10}{rng.randint(0, 99):02d}",
                    zone=zone,
                    service_minutes=3 if weight < 20 else 6,
                )
            )
    vehicles = tuple(
        model.Vehicle(
            id=f"V{v + 1:02d}",
            capacity_kg=Decimal(800),
            capacity_m3=Decimal(10),
            shift_start=8 * 60,
            shift_end=18 * 60,
            cost_per_km=Decimal("0.32"),
            cost_per_hour=Decimal("26.00"),
            fixed_cost=Decimal("45.00"),
            speed_kmh=Decimal(35),
            max_stops=140,
        )
        for v in range(vans)
    )
    return model.Problem(
        depot=depot,
        vehicles=vehicles,
        packages=tuple(pkgs),
        options={p.id: partner_options(p) for p in pkgs},
        rules=default_rules(packages) if with_rules else model.RuleSet(),
        currency=CURRENCY,
        distance_model="euclidean",
        road_factor=Decimal("1.3"),
        progress=(model.PeriodProgress("ParcelCo", shipped_packages=packages * 22 // 10, days_left=8),),
    )
