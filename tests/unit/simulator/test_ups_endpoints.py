"""The UPS REST subset answers in UPS's shapes, with UPS's error envelope."""

from __future__ import annotations

import base64

import pytest

from simulator import numbers
from tests.unit.simulator.sim_payloads import ups_rate_body, ups_ship_body
from tests.unit.simulator.sim_support import basic


def _ship(client, headers, version="v2409", **kwargs):
    reply = client.post(f"/api/shipments/{version}/ship", json=ups_ship_body(**kwargs), headers=headers)
    assert reply.status_code == 200, reply.json
    return reply.json["ShipmentResponse"]["ShipmentResults"]


def test_token_is_issued_for_the_configured_client_with_lifetime_as_a_string(client):
    reply = client.post(
        "/security/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic("sim-ups-client", "sim-ups-secret")},
    )
    assert reply.status_code == 200
    assert reply.json["token_type"] == "Bearer"
    assert reply.json["expires_in"] == "14399"
    assert reply.json["access_token"]


@pytest.mark.parametrize(
    ("auth", "form", "status"),
    [
        (basic("sim-ups-client", "wrong"), {"grant_type": "client_credentials"}, 401),
        (None, {"grant_type": "client_credentials"}, 401),
        (basic("sim-ups-client", "sim-ups-secret"), {"grant_type": "password"}, 400),
    ],
)
def test_token_request_with_bad_credentials_or_grant_is_refused_in_the_ups_envelope(
    client, auth, form, status
):
    headers = {"Authorization": auth} if auth else {}
    reply = client.post("/security/v1/oauth/token", data=form, headers=headers)
    assert reply.status_code == status
    assert reply.json["response"]["errors"][0]["code"]


def test_api_calls_without_a_valid_bearer_token_get_401(client):
    reply = client.post(
        "/api/rating/v2409/Shop", json=ups_rate_body(), headers={"Authorization": "Bearer nope"}
    )
    assert reply.status_code == 401
    assert reply.json == {
        "response": {"errors": [{"code": "250002", "message": "Invalid Authentication Information."}]}
    }


def test_expired_tokens_answer_401_so_adapters_can_refresh(client, ups_headers, manual_time):
    manual_time.now += 14_400
    reply = client.post("/api/rating/v2409/Shop", json=ups_rate_body(), headers=ups_headers)
    assert reply.status_code == 401


def test_revoking_tokens_makes_the_next_call_401(client, ups_headers):
    assert client.post("/_sim/ups/expire-tokens").json["expired"] == 1
    assert client.post("/api/rating/v2409/Shop", json=ups_rate_body(), headers=ups_headers).status_code == 401


def test_shop_rates_every_domestic_service_with_string_money(client, ups_headers):
    reply = client.post("/api/rating/v2409/Shop", json=ups_rate_body(), headers=ups_headers)
    assert reply.status_code == 200
    rated = reply.json["RateResponse"]["RatedShipment"]
    assert {r["Service"]["Code"] for r in rated} == {"01", "02", "03", "12", "13"}
    for shipment in rated:
        total = shipment["TotalCharges"]
        assert total["CurrencyCode"] == "USD"
        assert isinstance(total["MonetaryValue"], str)
        # Totals are exact sums of transport and fuel, to the cent.
        transport = float(shipment["TransportationCharges"]["MonetaryValue"])
        fuel = float(shipment["ItemizedCharges"][0]["MonetaryValue"])
        assert round(transport + fuel, 2) == float(total["MonetaryValue"])


def test_rate_mode_prices_only_the_requested_service(client, ups_headers):
    body = ups_rate_body()
    body["RateRequest"]["Shipment"]["Service"] = {"Code": "02"}
    reply = client.post("/api/rating/v2409/Rate", json=body, headers=ups_headers)
    assert [r["Service"]["Code"] for r in reply.json["RateResponse"]["RatedShipment"]] == ["02"]


def test_rating_a_service_not_offered_between_the_countries_is_refused(client, ups_headers):
    body = ups_rate_body(service="65")
    reply = client.post("/api/rating/v2409/Rate", json=body, headers=ups_headers)
    assert reply.status_code == 400
    assert reply.json["response"]["errors"][0]["code"] == "111100"


def test_negotiated_rates_come_back_when_asked_for(client, ups_headers):
    body = ups_rate_body()
    body["RateRequest"]["Shipment"]["ShipmentRatingOptions"] = {"NegotiatedRatesIndicator": "Y"}
    rated = client.post("/api/rating/v2409/Shop", json=body, headers=ups_headers).json["RateResponse"][
        "RatedShipment"
    ]
    for shipment in rated:
        negotiated = float(shipment["NegotiatedRateCharges"]["TotalCharge"]["MonetaryValue"])
        assert negotiated < float(shipment["TotalCharges"]["MonetaryValue"])


@pytest.mark.parametrize(
    ("path", "code"), [("/api/rating/2409/Shop", 400), ("/api/rating/v2409/Cheapest", 400)]
)
def test_bad_version_or_request_option_is_refused(client, ups_headers, path, code):
    assert client.post(path, json=ups_rate_body(), headers=ups_headers).status_code == code


