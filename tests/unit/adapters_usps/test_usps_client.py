import base64
import hashlib
import hmac
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import responses

from adapters import base
from adapters import http as carrier_http
from adapters.usps import client
from schemas import carrier, events, money, taxonomy, types
from tests.unit.adapters_usps import usps_fixtures as fx


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_adapter(clock=None, recorder=None, attempts=1, config=None):
    return client.UspsAdapter(
        config or fx.CONFIG,
        recorder=recorder,
        breaker=carrier_http.CircuitBreaker(failure_threshold=50, reset_after=30),
        retry=carrier_http.RetryPolicy(attempts=attempts, sleep=lambda s: None),
        clock=clock or FakeClock(),
        wall_clock=lambda: fx.NOW,
    )


def _body(call) -> object:
    return json.loads(call.request.body)


def _calls(url: str) -> list:
    return [c for c in responses.calls if c.request.url.split("?")[0] == url]


def _usd(text: str) -> money.Money:
    return money.Money(Decimal(text), "USD")


# -- OAuth -------------------------------------------------------------------------------------------------


@responses.activate
def test_the_token_is_fetched_with_client_credentials_and_reused_until_it_expires():
    clock = FakeClock()
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(fx.BASE_RATES_URL, json=fx.BASE_RATES_REPLY)
    responses.get(fx.ESTIMATES_URL, json=fx.ESTIMATES_REPLY)
    adapter = make_adapter(clock)
    request = carrier.RateRequest(fx.SPEC, fx.CONFIG["account_number"], ("PRIORITY_MAIL",))

    adapter.rate(request)
    adapter.rate(request)
    assert len(_calls(fx.TOKEN_URL)) == 1
    assert _body(_calls(fx.TOKEN_URL)[0]) == {
        "grant_type": "client_credentials",
        "client_id": "usps-consumer-key",
        "client_secret": "usps-consumer-secret-very-private",
    }
    assert _calls(fx.BASE_RATES_URL)[0].request.headers["Authorization"] == "Bearer usps-access-token-1"

    clock.now += 28799  # expires_in, a string in USPS's reply
    adapter.rate(request)
    assert len(_calls(fx.TOKEN_URL)) == 2


@responses.activate
def test_a_401_refreshes_the_token_once_and_resends():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(fx.TOKEN_URL, json={**fx.TOKEN_REPLY, "access_token": "usps-access-token-2"})
    responses.post(
        fx.BASE_RATES_URL, status=401, json=fx.error_body(401, "401", "expired token", api="/prices/v3")
    )
    responses.post(fx.BASE_RATES_URL, json=fx.BASE_RATES_REPLY)
    responses.get(fx.ESTIMATES_URL, json=fx.ESTIMATES_REPLY)
    adapter = make_adapter()

    results = adapter.rate(carrier.RateRequest(fx.SPEC, "x", ("PRIORITY_MAIL",)))

    assert results[0].total == _usd("8.02")
    assert _calls(fx.BASE_RATES_URL)[1].request.headers["Authorization"] == "Bearer usps-access-token-2"


@responses.activate
def test_refused_credentials_are_a_rejection_with_the_usps_message():
    responses.post(
        fx.TOKEN_URL,
        status=401,
        json={"error": "invalid_client", "error_description": "Client authentication failed"},
    )
    with pytest.raises(base.CarrierRejected) as caught:
        make_adapter().rate(carrier.RateRequest(fx.SPEC, "x", ("PRIORITY_MAIL",)))
    assert caught.value.http_status == 401
    assert caught.value.message == "Client authentication failed"


# -- prices and delivery dates -----------------------------------------------------------------------------


@responses.activate
def test_one_service_is_priced_with_base_rates_and_dated_by_service_standards():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(fx.BASE_RATES_URL, json=fx.BASE_RATES_REPLY)
    responses.get(fx.ESTIMATES_URL, json=fx.ESTIMATES_REPLY)

    (result,) = make_adapter().rate(carrier.RateRequest(fx.SPEC, "x", ("PRIORITY_MAIL",)))

    assert _body(_calls(fx.BASE_RATES_URL)[0]) == {
        "originZIPCode": "63116",
        "destinationZIPCode": "63118",
        "weight": 1.11,
        "length": 9,
        "width": 6,
        "height": 1.97,
        "mailClass": "PRIORITY_MAIL",
        "processingCategory": "MACHINABLE",
        "rateIndicator": "SP",
        "destinationEntryFacilityType": "NONE",
        "priceType": "COMMERCIAL",
        "mailingDate": "2025-05-26",
        "accountType": "EPS",
        "accountNumber": "1000405525",
    }
    params = _calls(fx.ESTIMATES_URL)[0].request.params
    assert params == {
        "originZIPCode": "63116",
        "destinationZIPCode": "63118",
        "acceptanceDate": "2025-05-26",
        "mailClass": "PRIORITY_MAIL",
    }
    assert result.service_code == "PRIORITY_MAIL"
    assert result.service_name == "Priority Mail"
    assert result.total == _usd("8.02")
    assert [(c.code, c.amount) for c in result.charges] == [
        ("DPXR0XXXXC01005", _usd("7.64")),
        ("DFXX0XXXXX00000", _usd("0.38")),
    ]
    assert (result.transit_days, result.estimated_delivery, result.guaranteed) == (
        2,
        date(2025, 5, 28),
        False,
    )


