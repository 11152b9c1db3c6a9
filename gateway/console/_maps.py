"""The console's offline maps: a flat local projection fitted to a few points, with a scale bar.

Kilometres east and north of an origin (longitude scaled by the cosine of the origin's latitude) are
scaled uniformly into the drawing, so distances read off the scale bar, as in the demo report. No
tiles: it works offline. The plan map (``allocation_views.route_map``) and the proof-of-delivery map
(``finding.pod_map``) both draw with it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

KM_PER_DEGREE = 111.32
SCALE_BAR_ROOM = 30  # pixels kept below the points for the scale bar


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
