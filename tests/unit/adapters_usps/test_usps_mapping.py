from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from adapters import base
from adapters.usps import mapping
from schemas import carrier, money, types
from tests.unit.adapters_usps import usps_fixtures as fx

CONFIG = fx.CONFIG
TODAY = date(2025, 5, 26)


@pytest.mark.parametrize(
    ("event", "expected", "flags"),
    [
        (
            {"GMTTimestamp": "2024-04-04T14:03:12.041Z"},
            datetime(2024, 4, 4, 14, 3, 12, 41000, tzinfo=UTC),
            {},
        ),
        (
            {"GMTTimestamp": "2024-04-04 14:03:12.041000+00:00"},
            datetime(2024, 4, 4, 14, 3, 12, 41000, tzinfo=UTC),
            {},
        ),
        ({"GMTTimestamp": "2024-04-04T14:03:12"}, datetime(2024, 4, 4, 14, 3, 12, tzinfo=UTC), {}),
        ({"eventTimestamp": "2024-04-04 14:03:12-07:00"}, datetime(2024, 4, 4, 21, 3, 12, tzinfo=UTC), {}),
        (
            {"eventTimestamp": "2024-04-04T14:03:12", "GMTOffset": "-7:00"},
            datetime(2024, 4, 4, 21, 3, 12, tzinfo=UTC),
            {},
        ),
        (
            {"eventTimestamp": "2024-04-04T14:03:12", "GMTOffset": "-0700"},
            datetime(2024, 4, 4, 21, 3, 12, tzinfo=UTC),
            {},
        ),
        (
            {"eventTimestamp": "2024-04-04T14:03:12", "GMTOffset": "-420"},
            datetime(2024, 4, 4, 21, 3, 12, tzinfo=UTC),
            {},
        ),
        (
            {"eventTimestamp": "2024-04-04T14:03:12", "GMTOffset": "+5"},
            datetime(2024, 4, 4, 9, 3, 12, tzinfo=UTC),
            {},
        ),
        (
            {"eventTimestamp": "2024-04-04T14:03:12", "GMTOffset": "garbage"},
            datetime(2024, 4, 4, 14, 3, 12, tzinfo=UTC),
            {"local_time_zone_known": "false"},
        ),
        (
            {"eventTimestamp": "2024-04-04", "GMTOffset": None},
            datetime(2024, 4, 4, tzinfo=UTC),
            {"time_known": "false", "local_time_zone_known": "false"},
        ),
        (
            {"GMTTimestamp": "", "eventTimestamp": "2024-04-04T14:03:12Z"},
            datetime(2024, 4, 4, 14, 3, 12, tzinfo=UTC),
            {},
        ),
    ],
)
def test_every_timestamp_form_the_contract_allows_is_read_as_utc(event, expected, flags):
    assert mapping.event_time(event) == (expected, flags)


@pytest.mark.parametrize(
    "event", [{}, {"eventTimestamp": ""}, {"eventTimestamp": "yesterday"}, {"GMTTimestamp": None}]
)
def test_an_event_without_a_readable_time_has_none(event):
    assert mapping.event_time(event) is None


def test_an_event_without_a_time_makes_the_reply_malformed():
    with pytest.raises(base.CarrierUnavailable) as caught:
        mapping.detail_events({"trackingEvents": [{"eventCode": "01"}]}, fx.NUMBER)
    assert caught.value.code == "malformed_response"


def test_absent_and_empty_optional_fields_give_a_bare_event():
    (event,) = mapping.detail_events(
        {
            "trackingNumber": "",
            "trackingEvents": [
                {
                    "eventTimestamp": "2025-05-26T10:00:00Z",
                    "eventCode": "",
                    "eventType": None,
                    "eventCity": "",
                    "eventZIP": None,
                    "firm": None,
                }
            ],
        },
        fx.NUMBER,
    )
    assert event.tracking_number == fx.NUMBER
    assert event.code == mapping.UNCODED_EVENT
    assert event.description == ""
    assert event.location is None
    assert event.attributes == {}
    assert event.estimated_delivery is None


def test_delivery_expectation_prefers_predicted_then_expected_then_guaranteed():
    expect = mapping.delivery_expectation
    assert expect({"deliveryDateExpectation": {"expectedDeliveryDate": "2025-05-29"}}) == date(2025, 5, 29)
    assert expect(
        {"deliveryDateExpectation": {"guaranteedDeliveryDate": "2025-05-30T12:00:00-05:00"}}
    ) == date(2025, 5, 30)
    assert expect({"deliveryDateExpectation": {"guaranteedDeliveryDate": "by noon"}}) is None
    assert expect({"deliveryDateExpectation": None}) is None
    assert expect({}) is None


def test_a_reply_item_with_only_a_tracking_number_is_an_empty_result():
    results = mapping.parse_track_response([{"trackingNumber": fx.NUMBER}], [fx.NUMBER])
    assert results[fx.NUMBER] == carrier.TrackResult("usps", fx.NUMBER, (), None, ())