@responses.activate
def test_shopping_lists_every_labelable_offer_and_tells_same_class_offers_apart():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(fx.TOTAL_RATES_URL, json=fx.TOTAL_RATES_REPLY)
    responses.get(fx.ESTIMATES_URL, json=fx.ESTIMATES_REPLY)

    results = make_adapter().rate(carrier.RateRequest(fx.SPEC, "x"))

    body = _body(_calls(fx.TOTAL_RATES_URL)[0])
    assert "mailClass" not in body and "mailClasses" not in body and "extraServices" not in body
    assert _calls(fx.ESTIMATES_URL)[0].request.params["mailClass"] == "ALL"
    # Parcel Select DDU needs destination entry, which our labels never buy: not offered.
    assert [(r.service_code, r.service_options, r.total) for r in results] == [
        ("USPS_GROUND_ADVANTAGE", None, _usd("5.74")),
        ("PRIORITY_MAIL", "SP/MACHINABLE/NONE", _usd("7.64")),
        ("PRIORITY_MAIL", "FE/FLATS/NONE", _usd("9.85")),
    ]
    ground = results[0]
    # 1.11 lb: the ">= 1 pound" Ground Advantage standard applies, not the lighter one.
    assert (ground.transit_days, ground.estimated_delivery) == (4, date(2025, 5, 30))


@responses.activate
def test_options_and_declared_value_are_priced_as_extra_services_in_the_total():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(fx.TOTAL_RATES_URL, json=fx.TOTAL_RATES_WITH_EXTRAS_REPLY)
    responses.get(fx.ESTIMATES_URL, json=[])
    config = {**fx.CONFIG, "price_type": "CONTRACT"}

    (result,) = make_adapter(config=config).rate(
        carrier.RateRequest(fx.VALUED, "x", ("PRIORITY_MAIL", "PRIORITY_MAIL_EXPRESS"))
    )

    body = _body(_calls(fx.TOTAL_RATES_URL)[0])
    assert body["mailClasses"] == ["PRIORITY_MAIL", "PRIORITY_MAIL_EXPRESS"]
    assert body["extraServices"] == [921, 930]
    assert body["itemValue"] == 400
    assert body["priceType"] == "CONTRACT"
    assert result.total == _usd("16.05")
    assert result.negotiated is True
    assert [c.code for c in result.charges] == ["DPXR0XXXXC01070", "921", "930"]
    assert sum((c.amount.amount for c in result.charges), Decimal(0)) == Decimal("16.05")
    assert result.transit_days is None and result.estimated_delivery is None


@responses.activate
def test_prices_stand_without_dates_when_service_standards_fail():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(fx.BASE_RATES_URL, json=fx.BASE_RATES_REPLY)
    responses.get(
        fx.ESTIMATES_URL, status=503, json=fx.error_body(503, "503", "down", api="/service-standards/v3")
    )

    (result,) = make_adapter().rate(carrier.RateRequest(fx.SPEC, "x", ("PRIORITY_MAIL",)))

    assert result.total == _usd("8.02")
    assert result.estimated_delivery is None


@responses.activate
def test_delivery_estimates_can_be_switched_off():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(fx.BASE_RATES_URL, json=fx.BASE_RATES_REPLY)

    make_adapter(config={**fx.CONFIG, "delivery_estimates": False}).rate(
        carrier.RateRequest(fx.SPEC, "x", ("PRIORITY_MAIL",))
    )

    assert _calls(fx.ESTIMATES_URL) == []


@responses.activate
def test_a_price_error_keeps_the_usps_code_and_names_the_field():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(
        fx.BASE_RATES_URL,
        status=400,
        json=fx.error_body(400, "030002", "weight is invalid", "weight", api="/prices/v3"),
    )

    with pytest.raises(base.CarrierRejected) as caught:
        make_adapter().rate(carrier.RateRequest(fx.SPEC, "x", ("PRIORITY_MAIL",)))

    assert caught.value.code == "030002"
    assert "weight is invalid" in caught.value.message and "(weight)" in caught.value.message


@responses.activate
def test_quota_exceeded_is_unavailable_with_retry_after():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(
        fx.BASE_RATES_URL,
        status=429,
        headers={"Retry-After": "120"},
        json={
            "apiVersion": "/prices/v3",
            "error": {
                "code": "429",
                "message": "Exceeded quota limit",
                "errors": [
                    {
                        "title": "Too Many Requests.",
                        "detail": "Quota limit exceeded",
                        "status": "429",
                        "source": {"parameter": "API product or default", "APIProduct": "Public Access I"},
                    }
                ],
            },
        },
    )

    with pytest.raises(base.CarrierUnavailable) as caught:
        make_adapter().rate(carrier.RateRequest(fx.SPEC, "x", ("PRIORITY_MAIL",)))

    assert caught.value.retry_after == 120
    assert caught.value.http_status == 429


# -- labels and refunds ------------------------------------------------------------------------------------