def test_rating_without_packages_is_a_clear_400(client, ups_headers):
    body = ups_rate_body()
    body["RateRequest"]["Shipment"].pop("Package")
    reply = client.post("/api/rating/v2409/Shop", json=body, headers=ups_headers)
    assert reply.status_code == 400
    assert "Package" in reply.json["response"]["errors"][0]["message"]


def test_ship_sells_a_1z_number_with_a_valid_check_digit_and_a_gif_label(client, ups_headers):
    results = _ship(client, ups_headers)
    number = results["ShipmentIdentificationNumber"]
    assert numbers.ups_number_is_valid(number)
    assert number.startswith("1ZA1B2C303")  # shipper account, then the service code
    package = results["PackageResults"][0]
    assert package["TrackingNumber"] == number
    assert package["ShippingLabel"]["ImageFormat"]["Code"] == "GIF"
    assert base64.b64decode(package["ShippingLabel"]["GraphicImage"]).startswith(b"GIF89a")


@pytest.mark.parametrize(("fmt", "magic"), [("PNG", b"\x89PNG"), ("ZPL", b"^XA"), ("EPL", b"N\n")])
def test_ship_returns_the_label_in_the_requested_format(client, ups_headers, fmt, magic):
    label = _ship(client, ups_headers, label_format=fmt)["PackageResults"][0]["ShippingLabel"]
    assert label["ImageFormat"]["Code"] == fmt
    assert base64.b64decode(label["GraphicImage"]).startswith(magic)


def test_unsupported_label_format_is_refused_and_nothing_is_sold(client, ups_headers, sim):
    reply = client.post(
        "/api/shipments/v2409/ship", json=ups_ship_body(label_format="PDF"), headers=ups_headers
    )
    assert reply.status_code == 400
    assert sim.ledger.all() == []


def test_older_versions_return_a_single_package_result_as_an_object(client, ups_headers):
    assert isinstance(_ship(client, ups_headers, version="v1")["PackageResults"], dict)
    assert isinstance(_ship(client, ups_headers, version="v2409", reference="b")["PackageResults"], list)


def test_a_multi_package_shipment_gets_one_valid_number_per_package(client, ups_headers):
    results = _ship(client, ups_headers, packages=3)
    tracking = [p["TrackingNumber"] for p in results["PackageResults"]]
    assert len(set(tracking)) == 3
    assert all(numbers.ups_number_is_valid(n) for n in tracking)


def test_void_before_pickup_voids_every_package(client, ups_headers, sim):
    number = _ship(client, ups_headers)["ShipmentIdentificationNumber"]
    reply = client.delete(f"/api/shipments/v2409/void/cancel/{number}", headers=ups_headers)
    assert reply.status_code == 200
    body = reply.json["VoidShipmentResponse"]
    assert body["SummaryResult"]["Status"]["Code"] == "1"
    assert body["PackageLevelResults"][0] == {
        "TrackingNumber": number,
        "Status": {"Code": "1", "Description": "Voided"},
    }
    assert sim.ledger.get(number).voided


def test_voiding_twice_answers_success_again(client, ups_headers):
    number = _ship(client, ups_headers)["ShipmentIdentificationNumber"]
    client.delete(f"/api/shipments/v2409/void/cancel/{number}", headers=ups_headers)
    again = client.delete(f"/api/shipments/v2409/void/cancel/{number}", headers=ups_headers)
    assert again.status_code == 200
    assert again.json["VoidShipmentResponse"]["SummaryResult"]["Status"]["Code"] == "1"


def test_void_after_pickup_is_refused(client, ups_headers):
    number = _ship(client, ups_headers)["ShipmentIdentificationNumber"]
    client.post("/_sim/clock", json={"advance_hours": 4})
    reply = client.delete(f"/api/shipments/v2409/void/cancel/{number}", headers=ups_headers)
    assert reply.status_code == 400
    assert reply.json["response"]["errors"][0]["code"] == "190117"


def test_void_of_an_unknown_shipment_is_refused(client, ups_headers):
    reply = client.delete("/api/shipments/v2409/void/cancel/1ZCIETST0111111114", headers=ups_headers)
    assert reply.status_code == 400


def test_tracking_requires_the_trans_headers(client, ups_headers):
    number = _ship(client, ups_headers)["ShipmentIdentificationNumber"]
    headers = {"Authorization": ups_headers["Authorization"]}
    reply = client.get(f"/api/track/v1/details/{number}", headers=headers)
    assert reply.status_code == 400
    assert "transId" in reply.json["response"]["errors"][0]["message"]


def test_tracking_an_unknown_number_is_404_not_found(client, ups_headers):
    reply = client.get("/api/track/v1/details/1ZCIETST0111111114", headers=ups_headers)
    assert reply.status_code == 404
    assert reply.json["response"]["errors"][0]["message"] == "Tracking Information Not Found"


