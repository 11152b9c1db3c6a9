"""FedEx mapping: request bodies built from canonical types and replies parsed into them (no HTTP)."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from adapters import base
from adapters.fedex import mapping
from schemas import carrier, money, types
from tests.unit.adapters_fedex import fedex_fixtures as fx

# -- requests ---------------------------------------------------------------------------------------------


def test_rate_request_shops_every_service_with_transit_times_in_imperial_units_for_a_us_origin():
    call = mapping.rate_request(fx.RATE_REQUEST, fx.ACCOUNT)
    assert (call.method, call.path) == ("POST", "/rate/v1/rates/quotes")
    body = call.json
    assert body["accountNumber"] == {"value": fx.ACCOUNT}
    assert body["rateRequestControlParameters"]["returnTransitTimes"] is True
    shipment = body["requestedShipment"]
    assert "serviceType" not in shipment  # omitted: rate-shop every service
    assert shipment["rateRequestType"] == ["ACCOUNT", "LIST"]
    assert shipment["recipient"]["address"]["residential"] is True
    (item,) = shipment["requestedPackageLineItems"]
    assert item["weight"] == {"units": "LB", "value": 4.5}  # 2 kg = 4.41 lb, rounded up to 0.1
    assert item["dimensions"] == {"length": 12, "width": 8, "height": 4, "units": "IN"}


def test_rate_request_names_the_service_when_exactly_one_is_asked_for_and_uses_metric_abroad():
    call = mapping.rate_request(
        carrier.RateRequest(fx.INTERNATIONAL, fx.ACCOUNT, services=("INTERNATIONAL_PRIORITY",)), fx.ACCOUNT
    )
    shipment = call.json["requestedShipment"]
    assert shipment["serviceType"] == "INTERNATIONAL_PRIORITY"
    first, second = shipment["requestedPackageLineItems"]
    assert first["weight"] == {"units": "KG", "value": 2}
    assert second["weight"] == {"units": "KG", "value": 0.3}
    assert second["declaredValue"] == {"amount": 49.9, "currency": "EUR"}
    assert shipment["totalPackageCount"] == 2


def test_ship_request_asks_for_base64_labels_with_our_reference_and_the_label_format():
    call = mapping.ship_request(fx.LABEL_REQUEST, fx.ACCOUNT)
    assert (call.method, call.path) == ("POST", "/ship/v1/shipments")
    body = call.json
    assert body["labelResponseOptions"] == "LABEL"
    assert body["processingOptionType"] == "SYNCHRONOUS_ONLY"
    shipment = body["requestedShipment"]
    assert shipment["serviceType"] == "FEDEX_GROUND"
    assert shipment["labelSpecification"]["imageType"] == "ZPLII"
    assert shipment["labelSpecification"]["labelStockType"] == "STOCK_4X6"
    assert shipment["shipper"]["contact"]["phoneNumber"] == "9015550100"
    assert shipment["recipients"][0]["contact"] == {"phoneNumber": "3105550199", "personName": "Bob Buyer"}
    (item,) = shipment["requestedPackageLineItems"]
    assert item["customerReferences"] == [
        {"customerReferenceType": "CUSTOMER_REFERENCE", "value": "shp_0001"}
    ]
    assert shipment["totalWeight"] == 4.5


@pytest.mark.parametrize(
    ("label_format", "image_type", "stock"),
    [
        (carrier.LabelFormat.PDF, "PDF", "PAPER_4X6"),
        (carrier.LabelFormat.PNG, "PNG", "PAPER_4X6"),
        (carrier.LabelFormat.EPL, "EPL2", "STOCK_4X6"),
    ],
)
def test_ship_request_maps_each_label_format_to_image_type_and_stock(label_format, image_type, stock):
    request = carrier.LabelRequest(fx.SPEC, fx.ACCOUNT, "FEDEX_GROUND", "shp_0002", label_format)
    spec = mapping.ship_request(request, fx.ACCOUNT).json["requestedShipment"]["labelSpecification"]
    assert (spec["imageType"], spec["labelStockType"]) == (image_type, stock)


def test_ship_request_refuses_gif_and_a_destination_without_phone():
    gif = carrier.LabelRequest(fx.SPEC, fx.ACCOUNT, "FEDEX_GROUND", "shp_3", carrier.LabelFormat.GIF)
    with pytest.raises(base.CarrierRejected, match="GIF"):
        mapping.ship_request(gif, fx.ACCOUNT)
    no_phone = carrier.LabelRequest(
        types.ShipmentSpec(
            fx.ORIGIN, types.Address("US", "90210", "LA", ("1 A St",), name="X"), fx.SPEC.parcels
        ),
        fx.ACCOUNT,
        "FEDEX_GROUND",
        "shp_4",
    )
    with pytest.raises(base.CarrierRejected, match="destination needs a phone") as caught:
        mapping.ship_request(no_phone, fx.ACCOUNT)
    assert caught.value.code == "invalid_request"


def test_a_label_needs_a_street_address_while_a_rate_does_not():
    no_street = types.Address("US", "90210", "Beverly Hills", state="CA", name="Bob", phone="3105550199")
    spec = types.ShipmentSpec(fx.ORIGIN, no_street, fx.SPEC.parcels)
    rate = mapping.rate_request(carrier.RateRequest(spec, fx.ACCOUNT), fx.ACCOUNT).json
    assert "streetLines" not in rate["requestedShipment"]["recipient"]["address"]
    with pytest.raises(base.CarrierRejected, match="destination needs a street address"):
        mapping.ship_request(carrier.LabelRequest(spec, fx.ACCOUNT, "FEDEX_GROUND", "shp_5"), fx.ACCOUNT)


def test_north_american_phones_lose_the_country_code_others_keep_it():
    assert mapping.phone_digits(fx.ORIGIN) == "9015550100"
    assert mapping.phone_digits(fx.INTERNATIONAL.origin) == "49301234"


def test_cancel_is_a_put_with_the_tracking_number_in_the_body():
    call = mapping.cancel_request(carrier.VoidRequest(fx.ACCOUNT, "794953535000"), fx.ACCOUNT)
    assert (call.method, call.path) == ("PUT", "/ship/v1/shipments/cancel")
    assert call.json["trackingNumber"] == "794953535000"
    assert call.json["deletionControl"] == "DELETE_ALL_PACKAGES"


def test_track_request_asks_for_detailed_scans_and_caps_the_batch_at_30():
    body = mapping.track_request([" 794953535000 "]).json
    assert body == {
        "includeDetailedScans": True,
        "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": "794953535000"}}],
    }
    with pytest.raises(base.CarrierRejected, match="at most 30"):
        mapping.track_request([str(n) for n in range(31)])


# -- rates ------------------------------------------------------------------------------------------------


def test_every_rate_reply_detail_becomes_a_quote_with_exact_money_cheapest_first():
    quotes = mapping.parse_rate_response(fx.RATE_REPLY)
    assert [q.service_code for q in quotes] == ["FEDEX_GROUND", "FEDEX_2_DAY", "PRIORITY_OVERNIGHT"]
    ground = quotes[0]
    assert ground.total == money.Money(Decimal("14.71"), "USD")
    assert ground.service_name == "FedEx Ground®"
    assert ground.negotiated is True
    assert sum((c.amount.amount for c in ground.charges), Decimal(0)) == Decimal("14.71")
    assert {c.code for c in ground.charges} == {"BASE", "FUEL"}


def test_the_price_is_the_requested_rate_type_not_the_first_entry():
    overnight = next(
        q for q in mapping.parse_rate_response(fx.RATE_REPLY) if q.service_code == "PRIORITY_OVERNIGHT"
    )
    assert overnight.total.amount == Decimal("61.17")  # ACCOUNT, listed second
    listed = next(
        q
        for q in mapping.parse_rate_response(fx.RATE_REPLY, rate_type="LIST")
        if q.service_code == "PRIORITY_OVERNIGHT"
    )
    assert (listed.total.amount, listed.negotiated) == (Decimal("98.40"), False)


def test_transit_comes_from_the_commit_date_or_the_transit_days_enum():
    quotes = {q.service_code: q for q in mapping.parse_rate_response(fx.RATE_REPLY)}
    overnight, ground, two_day = quotes["PRIORITY_OVERNIGHT"], quotes["FEDEX_GROUND"], quotes["FEDEX_2_DAY"]
    assert (overnight.transit_days, overnight.estimated_delivery, overnight.guaranteed) == (
        1,
        date(2024, 5, 7),
        True,
    )
    assert (ground.transit_days, ground.estimated_delivery, ground.guaranteed) == (4, None, False)
    # Empty transitTime and only a commitDate: a date, no day count.
    assert (two_day.transit_days, two_day.estimated_delivery) == (None, date(2024, 5, 8))


def test_absent_optional_rate_blocks_still_give_a_quote():
    reply = {
        "output": {
            "rateReplyDetails": [
                {
                    "serviceType": "FEDEX_EXPRESS_SAVER",
                    "ratedShipmentDetails": [
                        {"rateType": "ACCOUNT", "totalNetCharge": 20, "currency": "USD"}
                    ],
                }
            ]
        }
    }
    (quote,) = mapping.parse_rate_response(reply)
    assert quote.total == money.Money(Decimal("20"), "USD")
    assert quote.service_name == "Fedex Express Saver"
    assert (quote.transit_days, quote.estimated_delivery, quote.guaranteed) == (None, None, False)
    assert [c.code for c in quote.charges] == ["OTHER"]


def test_currency_falls_back_to_the_rate_detail_and_filtering_keeps_requested_services():
    reply = copy.deepcopy(fx.RATE_REPLY)
    for detail in reply["output"]["rateReplyDetails"][1]["ratedShipmentDetails"]:
        del detail["currency"]
    (ground,) = mapping.parse_rate_response(reply, services=("FEDEX_GROUND",))
    assert ground.total.currency == "USD"


def test_a_reply_without_rate_reply_details_is_malformed_and_alerts_are_readable():
    with pytest.raises(base.CarrierUnavailable, match="rateReplyDetails"):
        mapping.parse_rate_response({"output": {}})
    assert mapping.rate_alerts(fx.RATE_REPLY) == [
        "VIRTUAL.RESPONSE: This is a Virtual Response.",
        "SERVICE.TYPE.MESSAGE: Rate may change.",
    ]


@pytest.mark.parametrize(
    ("text", "days"), [("ONE_DAY", 1), ("TWENTY_DAYS", 20), ("3", 3), ("UNKNOWN", None), ("", None)]
)
def test_transit_day_enums_become_numbers(text, days):
    reply = {"serviceType": "X", "operationalDetail": {"transitTime": text}}
    assert mapping.transit_of(reply)[0] == days


# -- ship / cancel ----------------------------------------------------------------------------------------


def test_ship_reply_gives_label_bytes_tracking_number_and_the_actual_rate_charge():
    result = mapping.parse_ship_response(fx.SHIP_REPLY)
    assert result.label == fx.LABEL_BYTES
    assert result.label_format is carrier.LabelFormat.ZPL
    assert result.tracking_numbers == ("794953535000",)
    assert result.carrier_shipment_id == "794953535000"
    assert result.charges == money.Money(Decimal("14.71"), "USD")
    assert mapping.ship_alerts(fx.SHIP_REPLY) == ["RECIPIENTCONTACT.PHONENUMBER.INVALID: Phone format."]


def test_multi_piece_ship_reply_keeps_every_label_and_no_rating_means_no_charge():
    result = mapping.parse_ship_response(fx.multi_piece_ship_reply())
    assert result.tracking_numbers == ("794953535000", "794953535011")
    assert result.labels == (fx.LABEL_BYTES, b"second-png")
    assert result.label_format is carrier.LabelFormat.PNG
    assert result.charges is None


def test_a_url_only_label_or_an_async_job_is_not_mistaken_for_a_label():
    url_only = copy.deepcopy(fx.SHIP_REPLY)
    doc = url_only["output"]["transactionShipments"][0]["pieceResponses"][0]["packageDocuments"][0]
    del doc["encodedLabel"]
    doc["url"] = "https://fedex.test/document/1"
    with pytest.raises(base.CarrierUnavailable, match="no base64 label"):
        mapping.parse_ship_response(url_only)
    with pytest.raises(base.CarrierUnavailable, match="jobId"):
        mapping.parse_ship_response({"output": {"jobId": "abc123456"}})


def test_a_label_in_shipment_documents_is_used_when_pieces_carry_none():
    reply = copy.deepcopy(fx.SHIP_REPLY)
    shipment = reply["output"]["transactionShipments"][0]
    shipment["shipmentDocuments"] = shipment["pieceResponses"][0].pop("packageDocuments")
    shipment["shipmentDocuments"][0]["contentType"] = "MERGED_LABEL_DOCUMENTS"
    shipment["shipmentDocuments"][0]["docType"] = "PDF"
    shipment["shipmentDocuments"][0]["encodedLabel"] = base64.b64encode(b"%PDF-1.4").decode()
    result = mapping.parse_ship_response(reply)
    assert (result.label, result.label_format) == (b"%PDF-1.4", carrier.LabelFormat.PDF)


def test_cancelled_shipment_false_is_a_failed_void_with_fedex_reason():
    request = carrier.VoidRequest(fx.ACCOUNT, "794953535000")
    ok = mapping.parse_cancel_response(fx.CANCEL_REPLY, request)
    assert (ok.voided, ok.voided_tracking_numbers, ok.message) == (
        True,
        ("794953535000",),
        "Shipment is successfully cancelled",
    )
    refused = mapping.parse_cancel_response(fx.CANCEL_REFUSED_REPLY, request)
    assert (refused.voided, refused.voided_tracking_numbers) == (False, ())
    assert refused.message == "SHIPMENT.CANCEL.FAILED: Already scanned."
    with pytest.raises(base.CarrierUnavailable):
        mapping.parse_cancel_response({"output": {}}, request)


# -- track ------------------------------------------------------------------------------------------------


def test_track_reply_gives_every_scan_oldest_first_in_utc_with_codes_kept():
    result = mapping.parse_track_response(fx.track_reply(fx.DELIVERED_RESULT), fx.TRACKING_NUMBER)
    assert [(e.code, e.subcode) for e in result.events] == [
        ("OC", None),
        ("PU", None),
        ("DE", "A25"),
        ("OD", None),
        ("DL", None),
    ]
    delivered = result.events[-1]
    assert delivered.occurred_at == datetime(2024, 5, 9, 21, 2, tzinfo=UTC)
    assert delivered.location == carrier.EventLocation(city="BEVERLY HILLS", country_code="US")
    assert result.estimated_delivery == date(2024, 5, 9)
    assert result.warnings == ()
    exception = result.events[2]
    assert exception.attributes["exception_description"] == "Package available for clearance"
    assert exception.description == "Delivery exception"


def test_the_delivered_event_carries_the_signatory_and_proof_of_delivery():
    result = mapping.parse_track_response(fx.track_reply(fx.DELIVERED_RESULT), fx.TRACKING_NUMBER)
    delivered = result.events[-1]
    assert delivered.attributes["signatory"] == "B.BUYER"
    assert delivered.attributes["received_by"] == "B.BUYER"
    assert delivered.attributes["delivery_location"] == "Front Desk"
    assert delivered.attributes["signature_proof_available"] == "true"
    assert "signatory" not in result.events[0].attributes


def test_timestamps_without_an_offset_are_kept_as_utc_and_flagged():
    result = mapping.parse_track_response(fx.track_reply(fx.DELIVERED_RESULT), fx.TRACKING_NUMBER)
    created, picked_up = result.events[0], result.events[1]
    assert created.occurred_at == datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
    assert created.attributes["local_time_zone_known"] == "false"
    assert created.location is None  # empty scanLocation
    assert picked_up.occurred_at == datetime(2024, 5, 6, 18, 30, tzinfo=UTC)  # "Z"
    assert "local_time_zone_known" not in picked_up.attributes


@pytest.mark.parametrize(
    ("text", "expected", "known"),
    [
        ("2018-02-02T12:01:00-07:00", datetime(2018, 2, 2, 19, 1, tzinfo=UTC), True),
        ("2018-02-02T12:01:00.250+05:30", datetime(2018, 2, 2, 6, 31, 0, 250000, tzinfo=UTC), True),
        ("2018-02-02T12:01:00+0000", datetime(2018, 2, 2, 12, 1, tzinfo=UTC), True),
        ("2018-02-02", datetime(2018, 2, 2, tzinfo=UTC), False),
        ("", None, False),
        ("yesterday", None, False),
    ],
)
def test_timestamp_forms(text, expected, known):
    occurred, zone_known = mapping.parse_timestamp(text)
    assert occurred == expected
    if expected is not None:
        assert zone_known is known


def test_a_not_found_number_is_a_warning_not_an_empty_success():
    result = mapping.parse_track_response(
        fx.track_reply(fx.NOT_FOUND_RESULT, number="123456789012"), "123456789012"
    )
    assert result.events == ()
    assert result.warnings == (
        "123456789012: TRACKING.TRACKINGNUMBER.NOTFOUND: Tracking number cannot be found. "
        "Please correct the tracking number and try again.",
    )


def test_several_track_results_for_a_reused_number_are_all_kept_and_flagged():
    older = copy.deepcopy(fx.DELIVERED_RESULT)
    older["trackingNumberInfo"]["trackingNumberUniqueId"] = "12017~794953535000~FDEG"
    older["scanEvents"] = [fx.scan("2023-01-03T10:00:00-05:00", "DL", "Delivered")]
    older["deliveryDetails"] = {"signedByName": "OLD.OWNER"}
    result = mapping.parse_track_response(
        fx.track_reply(
            fx.DELIVERED_RESULT, older, alerts=[{"code": "TRACKING.DATA.PARTIAL", "message": "Some data"}]
        ),
        fx.TRACKING_NUMBER,
    )
    assert len(result.events) == 6
    assert result.events[0].attributes["tracking_number_unique_id"] == "12017~794953535000~FDEG"
    assert result.events[0].attributes["signatory"] == "OLD.OWNER"
    assert result.warnings[0] == "TRACKING.DATA.PARTIAL: Some data"
    assert "2 shipments under this number" in result.warnings[1]


def test_unreadable_scans_are_skipped_with_a_warning_and_empty_values_are_tolerated():
    result_node = {
        "trackingNumberInfo": {"trackingNumber": fx.TRACKING_NUMBER},
        "scanEvents": [
            {"date": "", "eventType": "AR", "eventDescription": "Arrived"},
            {
                "date": "2024-05-06T10:00:00-05:00",
                "eventType": "",
                "derivedStatusCode": "IT",
                "eventDescription": "",
            },
            {"date": "2024-05-06T11:00:00-05:00", "eventType": "", "derivedStatusCode": ""},
        ],
        "dateAndTimes": [],
        "deliveryDetails": {},
        "availableImages": [],
        "estimatedDeliveryTimeWindow": {"window": {"ends": "2024-05-10T20:00:00-05:00"}},
    }
    result = mapping.parse_track_response(fx.track_reply(result_node), fx.TRACKING_NUMBER)
    (event,) = result.events
    assert (event.code, event.description, event.location) == ("IT", "", None)
    assert result.estimated_delivery == date(2024, 5, 10)
    assert len(result.warnings) == 2


def test_a_track_reply_without_complete_track_results_is_malformed():
    with pytest.raises(base.CarrierUnavailable, match="completeTrackResults"):
        mapping.parse_track_response({"output": {"alerts": []}}, fx.TRACKING_NUMBER)


# -- errors -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "ACCOUNT.NUMBER.MISMATCH", base.CarrierRejected),
        (403, "FORBIDDEN.ERROR", base.CarrierRejected),
        (404, "NOT.FOUND.ERROR", base.CarrierRejected),
        (429, "TOO.MANY.REQUESTS", base.CarrierUnavailable),
        (500, "INTERNAL.SERVER.ERROR", base.CarrierUnavailable),
        (503, "SERVICE.UNAVAILABLE.ERROR", base.CarrierUnavailable),
    ],
)
def test_fedex_errors_map_to_rejected_or_unavailable_keeping_the_fedex_code(status, code, expected):
    error = mapping.parse_error(status, fx.error_reply(code, "Something happened."))
    assert isinstance(error, expected)
    assert (error.code, error.message, error.http_status) == (code, "Something happened.", status)


def test_an_error_without_the_envelope_still_says_which_http_status():
    error = mapping.parse_error(502, "<html>Bad gateway</html>")
    assert isinstance(error, base.CarrierUnavailable)
    assert (error.code, error.message) == ("http_502", "HTTP 502")