@responses.activate
def test_labels_carry_a_cached_payment_authorization_and_come_back_as_json():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(fx.PAYMENT_URL, json=fx.PAYMENT_REPLY)
    responses.post(fx.LABEL_URL, json=fx.LABEL_REPLY, content_type=client.mapping.LABEL_ACCEPT)
    adapter = make_adapter()

    result = adapter.label(fx.LABEL_REQUEST)
    adapter.label(fx.LABEL_REQUEST)

    assert len(_calls(fx.PAYMENT_URL)) == 1
    assert _body(_calls(fx.PAYMENT_URL)[0])["roles"][0] == {
        "roleName": "PAYER",
        "CRID": "56982563",
        "MID": "904128936",
        "manifestMID": "904128937",
        "accountType": "EPS",
        "accountNumber": "1000405525",
    }
    sent = _calls(fx.LABEL_URL)[0].request
    assert sent.headers["X-Payment-Authorization-Token"] == "usps-payment-token-XYZ"
    assert sent.headers["Accept"] == "application/vnd.usps.labels+json"
    body = json.loads(sent.body)
    assert body["toAddress"] == {
        "streetAddress": "1100 Wyoming",
        "secondaryAddress": "Suite 150",
        "city": "St. Louis",
        "state": "MO",
        "ZIPCode": "63118",
        "ZIPPlus4": "2628",
        "firstName": "Joe",
        "lastName": "Doe",
        "email": "joe@example.com",
    }
    assert body["fromAddress"]["firm"] == "Acme Widgets"
    assert body["fromAddress"]["phone"] == "13145550100"
    assert body["packageDescription"]["customerReference"] == [
        {"referenceNumber": "shp_0001", "printReferenceNumber": False}
    ]
    assert body["packageDescription"]["mailingDate"] == "2025-05-26"
    assert result.tracking_numbers == ("9205590109769900012613",)
    assert result.carrier_shipment_id == "9205590109769900012613"
    assert result.label == fx.LABEL_IMAGE
    assert result.label_format is carrier.LabelFormat.PDF
    assert result.charges == _usd("11.64")
    # The free USPS Tracking line is dropped; postage and the paid extra service stay.
    assert [(c.description, c.amount) for c in result.charge_lines] == [
        ("Postage", _usd("7.99")),
        ("Signature Confirmation", _usd("3.65")),
    ]


@responses.activate
def test_the_payment_token_is_renewed_after_eight_hours():
    clock = FakeClock()
    responses.post(fx.TOKEN_URL, json={**fx.TOKEN_REPLY, "expires_in": 86400})
    responses.post(fx.PAYMENT_URL, json=fx.PAYMENT_REPLY)
    responses.post(fx.LABEL_URL, json=fx.LABEL_REPLY)
    adapter = make_adapter(clock)

    adapter.label(fx.LABEL_REQUEST)
    clock.now += 8 * 3600
    adapter.label(fx.LABEL_REQUEST)

    assert len(_calls(fx.PAYMENT_URL)) == 2


@responses.activate
def test_a_multipart_label_reply_is_read_too():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(fx.PAYMENT_URL, json=fx.PAYMENT_REPLY)
    responses.post(
        fx.LABEL_URL,
        body=fx.multipart_label(),
        content_type="multipart/form-data; boundary=726UYUDSQB6JWJXFDY",
    )

    result = make_adapter().label(fx.LABEL_REQUEST)

    assert result.label == fx.LABEL_IMAGE
    assert result.tracking_numbers == ("9205590109769900012613",)


@responses.activate
def test_a_label_is_never_resent_after_a_server_error():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(fx.PAYMENT_URL, json=fx.PAYMENT_REPLY)
    responses.post(fx.LABEL_URL, status=503, json=fx.error_body(503, "503", "unavailable"))

    with pytest.raises(base.CarrierUnavailable):
        make_adapter(attempts=3).label(fx.LABEL_REQUEST)

    assert len(_calls(fx.LABEL_URL)) == 1


@responses.activate
def test_a_label_error_is_rejected_with_the_usps_code():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(fx.PAYMENT_URL, json=fx.PAYMENT_REPLY)
    responses.post(
        fx.LABEL_URL,
        status=400,
        json=fx.error_body(
            400,
            "160001",
            "cannot be in the past or more than 45 days in the future",
            "packageDescription.mailingDate",
        ),
    )

    with pytest.raises(base.CarrierRejected) as caught:
        make_adapter().label(fx.LABEL_REQUEST)

    assert caught.value.code == "160001"
    assert "packageDescription.mailingDate" in caught.value.message


def test_label_formats_usps_does_not_print_are_refused_before_any_call():
    request = carrier.LabelRequest(fx.SPEC, "x", "PRIORITY_MAIL", "shp_1", carrier.LabelFormat.EPL)
    with pytest.raises(base.CarrierRejected) as caught:
        make_adapter().label(request)
    assert caught.value.code == "unsupported_label_format"


