"""The console's offline maps: a flat local projection fitted to a few points, with a scale bar.

Kilometres east and north of an origin (longitude scaled by the cosine of the origin's latitude) are
scaled uniformly into the drawing, so distances read off the scale bar, as in the demo report. With no
tile server configured it works offline. The plan map (``allocation_views.route_map``), the
proof-of-delivery map (``finding.pod_map``) and the depot map (``fleet_views``) all draw with it.

Where ops configure a tile server (``CONSOLE_MAP_TILES``, an https URL template with ``{z}``, ``{x}``
and ``{y}``, the usual "slippy map" scheme), ``tiles`` lays the Web Mercator tiles that cover a frame
under its points as SVG ``<image>`` elements, each placed by its own corners: the page still needs no
script, and the browser fetches the tiles from that one origin, which the CSP then allows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

KM_PER_DEGREE = 111.32
SCALE_BAR_ROOM = 30  # pixels kept below the points for the scale bar
TILE_PX = 256  # the size of a slippy-map tile
MAX_TILES = 48  # more than a frame ever needs at its zoom; a bound on what one page asks for
MAX_LATITUDE = 85.05112878  # Web Mercator's edge
_TEMPLATE = re.compile(r"^(https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?)/[^\s\"'<>]*$")


@dataclass(frozen=True)
class MapPoint:
    x: float
    y: float
    label: str
    title: str


def nice_km(target: float) -> float:
    """The largest 1, 2 or 5 times 10^n kilometres not above ``target`` (at least 100 m)."""
    if target <= 0.1:
        return 0.1
    power = 10 ** math.floor(math.log10(target))
    for step in (5, 2, 1):
        if step * power <= target:
            return float(step * power)
    return float(power)


@dataclass(frozen=True)
class Frame:
    """A drawing of ``width`` x ``height`` pixels fitted to points around (``lon0``, ``lat0``)."""

    width: int
    height: int
    margin: int
    lon0: float
    lat0: float
    scale: float  # pixels per km
    mid_x: float
    mid_y: float

    def km(self, lon: float, lat: float) -> tuple[float, float]:
        cos0 = math.cos(math.radians(self.lat0))
        return (lon - self.lon0) * KM_PER_DEGREE * cos0, (lat - self.lat0) * KM_PER_DEGREE

    def lonlat(self, x: float, y: float) -> tuple[float, float]:
        """The (lon, lat) drawn at pixel (x, y): the inverse of ``px``."""
        inner_h = self.height - 2 * self.margin - SCALE_BAR_ROOM
        east = (x - self.width / 2) / self.scale + self.mid_x
        north = self.mid_y - (y - self.margin - inner_h / 2) / self.scale
        cos0 = math.cos(math.radians(self.lat0))
        return self.lon0 + east / (KM_PER_DEGREE * cos0), self.lat0 + north / KM_PER_DEGREE

    def px(self, lon: float, lat: float) -> tuple[float, float]:
        """Where (lon, lat) is drawn, north up."""
        x, y = self.km(lon, lat)
        inner_h = self.height - 2 * self.margin - SCALE_BAR_ROOM
        return (
            round(self.width / 2 + (x - self.mid_x) * self.scale, 1),
            round(self.margin + inner_h / 2 - (y - self.mid_y) * self.scale, 1),
        )

    @property
    def scale_km(self) -> float:
        """The scale bar's length in km: a round quarter of the drawing's width, or less."""
        return nice_km((self.width - 2 * self.margin) / self.scale / 4)

    @property
    def scale_label(self) -> str:
        length = self.scale_km
        return f"{length:g} km" if length >= 1 else f"{length * 1000:g} m"

    @property
    def scale_length(self) -> float:
        return round(self.scale_km * self.scale, 1)

    @property
    def scale_x(self) -> int:
        return self.margin

    @property
    def scale_y(self) -> int:
        return self.height - self.margin + 10


@dataclass(frozen=True)
class Drawing:
    """A map drawn in a frame: its size, tiles and scale bar (``_map.html``) are the frame's."""

    frame: Frame

    @property
    def width(self) -> int:
        return self.frame.width

    @property
    def height(self) -> int:
        return self.frame.height


@dataclass(frozen=True)
class PointsMap(Drawing):
    """Labelled points in a frame (the depot map, the proof-of-delivery map), described as text."""

    points: list[MapPoint]
    description: str


