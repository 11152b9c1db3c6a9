import base64
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import requests
import responses

from adapters import base
from adapters import http as carrier_http
from adapters.ups import client, mapping
from schemas import carrier, money
from tests.unit.adapters import ups_fixtures as fx

TOKEN_URL = "http://ups.test/security/v1/oauth/token"
RATE_URL = "http://ups.test/api/rating/v2409/Shoptimeintransit"
SHIP_URL = "http://ups.test/api/shipments/v2409/ship"
TRACK_URL = "http://ups.test/api/track/v1/details/1Z12345E0205271688"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_adapter(clock=None, recorder=None, attempts=3):
    return client.UpsAdapter(
        fx.CONFIG,
        recorder=recorder,
        breaker=carrier_http.CircuitBreaker(failure_threshold=3, reset_after=30),
        retry=carrier_http.RetryPolicy(attempts=attempts, sleep=lambda s: None),
        clock=clock or FakeClock(),
    )


# -- golden requests ---------------------------------------------------------------------------------------


def test_rate_request_shops_every_service_in_imperial_units_for_a_us_origin():
    call = mapping.rate_request(fx.RATE_REQUEST)
    shipment = call.json["RateRequest"]["Shipment"]
    # Shoptimeintransit: every service, plus the transit block non-guaranteed services need for a date.
    assert call.path == "/api/rating/v2409/Shoptimeintransit"
    assert call.json["RateRequest"]["Request"]["RequestOption"] == "Shoptimeintransit"
    assert shipment["Shipper"]["ShipperNumber"] == "A1B2C3"
    assert shipment["ShipTo"]["Address"] == {
        "AddressLine": ["500 Oak Ave", "Suite 2"],
        "City": "Alpharetta",
        "CountryCode": "US",
        "StateProvinceCode": "GA",
        "PostalCode": "30005",
        "ResidentialAddressIndicator": "Y",
    }
    assert shipment["Package"] == [
        {
            "PackagingType": {"Code": "02", "Description": "Customer Supplied Package"},
            # 30x20x10 cm rounds up to whole inches; 2 kg = 4.409 lb rounds up to 4.5.
            "Dimensions": {
                "UnitOfMeasurement": {"Code": "IN", "Description": "Inches"},
                "Length": "12",
                "Width": "8",
                "Height": "4",
            },
            "PackageWeight": {"UnitOfMeasurement": {"Code": "LBS", "Description": "Pounds"}, "Weight": "4.5"},
        }
    ]


def test_ship_request_carries_our_shipment_id_and_the_label_format():
    call = mapping.ship_request(fx.LABEL_REQUEST)
    request = call.json["ShipmentRequest"]
    assert request["Request"]["TransactionReference"]["CustomerContext"] == "shp_0001"
    assert request["Shipment"]["ReferenceNumber"] == [{"Value": "shp_0001"}]
    assert request["Shipment"]["Service"] == {"Code": "03"}
    assert request["Shipment"]["Shipper"]["Name"] == "Acme Widgets"
    assert request["Shipment"]["Shipper"]["Phone"] == {"Number": "14105550100"}
    assert request["LabelSpecification"] == {
        "LabelImageFormat": {"Code": "ZPL"},
        "LabelStockSize": {"Height": "6", "Width": "4"},
    }


def test_ship_request_refuses_a_format_ups_cannot_print():
    pdf = carrier.LabelRequest(fx.SPEC, fx.ACCOUNT, "03", "shp_1", carrier.LabelFormat.PDF)
    with pytest.raises(base.CarrierRejected, match="GIF, PNG or ZPL"):
        mapping.ship_request(pdf)


def test_metric_units_are_used_outside_the_us():
    spec = fx.SPEC.__class__(
        origin=fx.ORIGIN.__class__(country_code="DE", postal_code="10115", city="Berlin", company="A"),
        destination=fx.DESTINATION,
        parcels=fx.SPEC.parcels,
    )
    package = mapping.rate_request(carrier.RateRequest(spec, fx.ACCOUNT)).json["RateRequest"]["Shipment"][
        "Package"
    ][0]
    assert package["PackageWeight"]["Weight"] == "2.0"
    assert package["PackageWeight"]["UnitOfMeasurement"]["Code"] == "KGS"
    assert package["Dimensions"]["Length"] == "30"


