"""FedEx adapter over mocked HTTP: OAuth, rate, ship, cancel, track, errors, secrets, pushes."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
import responses

from adapters import base
from adapters import http as carrier_http
from adapters.fedex import callback, client, mapping
from schemas import carrier, events, taxonomy
from tests.unit.adapters_fedex import fedex_fixtures as fx


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_adapter(clock: Clock | None = None, recorder=None, **config) -> client.FedexAdapter:
    return client.FedexAdapter(
        {**fx.CONFIG, **config},
        recorder=recorder,
        breaker=carrier_http.CircuitBreaker(failure_threshold=100),
        retry=carrier_http.RetryPolicy(attempts=2, sleep=lambda _s: None, rng=lambda: 0.0),
        clock=clock or Clock(),
    )


def _reply(url: str, reply, method=responses.POST, status: int = 200) -> None:
    responses.add(method, url, body=fx.dumps(reply), status=status, content_type="application/json")


def _calls(url: str) -> list:
    return [c for c in responses.calls if c.request.url.startswith(url)]


# -- OAuth ------------------------------------------------------------------------------------------------


@responses.activate
def test_rate_gets_a_token_with_form_credentials_then_posts_with_bearer_auth():
    _reply(fx.TOKEN_URL, fx.TOKEN_REPLY)
    _reply(fx.RATE_URL, fx.RATE_REPLY)
    quotes = make_adapter().rate(fx.RATE_REQUEST)
    assert [q.service_code for q in quotes] == ["FEDEX_GROUND", "FEDEX_2_DAY", "PRIORITY_OVERNIGHT"]
    token_call, rate_call = responses.calls
    form = parse_qs(token_call.request.body)
    assert form == {
        "grant_type": ["client_credentials"],
        "client_id": [fx.CONFIG["client_id"]],
        "client_secret": [fx.CONFIG["client_secret"]],
    }
    assert token_call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert rate_call.request.headers["Authorization"] == f"Bearer {fx.TOKEN_REPLY['access_token']}"
    assert rate_call.request.headers["x-locale"] == "en_US"
    assert rate_call.request.headers["x-customer-transaction-id"]
    assert json.loads(rate_call.request.body)["accountNumber"] == {"value": fx.ACCOUNT}


@responses.activate
def test_money_from_the_wire_is_exact_decimal():
    _reply(fx.TOKEN_URL, fx.TOKEN_REPLY)
    responses.post(
        fx.RATE_URL,
        body='{"output":{"rateReplyDetails":[{"serviceType":"FEDEX_GROUND","ratedShipmentDetails":'
        '[{"rateType":"ACCOUNT","totalNetCharge":0.30000000000000004,"totalBaseCharge":0.1,"currency":"USD"}]}]}}',
        content_type="application/json",
    )
    (quote,) = make_adapter().rate(fx.RATE_REQUEST)
    assert quote.total.amount == Decimal("0.30000000000000004")
    assert isinstance(quote.total.amount, Decimal)


@responses.activate
def test_the_token_is_cached_until_shortly_before_it_expires():
    clock = Clock()
    adapter = make_adapter(clock)
    _reply(fx.TOKEN_URL, {**fx.TOKEN_REPLY, "expires_in": 3600})
    _reply(fx.TRACK_URL, fx.track_reply(fx.DELIVERED_RESULT))
    adapter.track(carrier.TrackRequest(fx.TRACKING_NUMBER))
    clock.now += 3000
    adapter.track(carrier.TrackRequest(fx.TRACKING_NUMBER))
    assert len(_calls(fx.TOKEN_URL)) == 1
    clock.now += 600  # within the refresh margin of the one-hour token
    adapter.track(carrier.TrackRequest(fx.TRACKING_NUMBER))
    assert len(_calls(fx.TOKEN_URL)) == 2


@responses.activate
def test_a_401_fetches_a_new_token_once_and_sends_the_label_request_again():
    _reply(fx.TOKEN_URL, fx.TOKEN_REPLY)
    _reply(fx.TOKEN_URL, {**fx.TOKEN_REPLY, "access_token": "fedex-token-2"})
    _reply(fx.SHIP_URL, fx.error_reply("NOT.AUTHORIZED.ERROR", "Access token expired."), status=401)
    _reply(fx.SHIP_URL, fx.SHIP_REPLY)
    result = make_adapter().label(fx.LABEL_REQUEST)
    assert result.tracking_numbers == ("794953535000",)
    _first, second = _calls(fx.SHIP_URL)
    assert second.request.headers["Authorization"] == "Bearer fedex-token-2"
    assert len(_calls(fx.TOKEN_URL)) == 2


@responses.activate
def test_a_second_401_is_a_rejection_not_a_loop():
    _reply(fx.TOKEN_URL, fx.TOKEN_REPLY)
    _reply(fx.TRACK_URL, fx.error_reply("NOT.AUTHORIZED.ERROR", "Not authorized."), status=401)
    with pytest.raises(base.CarrierRejected) as caught:
        make_adapter().track(carrier.TrackRequest(fx.TRACKING_NUMBER))
    assert caught.value.code == "NOT.AUTHORIZED.ERROR"
    assert len(_calls(fx.TRACK_URL)) == 2


@responses.activate
def test_refused_credentials_at_the_token_endpoint_are_a_rejection():
    _reply(
        fx.TOKEN_URL,
        fx.error_reply("NOT.AUTHORIZED.ERROR", "The given client credentials were not valid."),
        status=401,
    )
    with pytest.raises(base.CarrierRejected, match="client credentials were not valid"):
        make_adapter().rate(fx.RATE_REQUEST)
    assert _calls(fx.RATE_URL) == []


# -- operations -------------------------------------------------------------------------------------------


@responses.activate
def test_label_is_bought_once_even_when_fedex_answers_503():
    _reply(fx.TOKEN_URL, fx.TOKEN_REPLY)
    _reply(fx.SHIP_URL, fx.error_reply("SERVICE.UNAVAILABLE.ERROR", "Try later."), status=503)
    with pytest.raises(base.CarrierUnavailable):
        make_adapter().label(fx.LABEL_REQUEST)
    assert len(_calls(fx.SHIP_URL)) == 1


@responses.activate
def test_track_retries_a_503_because_tracking_is_idempotent():
    _reply(fx.TOKEN_URL, fx.TOKEN_REPLY)
    _reply(fx.TRACK_URL, fx.error_reply("SERVICE.UNAVAILABLE.ERROR", "Try later."), status=503)
    _reply(fx.TRACK_URL, fx.track_reply(fx.DELIVERED_RESULT))
    result = make_adapter().track(carrier.TrackRequest(fx.TRACKING_NUMBER))
    assert result.events[-1].code == "DL"


@responses.activate
def test_a_rejected_label_keeps_the_fedex_code_and_message():
    _reply(fx.TOKEN_URL, fx.TOKEN_REPLY)
    _reply(fx.SHIP_URL, fx.error_reply("ACCOUNT.NUMBER.MISMATCH", "Account number mismatch."), status=400)
    with pytest.raises(base.CarrierRejected) as caught:
        make_adapter().label(fx.LABEL_REQUEST)
    assert (caught.value.code, caught.value.message, caught.value.http_status) == (
        "ACCOUNT.NUMBER.MISMATCH",
        "Account number mismatch.",
        400,
    )


@responses.activate
def test_a_label_format_fedex_cannot_print_is_refused_before_any_call():
    request = carrier.LabelRequest(fx.SPEC, fx.ACCOUNT, "FEDEX_GROUND", "shp_9", carrier.LabelFormat.GIF)
    with pytest.raises(base.CarrierRejected) as caught:
        make_adapter().label(request)
    assert caught.value.code == "unsupported_label_format"
    assert len(responses.calls) == 0


@responses.activate
def test_void_is_a_put_and_a_refused_cancel_is_reported_not_voided():
    _reply(fx.TOKEN_URL, fx.TOKEN_REPLY)
    _reply(fx.CANCEL_URL, fx.CANCEL_REPLY, method=responses.PUT)
    _reply(fx.CANCEL_URL, fx.CANCEL_REFUSED_REPLY, method=responses.PUT)
    adapter = make_adapter()
    request = carrier.VoidRequest(fx.ACCOUNT, "794953535000")
    assert adapter.void(request).voided is True
    refused = adapter.void(request)
    assert refused.voided is False
    assert "Already scanned" in (refused.message or "")
    assert [c.request.method for c in _calls(fx.CANCEL_URL)] == ["PUT", "PUT"]


@responses.activate
def test_cancelling_a_scanned_shipment_is_a_carrier_refusal():
    _reply(fx.TOKEN_URL, fx.TOKEN_REPLY)
    _reply(
        fx.CANCEL_URL,
        fx.error_reply("SHIPMENT.CANCELLATION.NOTALLOWED", "Shipment cannot be cancelled."),
        method=responses.PUT,
        status=400,
    )
    with pytest.raises(base.CarrierRejected) as caught:
        make_adapter().void(carrier.VoidRequest(fx.ACCOUNT, "794953535000"))
    assert caught.value.code == "SHIPMENT.CANCELLATION.NOTALLOWED"


@responses.activate
def test_track_surfaces_not_found_as_a_warning():
    _reply(fx.TOKEN_URL, fx.TOKEN_REPLY)
    _reply(fx.TRACK_URL, fx.track_reply(fx.NOT_FOUND_RESULT, number="123456789012"))
    result = make_adapter().track(carrier.TrackRequest("123456789012"))
    assert result.events == ()
    assert "TRACKING.TRACKINGNUMBER.NOTFOUND" in result.warnings[0]


@responses.activate
def test_a_429_is_unavailable_with_retry_after():
    _reply(fx.TOKEN_URL, fx.TOKEN_REPLY)
    responses.post(fx.RATE_URL, status=429, headers={"Retry-After": "7"}, json={"errors": []})
    with pytest.raises(base.CarrierUnavailable) as caught:
        make_adapter().rate(fx.RATE_REQUEST)
    assert caught.value.retry_after == 7.0


@responses.activate
def test_secrets_and_the_token_never_reach_the_exchange_recorder():
    recorded: list = []
    _reply(fx.TOKEN_URL, fx.TOKEN_REPLY)
    _reply(fx.TRACK_URL, fx.track_reply(fx.DELIVERED_RESULT))
    make_adapter(recorder=recorded.append).track(carrier.TrackRequest(fx.TRACKING_NUMBER))
    text = json.dumps(recorded, default=str)
    assert len(recorded) == 2
    for secret in (fx.CONFIG["client_secret"], fx.TOKEN_REPLY["access_token"]):
        assert secret not in text
    assert make_adapter().masked_config()["webhook_security_token"] == base.MASK


def test_an_account_number_that_is_not_nine_digits_is_a_configuration_error():
    with pytest.raises(base.ConfigurationError, match="account_number"):
        make_adapter(account_number="A1B2C3")


# -- tracking codes and pushes ----------------------------------------------------------------------------


def test_polled_events_translate_with_the_fedex_code_table():
    raw = fx.track_reply(fx.DELIVERED_RESULT)
    track = mapping.parse_track_response(raw, fx.TRACKING_NUMBER)
    canonical = [client.FedexAdapter.canonical(e, events.EventSource.POLL) for e in track.events]
    assert [c.milestone for c in canonical] == [
        taxonomy.Milestone.INFO_RECEIVED,
        taxonomy.Milestone.IN_TRANSIT,
        taxonomy.Milestone.EXCEPTION,
        taxonomy.Milestone.OUT_FOR_DELIVERY,
        taxonomy.Milestone.DELIVERED,
    ]
    assert canonical[2].raw_subcode == "A25"
    assert dict(canonical[-1].attributes)["signatory"] == "B.BUYER"


def test_an_unknown_fedex_code_stays_unmapped_and_visible():
    raw = fx.track_reply(
        {
            "trackingNumberInfo": {"trackingNumber": "1"},
            "scanEvents": [fx.scan("2024-05-06T10:00:00Z", "ZZ", "New thing")],
        }
    )
    (event,) = mapping.parse_track_response(raw, "1").events
    canonical = client.FedexAdapter.canonical(event, events.EventSource.POLL)
    assert canonical.mapping is events.MappingState.UNMAPPED
    assert (canonical.raw_code, canonical.milestone, canonical.raw_message) == ("ZZ", None, "New thing")


def test_a_signed_push_is_verified_over_the_raw_body_and_parsed():
    body = fx.dumps(fx.DELIVERED_RESULT).encode()
    signature = callback.sign(fx.SECURITY_TOKEN, body)
    adapter = make_adapter()
    adapter.verify_push({"FDX-Signature": signature}, body)  # header names are case-insensitive
    pushed = client.FedexAdapter.parse_callback(json.loads(body))
    assert [p.event.raw_code for p in pushed] == ["OC", "PU", "DE", "OD", "DL"]
    assert all(p.event.source is events.EventSource.WEBHOOK for p in pushed)


@pytest.mark.parametrize(
    "headers",
    [{}, {"fdx-signature": "bm90IGEgc2lnbmF0dXJl"}, {"fdx-signature": "***not base64***"}],
    ids=["missing", "wrong", "garbage"],
)
def test_an_unsigned_or_wrongly_signed_push_is_rejected(headers):
    body = fx.dumps(fx.DELIVERED_RESULT).encode()
    with pytest.raises(base.CarrierRejected) as caught:
        make_adapter().verify_push(headers, body)
    assert caught.value.code == "push_unauthenticated"


def test_a_signature_over_another_body_is_rejected():
    body = fx.dumps(fx.DELIVERED_RESULT).encode()
    signature = callback.sign(fx.SECURITY_TOKEN, body)
    with pytest.raises(base.CarrierRejected):
        make_adapter().verify_push({"fdx-signature": signature}, body + b" ")


def test_an_account_without_a_security_token_accepts_no_push():
    body = fx.dumps(fx.DELIVERED_RESULT).encode()
    config = {k: v for k, v in fx.CONFIG.items() if k != "webhook_security_token"}
    with pytest.raises(base.CarrierRejected, match="no webhook security token"):
        client.FedexAdapter(config).verify_push(
            {"fdx-signature": callback.sign(fx.SECURITY_TOKEN, body)}, body
        )


def test_push_and_poll_of_the_same_scan_share_an_event_id():
    polled = mapping.parse_track_response(fx.track_reply(fx.DELIVERED_RESULT), fx.TRACKING_NUMBER).events
    pushed = client.FedexAdapter.parse_callback(
        {
            "output": {
                "completeTrackResults": [
                    {"trackingNumber": fx.TRACKING_NUMBER, "trackResults": [fx.DELIVERED_RESULT]}
                ]
            }
        }
    )
    assert [e.source_event_id for e in polled] == [p.event.source_event_id for p in pushed]


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"trackResults": []},
        {"scanEvents": [], "trackingNumberInfo": {"trackingNumber": "1"}},
        {"scanEvents": [fx.scan("2024-05-06T10:00:00Z", "PU", "x")]},
    ],
    ids=["empty", "no-results", "no-scans", "no-number"],
)
def test_an_unreadable_push_is_a_payload_error(payload):
    with pytest.raises(base.PushPayloadError):
        client.FedexAdapter.parse_callback(payload)


def test_the_callback_spec_names_the_fedex_signature_header():
    spec = client.FedexAdapter.callback
    assert spec is not None
    assert spec.signature_headers == ("fdx-signature",)
