"""Console maps over a configured tile server: tiles under the points, the CSP allows that one origin."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.integration.test_console_shipment_detail import _deliver
from tests.integration.test_console_web import make_user, sign_in

TILES = "https://tiles.example.org/osm/{z}/{x}/{y}.png"


@pytest.fixture
def tiles(app: Any) -> Any:
    before = {k: app.config.get(k) for k in ("CONSOLE_MAP_TILES", "CONSOLE_MAP_ATTRIBUTION")}
    app.config.update(CONSOLE_MAP_TILES=TILES, CONSOLE_MAP_ATTRIBUTION="© OpenStreetMap contributors")
    yield app
    app.config.update(before)


def _img_src(response: Any) -> str:
    found = re.search(r"img-src ([^;]+)", response.headers["Content-Security-Policy"])
    assert found is not None
    return found.group(1)


def test_without_a_tile_server_the_map_is_the_plain_projection_and_images_stay_on_the_gateway(
    app, make_tenant
):
    shown = _deliver(app, make_tenant)
    client = app.test_client()
    sign_in(client, make_user(app, shown.seeded.tenant_id, ("ops",)))

    page = client.get(f"/console/shipments/{shown.seeded.shipment_id}")

    assert "<image" not in page.get_data(as_text=True)
    assert "Plain local projection (no map tiles)" in page.get_data(as_text=True)
    assert _img_src(page) == "'self'"


def test_with_a_tile_server_the_proof_map_lays_its_tiles_and_the_csp_allows_that_origin_only(
    tiles, make_tenant
):
    shown = _deliver(tiles, make_tenant)
    client = tiles.test_client()
    sign_in(client, make_user(tiles, shown.seeded.tenant_id, ("ops",)))

    page = client.get(f"/console/shipments/{shown.seeded.shipment_id}")
    text = page.get_data(as_text=True)

    hrefs = re.findall(r'<image href="([^"]+)"', text)
    assert hrefs and all(re.fullmatch(r"https://tiles\.example\.org/osm/\d+/\d+/\d+\.png", h) for h in hrefs)
    # The proof was captured in Midtown Manhattan: one of the tiles holds it (zoom 16 and about there).
    zooms = {int(h.split("/")[-3]) for h in hrefs}
    assert len(zooms) == 1 and 14 <= zooms.pop() <= 18
    assert "© OpenStreetMap contributors" in text
    assert _img_src(page) == "'self' https://tiles.example.org"
    # Pages without a map carry the same policy; the policy never names anything else.
    assert "tiles.example.org" not in page.headers["Content-Security-Policy"].replace(
        "img-src 'self' https://tiles.example.org", ""
    )


def test_a_template_that_is_not_https_is_ignored_and_allowed_nowhere(tiles, make_tenant):
    tiles.config["CONSOLE_MAP_TILES"] = "http://tiles.example.org/{z}/{x}/{y}.png"
    shown = _deliver(tiles, make_tenant)
    client = tiles.test_client()
    sign_in(client, make_user(tiles, shown.seeded.tenant_id, ("ops",)))

    page = client.get(f"/console/shipments/{shown.seeded.shipment_id}")

    assert "<image" not in page.get_data(as_text=True)
    assert _img_src(page) == "'self'"