def test_a_number_usps_left_out_of_the_reply_still_gets_a_result_with_a_warning():
    results = mapping.parse_track_response([fx.DETAIL], [fx.NUMBER, fx.OTHER])
    assert results[fx.OTHER].warnings == ("USPS returned nothing for this number",)


def test_a_tracking_reply_that_is_not_a_list_is_malformed():
    with pytest.raises(base.CarrierUnavailable):
        mapping.parse_track_response({"trackingNumber": fx.NUMBER}, [fx.NUMBER])


@pytest.mark.parametrize(
    ("code", "service"),
    [
        ("PRIORITY_MAIL", mapping.Service("PRIORITY_MAIL", "SP", "MACHINABLE")),
        ("priority_mail/fe/flats", mapping.Service("PRIORITY_MAIL", "FE", "FLATS")),
        ("USPS_GROUND_ADVANTAGE/CP", mapping.Service("USPS_GROUND_ADVANTAGE", "CP", "MACHINABLE")),
    ],
)
def test_service_codes_name_the_mail_class_and_optionally_the_rate_ingredients(code, service):
    assert mapping.Service.parse(code, "SP", "MACHINABLE") == service


@pytest.mark.parametrize("code", ["", "/SP", "A/B/C/D", "PRIORITY_MAIL//FLATS"])
def test_malformed_service_codes_are_refused(code):
    with pytest.raises(base.CarrierRejected):
        mapping.Service.parse(code, "SP", "MACHINABLE")


def _spec(**changes) -> types.ShipmentSpec:
    values = {"origin": fx.ORIGIN, "destination": fx.DESTINATION, "parcels": (fx.PARCEL,)}
    values.update(changes)
    return types.ShipmentSpec(**values)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (
            _spec(destination=types.Address("CA", "K1A0B1", "Ottawa", ("1 Main",), "ON", name="A B")),
            "domestic",
        ),
        (_spec(parcels=(fx.PARCEL, fx.PARCEL)), "one package"),
        (_spec(destination=types.Address("US", "6311", "X", ("1 Main",), "MO", name="A B")), "ZIP"),
    ],
)
def test_requests_usps_cannot_price_are_refused_before_any_call(spec, words):
    with pytest.raises(base.CarrierRejected) as caught:
        mapping.total_rates_request(carrier.RateRequest(spec, "x"), CONFIG, TODAY)
    assert words in caught.value.message


def test_a_declared_value_in_another_currency_is_refused():
    parcel = types.Parcel(
        Decimal("1"), Decimal("10"), Decimal("10"), Decimal("10"), money.Money(Decimal("5"), "EUR")
    )
    with pytest.raises(base.CarrierRejected):
        mapping.total_rates_request(carrier.RateRequest(_spec(parcels=(parcel,)), "x"), CONFIG, TODAY)


def test_labels_over_70_lb_are_refused():
    heavy = types.Parcel(Decimal("32"), Decimal("50"), Decimal("40"), Decimal("30"))
    request = carrier.LabelRequest(_spec(parcels=(heavy,)), "x", "PRIORITY_MAIL", "shp_1")
    with pytest.raises(base.CarrierRejected) as caught:
        mapping.label_request(request, mapping.Service("PRIORITY_MAIL", "SP", "MACHINABLE"), TODAY, CONFIG)
    assert "70 lb" in caught.value.message


def test_a_label_address_without_a_street_or_a_name_is_refused():
    service = mapping.Service("PRIORITY_MAIL", "SP", "MACHINABLE")
    nameless = types.Address("US", "63118", "St. Louis", ("1 Main",), "MO")
    for destination in (nameless, types.Address("US", "63118", "St. Louis", (), "MO", name="A B")):
        request = carrier.LabelRequest(_spec(destination=destination), "x", "PRIORITY_MAIL", "shp_1")
        with pytest.raises(base.CarrierRejected):
            mapping.label_request(request, service, TODAY, CONFIG)


def test_a_permit_account_pays_with_its_permit_number_and_zip():
    config = {**CONFIG, "account_type": "PERMIT", "permit_zip": "63116", "price_type": "CONTRACT"}
    roles = mapping.payment_authorization_request(config).json["roles"]
    assert [r["roleName"] for r in roles] == ["PAYER", "LABEL_OWNER", "RATE_HOLDER"]
    assert roles[0]["permitNumber"] == "1000405525" and roles[0]["permitZIP"] == "63116"


def test_a_price_reply_without_prices_is_malformed_and_unpriced_options_are_skipped():
    with pytest.raises(base.CarrierUnavailable):
        mapping.parse_rates_response({"unexpected": True})
    assert mapping.parse_rates_response({"rateOptions": []}) == []
    assert mapping.parse_rates_response({"rateOptions": [{"rates": [{"mailClass": "PRIORITY_MAIL"}]}]}) == []