@responses.activate
@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ({"trackingNumber": fx.NUMBER, "status": "CANCELED"}, "label canceled; postage not charged"),
        (
            {"trackingNumber": fx.NUMBER, "status": "DISPUTED", "disputeId": "104660"},
            "refund requested (label already manifested); disputeId 104660",
        ),
    ],
)
def test_void_cancels_or_files_a_refund(reply, message):
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(fx.PAYMENT_URL, json=fx.PAYMENT_REPLY)
    responses.delete(f"{fx.LABEL_URL}/{fx.NUMBER}", json=reply)

    result = make_adapter().void(carrier.VoidRequest("x", fx.NUMBER))

    assert result.voided is True
    assert result.voided_tracking_numbers == (fx.NUMBER,)
    assert result.message == message
    assert responses.calls[-1].request.headers["X-Payment-Authorization-Token"] == "usps-payment-token-XYZ"


@responses.activate
def test_a_refused_void_is_a_rejection():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(fx.PAYMENT_URL, json=fx.PAYMENT_REPLY)
    responses.delete(
        f"{fx.LABEL_URL}/{fx.NUMBER}",
        status=400,
        json=fx.error_body(400, "160030", "A refund for this label was already requested today"),
    )

    with pytest.raises(base.CarrierRejected) as caught:
        make_adapter().void(carrier.VoidRequest("x", fx.NUMBER))

    assert caught.value.code == "160030"


# -- tracking ----------------------------------------------------------------------------------------------


@responses.activate
def test_tracking_returns_every_event_oldest_first_with_raw_codes_kept():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(fx.TRACK_URL, json=[fx.DETAIL])

    result = make_adapter().track(carrier.TrackRequest(fx.NUMBER))

    assert _body(_calls(fx.TRACK_URL)[0]) == [{"trackingNumber": fx.NUMBER}]
    assert [e.code for e in result.events] == ["GX", "03", "Z9", "10", "OF", "01"]
    assert result.estimated_delivery == date(2025, 5, 28)
    assert result.warnings == ()
    delivered = result.events[-1]
    assert delivered.occurred_at == datetime(2025, 5, 28, 17, 55, 12, tzinfo=UTC)
    assert delivered.description == "Delivered, In/At Mailbox"
    assert delivered.attributes["signatory"] == "J DOE"
    assert delivered.attributes["reason_code"] == "10"
    assert delivered.location == carrier.EventLocation("SAINT LOUIS", "MO", "63118", "US")
    assert delivered.source_event_id == f"{fx.NUMBER}:01:20250528T175512"
    # Local time + GMTOffset when USPS gives no GMT time; in minutes too.
    assert result.events[4].occurred_at == datetime(2025, 5, 28, 12, 10, tzinfo=UTC)
    assert result.events[1].occurred_at == datetime(2025, 5, 26, 21, 31, tzinfo=UTC)
    # No zone at all: the wall clock is kept and flagged; a date alone is flagged too.
    assert result.events[2].attributes["local_time_zone_known"] == "false"
    assert result.events[0].attributes["time_known"] == "false"
    canonical = [client.UspsAdapter.canonical(e, events.EventSource.POLL) for e in result.events]
    assert [c.milestone for c in canonical] == [
        taxonomy.Milestone.INFO_RECEIVED,
        taxonomy.Milestone.IN_TRANSIT,
        None,  # Z9: unknown, stays unmapped and visible
        taxonomy.Milestone.IN_TRANSIT,
        taxonomy.Milestone.OUT_FOR_DELIVERY,
        taxonomy.Milestone.DELIVERED,
    ]
    assert canonical[2].mapping is events.MappingState.UNMAPPED
    assert canonical[2].raw_message == "Some New USPS Scan"


@responses.activate
def test_a_batch_reports_unknown_numbers_as_warnings_beside_the_others():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(fx.TRACK_URL, status=207, json=[fx.DETAIL, fx.NOT_FOUND_ITEM])

    results = make_adapter().track_many([fx.NUMBER, fx.OTHER])

    assert len(results[fx.NUMBER].events) == 6
    missing = results[fx.OTHER]
    assert missing.events == ()
    assert missing.warnings == (
        "150002: Not Found: The tracking number may be incorrect or the status update is not yet available.",
    )


@responses.activate
def test_a_label_not_yet_accepted_is_an_empty_result_with_the_usps_warning():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(
        fx.TRACK_URL,
        status=400,
        json=fx.error_body(400, "150001", "A status update is not yet available", api="/tracking/v3r2"),
    )

    result = make_adapter().track(carrier.TrackRequest(fx.NUMBER))

    assert result.events == ()
    assert result.warnings == ("150001: Bad Request: A status update is not yet available",)


@responses.activate
def test_other_tracking_errors_are_rejections():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(
        fx.TRACK_URL,
        status=400,
        json=fx.error_body(400, "150010", "Invalid tracking number", api="/tracking/v3r2"),
    )

    with pytest.raises(base.CarrierRejected) as caught:
        make_adapter().track(carrier.TrackRequest(fx.NUMBER))
    assert caught.value.code == "150010"


@responses.activate
def test_a_detail_without_events_is_surfaced_as_a_warning():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(
        fx.TRACK_URL,
        json=[
            {
                "trackingNumber": fx.NUMBER,
                "statusSummary": "Label created, not yet in system",
                "trackingEvents": [],
            }
        ],
    )

    result = make_adapter().track(carrier.TrackRequest(fx.NUMBER))

    assert result.events == ()
    assert result.warnings == ("no events yet: Label created, not yet in system",)