def test_tracking_progresses_over_simulated_time_most_recent_first(client, ups_headers):
    number = _ship(client, ups_headers)["ShipmentIdentificationNumber"]

    def codes():
        reply = client.get(f"/api/track/v1/details/{number}", headers=ups_headers)
        package = reply.json["trackResponse"]["shipment"][0]["package"][0]
        return [a["status"]["code"] for a in package["activity"]], package

    first, _ = codes()
    assert first == ["MP"]
    client.post("/_sim/clock", json={"advance_hours": 6})
    middle, package = codes()
    assert middle[0] == "DP" and middle[-1] == "MP"
    assert package["currentStatus"]["code"] == "DP"
    client.post("/_sim/clock", json={"advance_hours": 24})
    final, package = codes()
    assert final[0] == "FS"
    assert package["deliveryDate"][0]["type"] == "DEL"
    assert package["deliveryInformation"]["receivedBy"]


def test_the_same_day_passes_in_day_seconds_of_real_time(make_app, manual_time):
    app = make_app(day_seconds=60.0)
    sim = app.extensions["handoff_simulator"]
    start = sim.clock.now()
    manual_time.now += 30
    assert (sim.clock.now() - start).total_seconds() == pytest.approx(43_200)


def test_a_voided_label_ends_its_tracking_with_manifest_void(client, ups_headers):
    number = _ship(client, ups_headers)["ShipmentIdentificationNumber"]
    client.delete(f"/api/shipments/v2409/void/cancel/{number}", headers=ups_headers)
    client.post("/_sim/clock", json={"advance_hours": 30})
    reply = client.get(f"/api/track/v1/details/{number}", headers=ups_headers)
    activity = reply.json["trackResponse"]["shipment"][0]["package"][0]["activity"]
    assert [(a["status"]["type"], a["status"]["code"]) for a in activity] == [("MV", "MV"), ("M", "MP")]


def test_reference_tracking_finds_the_shipment_bought_under_a_reference(client, ups_headers):
    number = _ship(client, ups_headers, reference="shp_42")["ShipmentIdentificationNumber"]
    reply = client.get("/api/track/v1/reference/details/shp_42", headers=ups_headers)
    assert reply.status_code == 200
    packages = reply.json["trackResponse"]["shipment"][0]["package"]
    assert [p["trackingNumber"] for p in packages] == [number]
    assert client.get("/api/track/v1/reference/details/shp_0", headers=ups_headers).status_code == 404


def test_label_recovery_by_reference_returns_the_label_that_was_sold(client, ups_headers):
    number = _ship(client, ups_headers, reference="shp_9")["ShipmentIdentificationNumber"]
    body = {
        "LabelRecoveryRequest": {
            "Request": {},
            "ReferenceValues": {"ReferenceNumber": {"Value": "shp_9"}, "ShipperNumber": "A1B2C3"},
        }
    }
    reply = client.post("/api/labels/v1/recovery", json=body, headers=ups_headers)
    assert reply.status_code == 200
    recovered = reply.json["LabelRecoveryResponse"]
    assert recovered["ShipmentIdentificationNumber"] == number
    assert base64.b64decode(recovered["LabelResults"][0]["LabelImage"]["GraphicImage"]).startswith(b"GIF89a")
    body["LabelRecoveryRequest"]["ReferenceValues"]["ReferenceNumber"]["Value"] = "never-bought"
    assert client.post("/api/labels/v1/recovery", json=body, headers=ups_headers).status_code == 400


def test_track_alert_v2_subscription_sorts_valid_from_invalid_numbers(client, ups_headers, sim):
    number = _ship(client, ups_headers)["ShipmentIdentificationNumber"]
    body = {"locale": "en_US", "countryCode": "US", "trackingNumberList": [number, "1Z12"]}
    reply = client.post("/api/track/v2/subscription/standard/package", json=body, headers=ups_headers)
    assert reply.status_code == 200
    assert reply.json == {"validTrackingNumbers": [number], "invalidTrackingNumbers": ["1Z12"]}
    assert sim.subscriptions[number].version == "v2"


@pytest.mark.parametrize(
    ("destination", "code"),
    [
        (None, "VSS600"),
        ({"url": "http://gw/hook", "credentialType": "Bearer"}, "VSS700"),
        ({"url": "http://gw/hook", "credential": "s3cret"}, "VSS800"),
    ],
)
def test_track_alert_v1_subscription_needs_a_full_destination(client, ups_headers, destination, code):
    body = {"locale": "en_US", "countryCode": "US", "trackingNumberList": ["1ZCIETST0111111114"]}
    if destination:
        body["destination"] = destination
    reply = client.post("/api/track/v1/subscription/standard/package", json=body, headers=ups_headers)
    assert reply.status_code == 400
    assert reply.json["response"]["errors"][0]["code"] == code


def test_track_alert_refuses_more_than_100_numbers(client, ups_headers):
    body = {"locale": "en_US", "trackingNumberList": ["1ZCIETST0111111114"] * 101}
    reply = client.post("/api/track/v2/subscription/standard/package", json=body, headers=ups_headers)
    assert reply.json["response"]["errors"][0]["code"] == "VSS220"