def test_a_base_rate_reply_without_a_mail_class_takes_the_requested_one():
    (result,) = mapping.parse_rates_response({"totalBasePrice": 8.5, "rates": [{"price": 8.5}]}, "MEDIA_MAIL")
    assert (result.service_code, result.service_name, result.total) == (
        "MEDIA_MAIL",
        "Media Mail",
        money.Money(Decimal("8.5"), "USD"),
    )


def test_charge_lines_always_add_up_to_the_quoted_total():
    (under,) = mapping.parse_rates_response(
        {"totalBasePrice": 10, "rates": [{"price": 8, "mailClass": "PRIORITY_MAIL"}]}
    )
    assert [(c.code, c.amount.amount) for c in under.charges] == [("POSTAGE", 8), ("OTHER", 2)]
    (over,) = mapping.parse_rates_response(
        {"totalBasePrice": 5, "rates": [{"price": 8, "mailClass": "PRIORITY_MAIL"}]}
    )
    assert [(c.code, c.amount.amount) for c in over.charges] == [("TOTAL", 5)]


def test_rate_warnings_are_collected_from_rates_and_extra_services():
    assert mapping.rate_warnings(fx.TOTAL_RATES_WITH_EXTRAS_REPLY) == ["W1: Insurance valued at item value"]


def test_service_standard_estimates_read_numbers_strings_and_date_only_deliveries():
    estimates = mapping.parse_estimates([*fx.ESTIMATES_REPLY, {"mailClass": ""}, "junk"])
    assert [(e.mail_class, e.days, e.delivery) for e in estimates] == [
        ("PRIORITY_MAIL", 2, date(2025, 5, 28)),
        ("USPS_GROUND_ADVANTAGE", 3, date(2025, 5, 29)),
        ("USPS_GROUND_ADVANTAGE", 4, date(2025, 5, 30)),
    ]
    with pytest.raises(base.CarrierUnavailable):
        mapping.parse_estimates({"mailClass": "PRIORITY_MAIL"})


def test_a_label_reply_without_an_image_or_tracking_number_is_malformed():
    with pytest.raises(base.CarrierUnavailable):
        mapping.parse_label_json({"trackingNumber": fx.NUMBER}, carrier.LabelFormat.PDF)
    with pytest.raises(base.CarrierUnavailable):
        mapping.parse_label_json({"labelImage": "JVBERi0="}, carrier.LabelFormat.PDF)
    with pytest.raises(base.CarrierUnavailable):
        mapping.parse_label_json({"trackingNumber": fx.NUMBER, "labelImage": "%%"}, carrier.LabelFormat.PDF)


def test_a_label_reply_without_prices_has_no_charges():
    result = mapping.parse_label_json(
        {"trackingNumber": fx.NUMBER, "labelImage": "JVBERi0="}, carrier.LabelFormat.PDF
    )
    assert result.charges is None and result.charge_lines == ()
    assert result.label == b"%PDF-"


def test_a_cancel_reply_with_an_unknown_status_is_malformed():
    with pytest.raises(base.CarrierUnavailable):
        mapping.parse_cancel_response({"status": "PENDING"}, carrier.VoidRequest("x", fx.NUMBER), fx.NUMBER)


def test_subscriptions_check_what_usps_requires():
    good = ("https://h.example/cb", fx.WEBHOOK_SECRET, ["a@example.com"])
    call = mapping.subscription_request(*good, tracking_number=fx.NUMBER, event_types=("DELIVERY_ACTIVITY",))
    assert call.json["filterProperties"] == {
        "trackingEventTypes": ["DELIVERY_ACTIVITY"],
        "trackingNumber": fx.NUMBER,
    }
    bad = [
        (("http://h.example/cb", fx.WEBHOOK_SECRET, ["a@example.com"]), {"mid": "904128936"}),
        (("https://h.example/cb", "short", ["a@example.com"]), {"mid": "904128936"}),
        (("https://h.example/cb", fx.WEBHOOK_SECRET, []), {"mid": "904128936"}),
        (good, {}),
        (good, {"mid": "904128936", "tracking_number": fx.NUMBER}),
    ]
    for args, kwargs in bad:
        with pytest.raises(base.CarrierRejected):
            mapping.subscription_request(*args, **kwargs)


def test_contact_details_usps_would_refuse_are_left_off_the_label_rather_than_fail_it():
    odd = types.Address(
        "US", "63118", "St. Louis", ("1 Main",), "MO", name="Cher", phone="0123", email="cher@localhost"
    )
    request = carrier.LabelRequest(_spec(destination=odd), "x", "PRIORITY_MAIL", "shp_1")
    body = mapping.label_request(
        request, mapping.Service("PRIORITY_MAIL", "SP", "MACHINABLE"), TODAY, CONFIG
    ).json
    assert body["toAddress"] == {
        "streetAddress": "1 Main",
        "city": "St. Louis",
        "state": "MO",
        "ZIPCode": "63118",
        "firstName": "Cher",
    }
