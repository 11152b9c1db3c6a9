"""``Adapter.test_connection()``: one cheap authenticated call, reported without a secret."""

import json
from typing import Any, ClassVar

import pytest
import responses

from adapters import base
from adapters import http as carrier_http
from adapters.fedex import client as fedex_client
from adapters.ups import client as ups_client
from adapters.usps import client as usps_client
from tests.unit.adapters import ups_fixtures as ups_fx
from tests.unit.adapters_fedex import fedex_fixtures as fedex_fx
from tests.unit.adapters_usps import usps_fixtures as usps_fx

UPS_TOKEN_URL = "http://ups.test/security/v1/oauth/token"


def _retry() -> carrier_http.RetryPolicy:
    return carrier_http.RetryPolicy(attempts=1, sleep=lambda _s: None)


def _ups(recorder: Any = None) -> ups_client.UpsAdapter:
    return ups_client.UpsAdapter(ups_fx.CONFIG, recorder=recorder, retry=_retry(), clock=lambda: 1000.0)


def _no_secret_in(text: str, config: dict[str, Any], token: str) -> None:
    for key in ("client_secret",):
        assert config[key] not in text
    assert token not in text


@responses.activate
def test_ups_connection_test_fetches_a_token_and_reports_no_secret():
    responses.post(UPS_TOKEN_URL, json=ups_fx.TOKEN_REPLY)
    recorded: list[dict[str, Any]] = []
    adapter = _ups(recorded.append)

    report = adapter.test_connection()

    assert report.carrier == "ups"
    assert report.account == ups_fx.CONFIG["account_number"]
    assert "token" in report.message
    assert len(responses.calls) == 1
    assert responses.calls[0].request.headers["Authorization"].startswith("Basic ")
    dumped = json.dumps(recorded, default=str) + report.message
    _no_secret_in(dumped, ups_fx.CONFIG, ups_fx.TOKEN_REPLY["access_token"])


@responses.activate
def test_ups_connection_test_fetches_a_fresh_token_each_time():
    responses.post(UPS_TOKEN_URL, json=ups_fx.TOKEN_REPLY)
    adapter = _ups()
    adapter.test_connection()
    adapter.test_connection()
    assert len(responses.calls) == 2


@responses.activate
def test_ups_refused_credentials_are_a_rejection_with_the_carriers_message():
    responses.post(
        UPS_TOKEN_URL, status=401, json=ups_fx.error_reply("250003", "Invalid Access License number")
    )
    recorded: list[dict[str, Any]] = []
    with pytest.raises(base.CarrierRejected) as caught:
        _ups(recorded.append).test_connection()
    assert caught.value.code == "250003"
    assert "Invalid Access License number" in caught.value.message
    assert ups_fx.CONFIG["client_secret"] not in str(caught.value)
    assert ups_fx.CONFIG["client_secret"] not in json.dumps(recorded, default=str)


@responses.activate
def test_ups_unreachable_token_endpoint_is_unavailable():
    responses.post(UPS_TOKEN_URL, status=503, json={"response": {"errors": []}})
    with pytest.raises(base.CarrierUnavailable):
        _ups().test_connection()


@responses.activate
def test_fedex_connection_test_fetches_a_token():
    responses.post(fedex_fx.TOKEN_URL, json=fedex_fx.TOKEN_REPLY)
    recorded: list[dict[str, Any]] = []
    adapter = fedex_client.FedexAdapter(
        fedex_fx.CONFIG, recorder=recorded.append, retry=_retry(), clock=lambda: 1000.0
    )
    report = adapter.test_connection()
    assert report.carrier == "fedex"
    assert report.account == fedex_fx.CONFIG["account_number"]
    _no_secret_in(
        json.dumps(recorded, default=str) + report.message,
        fedex_fx.CONFIG,
        fedex_fx.TOKEN_REPLY["access_token"],
    )


@responses.activate
def test_fedex_refused_credentials_are_a_rejection():
    responses.post(
        fedex_fx.TOKEN_URL,
        status=401,
        json=fedex_fx.error_reply("NOT.AUTHORIZED.ERROR", "The given client credentials were not valid."),
    )
    adapter = fedex_client.FedexAdapter(fedex_fx.CONFIG, retry=_retry(), clock=lambda: 1000.0)
    with pytest.raises(base.CarrierRejected) as caught:
        adapter.test_connection()
    assert "client credentials were not valid" in caught.value.message


@responses.activate
def test_usps_connection_test_fetches_a_token():
    responses.post(usps_fx.TOKEN_URL, json=usps_fx.TOKEN_REPLY)
    recorded: list[dict[str, Any]] = []
    adapter = usps_client.UspsAdapter(
        usps_fx.CONFIG, recorder=recorded.append, retry=_retry(), clock=lambda: 1000.0
    )
    report = adapter.test_connection()
    assert report.carrier == "usps"
    assert len(responses.calls) == 1
    _no_secret_in(
        json.dumps(recorded, default=str) + report.message,
        usps_fx.CONFIG,
        usps_fx.TOKEN_REPLY["access_token"],
    )


class _Bare(base.Adapter):
    name = "bare"
    capabilities: ClassVar[frozenset[base.Capability]] = frozenset()
    config_schema: ClassVar[dict[str, Any]] = {"type": "object"}


def test_an_adapter_without_a_cheap_call_does_not_support_the_test():
    with pytest.raises(base.CapabilityNotSupported) as caught:
        _Bare({}).test_connection()
    assert caught.value.capability == "test_connection"
    assert "test_connection" in str(caught.value)
