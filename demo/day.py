"""The seeded day: one depot in Secaucus, NJ, three shops, and their orders for the delivery day.

Orders cluster where people live: Manhattan, Brooklyn, Queens, Jersey City and Hoboken are dense;
the suburbs thin out; a quarter go farther (Long Island, Connecticut, Philadelphia, Boston,
Washington), out of the vans' reach. Each shop has its own basket: light apparel bags, heavy and
sometimes fragile homeware, dense books. Coordinates are real postal-area centres with a few
hundred metres of jitter, so every order is a distinct doorstep. The same seed gives the same day.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

DEPOT_TZ = ZoneInfo("America/New_York")


@dataclass(frozen=True)
class Area:
    city: str
    state: str
    postal_code: str
    lat: float
    lon: float
    weight: float  # relative share of orders
    streets: tuple[str, ...]


_MANHATTAN = (
    "Broadway",
    "W 34th St",
    "Amsterdam Ave",
    "Lexington Ave",
    "E 14th St",
    "Hudson St",
    "W 72nd St",
)
_BROOKLYN = ("Atlantic Ave", "Bedford Ave", "Court St", "Flatbush Ave", "7th Ave", "Smith St", "Nostrand Ave")
_QUEENS = ("Queens Blvd", "Northern Blvd", "Steinway St", "Main St", "Austin St", "Jamaica Ave")
_NJ = (
    "Washington St",
    "Newark Ave",
    "Kennedy Blvd",
    "Palisade Ave",
    "Bloomfield Ave",
    "Main St",
    "Central Ave",
)
_TOWN = ("Main St", "Elm St", "Maple Ave", "Church St", "Park Ave", "Oak St", "High St")

# City, state, postal code, centre (WGS84), share of orders, streets. Inside 070-089/100-119 and
# about 50 km of the depot the own fleet can deliver; the rest only partners reach.
AREAS: tuple[Area, ...] = (
    Area("New York", "NY", "10001", 40.7506, -73.9972, 5, _MANHATTAN),
    Area("New York", "NY", "10003", 40.7317, -73.9892, 4, _MANHATTAN),
    Area("New York", "NY", "10011", 40.7418, -74.0002, 4, _MANHATTAN),
    Area("New York", "NY", "10016", 40.7452, -73.9781, 4, _MANHATTAN),
    Area("New York", "NY", "10019", 40.7651, -73.9857, 4, _MANHATTAN),
    Area("New York", "NY", "10023", 40.7769, -73.9827, 4, _MANHATTAN),
    Area("New York", "NY", "10025", 40.7983, -73.9680, 4, _MANHATTAN),
    Area("New York", "NY", "10028", 40.7764, -73.9533, 4, _MANHATTAN),
    Area("New York", "NY", "10002", 40.7157, -73.9863, 3, _MANHATTAN),
    Area("New York", "NY", "10013", 40.7202, -74.0049, 2, _MANHATTAN),
    Area("New York", "NY", "10032", 40.8388, -73.9428, 3, _MANHATTAN),
    Area("Brooklyn", "NY", "11201", 40.6940, -73.9903, 3, _BROOKLYN),
    Area("Brooklyn", "NY", "11211", 40.7121, -73.9533, 4, _BROOKLYN),
    Area("Brooklyn", "NY", "11215", 40.6627, -73.9863, 4, _BROOKLYN),
    Area("Brooklyn", "NY", "11217", 40.6822, -73.9792, 3, _BROOKLYN),
    Area("Brooklyn", "NY", "11226", 40.6463, -73.9566, 3, _BROOKLYN),
    Area("Brooklyn", "NY", "11235", 40.5841, -73.9497, 2, _BROOKLYN),
    Area("Long Island City", "NY", "11101", 40.7472, -73.9396, 3, _QUEENS),
    Area("Flushing", "NY", "11354", 40.7690, -73.8270, 2, _QUEENS),
    Area("Forest Hills", "NY", "11375", 40.7214, -73.8467, 2, _QUEENS),
    Area("Jamaica", "NY", "11432", 40.7152, -73.7930, 2, _QUEENS),
    Area("Bronx", "NY", "10451", 40.8202, -73.9239, 2, _TOWN),
    Area("Bronx", "NY", "10463", 40.8810, -73.9073, 1, _TOWN),
    Area("Staten Island", "NY", "10301", 40.6316, -74.0927, 1, _TOWN),
    Area("Yonkers", "NY", "10701", 40.9467, -73.8675, 1, _TOWN),
    Area("White Plains", "NY", "10601", 41.0330, -73.7650, 1, _TOWN),
    Area("Hoboken", "NJ", "07030", 40.7453, -74.0279, 4, _NJ),
    Area("Jersey City", "NJ", "07302", 40.7221, -74.0466, 4, _NJ),
    Area("Jersey City", "NJ", "07306", 40.7341, -74.0713, 2, _NJ),
    Area("Newark", "NJ", "07102", 40.7357, -74.1724, 2, _NJ),
    Area("Hackensack", "NJ", "07601", 40.8887, -74.0467, 1, _TOWN),
    Area("Secaucus", "NJ", "07094", 40.7895, -74.0565, 1, _NJ),
    Area("North Bergen", "NJ", "07047", 40.7946, -74.0184, 1, _NJ),
    Area("Montclair", "NJ", "07042", 40.8134, -74.2166, 1, _TOWN),
    Area("Elizabeth", "NJ", "07201", 40.6622, -74.2100, 1, _TOWN),
    Area("Summit", "NJ", "07901", 40.7155, -74.3647, 1, _TOWN),
    Area("Mineola", "NY", "11501", 40.7462, -73.6386, 1, _TOWN),
    # Beyond the vans: partners only.
    Area("Huntington", "NY", "11743", 40.8682, -73.4257, 2, _TOWN),
    Area("Riverhead", "NY", "11901", 40.9170, -72.6620, 1, _TOWN),
    Area("Princeton", "NJ", "08540", 40.3487, -74.6590, 2, _TOWN),
    Area("Stamford", "CT", "06901", 41.0534, -73.5387, 2, _TOWN),
    Area("New Haven", "CT", "06510", 41.3083, -72.9279, 2, _TOWN),
    Area("Poughkeepsie", "NY", "12601", 41.7004, -73.9210, 1, _TOWN),
    Area("Philadelphia", "PA", "19103", 39.9526, -75.1652, 4, _TOWN),
    Area("Allentown", "PA", "18101", 40.6023, -75.4714, 1, _TOWN),
    Area("Boston", "MA", "02108", 42.3588, -71.0707, 3, _TOWN),
    Area("Baltimore", "MD", "21201", 39.2904, -76.6122, 2, _TOWN),
    Area("Washington", "DC", "20001", 38.9101, -77.0147, 2, _TOWN),
)

FIRST = ("Ana", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hiro", "Isabel", "Jamal", "Kate",
         "Luis", "Maya", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera", "Will",
         "Xin", "Yara", "Zoe")  # fmt: skip
LAST = ("Adams", "Brown", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Huang", "Ivanova", "Jones",
        "Kim", "Lopez", "Miller", "Nguyen", "Okafor", "Patel", "Quinn", "Rossi", "Smith", "Tanaka",
        "Usman", "Vargas", "Walsh", "Young", "Zhang")  # fmt: skip
COMPANIES = ("Studio 9 Architects", "Bluebird Cafe", "Kessler Dental", "Harbor Yoga", "Pinewood Law LLP",
             "Nimbus Labs", "Corner Bookshop", "Atlas Fitness", "Verde Florist")  # fmt: skip


@dataclass(frozen=True)
class Shop:
    """One tenant and its basket."""

    slug: str
    name: str
    share: float
    weight_median_kg: float
    weight_sigma: float
    box_cm: tuple[int, int, int]
    express: float  # share of express orders
    economy: float
    fragile: float
    value_range: tuple[int, int]
    # The shop's own shipping policy, as allocation rules: (rule id, condition, carrier code, why).
    # A rule whose carrier the installation does not sell is left out, and the demo says so.
    policy: tuple[tuple[str, dict[str, object], str, str], ...] = ()


SHOPS: tuple[Shop, ...] = (
    Shop(
        "northwind", "Northwind Outfitters", 0.45, 0.9, 0.55, (35, 25, 8), 0.18, 0.22, 0.0, (25, 180),
        policy=(("northwind-express", {"service_level": ["express"]}, "dhl_express",
                 "express orders ship on the shop's DHL Express contract"),),
    ),
    Shop(
        "brightside", "Brightside Home", 0.30, 4.5, 0.7, (45, 35, 30), 0.10, 0.15, 0.25, (30, 450),
        policy=(("brightside-fragile", {"fragile": True}, "fedex",
                 "fragile homeware goes by FedEx, whose claims the shop trusts"),),
    ),
    Shop("copperleaf", "Copperleaf Books", 0.25, 1.3, 0.45, (30, 22, 10), 0.12, 0.35, 0.0, (12, 90)),
)  # fmt: skip

DEPOT = {
    "name": "Handoff Demo Depot",
    "company": "Handoff Demo Depot",
    "street_lines": ["600 Meadowlands Pkwy"],
    "city": "Secaucus",
    "state": "NJ",
    "postal_code": "07094",
    "country_code": "US",
    "phone": "+1 201 555 0100",
    "residential": False,
    "latitude": "40.789500",
    "longitude": "-74.056500",
}


@dataclass
class Order:
    """One order to book: the body of ``POST /v1/shipments`` plus what the demo remembers about it."""

    shop: str
    reference: str
    service_level: str
    promise_date: date
    destination: dict[str, Any]
    weight_kg: Decimal
    dims_cm: tuple[int, int, int]
    value: Decimal
    fragile: bool
    area: str
    # Filled in as the day goes on.
    shipment_id: str | None = None
    rates: list[dict[str, Any]] = field(default_factory=list)
    carrier: str | None = None
    service: str | None = None
    rate_id: str | None = None
    tracking_number: str | None = None
    voided: bool = False

    @property
    def lat(self) -> float:
        return float(self.destination["latitude"])

    @property
    def lon(self) -> float:
        return float(self.destination["longitude"])

    def body(self) -> dict[str, Any]:
        length, width, height = self.dims_cm
        return {
            "reference": self.reference,
            "origin": DEPOT,
            "destination": self.destination,
            "parcels": [
                {
                    "weight": {"value": str(self.weight_kg), "unit": "kg"},
                    "dimensions": {
                        "length": str(length),
                        "width": str(width),
                        "height": str(height),
                        "unit": "cm",
                    },
                    "declared_value": {"amount": str(self.value), "currency": "USD"},
                }
            ],
            "service_level": self.service_level,
            "promise_date": self.promise_date.isoformat(),
            "metadata": {"shop": self.shop, **({"fragile": "true"} if self.fragile else {})},
        }


@dataclass
class Day:
    """The delivery day: its date, the depot, the shops and every order."""

    seed: int
    date: date
    orders: list[Order]

    def by_shop(self) -> dict[str, list[Order]]:
        out: dict[str, list[Order]] = {s.slug: [] for s in SHOPS}
        for o in self.orders:
            out[o.shop].append(o)
        return out


def km_from_depot(lat: float, lon: float) -> float:
    """Straight-line kilometres from the depot (haversine)."""
    lat0, lon0 = float(DEPOT["latitude"]), float(DEPOT["longitude"])
    p1, p2 = math.radians(lat0), math.radians(lat)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon - lon0) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def add_business_days(start: date, days: int) -> date:
    """Return the date ``days`` weekdays after ``start``."""
    d = start
    while days > 0:
        d += timedelta(days=1)
        if d.weekday() < 5:
            days -= 1
    return d


def delivery_day(now: datetime | None = None) -> date:
    """Return today in the depot's time zone: orders booked today are planned and delivered today.

    Allocation plans a depot's local day of bookings, so the day is the booking day.
    """
    return (now or datetime.now(UTC)).astimezone(DEPOT_TZ).date()


def _dec(value: float, places: str) -> Decimal:
    return Decimal(str(value)).quantize(Decimal(places))


def generate(orders: int = 2000, seed: int = 7, day: date | None = None) -> Day:
    """Return the seeded day: ``orders`` orders across the three shops, for ``day``."""
    rng = random.Random(seed)
    the_day = day or delivery_day()
    weights = [a.weight for a in AREAS]
    out: list[Order] = []
    counters = {s.slug: 0 for s in SHOPS}
    for _ in range(orders):
        shop = rng.choices(SHOPS, [s.share for s in SHOPS])[0]
        counters[shop.slug] += 1
        area = rng.choices(AREAS, weights)[0]
        # About 400 m of jitter: distinct doorsteps in the same neighbourhood.
        lat = area.lat + rng.gauss(0, 0.004)
        lon = area.lon + rng.gauss(0, 0.005)
        commercial = rng.random() < 0.15
        person = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        roll = rng.random()
        level, days = (
            ("express", 1)
            if roll < shop.express
            else ("economy", 4)
            if roll < shop.express + shop.economy
            else ("standard", 2)
        )
        weight = min(31.0, max(0.15, rng.lognormvariate(0, shop.weight_sigma) * shop.weight_median_kg))
        scale = max(0.6, min(1.8, (weight / shop.weight_median_kg) ** (1 / 3)))
        dims = tuple(max(5, round(side * scale)) for side in shop.box_cm)
        destination = {
            "name": person,
            "company": rng.choice(COMPANIES) if commercial else None,
            "street_lines": [f"{rng.randint(1, 980)} {rng.choice(area.streets)}"]
            + (
                [f"Apt {rng.randint(1, 30)}{rng.choice('ABCDEF')}"]
                if not commercial and rng.random() < 0.5
                else []
            ),
            "city": area.city,
            "state": area.state,
            "postal_code": area.postal_code,
            "country_code": "US",
            "phone": f"+1 {rng.randint(201, 989)} 555 {rng.randint(0, 9999):04d}",
            "email": f"{person.lower().replace(' ', '.')}@example.com",
            "residential": not commercial,
            "latitude": f"{lat:.6f}",
            "longitude": f"{lon:.6f}",
        }
        out.append(
            Order(
                shop=shop.slug,
                reference=f"{shop.slug[:2].upper()}-{seed}-{the_day:%m%d}-{counters[shop.slug]:05d}",
                service_level=level,
                promise_date=add_business_days(the_day, days),
                destination=destination,
                weight_kg=_dec(weight, "0.01"),
                dims_cm=dims,  # type: ignore[arg-type]
                value=_dec(rng.uniform(*shop.value_range), "0.01"),
                fragile=rng.random() < shop.fragile,
                area=f"{area.city} {area.postal_code}",
            )
        )
    return Day(seed=seed, date=the_day, orders=out)