def test_more_than_35_numbers_are_refused():
    with pytest.raises(base.CarrierRejected):
        make_adapter().track_many([f"92055901097699000{i:05d}" for i in range(36)])


# -- subscriptions and pushes ------------------------------------------------------------------------------


@responses.activate
def test_a_subscription_is_created_for_the_mid_with_the_configured_secret():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    # The 201 reply of the spec's TrackingSubscription: the body sent back, with an id and a status.
    responses.post(
        fx.SUBSCRIPTIONS_URL,
        status=201,
        json={
            "subscriptionId": "sub-1",
            "listenerURL": "https://handoff.example/v1/callbacks/usps",
            "status": "ENABLED",
            "adminNotification": [{"email": "ops@example.com"}],
            "filterProperties": {"MID": "904128936", "trackingEventTypes": ["ALL_UPDATES"]},
        },
    )

    subscription = make_adapter().subscribe_account_pushes("https://handoff.example/v1/callbacks/usps")

    assert subscription == carrier.PushSubscription(
        "sub-1", "enabled", "https://handoff.example/v1/callbacks/usps", None
    )
    assert _body(_calls(fx.SUBSCRIPTIONS_URL)[0]) == {
        "listenerURL": "https://handoff.example/v1/callbacks/usps",
        "secret": fx.WEBHOOK_SECRET,
        "adminNotification": [{"email": "ops@example.com"}],
        "status": "ENABLED",
        "filterProperties": {"trackingEventTypes": ["ALL_UPDATES"], "MID": "904128936"},
    }


@responses.activate
def test_a_lost_subscription_answer_is_not_resent():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(fx.SUBSCRIPTIONS_URL, status=503, json={"error": {"code": "503", "message": "busy"}})

    with pytest.raises(base.CarrierUnavailable):
        make_adapter(attempts=3).subscribe_account_pushes("https://handoff.example/v1/callbacks/usps")

    assert len(_calls(fx.SUBSCRIPTIONS_URL)) == 1


@pytest.mark.parametrize(
    ("change", "listener"),
    [
        ({"admin_emails": None}, "https://handoff.example/v1/callbacks/usps"),
        ({"webhook_secret": None}, "https://handoff.example/v1/callbacks/usps"),
        ({}, "http://handoff.example/v1/callbacks/usps"),
        ({}, "https://handoff.example/" + "x" * 200),
    ],
)
def test_a_subscription_usps_would_refuse_is_refused_before_it_is_sent(change, listener):
    config = {k: v for k, v in {**fx.CONFIG, **change}.items() if v is not None}

    with pytest.raises(base.CarrierRejected):
        make_adapter(config=config).subscribe_account_pushes(listener)


@responses.activate
def test_an_http_listener_is_subscribed_only_when_the_account_allows_it():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(fx.SUBSCRIPTIONS_URL, status=201, json={"subscriptionId": "sub-2"})

    adapter = make_adapter(config={**fx.CONFIG, "allow_http_listener": True})
    subscription = adapter.subscribe_account_pushes("http://127.0.0.1:8000/v1/callbacks/usps")

    # No status in the reply: the spec's default, ENABLED.
    assert (subscription.id, subscription.active) == ("sub-2", True)


@responses.activate
@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            {"subscriptionId": "sub-1", "status": "SUSPENDED", "statusReason": "Unable to reach listener"},
            ("suspended", "Unable to reach listener", False),
        ),
        ({"subscriptionId": "sub-1", "status": "DISABLED"}, ("disabled", None, False)),
        ({"subscriptionId": "sub-1", "status": "ENABLED", "statusReason": ""}, ("enabled", None, True)),
    ],
)
def test_a_subscription_is_read_back_with_its_status_and_reason(reply, expected):
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.get(f"{fx.SUBSCRIPTIONS_URL}/sub-1", json=reply)

    found = make_adapter().account_push_subscription("sub-1")

    assert found is not None
    assert (found.status, found.reason, found.active) == expected


@responses.activate
def test_a_subscription_usps_deleted_reads_as_none_and_deleting_it_again_is_no_error():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    gone = {"error": {"code": "404", "message": "Subscription not found"}}
    responses.get(f"{fx.SUBSCRIPTIONS_URL}/sub-9", status=404, json=gone)
    responses.get(f"{fx.SUBSCRIPTIONS_URL}/sub-1", json={"subscriptionId": "sub-1"}, headers={"ETag": '"v7"'})
    responses.delete(f"{fx.SUBSCRIPTIONS_URL}/sub-1", status=204)

    adapter = make_adapter()
    assert adapter.account_push_subscription("sub-9") is None
    adapter.cancel_account_pushes("sub-9")  # gone already: nothing to delete
    adapter.cancel_account_pushes("sub-1")

    sent = [
        (c.request.method, c.request.url.rsplit("/", 1)[1])
        for c in responses.calls
        if "subscriptions" in c.request.url
    ]
    assert sent == [("GET", "sub-9"), ("GET", "sub-9"), ("GET", "sub-1"), ("DELETE", "sub-1")]
    # The DELETE quotes the ETag its GET returned, as the spec requires.
    assert responses.calls[-1].request.headers["If-Match"] == '"v7"'