def test_void_request_is_a_delete_on_the_shipment_id():
    call = mapping.void_request(
        carrier.VoidRequest(fx.ACCOUNT, "1Z12345E0205271688", ("1Z12345E0205271688",))
    )
    assert (call.method, call.path) == ("DELETE", "/api/shipments/v2409/void/cancel/1Z12345E0205271688")
    assert call.params == {"trackingnumber": '["1Z12345E0205271688"]'}


# -- golden responses --------------------------------------------------------------------------------------


def test_rate_reply_parses_to_negotiated_totals_cheapest_first():
    rates = mapping.parse_rate_response(fx.RATE_REPLY)
    assert [r.service_code for r in rates] == ["03", "01"]
    ground, next_day = rates
    assert ground.total == money.Money(Decimal("17.10"), "USD")
    assert ground.negotiated is True
    assert ground.service_name == "UPS Ground"
    assert (
        carrier.ChargeLine("270", "Residential surcharge", money.Money(Decimal("5.05"), "USD"))
        in ground.charges
    )
    assert next_day.total == money.Money(Decimal("61.12"), "USD")
    assert (next_day.transit_days, next_day.guaranteed) == (1, True)


def test_rate_reply_is_filtered_to_the_requested_services():
    assert [r.service_code for r in mapping.parse_rate_response(fx.RATE_REPLY, ("01",))] == ["01"]


def test_ship_reply_parses_to_label_bytes_tracking_number_and_charges():
    result = mapping.parse_ship_response(fx.SHIP_REPLY)
    assert result.tracking_numbers == ("1Z12345E0205271688",)
    assert result.carrier_shipment_id == "1Z12345E0205271688"
    assert result.label == fx.LABEL_IMAGE
    assert result.label_format is carrier.LabelFormat.ZPL
    assert result.charges == money.Money(Decimal("19.55"), "USD")


def test_track_reply_parses_oldest_first_in_utc_with_type_and_code_kept():
    result = mapping.parse_track_response(fx.TRACK_REPLY, "1Z12345E0205271688")
    first, second = result.events
    assert (first.code, first.subcode) == ("M", "MP")
    # No GMT fields on this activity: local 17:00 at -04:00 is 21:00 UTC.
    assert first.occurred_at == datetime(2024, 4, 21, 21, 0, tzinfo=UTC)
    assert (second.code, second.subcode, second.detail_code) == ("I", "OT", "021")
    assert second.occurred_at == datetime(2024, 4, 23, 13, 15, 19, tzinfo=UTC)
    assert second.location == carrier.EventLocation(city="Alpharetta", state="GA", country_code="US")
    assert result.estimated_delivery == date(2024, 4, 24)


def test_track_alert_push_and_polled_activity_share_an_event_id():
    push = {
        "trackingNumber": "1Z12345E0205271688",
        "localActivityDate": "20240423",
        "localActivityTime": "091519",
        "activityStatus": {
            "type": "I",
            "code": "OT",
            "description": "Out for Delivery",
            "descriptionCode": "021",
        },
        "gmtActivityDate": "20240423",
        "gmtActivityTime": "131519",
        "gmtOffset": "-04.00",
    }
    (pushed,) = mapping.parse_track_alert_push(push)
    polled = mapping.parse_track_response(fx.TRACK_REPLY, "1Z12345E0205271688").events[1]
    assert pushed.source_event_id == polled.source_event_id
    assert pushed.occurred_at == polled.occurred_at


def test_track_alert_local_time_with_dotted_offset_is_converted_to_utc():
    push = {
        "trackingNumber": "1Z12345E0205271688",
        "activityStatus": {"type": "D", "code": "FS", "description": "Delivered"},
        "localActivityDate": "20240423",
        "localActivityTime": "095004",
        "gmtOffset": "-04.00",
    }
    (event,) = mapping.parse_track_alert_push(push)
    assert event.occurred_at == datetime(2024, 4, 23, 13, 50, 4, tzinfo=UTC)


# -- error envelopes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "120802", base.CarrierRejected),
        (403, "250002", base.CarrierRejected),
        (404, "151044", base.CarrierRejected),
        (429, "10429", base.CarrierUnavailable),
        (500, "10001", base.CarrierUnavailable),
        (503, "10004", base.CarrierUnavailable),
        (400, "10004", base.CarrierUnavailable),
    ],
)
def test_ups_error_envelopes_map_to_rejected_or_unavailable_keeping_the_ups_code(status, code, expected):
    error = mapping.parse_error(status, fx.error_reply(code, "Address Validation Error on ShipTo address"))
    assert type(error) is expected
    assert error.code == code
    assert error.message == "Address Validation Error on ShipTo address"
    assert error.http_status == status


