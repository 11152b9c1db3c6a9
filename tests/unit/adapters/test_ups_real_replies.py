"""UPS replies as the real carrier sends them (issue 17): transit, charge lines, twins, Track Alert, warnings.

Every reply is written here from the facts in UPS's published OpenAPI specs (Rating ``RatedShipment``:
``TimeInTransit.ServiceSummary.EstimatedArrival``, ``BaseServiceCharge`` = transportation less fuel,
``ItemizedCharges``, ``NegotiatedRateCharges``; Tracking ``shipment[].warnings``; Track Alert
``TrackingEventRequest``), not copied from a capture.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import responses

from adapters import http as carrier_http
from adapters.ups import client, mapping
from schemas import carrier, events, money, types
from tests.unit.adapters import ups_fixtures as fx


def usd(value: str) -> dict[str, str]:
    return {"CurrencyCode": "USD", "MonetaryValue": value}


def rated(code: str, total: str, **extra: Any) -> dict[str, Any]:
    shipment: dict[str, Any] = {
        "Service": {"Code": code, "Description": f"Service {code}"},
        "BillingWeight": {"UnitOfMeasurement": {"Code": "LBS", "Description": "Pounds"}, "Weight": "5.0"},
        "TransportationCharges": usd(total),
        "ServiceOptionsCharges": usd("0.00"),
        "TotalCharges": usd(total),
        "RatedPackage": [{"Weight": "4.5"}],
    }
    shipment.update(extra)
    return shipment


def transit(days: str, arrival: str, *, guaranteed: bool = False) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "Service": {"Description": "UPS Ground"},
        "EstimatedArrival": {
            "Arrival": {"Date": arrival, "Time": "230000"},
            "BusinessDaysInTransit": days,
            "Pickup": {"Date": "20240506", "Time": "180000"},
            "DayOfWeek": "THU",
        },
    }
    if guaranteed:
        summary["GuaranteedIndicator"] = ""
    return {"PickupDate": "20240506", "ServiceSummary": summary}


def reply(*shipments: dict[str, Any]) -> dict[str, Any]:
    return {
        "RateResponse": {
            "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
            "RatedShipment": list(shipments),
        }
    }


def total_of(lines: tuple[carrier.ChargeLine, ...], currency: str = "USD") -> money.Money:
    return sum((line.amount for line in lines), money.Money.zero(currency))


# -- rating: transit -------------------------------------------------------------------------------------


def test_the_rate_request_asks_for_time_in_transit_with_the_total_weight():
    body = mapping.rate_request(fx.RATE_REQUEST).json["RateRequest"]

    assert body["Request"]["RequestOption"] == "Shoptimeintransit"
    assert body["Shipment"]["DeliveryTimeInformation"] == {"PackageBillType": "03"}
    assert body["Shipment"]["ShipmentTotalWeight"] == {
        "UnitOfMeasurement": {"Code": "LBS", "Description": "Pounds"},
        "Weight": "4.5",
    }
    assert "InvoiceLineTotal" not in body["Shipment"]  # domestic: not needed


def test_an_international_rate_request_carries_the_invoice_total_transit_needs():
    parcel = types.Parcel(
        weight_kg=Decimal("2"),
        length_cm=Decimal("30"),
        width_cm=Decimal("20"),
        height_cm=Decimal("10"),
        declared_value=money.Money(Decimal("120.40"), "USD"),
    )
    abroad = types.Address(country_code="CA", postal_code="M5V2T6", city="Toronto", state="ON", name="C")
    spec = types.ShipmentSpec(origin=fx.ORIGIN, destination=abroad, parcels=(parcel,))
    call = mapping.rate_request(carrier.RateRequest(spec, fx.ACCOUNT))

    assert call.path == "/api/rating/v2409/Shoptimeintransit"
    assert call.json["RateRequest"]["Shipment"]["InvoiceLineTotal"] == {
        "CurrencyCode": "USD",
        "MonetaryValue": "121",
    }


def test_an_international_rate_without_a_declared_value_falls_back_to_plain_shop():
    abroad = types.Address(country_code="CA", postal_code="M5V2T6", city="Toronto", state="ON", name="C")
    spec = types.ShipmentSpec(origin=fx.ORIGIN, destination=abroad, parcels=fx.SPEC.parcels)
    call = mapping.rate_request(carrier.RateRequest(spec, fx.ACCOUNT))

    assert call.path == "/api/rating/v2409/Shop"
    assert "DeliveryTimeInformation" not in call.json["RateRequest"]["Shipment"]


def test_an_international_rate_with_customs_items_asks_for_transit_with_their_total_as_the_invoice():
    abroad = types.Address(country_code="CA", postal_code="M5V2T6", city="Toronto", state="ON", name="C")
    customs = types.Customs(
        content_type="merchandise",
        incoterm="DAP",
        items=(
            types.CustomsItem(
                "T-shirt", 3, money.Money(Decimal("12.40"), "USD"), Decimal("0.6"), "US", "610910"
            ),
            types.CustomsItem("Mug", 1, money.Money(Decimal("8.00"), "USD"), Decimal("0.4"), "US"),
        ),
    )
    spec = types.ShipmentSpec(origin=fx.ORIGIN, destination=abroad, parcels=fx.SPEC.parcels, customs=customs)

    call = mapping.rate_request(carrier.RateRequest(spec, fx.ACCOUNT))

    assert call.path == "/api/rating/v2409/Shoptimeintransit"
    # 3 x 12.40 + 8.00 = 45.20, in the whole units UPS takes, rounded up.
    assert call.json["RateRequest"]["Shipment"]["InvoiceLineTotal"] == {
        "CurrencyCode": "USD",
        "MonetaryValue": "46",
    }


def test_a_non_guaranteed_service_gets_its_date_from_the_time_in_transit_block():
    rates = mapping.parse_rate_response(reply(rated("03", "14.50", TimeInTransit=transit("3", "20240509"))))

    (ground,) = rates
    assert (ground.transit_days, ground.estimated_delivery, ground.guaranteed) == (3, date(2024, 5, 9), False)


def test_a_guaranteed_service_keeps_its_guarantee_and_takes_the_transit_date():
    shipment = rated(
        "01",
        "61.12",
        GuaranteedDelivery={"BusinessDaysInTransit": "1", "DeliveryByTime": "10:30 A.M."},
        TimeInTransit=transit("1", "20240507", guaranteed=True),
    )

    (next_day,) = mapping.parse_rate_response(reply(shipment))

    assert (next_day.transit_days, next_day.estimated_delivery, next_day.guaranteed) == (
        1,
        date(2024, 5, 7),
        True,
    )


def test_a_service_without_any_transit_information_has_no_date_rather_than_an_error():
    (ground,) = mapping.parse_rate_response(reply(rated("03", "14.50")))

    assert (ground.transit_days, ground.estimated_delivery, ground.guaranteed) == (None, None, False)


# -- rating: charge lines --------------------------------------------------------------------------------


def test_charge_lines_do_not_count_the_base_inside_the_transportation_charge_twice():
    shipment = rated(
        "03",
        "20.00",
        BaseServiceCharge=usd("18.00"),
        ItemizedCharges=[{"Code": "375", "Description": "FUEL SURCHARGE", **usd("2.00")}],
    )

    (ground,) = mapping.parse_rate_response(reply(shipment))

    assert [(c.code, c.amount.amount) for c in ground.charges] == [
        ("BASE", Decimal("18.00")),
        ("375", Decimal("2.00")),
    ]
    assert total_of(ground.charges) == ground.total


def test_itemised_surcharges_are_taken_out_of_the_transportation_charge():
    # BaseServiceCharge is "transportation less fuel"; the residential surcharge is itemised too.
    shipment = rated(
        "03",
        "25.05",
        BaseServiceCharge=usd("23.05"),
        ItemizedCharges=[
            {"Code": "375", "Description": "FUEL SURCHARGE", **usd("2.00")},
            {"Code": "270", "Description": "RESIDENTIAL ADDRESS", **usd("5.05")},
        ],
    )

    (ground,) = mapping.parse_rate_response(reply(shipment))

    assert [(c.code, c.amount.amount) for c in ground.charges] == [
        ("BASE", Decimal("18.00")),
        ("375", Decimal("2.00")),
        ("270", Decimal("5.05")),
    ]
    assert total_of(ground.charges) == ground.total


def test_a_negotiated_total_takes_the_discount_off_the_base_so_the_lines_add_up():
    shipment = rated(
        "03",
        "19.55",
        ItemizedCharges=[{"Code": "270", "Description": "Residential surcharge", **usd("5.05")}],
        NegotiatedRateCharges={"TotalCharge": usd("17.10")},
    )

    (ground,) = mapping.parse_rate_response(reply(shipment))

    assert ground.total == money.Money(Decimal("17.10"), "USD")
    assert total_of(ground.charges) == ground.total
    # Published: base 14.50 + residential 5.05 = 19.55; negotiated 17.10 leaves 12.05 for the base.
    assert [(c.code, c.amount.amount) for c in ground.charges] == [
        ("270", Decimal("5.05")),
        ("BASE", Decimal("12.05")),
    ]
    assert all(c.amount.amount >= 0 for c in ground.charges)


def test_a_negotiated_breakdown_is_used_when_ups_sends_one():
    shipment = rated(
        "03",
        "19.55",
        NegotiatedRateCharges={
            "BaseServiceCharge": [usd("15.00")],
            "ItemizedCharges": [{"Code": "375", "Description": "FUEL\n      SURCHARGE", **usd("2.10")}],
            "TotalCharge": usd("17.10"),
        },
    )

    (ground,) = mapping.parse_rate_response(reply(shipment))

    assert [(c.code, c.description, c.amount.amount) for c in ground.charges] == [
        ("BASE", "Base service charge (negotiated)", Decimal("15.00")),
        ("375", "FUEL SURCHARGE", Decimal("2.10")),
    ]


def test_label_charge_lines_add_up_to_the_charged_negotiated_total():
    results = dict(fx.SHIP_REPLY["ShipmentResponse"]["ShipmentResults"])
    results["ShipmentCharges"] = {
        "BaseServiceCharge": usd("14.50"),
        "TransportationCharges": usd("19.55"),
        "ItemizedCharges": [{"Code": "270", "Description": "Residential surcharge", **usd("5.05")}],
        "ServiceOptionsCharges": usd("0.00"),
        "TotalCharges": usd("19.55"),
    }
    results["NegotiatedRateCharges"] = {"TotalCharge": usd("17.10")}
    body = {"ShipmentResponse": {**fx.SHIP_REPLY["ShipmentResponse"], "ShipmentResults": results}}

    label = mapping.parse_ship_response(body)

    assert label.charges == money.Money(Decimal("17.10"), "USD")
    assert [c.code for c in label.charge_lines] == ["270", "BASE"]
    assert total_of(label.charge_lines) == label.charges


# -- rating: the same service twice ----------------------------------------------------------------------


def test_two_results_for_one_service_code_can_be_told_apart():
    plain = rated("03", "14.50", TimeInTransit=transit("3", "20240509"))
    with_options = rated(
        "03",
        "21.50",
        TransportationCharges=usd("14.50"),
        ServiceOptionsCharges=usd("7.00"),
        TimeInTransit=transit("3", "20240509"),
    )
    other = rated("01", "61.12", TimeInTransit=transit("1", "20240507"))

    rates = mapping.parse_rate_response(reply(with_options, other, plain))

    assert [(r.service_code, r.service_options) for r in rates] == [
        ("03", "none"),
        ("03", "with_options"),
        ("01", None),
    ]
    assert rates[1].service_name == "UPS Ground (with service options)"
    assert [c.code for c in rates[1].charges] == ["BASE", "SERVICE_OPTIONS"]
    assert total_of(rates[1].charges) == rates[1].total


# -- Track Alert -----------------------------------------------------------------------------------------


def push(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
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
    body.update(fields)
    return body


def test_a_tracking_number_with_surrounding_whitespace_is_trimmed():
    (event,) = mapping.parse_track_alert_push(push(trackingNumber="  1Z12345E0205271688\n"))

    assert event.tracking_number == "1Z12345E0205271688"
    assert event.source_event_id.startswith("1Z12345E0205271688:")


def test_a_gmt_time_that_lost_its_leading_zero_is_read_as_the_morning():
    (event,) = mapping.parse_track_alert_push(push(gmtActivityTime="74700"))

    assert event.occurred_at == datetime(2024, 4, 23, 7, 47, 0, tzinfo=UTC)


@pytest.mark.parametrize(("given", "expected"), [("13:15:19", (13, 15, 19)), ("1315", (13, 15, 0))])
def test_colon_and_hhmm_times_are_accepted(given, expected):
    (event,) = mapping.parse_track_alert_push(push(gmtActivityTime=given))

    assert event.occurred_at == datetime(2024, 4, 23, *expected, tzinfo=UTC)


def test_a_missing_gmt_offset_keeps_the_wall_clock_and_flags_the_zone_unknown():
    body = push(gmtActivityDate="", gmtActivityTime="", gmtOffset="")

    (event,) = mapping.parse_track_alert_push(body)
    canonical = client.UpsAdapter.canonical(event, events.EventSource.WEBHOOK)

    assert event.occurred_at == datetime(2024, 4, 23, 9, 15, 19, tzinfo=UTC)
    assert dict(canonical.attributes)["local_time_zone_known"] == "false"


def test_a_known_offset_is_not_flagged():
    (event,) = mapping.parse_track_alert_push(push(gmtActivityDate="", gmtActivityTime=""))

    assert event.occurred_at == datetime(2024, 4, 23, 13, 15, 19, tzinfo=UTC)
    assert "local_time_zone_known" not in event.attributes


# -- polling keeps what pushes keep ----------------------------------------------------------------------


def test_the_3_digit_status_code_reaches_the_canonical_event_from_poll_and_push():
    polled = mapping.parse_track_response(fx.TRACK_REPLY, "1Z12345E0205271688").events[1]
    (pushed,) = client.UpsAdapter.parse_callback(push())

    polled_event = client.UpsAdapter.canonical(polled, events.EventSource.POLL)
    assert dict(polled_event.attributes)["status_code"] == "021"
    assert dict(pushed.event.attributes)["status_code"] == "021"


def test_the_tracking_information_not_found_warning_is_kept():
    body = {
        "trackResponse": {
            "shipment": [
                {
                    "inquiryNumber": "1Z12345E0205271688",
                    "warnings": [{"code": "TW0001", "message": "Tracking Information Not Found"}],
                }
            ]
        }
    }

    result = mapping.parse_track_response(body, "1Z12345E0205271688")

    assert result.events == ()
    assert result.warnings == ("TW0001: Tracking Information Not Found",)


def test_polled_descriptions_lose_line_breaks_and_indentation():
    body = {
        "trackResponse": {
            "shipment": [
                {
                    "package": [
                        {
                            "trackingNumber": " 1Z12345E0205271688 ",
                            "activity": [
                                {
                                    "status": {
                                        "type": "X",
                                        "code": "SR",
                                        "description": "Your package was released\n      by the customs agency.",
                                        "statusCode": "003",
                                    },
                                    "date": "20240423",
                                    "time": "91519",
                                    "gmtOffset": "-04:00",
                                }
                            ],
                        }
                    ]
                }
            ]
        }
    }

    (event,) = mapping.parse_track_response(body, "1Z12345E0205271688").events

    assert event.description == "Your package was released by the customs agency."
    assert event.tracking_number == "1Z12345E0205271688"
    assert event.occurred_at == datetime(2024, 4, 23, 13, 15, 19, tzinfo=UTC)


# -- over HTTP ------------------------------------------------------------------------------------------


@responses.activate
def test_a_shop_over_http_turns_every_service_into_a_dated_quote():
    responses.post("http://ups.test/security/v1/oauth/token", json=fx.TOKEN_REPLY)
    responses.post(
        "http://ups.test/api/rating/v2409/Shoptimeintransit",
        json=reply(
            rated("03", "14.50", TimeInTransit=transit("3", "20240509")),
            rated("12", "24.10", TimeInTransit=transit("3", "20240509")),
            rated("02", "31.00", TimeInTransit=transit("2", "20240508", guaranteed=True)),
        ),
    )
    adapter = client.UpsAdapter(
        fx.CONFIG,
        breaker=carrier_http.CircuitBreaker(failure_threshold=3, reset_after=30),
        retry=carrier_http.RetryPolicy(attempts=1, sleep=lambda s: None),
    )

    rates = adapter.rate(fx.RATE_REQUEST)

    assert all(r.estimated_delivery is not None for r in rates)
    assert [r.service_code for r in rates] == ["03", "12", "02"]


def test_lines_that_cannot_add_up_without_a_negative_amount_become_one_total_line():
    shipment = rated(
        "03",
        "10.00",
        TransportationCharges=usd("10.00"),
        ItemizedCharges=[{"Code": "270", "Description": "Residential surcharge", **usd("5.05")}],
        NegotiatedRateCharges={"TotalCharge": usd("4.00")},
    )

    (ground,) = mapping.parse_rate_response(reply(shipment))

    assert [(c.code, c.amount.amount) for c in ground.charges] == [("TOTAL", Decimal("4.00"))]