def test_a_subscription_id_that_is_not_one_is_refused_before_a_call():
    with pytest.raises(base.CarrierRejected):
        make_adapter().account_push_subscription("../labels/v3/label")


def test_the_account_secret_verifies_its_own_pushes_and_no_other():
    headers, body = _signed(fx.push_envelope(fx.DETAIL))
    make_adapter().verify_push(headers, body)

    other = make_adapter(config={**fx.CONFIG, "webhook_secret": "f" * 32})
    with pytest.raises(base.CarrierRejected):
        other.verify_push(headers, body)


def _signed(envelope: dict, secret: str = fx.WEBHOOK_SECRET) -> tuple[dict, bytes]:
    mac = hmac.new(secret.encode(), (envelope["timestamp"] + envelope["payload"]).encode(), hashlib.sha256)
    return {"X-HMAC": base64.b64encode(mac.digest()).decode()}, json.dumps(envelope).encode()


def test_a_push_signed_with_the_secret_is_accepted_and_parsed():
    headers, body = _signed(fx.push_envelope(fx.DETAIL))

    raw = make_adapter().parse_push(headers, body)

    assert [e.code for e in raw] == ["GX", "03", "Z9", "10", "OF", "01"]
    assert raw[-1].source_event_id == f"{fx.NUMBER}:01:20250528T175512"


def test_the_deprecated_hmac_header_is_accepted_too():
    headers, body = _signed(fx.push_envelope(fx.DETAIL))
    client.UspsAdapter.verify_callback(fx.WEBHOOK_SECRET, {"hmac-header": headers["X-HMAC"]}, body)


@pytest.mark.parametrize(
    "tamper",
    ["wrong-secret", "changed-payload", "changed-timestamp", "no-header", "not-base64"],
)
def test_a_push_that_is_not_signed_by_usps_is_rejected(tamper):
    envelope = fx.push_envelope(fx.DETAIL)
    headers, body = _signed(envelope, "f" * 32 if tamper == "wrong-secret" else fx.WEBHOOK_SECRET)
    if tamper == "changed-payload":
        body = json.dumps({**envelope, "payload": envelope["payload"].replace("01", "02")}).encode()
    elif tamper == "changed-timestamp":
        body = json.dumps({**envelope, "timestamp": "2025-05-28T17:56:02.127Z"}).encode()
    elif tamper == "no-header":
        headers = {}
    elif tamper == "not-base64":
        headers = {"X-HMAC": "%%%"}

    with pytest.raises(base.CarrierRejected) as caught:
        make_adapter().parse_push(headers, body)
    assert caught.value.code == "push_unauthenticated"


def test_parse_callback_translates_a_push_with_the_code_table():
    pushed = client.UspsAdapter.parse_callback(
        fx.push_envelope({**fx.DETAIL, "trackingEvents": fx.EVENTS[:1]})
    )

    (only,) = pushed
    assert only.event.milestone is taxonomy.Milestone.DELIVERED
    assert only.event.source is events.EventSource.WEBHOOK
    assert only.event.raw_code == "01"


def test_a_detailed_scan_push_carries_one_tracking_event():
    detail = {"trackingNumber": fx.NUMBER, "trackingEvent": fx.EVENTS[1]}

    (only,) = client.UspsAdapter.parse_callback(fx.push_envelope(detail))

    assert only.event.milestone is taxonomy.Milestone.OUT_FOR_DELIVERY


@pytest.mark.parametrize(
    "envelope",
    [
        {"subscriptionId": "1", "timestamp": "2025-05-28T17:56:01Z"},
        {"subscriptionId": "1", "timestamp": "2025-05-28T17:56:01Z", "payload": "not json"},
        {"subscriptionId": "1", "timestamp": "2025-05-28T17:56:01Z", "payload": "[]"},
        {"subscriptionId": "1", "timestamp": "2025-05-28T17:56:01Z", "payload": "{}"},
        {
            "timestamp": "2025-05-28T17:56:01Z",
            "payload": json.dumps({"trackingNumber": "1", "trackingEvents": [{"eventCode": "01"}]}),
        },
    ],
)
def test_an_unreadable_push_is_a_payload_error(envelope):
    with pytest.raises(base.PushPayloadError):
        client.UspsAdapter.parse_callback(envelope)


# -- configuration and secrets -----------------------------------------------------------------------------


def test_the_webhook_secret_must_have_32_characters():
    with pytest.raises(base.ConfigurationError) as caught:
        make_adapter(config={**fx.CONFIG, "webhook_secret": "short"})
    assert "short" not in str(caught.value)


@responses.activate
def test_recorded_exchanges_never_hold_a_secret_or_a_token():
    recorded: list = []
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(fx.PAYMENT_URL, json=fx.PAYMENT_REPLY)
    responses.post(fx.LABEL_URL, json=fx.LABEL_REPLY)
    adapter = make_adapter(recorder=recorded.append)

    adapter.label(fx.LABEL_REQUEST)

    text = json.dumps(recorded)
    assert {e["operation"] for e in recorded} == {"oauth", "payment_authorization", "label"}
    for secret in ("usps-consumer-secret-very-private", "usps-access-token-1", "usps-payment-token-XYZ"):
        assert secret not in text
    assert fx.WEBHOOK_SECRET not in json.dumps(adapter.masked_config())


