"""The console's maps: the local projection's inverse and the slippy-map tiles laid under a frame."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.console import _maps

TEMPLATE = "https://tiles.example.org/osm/{z}/{x}/{y}.png"
PHILADELPHIA = (-75.1652, 39.9526)


def _frame(points: list[tuple[float, float]], span_km: float = 0.5) -> _maps.Frame:
    lon0, lat0 = points[0]
    return _maps.fit(lon0, lat0, points, width=640, height=420, margin=20, min_span_km=span_km)


@given(
    lon=st.floats(-179, 179),
    lat=st.floats(-80, 80),
    dx=st.floats(-0.3, 0.3),
    dy=st.floats(-0.3, 0.3),
)
def test_lonlat_undoes_px(lon, lat, dx, dy):
    frame = _frame([(lon, lat), (lon + dx, lat + dy)])
    x, y = frame.px(lon + dx, lat + dy)
    back = frame.lonlat(x, y)
    # px rounds to 0.1 pixel; a pixel here is at most a few hundred metres.
    assert back == pytest.approx((lon + dx, lat + dy), abs=0.01)


@pytest.mark.parametrize(
    ("template", "origin"),
    [
        (TEMPLATE, "https://tiles.example.org"),
        ("https://tiles.example.org:8443/{z}/{x}/{y}@2x.png", "https://tiles.example.org:8443"),
        ("http://tiles.example.org/{z}/{x}/{y}.png", None),  # not https
        ("https://tiles.example.org/{z}/{x}.png", None),  # no {y}
        ('https://tiles.example.org/{z}/{x}/{y}.png" onload="x', None),  # would break out of href
        ("javascript:alert(1)//{z}{x}{y}", None),
        ("", None),
    ],
)
def test_only_an_https_template_with_z_x_and_y_names_an_origin(template, origin):
    assert _maps.tile_origin(template) == origin


def test_the_tiles_cover_the_frame_edge_to_edge_and_name_the_real_slippy_tile():
    frame = _frame([PHILADELPHIA, (-75.1503, 39.9496)], span_km=2)
    laid = _maps.tiles(frame, TEMPLATE)
    zoom = _maps.zoom_for(frame)
    assert 12 <= zoom <= 16  # a city quarter
    assert 0 < len(laid) <= _maps.MAX_TILES
    # The tile holding Philadelphia City Hall at this zoom, by the slippy-map formulas, is among them.
    n = 2**zoom
    x = int((PHILADELPHIA[0] + 180) / 360 * n)
    lat = math.radians(PHILADELPHIA[1])
    y = int((1 - math.asinh(math.tan(lat)) / math.pi) / 2 * n)
    hall = f"https://tiles.example.org/osm/{zoom}/{x}/{y}.png"
    assert hall in {t.href for t in laid}
    # ... and it is drawn where City Hall is drawn.
    px, py = frame.px(*PHILADELPHIA)
    (tile,) = [t for t in laid if t.href == hall]
    assert tile.x <= px <= tile.x + tile.width and tile.y <= py <= tile.y + tile.height
    # Tiles are drawn near their own size, and together they cover the whole drawing.
    assert all(128 <= t.width <= 512 for t in laid)
    assert min(t.x for t in laid) <= 0 and max(t.x + t.width for t in laid) >= frame.width
    assert min(t.y for t in laid) <= 0 and max(t.y + t.height for t in laid) >= frame.height


def test_a_frame_too_wide_for_its_zoom_steps_out_rather_than_asking_for_hundreds_of_tiles():
    frame = _maps.fit(0, 0, [(0, 0), (0.01, 0.01)], width=6000, height=6000, margin=0, min_span_km=0.1)
    laid = _maps.tiles(frame, TEMPLATE)
    assert 0 < len(laid) <= _maps.MAX_TILES


def test_a_bad_template_lays_no_tile():
    assert _maps.tiles(_frame([PHILADELPHIA]), "http://tiles.example.org/{z}/{x}/{y}.png") == []


@pytest.mark.parametrize("lat", [90.0, -90.0, 89.9999, 0.0])
def test_a_frame_at_a_pole_lays_a_bounded_number_of_tiles_at_once(lat):
    # A driver app may report any latitude from -90 to 90: the tiles under it stay few and quick.
    frame = _frame([(0.0, lat), (-73.98, 40.76)])
    laid = _maps.tiles(frame, TEMPLATE)
    assert len(laid) <= _maps.MAX_TILES
    assert len({t.href for t in laid}) == len(laid)


@given(
    lon=st.floats(-180, 180),
    lat=st.floats(-90, 90),
    other_lon=st.floats(-180, 180),
    other_lat=st.floats(-90, 90),
)
def test_any_two_points_on_earth_lay_at_most_the_cap(lon, lat, other_lon, other_lat):
    frame = _frame([(lon, lat), (other_lon, other_lat)])
    assert len(_maps.tiles(frame, TEMPLATE)) <= _maps.MAX_TILES
