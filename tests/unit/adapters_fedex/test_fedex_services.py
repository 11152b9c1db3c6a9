"""FedEx pickup, address validation and Ground end-of-day close: bodies, replies and calls."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import responses

from adapters import base
from adapters import http as carrier_http
from adapters.fedex import client, services
from schemas import carrier, types
from tests.unit.adapters_fedex import fedex_fixtures as fx

PICKUP_URL = fx.BASE_URL + "/pickup/v1/pickups"
CANCEL_PICKUP_URL = fx.BASE_URL + "/pickup/v1/pickups/cancel"
ADDRESS_URL = fx.BASE_URL + "/address/v1/addresses/resolve"
CLOSE_URL = fx.BASE_URL + "/ship/v1/endofday/"

CENTRAL = timezone(timedelta(hours=-5))
PICKUP = carrier.PickupRequest(
    account=fx.ACCOUNT,
    address=fx.ORIGIN,
    ready_at=datetime(2024, 5, 6, 11, 0, tzinfo=CENTRAL),
    close_at=datetime(2024, 5, 6, 23, 0, tzinfo=UTC),  # 18:00 in Memphis
    parcel_count=3,
)


def make_adapter(**config) -> client.FedexAdapter:
    return client.FedexAdapter(
        {**fx.CONFIG, **config},
        breaker=carrier_http.CircuitBreaker(failure_threshold=100),
        retry=carrier_http.RetryPolicy(attempts=2, sleep=lambda _s: None, rng=lambda: 0.0),
    )


# -- pickup -----------------------------------------------------------------------------------------------


def test_pickup_request_gives_the_ready_time_with_offset_and_the_local_closing_time():
    body = services.pickup_request(PICKUP, fx.ACCOUNT).json
    origin = body["originDetail"]
    assert origin["readyDateTimestamp"] == "2024-05-06T11:00:00-05:00"
    assert origin["customerCloseTime"] == "18:00:00"
    assert origin["pickupLocation"]["address"]["stateOrProvinceCode"] == "TN"
    assert origin["pickupLocation"]["contact"]["phoneNumber"] == "9015550100"
    assert (body["packageCount"], body["carrierCode"]) == (3, "FDXE")
    assert body["associatedAccountNumber"] == {"value": fx.ACCOUNT}


def test_a_utc_ready_time_is_written_with_z():
    request = carrier.PickupRequest(
        fx.ACCOUNT,
        fx.ORIGIN,
        datetime(2024, 5, 6, 16, 0, tzinfo=UTC),
        datetime(2024, 5, 6, 23, 0, tzinfo=UTC),
        1,
    )
    assert services.pickup_request(request, fx.ACCOUNT).json["originDetail"]["readyDateTimestamp"] == (
        "2024-05-06T16:00:00Z"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"close_at": datetime(2024, 5, 6, 10, 0, tzinfo=CENTRAL)}, "close after"),
        ({"ready_at": datetime(2024, 5, 6, 11, 0)}, "timezone-aware"),
        ({"parcel_count": 0}, "at least one parcel"),
        ({"address": types.Address("US", "38017", "Collierville")}, "street, state and postal code"),
    ],
)
def test_an_impossible_pickup_is_refused_before_calling_fedex(change, message):
    fields = {
        "account": PICKUP.account,
        "address": PICKUP.address,
        "ready_at": PICKUP.ready_at,
        "close_at": PICKUP.close_at,
        "parcel_count": PICKUP.parcel_count,
        **change,
    }
    with pytest.raises(base.CarrierRejected, match=message):
        services.pickup_request(carrier.PickupRequest(**fields), fx.ACCOUNT)


@responses.activate
def test_pickup_books_once_and_returns_the_confirmation_code():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(PICKUP_URL, json={"output": {"pickupConfirmationCode": "3001", "location": "COSA"}})
    result = make_adapter(pickup_carrier_code="FDXG").pickup(PICKUP)
    assert (result.carrier, result.confirmation, result.ready_at) == ("fedex", "3001", PICKUP.ready_at)
    (call,) = [c for c in responses.calls if c.request.url == PICKUP_URL]
    assert json.loads(call.request.body)["carrierCode"] == "FDXG"


@responses.activate
def test_a_pickup_reply_without_a_confirmation_is_malformed():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(PICKUP_URL, json={"output": {"message": "Courier on the way"}})
    with pytest.raises(base.CarrierUnavailable, match="pickupConfirmationCode"):
        make_adapter().pickup(PICKUP)


@responses.activate
def test_a_pickup_is_not_resent_after_a_503_because_that_could_book_two_couriers():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(PICKUP_URL, status=503, json=fx.error_reply("SERVICE.UNAVAILABLE.ERROR", "Later."))
    with pytest.raises(base.CarrierUnavailable):
        make_adapter().pickup(PICKUP)
    assert len([c for c in responses.calls if c.request.url == PICKUP_URL]) == 1


@responses.activate
def test_a_pickup_is_cancelled_with_the_location_and_carrier_code_its_booking_answered():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(PICKUP_URL, json={"output": {"pickupConfirmationCode": "3001", "location": "COSA"}})
    responses.put(
        CANCEL_PICKUP_URL,
        json={"output": {"pickupConfirmationCode": "3001", "cancelConfirmationMessage": "Cancelled."}},
    )
    adapter = make_adapter()
    booked = adapter.pickup(PICKUP)
    assert booked.details == {"carrier_code": "FDXE", "location": "COSA"}

    adapter.cancel_pickup(PICKUP, booked.confirmation, booked.details)

    (call,) = [c for c in responses.calls if c.request.url == CANCEL_PICKUP_URL]
    assert call.request.method == "PUT"
    assert json.loads(call.request.body) == {
        "associatedAccountNumber": {"value": fx.ACCOUNT},
        "pickupConfirmationCode": "3001",
        "scheduledDate": "2024-05-06",
        "carrierCode": "FDXE",
        "location": "COSA",
    }


@responses.activate
def test_a_ground_pickup_is_cancelled_without_a_location_and_a_cancel_is_not_resent_after_a_503():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.put(CANCEL_PICKUP_URL, status=503, json=fx.error_reply("SERVICE.UNAVAILABLE.ERROR", "Later."))
    with pytest.raises(base.CarrierUnavailable):
        make_adapter().cancel_pickup(PICKUP, "3001", {"carrier_code": "FDXG"})
    (call,) = [c for c in responses.calls if c.request.url == CANCEL_PICKUP_URL]
    assert json.loads(call.request.body)["carrierCode"] == "FDXG" and "location" not in json.loads(
        call.request.body
    )


def test_an_express_pickup_without_its_location_cannot_be_cancelled_through_the_api():
    with pytest.raises(base.CapabilityNotSupported):
        make_adapter().cancel_pickup(PICKUP, "3001", {})


# -- address validation -----------------------------------------------------------------------------------

ADDRESS_REPLY = {
    "output": {
        "resolvedAddresses": [
            {
                "streetLinesToken": ["7372 PARKRIDGE BLVD", "APT 286"],
                "city": "IRVING",
                "stateOrProvinceCode": "TX",
                "countryCode": "US",
                "parsedPostalCode": {"base": "75063", "addOn": "8659", "deliveryPoint": "86"},
                "classification": "RESIDENTIAL",
                "customerMessage": [],
                "attributes": {
                    "Resolved": True,
                    "DPV": True,
                    "SuiteRequiredButMissing": False,
                    "MatchSource": "Postal",
                },
            },
            {
                "city": "",
                "countryCode": "US",
                "classification": "UNKNOWN",
                "customerMessage": [
                    {"code": "INTERPOLATED.STREET.ADDRESS", "message": "Street address interpolated"}
                ],
                "attributes": {"Resolved": False},
            },
        ],
        "alerts": [{"code": "VIRTUAL.RESPONSE", "message": "Virtual response", "alertType": "NOTE"}],
    }
}
GIVEN = [
    types.Address("US", "75063", "Irving", ("7372 Parkridge Blvd", "Apt 286"), state="TX", name="Ann"),
    types.Address("US", "00000", "Nowhere", ("1 Nothing St",), state="TX", residential=True),
]


def test_address_request_lists_every_address():
    body = services.address_request(GIVEN).json
    assert [a["address"]["postalCode"] for a in body["addressesToValidate"]] == ["75063", "00000"]
    with pytest.raises(base.CarrierRejected):
        services.address_request([])


def test_address_reply_gives_the_standardised_address_classification_and_flags():
    first, second = services.parse_address_response(ADDRESS_REPLY, GIVEN)
    assert first.address.street_lines == ("7372 PARKRIDGE BLVD", "APT 286")
    assert (first.address.postal_code, first.address.city, first.address.residential) == (
        "75063-8659",
        "IRVING",
        True,
    )
    assert first.address.name == "Ann"  # what FedEx does not return is kept from the input
    assert (first.classification, first.resolved) == ("RESIDENTIAL", True)
    assert first.attributes["DPV"] == "true"
    assert first.messages == ("VIRTUAL.RESPONSE: Virtual response",)
    # Empty values fall back to what was asked; UNKNOWN keeps the caller's residential flag.
    assert (second.address.city, second.address.postal_code, second.address.residential) == (
        "Nowhere",
        "00000",
        True,
    )
    assert (second.classification, second.resolved) == ("UNKNOWN", False)
    assert second.messages[0] == "Street address interpolated"


@responses.activate
def test_validate_address_posts_to_the_resolve_endpoint():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(ADDRESS_URL, json=ADDRESS_REPLY)
    checks = make_adapter().validate_address(GIVEN)
    assert [c.classification for c in checks] == ["RESIDENTIAL", "UNKNOWN"]
    with pytest.raises(base.CarrierUnavailable, match="resolvedAddresses"):
        services.parse_address_response({"output": {}}, GIVEN)


# -- ground close -----------------------------------------------------------------------------------------


def test_ground_close_is_a_put_for_the_day():
    call = services.ground_close_request(fx.ACCOUNT, date(2024, 5, 6))
    assert (call.method, call.path) == ("PUT", "/ship/v1/endofday/")
    assert call.json == {
        "accountNumber": {"value": fx.ACCOUNT},
        "closeReqType": "GCDR",
        "groundServiceCategory": "GROUND",
        "closeDate": "2024-05-06",
    }


@responses.activate
def test_ground_close_returns_the_manifest_joined_from_its_parts_in_order():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    parts = [
        {"documentPartSequenceNumber": 2, "image": base64.b64encode(b"world").decode()},
        {"documentPartSequenceNumber": 1, "image": base64.b64encode(b"hello ").decode()},
    ]
    responses.put(
        CLOSE_URL,
        json={
            "output": {
                "closeDocuments": [{"type": "OP_950", "copiesToPrint": 2, "parts": parts}],
                "alerts": [],
            }
        },
    )
    closed = make_adapter().close_ground_day(date(2024, 5, 6))
    (document,) = closed.documents
    assert (document.type, document.content, document.copies) == ("OP_950", b"hello world", 2)
    assert closed.alerts == ()


def test_a_close_with_nothing_to_close_has_no_documents_but_keeps_the_alert():
    closed = services.parse_ground_close_response(
        {"output": {"alerts": [{"code": "NO.SHIPMENTS.TO.CLOSE", "message": "Nothing to close."}]}}
    )
    assert closed == services.GroundClose((), ("NO.SHIPMENTS.TO.CLOSE: Nothing to close.",))