# -- carrier pickup ----------------------------------------------------------------------------------------

PICKUP = carrier.PickupRequest(
    account="x",
    address=fx.ORIGIN,
    ready_at=datetime(2025, 5, 27, 9, 0, tzinfo=UTC),
    close_at=datetime(2025, 5, 27, 17, 0, tzinfo=UTC),
    parcel_count=3,
)


@responses.activate
def test_a_pickup_is_booked_for_the_ready_day_with_a_contact_and_estimated_weight():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(fx.PICKUP_URL, json={"confirmationNumber": "WTC123456789", "pickupDate": "2025-05-27"})

    result = make_adapter(attempts=3).pickup(PICKUP)

    assert result == carrier.PickupResult("usps", "WTC123456789", PICKUP.ready_at)
    assert _body(_calls(fx.PICKUP_URL)[0]) == {
        "pickupDate": "2025-05-27",
        "pickupAddress": {
            "firstName": "John",
            "lastName": "Smith",
            "firm": "Acme Widgets",
            "address": {
                "streetAddress": "4120 Bingham Ave",
                "city": "St. Louis",
                "state": "MO",
                "ZIPCode": "63116",
            },
            "contact": [{"cellNumber": "3145550100"}],
        },
        "packages": [{"packageType": "OTHER", "packageCount": 3}],
        "estimatedWeight": 15,
        "pickupLocation": {"packageLocation": "FRONT_DOOR"},
    }


@responses.activate
def test_a_pickup_moved_to_another_day_reports_the_booked_day():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(fx.PICKUP_URL, status=201, json={"confirmationNumber": "WTC1", "pickupDate": "2025-05-28"})

    result = make_adapter().pickup(PICKUP)

    assert result.ready_at == datetime(2025, 5, 28, 9, 0, tzinfo=UTC)


@responses.activate
def test_a_failed_pickup_booking_is_never_resent():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(fx.PICKUP_URL, status=503, json=fx.error_body(503, "503", "down", api="/pickup/v3"))

    with pytest.raises(base.CarrierUnavailable):
        make_adapter(attempts=3).pickup(PICKUP)
    assert len(_calls(fx.PICKUP_URL)) == 1


@responses.activate
def test_a_pickup_is_cancelled_with_the_etag_a_get_returns_in_if_match():
    one = f"{fx.PICKUP_URL}/WTC123456789"
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.get(
        one,
        json=[{"confirmationNumber": "WTC123456789", "pickupDate": "2025-05-27"}],
        headers={"ETag": '"e1"'},
    )
    responses.delete(one, status=200)

    make_adapter().cancel_pickup(PICKUP, "WTC123456789")

    assert [c.request.method for c in _calls(one)] == ["GET", "DELETE"]
    assert _calls(one)[1].request.headers["If-Match"] == '"e1"'


@responses.activate
def test_a_pickup_cancel_is_never_resent_and_a_lookup_without_an_etag_is_malformed():
    one = f"{fx.PICKUP_URL}/WTC1"
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.get(one, json=[{"confirmationNumber": "WTC1"}], headers={"ETag": '"e1"'})
    responses.delete(one, status=503, json=fx.error_body(503, "503", "down", api="/pickup/v3"))

    with pytest.raises(base.CarrierUnavailable):
        make_adapter(attempts=3).cancel_pickup(PICKUP, "WTC1")
    assert [c.request.method for c in _calls(one)] == ["GET", "DELETE"]

    responses.replace(responses.GET, one, json=[{"confirmationNumber": "WTC1"}])
    with pytest.raises(base.CarrierUnavailable, match="ETag"):
        make_adapter().cancel_pickup(PICKUP, "WTC1")


def test_a_pickup_without_a_way_to_reach_the_shipper_is_refused():
    unreachable = types.Address("US", "63116", "St. Louis", ("4120 Bingham Ave",), "MO", name="John Smith")
    request = carrier.PickupRequest("x", unreachable, PICKUP.ready_at, PICKUP.close_at, 1)
    with pytest.raises(base.CarrierRejected) as caught:
        make_adapter().pickup(request)
    assert "e-mail" in caught.value.message


# -- SCAN form ---------------------------------------------------------------------------------------------

SCAN_REPLY = {
    "form": "5630",
    "imageType": "PDF",
    "labelType": "8.5x11LABEL",
    "mailingDate": "2025-05-26",
    "overwriteMailingDate": False,
    "entryFacilityZIPCode": "63116",
    "destinationEntryFacilityType": "NONE",
    "shipment": {"trackingNumbers": [fx.NUMBER]},
    "manifestNumber": "9475038234567000031430",
    "trackingNumbers": [fx.NUMBER],
    "SCANFormImage": base64.b64encode(b"%PDF-scan").decode(),
}


