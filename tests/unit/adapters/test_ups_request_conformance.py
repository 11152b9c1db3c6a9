"""UPS requests the conformance suite (issue 17) found outside the published contract, now fixed.

- Shipping.yaml gives ``Phone/Number`` a minLength of 1: a phone with no digits ("n/a") sent ``""``.
- Path parameters (tracking number, shipment id, reference) went into the URL unescaped, so a ``/``,
  ``?`` or ``#`` in one moved the request to another path, or cut it short.
"""

import dataclasses

import pytest
import responses

from adapters import http as carrier_http
from adapters.ups import client, mapping
from schemas import carrier
from tests.unit.adapters import ups_fixtures as fx


def make_adapter() -> client.UpsAdapter:
    return client.UpsAdapter(
        fx.CONFIG,
        breaker=carrier_http.CircuitBreaker(),
        retry=carrier_http.RetryPolicy(attempts=1, sleep=lambda s: None),
    )


def test_a_phone_without_digits_is_left_out_instead_of_sent_empty():
    spec = dataclasses.replace(
        fx.SPEC,
        origin=dataclasses.replace(fx.ORIGIN, phone="n/a"),
        destination=dataclasses.replace(fx.DESTINATION, phone="+1 (770) 555-0199"),
    )
    shipment = mapping.ship_request(dataclasses.replace(fx.LABEL_REQUEST, spec=spec)).json["ShipmentRequest"][
        "Shipment"
    ]

    assert "Phone" not in shipment["Shipper"]
    assert "Phone" not in shipment["ShipFrom"]
    assert shipment["ShipTo"]["Phone"] == {"Number": "17705550199"}


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda: mapping.track_request("1Z12345/E0205#1?x"), "/api/track/v1/details/1Z12345%2FE0205%231%3Fx"),
        (
            lambda: mapping.reference_track_request("order/42 #7"),
            "/api/track/v1/reference/details/order%2F42%20%237",
        ),
        (
            lambda: mapping.void_request(carrier.VoidRequest(fx.ACCOUNT, "1Z../ship")),
            "/api/shipments/v2409/void/cancel/1Z..%2Fship",
        ),
        (lambda: mapping.track_request("1Z12345E0205271688"), "/api/track/v1/details/1Z12345E0205271688"),
    ],
    ids=["tracking-number", "reference", "shipment-id", "plain-unchanged"],
)
def test_path_parameters_are_percent_encoded_into_one_segment(build, expected):
    assert build().path == expected


def test_a_tracking_number_with_a_slash_reaches_the_track_endpoint_with_its_query():
    adapter = make_adapter()
    with responses.RequestsMock() as mock:
        mock.post(fx.CONFIG["base_url"] + mapping.OAUTH_PATH, json=fx.TOKEN_REPLY)
        mock.get(fx.CONFIG["base_url"] + "/api/track/v1/details/1Z12345%2FE0205271688", json=fx.TRACK_REPLY)

        adapter.track(carrier.TrackRequest("1Z12345/E0205271688"))

        sent = mock.calls[1].request
    assert sent.path_url.startswith("/api/track/v1/details/1Z12345%2FE0205271688?")
    assert "locale=en_US" in sent.path_url