def points_map(frame: Frame, named: Sequence[tuple[float, float, str, str]]) -> PointsMap:
    """(lon, lat, label, title) drawn in ``frame``; each point's title and the description say where."""
    points = [
        MapPoint(*frame.px(lon, lat), label, f"{title} ({lat:.5f}, {lon:.5f})")
        for lon, lat, label, title in named
    ]
    description = "; ".join(p.title for p in points) + f"; scale bar {frame.scale_label}."
    return PointsMap(frame, points, description)


def fit(
    lon0: float,
    lat0: float,
    points: Sequence[tuple[float, float]],
    *,
    width: int,
    height: int,
    margin: int,
    min_span_km: float,
) -> Frame:
    """The frame that shows every (lon, lat) of ``points`` (spans below ``min_span_km`` are widened)."""
    probe = Frame(width, height, margin, lon0, lat0, 1.0, 0.0, 0.0)
    every = [probe.km(lon, lat) for lon, lat in points] or [(0.0, 0.0)]
    xs, ys = [p[0] for p in every], [p[1] for p in every]
    span_x, span_y = max(max(xs) - min(xs), min_span_km), max(max(ys) - min(ys), min_span_km)
    inner_w, inner_h = width - 2 * margin, height - 2 * margin - SCALE_BAR_ROOM
    scale = min(inner_w / span_x, inner_h / span_y)
    return Frame(width, height, margin, lon0, lat0, scale, (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2)


# ---- tiles ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tile:
    """One map tile laid in a frame: its URL and the rectangle it covers, in the frame's pixels."""

    href: str
    x: float
    y: float
    width: float
    height: float


def tile_origin(template: str) -> str | None:
    """The origin (``https://host[:port]``) of a tile URL template, None when it is not a usable one:
    https only, and ``{z}``, ``{x}`` and ``{y}`` all present."""
    found = _TEMPLATE.match(template.strip())
    if found is None or not all(k in template for k in ("{z}", "{x}", "{y}")):
        return None
    return found.group(1)


def _tile_x(lon: float, zoom: int) -> float:
    return (lon + 180.0) / 360.0 * 2**zoom


def _tile_y(lat: float, zoom: int) -> float:
    lat = max(-MAX_LATITUDE, min(MAX_LATITUDE, lat))
    return (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * 2**zoom


def _tile_lon(x: int, zoom: int) -> float:
    return x / 2**zoom * 360.0 - 180.0


def _tile_lat(y: int, zoom: int) -> float:
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / 2**zoom))))


def zoom_for(frame: Frame, max_zoom: int = 19) -> int:
    """The zoom whose tiles are drawn closest to their own size (256 px) in this frame."""
    km_per_tile_at_zoom0 = 2 * math.pi * 6378.137 * math.cos(math.radians(frame.lat0))
    wanted = math.log2(max(km_per_tile_at_zoom0 * frame.scale / TILE_PX, 1e-9))
    return max(0, min(max_zoom, round(wanted)))


def tiles(frame: Frame, template: str, max_zoom: int = 19) -> list[Tile]:
    """The tiles of ``template`` that cover the frame, laid by their corners; none for a bad template.

    Tiles wrap east and west; none is asked for beyond Web Mercator's latitudes, and at most
    ``MAX_TILES`` (the zoom steps out until they fit).
    """
    if tile_origin(template) is None:
        return []
    west, north = frame.lonlat(0, 0)
    east, south = frame.lonlat(frame.width, frame.height)
    zoom = zoom_for(frame, max_zoom)
    if not all(math.isfinite(v) for v in (west, north, east, south)):
        return []
    while True:
        x0, x1 = math.floor(_tile_x(west, zoom)), math.floor(_tile_x(east, zoom))
        y0, y1 = math.floor(_tile_y(north, zoom)), math.floor(_tile_y(south, zoom))
        y0, y1 = max(0, y0), min(2**zoom - 1, y1)
        if x1 - x0 + 1 > 2**zoom:  # wider than the world (near a pole a frame spans every longitude)
            x0, x1 = 0, 2**zoom - 1
        if (x1 - x0 + 1) * (y1 - y0 + 1) <= MAX_TILES:
            break
        if zoom == 0:
            return []
        zoom -= 1
    laid = []
    for ty in range(y0, y1 + 1):
        for tx in range(x0, x1 + 1):
            left, top = frame.px(_tile_lon(tx, zoom), _tile_lat(ty, zoom))
            right, bottom = frame.px(_tile_lon(tx + 1, zoom), _tile_lat(ty + 1, zoom))
            href = (
                template.strip()
                .replace("{z}", str(zoom))
                .replace("{x}", str(tx % 2**zoom))
                .replace("{y}", str(ty))
            )
            laid.append(Tile(href, left, top, round(right - left, 1), round(bottom - top, 1)))
    return laid