@responses.activate
def test_a_scan_form_lists_the_labels_and_returns_the_manifest_number():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(fx.SCAN_URL, status=201, json=SCAN_REPLY)

    form = make_adapter(attempts=3).scan_form(fx.ORIGIN, [fx.NUMBER])

    body = _body(_calls(fx.SCAN_URL)[0])
    assert body["shipment"] == {"trackingNumbers": [fx.NUMBER]}
    assert body["entryFacilityZIPCode"] == "63116"
    assert body["mailingDate"] == "2025-05-26"
    assert (form.manifest_number, form.tracking_numbers, form.image) == (
        "9475038234567000031430",
        (fx.NUMBER,),
        b"%PDF-scan",
    )
    assert _calls(fx.PAYMENT_URL) == []


@responses.activate
def test_a_scan_form_without_labels_covers_every_open_label_of_the_mid():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    reply = {k: v for k, v in SCAN_REPLY.items() if k not in ("trackingNumbers", "SCANFormImage")}
    responses.post(fx.SCAN_URL, status=201, json={**reply, "shipment": {"MID": "904128936"}})

    form = make_adapter().scan_form(fx.ORIGIN)

    assert _body(_calls(fx.SCAN_URL)[0])["shipment"] == {"MID": "904128936"}
    assert form.tracking_numbers == () and form.image is None


# -- addresses ---------------------------------------------------------------------------------------------

ADDRESS_REPLY = {
    "firm": None,
    "address": {
        "streetAddress": "1100 WYOMING ST",
        "streetAddressAbbreviation": None,
        "secondaryAddress": "STE 150",
        "city": "SAINT LOUIS",
        "state": "MO",
        "ZIPCode": "63118",
        "ZIPPlus4": "2628",
        "urbanization": None,
    },
    "additionalInfo": {
        "deliveryPoint": "50",
        "carrierRoute": "C012",
        "DPVConfirmation": "Y",
        "DPVCMRA": "N",
        "business": "N",
        "centralDeliveryPoint": "N",
        "vacant": "N",
    },
    "corrections": [{"code": "", "text": ""}],
    "matches": [{"code": "31", "text": "Single Response - exact match"}],
}


@responses.activate
def test_an_address_is_standardised_and_its_delivery_point_confirmed():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.get(fx.ADDRESS_URL, json=ADDRESS_REPLY)

    check = make_adapter().check_address(fx.DESTINATION)

    assert _calls(fx.ADDRESS_URL)[0].request.params == {
        "streetAddress": "1100 Wyoming",
        "secondaryAddress": "Suite 150",
        "state": "MO",
        "city": "St. Louis",
        "ZIPCode": "63118",
        "ZIPPlus4": "2628",
    }
    assert check.address.street_lines == ("1100 WYOMING ST", "STE 150")
    assert check.address.postal_code == "63118-2628"
    assert check.address.name == "Joe Doe" and check.address.email == "joe@example.com"
    assert check.address.residential is True
    assert (check.deliverable, check.business, check.vacant) == (True, False, False)
    assert check.corrections == () and check.matches == ("31: Single Response - exact match",)


@responses.activate
def test_an_unconfirmed_address_with_warnings_is_reported_as_such():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    reply = {
        "address": {
            "streetAddress": "1100 WYOMING ST",
            "city": "SAINT LOUIS",
            "state": "MO",
            "ZIPCode": "63118",
        },
        "additionalInfo": {"DPVConfirmation": "N"},
        "corrections": [{"code": "32", "text": "Default address: more information, such as a suite number"}],
        "warnings": ["Address not deliverable"],
    }
    responses.get(fx.ADDRESS_URL, json=reply)

    check = make_adapter().check_address(fx.DESTINATION)

    assert check.deliverable is False
    assert check.address.postal_code == "63118"
    assert check.address.residential is None and check.business is None
    assert check.warnings == ("Address not deliverable",)
    assert check.corrections == ("32: Default address: more information, such as a suite number",)


@responses.activate
def test_an_address_usps_cannot_find_is_a_rejection():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.get(
        fx.ADDRESS_URL,
        status=404,
        json={
            "apiVersion": "v1",
            "error": {"code": "404", "message": "There is no match for the address requested.", "errors": []},
        },
    )

    with pytest.raises(base.CarrierRejected) as caught:
        make_adapter().check_address(fx.DESTINATION)
    assert caught.value.code == "404"
    assert caught.value.message == "There is no match for the address requested."


@responses.activate
def test_a_number_usps_does_not_know_is_an_empty_result_with_the_usps_warning():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(
        fx.TRACK_URL,
        status=404,
        json=fx.error_body(404, "150002", "The tracking number may be incorrect", api="/tracking/v3r2"),
    )

    result = make_adapter().track(carrier.TrackRequest(fx.NUMBER))

    assert result.events == ()
    assert result.warnings == ("150002: Error: The tracking number may be incorrect",)


@responses.activate
def test_retail_prices_are_asked_without_the_paying_account():
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(fx.TOTAL_RATES_URL, json=fx.TOTAL_RATES_REPLY)

    make_adapter(config={**fx.CONFIG, "price_type": "RETAIL", "delivery_estimates": False}).rate(
        carrier.RateRequest(fx.SPEC, "x")
    )

    body = _body(_calls(fx.TOTAL_RATES_URL)[0])
    assert body["priceType"] == "RETAIL"
    assert "accountNumber" not in body and "accountType" not in body
