"""The pure DHL Express request builders and reply parsers, against golden data shaped per the WSDL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from lxml import etree

from adapters import base
from adapters.dhl_express import mapping
from schemas import carrier, money, types

REF = "0123456789abcdef0123456789abcdef"
NOW = datetime(2024, 5, 6, 9, 30, tzinfo=UTC)


def body_of(envelope: str) -> etree._Element:
    root = etree.fromstring(envelope.encode("utf-8"))
    return root.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")[0]


def label_req(spec: types.ShipmentSpec, **kw: object) -> carrier.LabelRequest:
    fields: dict[str, object] = {
        "spec": spec,
        "account": "123456789",
        "service_code": "P",
        "reference": "shp_0001",
    }
    fields.update(kw)
    return carrier.LabelRequest(**fields)  # type: ignore[arg-type]


def test_rate_request_carries_addresses_pieces_in_si_units_and_the_account(spec):
    body = mapping.rate_request(
        carrier.RateRequest(spec=spec, account="123456789"),
        account="999",
        ship_time=NOW,
        message_time=NOW,
        message_reference=REF,
    )

    assert body == {
        "Request": {"ServiceHeader": {"MessageTime": NOW, "MessageReference": REF}},
        "RequestedShipment": {
            "GetDetailedRateBreakdown": "Y",
            "DropOffType": "REGULAR_PICKUP",
            "Ship": {
                "Shipper": {
                    "StreetLines": "Augustusplatz 1",
                    "City": "Leipzig",
                    "PostalCode": "04109",
                    "CountryCode": "DE",
                },
                "Recipient": {
                    "StreetLines": "350 5th Ave",
                    "StreetLines2": "Floor 3",
                    "City": "New York",
                    "StateOrProvinceCode": "NY",
                    "PostalCode": "10001",
                    "CountryCode": "US",
                },
            },
            "Packages": {
                "RequestedPackages": [
                    {
                        "number": 1,
                        "Weight": {"Value": Decimal("1.200")},
                        # Longest side first, as carriers measure.
                        "Dimensions": {
                            "Length": Decimal("30.000"),
                            "Width": Decimal("20.000"),
                            "Height": Decimal("10.000"),
                        },
                    }
                ]
            },
            "ShipTimestamp": "2024-05-06T09:30:00 GMT+00:00",
            "UnitOfMeasurement": "SI",
            "Content": "NON_DOCUMENTS",
            "DeclaredValue": Decimal("120.00"),
            "DeclaredValueCurrencyCode": "EUR",
            "PaymentInfo": "DAP",
            "Account": "123456789",
        },
    }


def test_weight_is_rounded_up_to_the_gram_so_it_is_never_under_declared(spec):
    heavy = dataclasses.replace(spec.parcels[0], weight_kg=Decimal("2.00001"))
    body = mapping.rate_request(
        carrier.RateRequest(spec=dataclasses.replace(spec, parcels=(heavy,)), account="123456789"),
        account="123456789",
        ship_time=NOW,
        message_time=NOW,
        message_reference=REF,
    )

    assert body["RequestedShipment"]["Packages"]["RequestedPackages"][0]["Weight"]["Value"] == Decimal(
        "2.001"
    )


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (timedelta(hours=2), "2024-05-06T14:00:00 GMT+02:00"),
        (timedelta(hours=-5, minutes=-30), "2024-05-06T14:00:00 GMT-05:30"),
        (timedelta(0), "2024-05-06T14:00:00 GMT+00:00"),
    ],
)
def test_ship_timestamp_uses_dhls_local_time_with_gmt_offset(offset, expected):
    assert mapping.ship_timestamp(datetime(2024, 5, 6, 14, 0, tzinfo=timezone(offset))) == expected


def test_ship_timestamp_refuses_a_naive_time():
    with pytest.raises(base.CarrierRejected, match="timezone-aware"):
        mapping.ship_timestamp(datetime(2024, 5, 6, 14, 0))


def test_label_request_sends_our_reference_product_and_label_format(spec):
    body = mapping.label_request(
        label_req(spec, label_format=carrier.LabelFormat.ZPL),
        account="123456789",
        ship_time=NOW,
        message_time=NOW,
        message_reference=REF,
        contents="Books",
    )
    shipment = body["RequestedShipment"]

    assert shipment["ShipmentInfo"]["ServiceType"] == "P"
    assert shipment["ShipmentInfo"]["LabelType"] == "ZPL"
    assert shipment["ShipmentInfo"]["Currency"] == "EUR"
    assert shipment["ShipmentInfo"]["ShipmentReferences"] == {
        "ShipmentReference": [{"ShipmentReference": "shp_0001"}]
    }
    assert shipment["Packages"]["RequestedPackages"][0]["CustomerReferences"] == "shp_0001"
    assert shipment["InternationalDetail"]["Commodities"] == {
        "Description": "Books",
        "CustomsValue": Decimal("120.000"),
    }
    assert shipment["Ship"]["Recipient"]["Contact"] == {
        "PersonName": "Jane Doe",
        "CompanyName": "Jane Doe",
        "PhoneNumber": "+1 212 555 0100",
        "EmailAddress": "jane@example.com",
    }


def test_label_request_without_a_phone_number_is_refused_before_sending(spec):
    no_phone = dataclasses.replace(spec, destination=dataclasses.replace(spec.destination, phone=None))

    with pytest.raises(base.CarrierRejected, match="destination address needs a phone number") as err:
        mapping.label_request(
            label_req(no_phone),
            account="1",
            ship_time=NOW,
            message_time=NOW,
            message_reference=REF,
            contents="x",
        )
    assert err.value.code == "invalid_request"


def test_label_request_refuses_a_format_dhl_does_not_print(spec):
    with pytest.raises(base.CarrierRejected, match="PDF or ZPL"):
        mapping.label_request(
            label_req(spec, label_format=carrier.LabelFormat.GIF),
            account="1",
            ship_time=NOW,
            message_time=NOW,
            message_reference=REF,
            contents="x",
        )


def test_declared_values_in_two_currencies_are_refused(spec):
    usd = dataclasses.replace(spec.parcels[0], declared_value=money.Money(Decimal("5"), "USD"))
    mixed = dataclasses.replace(spec, parcels=(spec.parcels[0], usd))

    with pytest.raises(base.CarrierRejected, match="share a currency"):
        mapping.rate_request(
            carrier.RateRequest(spec=mixed, account="1"),
            account="1",
            ship_time=NOW,
            message_time=NOW,
            message_reference=REF,
        )


def test_track_request_asks_for_all_checkpoints_of_a_waybill():
    body = mapping.track_request(
        carrier.TrackRequest(tracking_number="1234567890"), message_time=NOW, message_reference=REF
    )
    tracking = body["trackingRequest"]["TrackingRequest"]

    assert tracking["AWBNumber"] == {"ArrayOfAWBNumberItem": ["1234567890"]}
    assert tracking["LevelOfDetails"] == "ALL_CHECK_POINTS"
    assert "LPNumber" not in tracking


def test_track_request_sends_a_piece_id_as_a_license_plate():
    body = mapping.track_request(
        carrier.TrackRequest(tracking_number="JD014600006281230704"), message_time=NOW, message_reference=REF
    )
    tracking = body["trackingRequest"]["TrackingRequest"]

    assert tracking["LPNumber"] == {"ArrayOfTrackingPieceIDItem": ["JD014600006281230704"]}
    assert "AWBNumber" not in tracking


def test_rate_reply_becomes_exact_money_per_product_cheapest_first(reply):
    rates = mapping.parse_rate_response(body_of(reply("rate_reply.xml")))

    assert [(r.service_code, r.total) for r in rates] == [
        ("P", money.Money(Decimal("61.17"), "EUR")),
        ("K", money.Money(Decimal("98.05"), "EUR")),
    ]
    express = rates[0]
    assert express.service_name == "EXPRESS WORLDWIDE"
    assert express.transit_days == 2
    assert express.estimated_delivery == date(2024, 5, 8)
    assert [(c.code, c.amount.amount) for c in express.charges] == [
        ("EXPRESS WORLDWIDE", Decimal("52.40")),
        ("FF", Decimal("8.77")),
    ]
    assert sum((c.amount for c in express.charges), money.Money.zero("EUR")) == express.total


def test_rate_reply_keeps_only_the_requested_products(reply):
    rates = mapping.parse_rate_response(body_of(reply("rate_reply.xml")), services=("K",))

    assert [r.service_code for r in rates] == ["K"]


def test_rate_error_notification_is_rejected_with_dhls_code_and_message(reply):
    with pytest.raises(base.CarrierRejected) as err:
        mapping.parse_rate_response(body_of(reply("rate_error_reply.xml")))

    assert err.value.code == "420504"
    assert "not available based on your search criteria" in err.value.message


def test_label_reply_decodes_the_base64_label_and_keeps_the_waybill(reply):
    label = mapping.parse_label_response(body_of(reply("ship_reply.xml")))

    assert label.label.startswith(b"%PDF-1.4")
    assert label.label.endswith(b"%%EOF\n")
    assert label.label_format is carrier.LabelFormat.PDF
    assert label.carrier_shipment_id == "1234567890"
    assert label.tracking_numbers == ("1234567890",)
    assert label.charges == money.Money(Decimal("61.17"), "EUR")
    assert [line.code for line in label.charge_lines] == ["EXPRESS WORLDWIDE", "FF"]


def test_label_error_notifications_are_rejected_with_every_message(reply):
    with pytest.raises(base.CarrierRejected) as err:
        mapping.parse_label_response(body_of(reply("ship_error_reply.xml")))

    assert err.value.code == "998"
    assert "Process failure occurred" in err.value.message
    assert "(P) not available" in err.value.message


def test_label_reply_with_a_corrupt_image_is_refused(reply):
    broken = reply("ship_reply.xml").replace("JVBERi0x", "JVB*Ri0x")

    with pytest.raises(base.CarrierRejected, match="not base64"):
        mapping.parse_label_response(body_of(broken))


def test_tracking_reply_gives_checkpoint_codes_oldest_first(reply):
    result = mapping.parse_track_response(body_of(reply("track_reply.xml")), "1234567890")

    assert [e.code for e in result.events] == ["PU", "WC", "OK"]
    assert all(e.subcode is None and e.carrier == "dhl_express" for e in result.events)
    delivered = result.events[-1]
    assert delivered.occurred_at == datetime(2024, 5, 8, 14, 32, tzinfo=UTC)
    assert delivered.description == "Delivered"
    assert delivered.location.description == "NEW YORK - USA"
    assert delivered.raw["signatory"] == "DOE"
    assert delivered.raw["local_time_zone_known"] is False
    assert result.estimated_delivery == date(2024, 5, 8)


def test_checkpoint_time_with_an_offset_is_converted_to_utc_exactly(reply):
    with_offset = reply("track_reply.xml").replace("<Time>17:05:00</Time>", "<Time>17:05:00+02:00</Time>")

    result = mapping.parse_track_response(body_of(with_offset), "1234567890")
    pickup = result.events[0]

    assert pickup.code == "PU"
    assert pickup.occurred_at == datetime(2024, 5, 6, 15, 5, tzinfo=UTC)
    assert pickup.raw["local_time_zone_known"] is True


def test_unscanned_waybill_has_no_events_rather_than_an_error(reply):
    result = mapping.parse_track_response(body_of(reply("track_not_found.xml")), "1234567891")

    assert result.events == ()


def test_other_tracking_failures_are_rejected_with_the_condition(reply):
    failed = reply("track_not_found.xml").replace(
        "No Shipments Found</ActionStatus>", "Failure</ActionStatus>"
    )

    with pytest.raises(base.CarrierRejected) as err:
        mapping.parse_track_response(body_of(failed), "1234567891")

    assert err.value.code == "101"
    assert "1234567891" in err.value.message