def test_an_error_without_an_envelope_still_says_which_http_status():
    error = mapping.parse_error(502, "<html>Bad gateway</html>")
    assert isinstance(error, base.CarrierUnavailable)
    assert error.code == "http_502"


# -- client over HTTP --------------------------------------------------------------------------------------


@responses.activate
def test_rate_gets_a_token_then_posts_to_the_shop_endpoint_with_bearer_auth():
    responses.post(TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(RATE_URL, json=fx.RATE_REPLY)
    rates = make_adapter().rate(fx.RATE_REQUEST)
    assert [r.service_code for r in rates] == ["03", "01"]
    token_call, rate_call = responses.calls
    expected_basic = base64.b64encode(b"client-id-123:client-secret-very-private").decode()
    assert token_call.request.headers["Authorization"] == f"Basic {expected_basic}"
    assert token_call.request.body == "grant_type=client_credentials"
    assert rate_call.request.headers["Authorization"] == "Bearer eyJ-access-token-1"
    assert rate_call.request.headers["transactionSrc"] == "handoff"
    assert json.loads(rate_call.request.body) == mapping.rate_request(fx.RATE_REQUEST).json


@responses.activate
def test_token_is_cached_until_shortly_before_expiry():
    clock = FakeClock()
    adapter = make_adapter(clock)
    responses.post(TOKEN_URL, json={**fx.TOKEN_REPLY, "expires_in": "3600"})
    responses.get(TRACK_URL, json=fx.TRACK_REPLY)
    adapter.track(carrier.TrackRequest("1Z12345E0205271688"))
    clock.now += 3500
    adapter.track(carrier.TrackRequest("1Z12345E0205271688"))
    assert [c.request.url for c in responses.calls].count(TOKEN_URL) == 1
    clock.now += 100  # within the refresh margin of the hour-long token
    adapter.track(carrier.TrackRequest("1Z12345E0205271688"))
    assert [c.request.url for c in responses.calls].count(TOKEN_URL) == 2


@responses.activate
def test_a_401_refreshes_the_token_once_and_repeats_the_call():
    responses.post(TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(TOKEN_URL, json={**fx.TOKEN_REPLY, "access_token": "eyJ-access-token-2"})
    responses.post(SHIP_URL, status=401, json=fx.error_reply("250002", "Invalid Authentication Information."))
    responses.post(SHIP_URL, json=fx.SHIP_REPLY)
    result = make_adapter().label(fx.LABEL_REQUEST)
    assert result.tracking_numbers == ("1Z12345E0205271688",)
    ship_calls = [c for c in responses.calls if c.request.url.startswith(SHIP_URL)]
    assert [c.request.headers["Authorization"] for c in ship_calls] == [
        "Bearer eyJ-access-token-1",
        "Bearer eyJ-access-token-2",
    ]


@responses.activate
def test_a_second_401_is_a_rejection_not_a_loop():
    responses.post(TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.get(TRACK_URL, status=401, json=fx.error_reply("250002", "Invalid Authentication Information."))
    with pytest.raises(base.CarrierRejected) as caught:
        make_adapter().track(carrier.TrackRequest("1Z12345E0205271688"))
    assert caught.value.code == "250002"
    assert len([c for c in responses.calls if c.request.url.startswith(TRACK_URL)]) == 2


@responses.activate
def test_a_rejected_label_keeps_the_ups_code_and_message():
    responses.post(TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(SHIP_URL, status=400, json=fx.error_reply("120802", "Address Validation Error on ShipTo"))
    with pytest.raises(base.CarrierRejected) as caught:
        make_adapter().label(fx.LABEL_REQUEST)
    assert (caught.value.code, caught.value.message) == ("120802", "Address Validation Error on ShipTo")


@responses.activate
def test_a_timed_out_label_purchase_is_unavailable_and_never_resent():
    responses.post(TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(SHIP_URL, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(base.CarrierUnavailable) as caught:
        make_adapter().label(fx.LABEL_REQUEST)
    assert caught.value.code == "timeout"
    assert len([c for c in responses.calls if c.request.url.startswith(SHIP_URL)]) == 1


@responses.activate
def test_a_timed_out_rate_is_retried_and_can_succeed():
    responses.post(TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(RATE_URL, body=requests.ConnectTimeout("connect timed out"))
    responses.post(RATE_URL, status=503, json=fx.error_reply("10004", "busy"))
    responses.post(RATE_URL, json=fx.RATE_REPLY)
    assert len(make_adapter().rate(fx.RATE_REQUEST)) == 2
    assert len([c for c in responses.calls if c.request.url.startswith(RATE_URL)]) == 3


@responses.activate
def test_void_hits_the_delete_endpoint():
    responses.post(TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.delete("http://ups.test/api/shipments/v2409/void/cancel/1Z12345E0205271688", json=fx.VOID_REPLY)
    result = make_adapter().void(carrier.VoidRequest(fx.ACCOUNT, "1Z12345E0205271688"))
    assert result.voided is True


@responses.activate
def test_lookup_shipment_reports_a_purchase_found_by_our_reference():
    responses.post(TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.get("http://ups.test/api/track/v1/reference/details/shp_0001", json=fx.TRACK_REPLY)
    responses.get(
        "http://ups.test/api/track/v1/reference/details/shp_0002",
        status=404,
        json=fx.error_reply("151044", "Tracking number information not found"),
    )
    adapter = make_adapter()
    found = adapter.lookup_shipment("shp_0001")
    assert (found.found, found.tracking_numbers) == (True, ("1Z12345E0205271688",))
    assert adapter.lookup_shipment("shp_0002").found is False


@responses.activate
def test_subscription_posts_the_tracking_numbers_to_track_alert():
    responses.post(TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(
        "http://ups.test/api/track/v2/subscription/standard/package",
        json={"validTrackingNumbers": ["1Z12345E0205271688"], "invalidTrackingNumbers": ["1ZBAD"]},
    )
    accepted, refused = make_adapter().subscribe_tracking(["1Z12345E0205271688", "1ZBAD"])
    assert (accepted, refused) == (["1Z12345E0205271688"], ["1ZBAD"])
    assert json.loads(responses.calls[1].request.body)["trackingNumberList"] == [
        "1Z12345E0205271688",
        "1ZBAD",
    ]


@responses.activate
def test_recorded_exchanges_never_contain_a_secret_or_token():
    recorded = []
    responses.post(TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(RATE_URL, json=fx.RATE_REPLY)
    make_adapter(recorder=recorded.append).rate(fx.RATE_REQUEST)
    text = json.dumps(recorded)
    assert [r["operation"] for r in recorded] == ["oauth", "rate"]
    for secret in ("client-secret-very-private", "eyJ-access-token-1", fx.CONFIG["webhook_credential"]):
        assert secret not in text
    assert recorded[1]["request"]["body"]["RateRequest"]["Shipment"]["Shipper"]["ShipperNumber"] == "A1B2C3"


# -- Track Alert push authentication -----------------------------------------------------------------------

PUSH_BODY = json.dumps(
    {
        "trackingNumber": "1Z12345E0205271688",
        "activityStatus": {"type": "D", "code": "FS", "description": "Delivered", "descriptionCode": "011"},
        "gmtActivityDate": "20240423",
        "gmtActivityTime": "135004",
    }
).encode()
UA = {"User-Agent": "UPSPubSubTrackingService"}


def test_a_v1_push_with_the_registered_credential_is_accepted():
    (event,) = make_adapter().parse_push({**UA, "credential": fx.CONFIG["webhook_credential"]}, PUSH_BODY)
    assert (event.code, event.subcode) == ("D", "FS")


@pytest.mark.parametrize(
    "headers",
    [
        {**UA, "credential": "webhook-credential-guess"},
        {"User-Agent": "curl/8", "credential": fx.CONFIG["webhook_credential"]},
        UA,
        {**UA, "Authorization": "Bearer forged.token"},
    ],
)
def test_a_push_without_the_right_credential_is_rejected(headers):
    with pytest.raises(base.CarrierRejected) as caught:
        make_adapter().parse_push(headers, PUSH_BODY)
    assert caught.value.code == "push_unauthenticated"


def test_a_v2_push_with_a_token_from_our_token_endpoint_is_accepted():
    adapter = make_adapter()
    basic = base64.b64encode(b"ups-webhooks:webhook-client-secret-abcdef").decode()
    token = adapter.issue_webhook_token(f"Basic {basic}")["access_token"]
    headers = {**UA, "Authorization": f"Bearer {token}", "x-api-key": "ups-webhooks"}
    assert len(adapter.parse_push(headers, PUSH_BODY)) == 1


def test_our_token_endpoint_refuses_wrong_client_credentials():
    basic = base64.b64encode(b"ups-webhooks:not-the-secret").decode()
    with pytest.raises(base.CarrierRejected):
        make_adapter().issue_webhook_token(f"Basic {basic}")
