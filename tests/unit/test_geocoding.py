"""The geocoders: the embedded offline default (US ZIP centroids) and the guarded HTTP geocoder."""

from __future__ import annotations

import pytest
import responses

from gateway.addresses import geocoding
from gateway.kernel import config
from gateway.webhooks import urls
from schemas import types

GEOCODER_URL = "https://geo.example.com/search"
PERMISSIVE = urls.Policy(permissive=True, hosts=frozenset(), networks=())
PRODUCTION = urls.Policy(permissive=False, hosts=frozenset(), networks=())


def us(postal: str, street: str = "1 Main St") -> types.Address:
    return types.Address("US", postal, "New York", (street,), state="NY")


@pytest.mark.parametrize(
    ("country", "postal", "lat", "lon"),
    [
        ("US", "10001", 40.7484, -73.9967),  # Manhattan
        ("US", "90210", 34.1030, -118.4105),  # Beverly Hills
        ("US", "10001-1234", 40.7484, -73.9967),  # ZIP+4 is placed by its ZIP
        ("PR", "00901", 18.4654, -66.1044),  # San Juan: a territory with US ZIPs
    ],
)
def test_a_known_zip_is_placed_at_its_centroid_and_marked_approximate(country, postal, lat, lon):
    point = geocoding.postal_point(country, postal)
    assert point is not None
    assert point.latitude == pytest.approx(lat, abs=0.05)
    assert point.longitude == pytest.approx(lon, abs=0.05)
    assert point.approximate is True and point.source == "zip"


@pytest.mark.parametrize("postal", ["99999", "00000", "1234", "ABCDE", ""])
def test_an_unknown_or_malformed_zip_is_not_placed(postal):
    assert geocoding.postal_point("US", postal) is None


@pytest.mark.parametrize(("country", "postal"), [("DE", "10115"), ("FR", "75001"), ("CA", "K1A 0B1")])
def test_a_non_us_postal_code_is_not_placed_even_if_it_looks_like_a_zip(country, postal):
    assert geocoding.postal_point(country, postal) is None


def test_the_default_geocoder_is_offline_and_places_a_us_address():
    geocoder = geocoding.from_settings({})
    assert isinstance(geocoder, geocoding.OfflineGeocoder)
    point = geocoder.locate(us("10036"))
    assert point is not None and point.approximate
    assert geocoder.locate(types.Address("GB", "SW1A 1AA", "London", ("10 Downing St",))) is None


def test_an_http_geocoder_needs_its_url_and_an_unknown_kind_is_refused():
    with pytest.raises(config.ConfigError, match="GEOCODER_URL"):
        geocoding.from_settings({"GEOCODER": "http"})
    with pytest.raises(config.ConfigError, match="offline or http"):
        geocoding.from_settings({"GEOCODER": "google"})
    chosen = geocoding.from_settings({"GEOCODER": "http", "GEOCODER_URL": GEOCODER_URL})
    assert isinstance(chosen, geocoding.HttpGeocoder) and chosen.url == GEOCODER_URL


@responses.activate
def test_the_http_geocoder_gives_a_street_level_point_from_a_nominatim_answer():
    responses.get(
        GEOCODER_URL,
        json=[{"place_id": 1, "lat": "40.7566", "lon": "-73.9862", "display_name": "1501 Broadway"}],
    )
    point = geocoding.HttpGeocoder(GEOCODER_URL, PERMISSIVE).locate(us("10036", "1501 Broadway"))
    assert point == geocoding.Point(40.7566, -73.9862, approximate=False, source="http")
    sent = responses.calls[0].request
    assert "street=1501+Broadway" in sent.url and "postalcode=10036" in sent.url
    assert "countrycodes=us" in sent.url


@responses.activate
def test_the_http_geocoder_reads_a_plain_latitude_longitude_object():
    responses.get(GEOCODER_URL, json={"latitude": 51.5034, "longitude": -0.1276})
    address = types.Address("GB", "SW1A 2AA", "London", ("10 Downing St",))
    point = geocoding.HttpGeocoder(GEOCODER_URL, PERMISSIVE).locate(address)
    assert point is not None and (point.latitude, point.longitude) == (51.5034, -0.1276)
    assert point.approximate is False


@responses.activate
@pytest.mark.parametrize(
    "reply",
    [
        {"status": 500, "json": {"error": "down"}},
        {"status": 200, "json": []},  # nothing found
        {"status": 200, "json": [{"lat": "400", "lon": "0"}]},  # not a place on earth
        {"status": 200, "body": "<html>not json</html>"},
        {"status": 302, "headers": {"Location": "http://169.254.169.254/"}},  # redirects are not followed
    ],
)
def test_when_the_http_geocoder_fails_the_offline_centroid_is_used(reply):
    responses.get(GEOCODER_URL, **reply)
    point = geocoding.HttpGeocoder(GEOCODER_URL, PERMISSIVE).locate(us("10001"))
    assert point is not None and point.source == "zip" and point.approximate is True
    assert len(responses.calls) == 1


@responses.activate
@pytest.mark.parametrize(
    "url",
    ["https://10.0.0.7/search", "https://169.254.169.254/latest", "http://geo.example.com/search"],
)
def test_in_production_a_private_or_plain_http_geocoder_is_never_called(url):
    responses.get(url, json={"latitude": 1.0, "longitude": 1.0})
    point = geocoding.HttpGeocoder(url, PRODUCTION).locate(us("10001"))
    assert len(responses.calls) == 0
    assert point is not None and point.source == "zip"


def test_importing_the_module_loads_no_zip_data():
    import subprocess
    import sys

    code = "import sys, gateway.addresses.geocoding; print('zipcodes._zipcodes' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
