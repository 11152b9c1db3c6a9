"""UPS conformance (issue 17): every request the adapter really sends, and the specs' own example replies.

``test_ups_contract.py`` validates the bodies ``adapters.ups.mapping`` builds; this suite goes through the
adapter and ``requests`` as UPS would see them: each captured request's method, path (server prefix +
template), path/query/header parameters, credentials and body are checked against the operation UPS's
OpenAPI declares (``tests/contract/conformance.py``). Then every example reply the specs carry is fed
through the adapter and must come out without losing a field the canonical types have.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import responses

from adapters import base
from adapters import http as carrier_http
from adapters.ups import client, mapping
from schemas import carrier, money, types
from tests.contract import conformance
from tests.customs_fixtures import DECLARATION
from tests.unit.adapters import ups_fixtures as fx

pytestmark = pytest.mark.contract

BASE = "http://ups.conformance.test"
SPECS = (
    "OAuthClientCredentials.yaml",
    "Rating.yaml",
    "Shipping.yaml",
    "Tracking.yaml",
    "UPSTrackAlert.yaml",
    "AddressValidation.yaml",
)
# Rating.yaml lists Shoptimeintransit among requestoption's "Valid Values" yet caps the parameter at
# maxLength 10 (17 characters): the spec contradicts itself. The documented value wins; the test below
# proves the waiver covers only that contradiction.
RATING_WAIVER = {("path requestoption", "maxLength")}

INTERNATIONAL = types.ShipmentSpec(
    origin=types.Address(
        "DE", "10115", "Berlin", ("Invalidenstr. 1",), company="Handoff GmbH", phone="+49 30 1234"
    ),
    destination=types.Address("FR", "75001", "Paris", ("1 Rue de Rivoli",), name="Claire Client"),
    parcels=(fx.PARCEL, fx.PARCEL),
    reference="order-43",
)
VALUED = types.ShipmentSpec(
    origin=INTERNATIONAL.origin,
    destination=INTERNATIONAL.destination,
    parcels=(
        types.Parcel(
            fx.PARCEL.weight_kg,
            fx.PARCEL.length_cm,
            fx.PARCEL.width_cm,
            fx.PARCEL.height_cm,
            declared_value=money.Money(money.Decimal("80"), "EUR"),
        ),
    ),
    reference="order-44",
    options=frozenset({"documents"}),
)

NO_PHONE_DIGITS = types.ShipmentSpec(
    origin=types.Address("GB", "EC1A 1BB", "London", ("1 St Martin's",), company="Handoff Ltd", phone="n/a"),
    destination=types.Address("DE", "04109", "Leipzig", ("Markt 1",), name="Max Muster", phone="-"),
    parcels=(fx.PARCEL,),
    reference="order-45",
    # Goods from GB to DE: the invoice form (InternationalForms) goes with them.
    customs=DECLARATION,
)


@pytest.fixture(scope="module")
def apis() -> dict[str, conformance.OpenApi]:
    return {name: conformance.OpenApi.load("ups", name) for name in SPECS}


def make_adapter(**config: Any) -> client.UpsAdapter:
    return client.UpsAdapter(
        {**fx.CONFIG, "base_url": BASE, **config},
        breaker=carrier_http.CircuitBreaker(),
        retry=carrier_http.RetryPolicy(attempts=1, sleep=lambda s: None),
    )


def stub_ups(mock: responses.RequestsMock, **replies: Any) -> None:
    """Answer every UPS endpoint the adapter uses with a spec-shaped reply (overridable per operation)."""
    mock.post(BASE + mapping.OAUTH_PATH, json=fx.TOKEN_REPLY)
    mock.post(re.compile(re.escape(BASE) + r"/api/rating/.*"), json=replies.get("rate", fx.RATE_REPLY))
    mock.post(
        re.compile(re.escape(BASE) + r"/api/shipments/.*/ship"), json=replies.get("ship", fx.SHIP_REPLY)
    )
    mock.delete(re.compile(re.escape(BASE) + r"/api/shipments/.*/void/.*"), json=fx.VOID_REPLY)
    mock.get(re.compile(re.escape(BASE) + r"/api/track/v1/.*"), json=replies.get("track", fx.TRACK_REPLY))
    mock.post(
        re.compile(re.escape(BASE) + r"/api/track/v2/subscription/.*"),
        json=replies.get("subscribe", {"validTrackingNumbers": ["1Z12345E0205271688"]}),
    )
    mock.post(
        re.compile(re.escape(BASE) + r"/api/addressvalidation/.*"),
        json=replies.get("address", {"XAVResponse": {"NoCandidatesIndicator": ""}}),
    )


def label(spec: types.ShipmentSpec, label_format: carrier.LabelFormat) -> carrier.LabelRequest:
    return carrier.LabelRequest(spec, fx.ACCOUNT, "11", "shp_0002", label_format)


OPERATIONS: dict[str, tuple[str, Callable[[client.UpsAdapter], Any]]] = {
    "rate us-domestic": ("Rating.yaml", lambda a: a.rate(carrier.RateRequest(fx.SPEC, fx.ACCOUNT))),
    "rate de-fr no value (Shop)": (
        "Rating.yaml",
        lambda a: a.rate(carrier.RateRequest(INTERNATIONAL, fx.ACCOUNT)),
    ),
    "rate de-fr valued documents": ("Rating.yaml", lambda a: a.rate(carrier.RateRequest(VALUED, fx.ACCOUNT))),
    "ship us-domestic ZPL": ("Shipping.yaml", lambda a: a.label(label(fx.SPEC, carrier.LabelFormat.ZPL))),
    "ship us-domestic return (ReturnService 9)": (
        "Shipping.yaml",
        lambda a: a.label(label(dataclasses.replace(fx.SPEC, is_return=True), carrier.LabelFormat.ZPL)),
    ),
    "ship de-fr GIF": ("Shipping.yaml", lambda a: a.label(label(INTERNATIONAL, carrier.LabelFormat.GIF))),
    "ship de-fr PNG": ("Shipping.yaml", lambda a: a.label(label(VALUED, carrier.LabelFormat.PNG))),
    "void shipment": (
        "Shipping.yaml",
        lambda a: a.void(carrier.VoidRequest(fx.ACCOUNT, "1Z12345E0205271688")),
    ),
    "void packages": (
        "Shipping.yaml",
        lambda a: a.void(
            carrier.VoidRequest(
                fx.ACCOUNT, "1Z12345E0205271688", ("1Z12345E0205271688", "1Z12345E0205271697")
            )
        ),
    ),
    "track": ("Tracking.yaml", lambda a: a.track(carrier.TrackRequest("1Z12345E0205271688"))),
    "ship phones without digits": (
        "Shipping.yaml",
        lambda a: a.label(label(NO_PHONE_DIGITS, carrier.LabelFormat.ZPL)),
    ),
    "lookup by reference": ("Tracking.yaml", lambda a: a.lookup_shipment("shp_01HXYZ")),
    "address validation and classification (XAV)": (
        "AddressValidation.yaml",
        lambda a: a.classify_address(fx.SPEC.destination),
    ),
    "track alert subscribe": (
        "UPSTrackAlert.yaml",
        lambda a: a.subscribe_tracking(["1Z12345E0205271688", "1ZCIETST0111111114"]),
    ),
}


def capture(
    action: Callable[[client.UpsAdapter], Any], adapter: client.UpsAdapter | None = None
) -> list[Any]:
    adapter = adapter or make_adapter()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        stub_ups(mock)
        action(adapter)
        return [call.request for call in mock.calls]


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_every_request_the_adapter_sends_conforms_to_the_ups_spec(apis, name):
    spec_file, action = OPERATIONS[name]
    token_request, request = capture(action)

    operation, violations = conformance.check_request(apis["OAuthClientCredentials.yaml"], token_request)
    assert operation is not None and operation.template == "/security/v1/oauth/token"
    conformance.assert_conforms(violations, f"{name}: token request")
    operation, violations = conformance.check_request(apis[spec_file], request, waive=RATING_WAIVER)
    assert operation is not None, f"{request.method} {request.url} is no operation of {spec_file}"
    conformance.assert_conforms(violations, f"{name}: {request.method} {request.url}")
    # UPS documents transId as "An identifier unique to the request. Length 32" (prose, not schema).
    assert len(request.headers["transId"]) == 32


@pytest.mark.parametrize(
    ("action", "spec_file", "param", "value"),
    [
        (
            lambda a, v: a.track(carrier.TrackRequest(v)),
            "Tracking.yaml",
            "inquiryNumber",
            "1Z12345/E02#05?27",
        ),
        (lambda a, v: a.lookup_shipment(v), "Tracking.yaml", "referenceNumber", "order/42 #7?x"),
        (
            lambda a, v: a.void(carrier.VoidRequest(fx.ACCOUNT, v)),
            "Shipping.yaml",
            "shipmentidentificationnumber",
            "1Z/../x",
        ),
    ],
    ids=["tracking-number", "reference", "shipment-id"],
)
def test_a_path_parameter_with_reserved_characters_stays_one_parameter(apis, action, spec_file, param, value):
    _, request = capture(lambda a: action(a, value))

    operation, violations = conformance.check_request(apis[spec_file], request)

    assert operation is not None, request.url
    assert operation.path_params[param] == value
    conformance.assert_conforms(violations, request.url)


def test_the_token_request_with_a_merchant_id_conforms(apis):
    adapter = make_adapter(merchant_id="A1B2C3")
    token_request, _ = capture(OPERATIONS["track"][1], adapter)

    operation, violations = conformance.check_request(apis["OAuthClientCredentials.yaml"], token_request)
    conformance.assert_conforms(violations, "token request")
    assert token_request.headers["x-merchant-id"] == "A1B2C3"
    assert operation is not None and token_request.headers["Authorization"].startswith("Basic ")


def test_every_operation_the_adapter_performs_is_covered_here():
    # A new UPS operation on the adapter must get a row in OPERATIONS (or this list says why not).
    driven = {
        base.Capability.RATE,
        base.Capability.LABEL,
        base.Capability.VOID,
        base.Capability.TRACK_POLL,
        base.Capability.LOOKUP_SHIPMENT,
        base.Capability.TRACK_PUSH,  # subscribe_tracking above; the pushes are replies, tested below
        base.Capability.RETURN,  # "ship us-domestic return (ReturnService 9)" above
        base.Capability.ADDRESS_VALIDATION,  # "address validation and classification (XAV)" above
    }
    assert client.UpsAdapter.capabilities <= driven


def test_the_rating_waiver_covers_only_the_specs_own_contradiction(apis):
    operation = apis["Rating.yaml"].operation("post", "/rating/{version}/{requestoption}")
    param, _ = operation.parameters()[("path", "requestoption")]
    documented = conformance.documented_values(param["description"])

    assert param["schema"]["maxLength"] < len(mapping.RATE_OPTION)
    assert {mapping.RATE_OPTION, "Shop"} <= set(documented or ())


def _set_url(request: Any, url: str) -> None:
    request.prepare_url(url, {})


@pytest.mark.parametrize(
    ("operation", "spec_file", "mutate", "where"),
    [
        (
            "void shipment",
            "Shipping.yaml",
            lambda r: _set_url(r, r.url.replace("/v2409/", "/v9999/")),
            "path version",
        ),
        (
            "track",
            "Tracking.yaml",
            lambda r: _set_url(r, r.url + "&returnEverything=yes"),
            "query returnEverything",
        ),
        ("track", "Tracking.yaml", lambda r: r.headers.pop("transactionSrc"), "header transactionSrc"),
        (
            "track",
            "Tracking.yaml",
            lambda r: r.headers.update(Authorization="Basic eDp5"),
            "header Authorization",
        ),
    ],
    ids=["undocumented-version", "undeclared-query", "missing-required-header", "wrong-credentials"],
)
def test_the_checker_catches_a_request_that_breaks_the_spec(apis, operation, spec_file, mutate, where):
    _, request = capture(OPERATIONS[operation][1])
    mutate(request)

    found, violations = conformance.check_request(apis[spec_file], request)

    assert found is not None
    assert where in {v.where for v in violations}, violations


def test_the_checker_catches_a_body_that_breaks_the_spec(apis):
    _, request = capture(OPERATIONS["rate us-domestic"][1])
    request.prepare_body(None, None, {"RateRequest": {"Shipment": {"Package": "not-a-list"}}})

    _, violations = conformance.check_request(apis["Rating.yaml"], request, waive=RATING_WAIVER)

    assert any(v.where.startswith("body") for v in violations)


# -- the specs' example replies through the adapter --------------------------------------------------------


ADAPTER_OPERATIONS = {
    ("Rating.yaml", "post", "/rating/{version}/{requestoption}"),
    ("Shipping.yaml", "post", "/shipments/{version}/ship"),
    ("Shipping.yaml", "delete", "/shipments/{version}/void/cancel/{shipmentidentificationnumber}"),
    ("Tracking.yaml", "get", "/track/v1/details/{inquiryNumber}"),
    ("Tracking.yaml", "get", "/track/v1/reference/details/{referenceNumber}"),
    ("OAuthClientCredentials.yaml", "post", "/security/v1/oauth/token"),
    ("UPSTrackAlert.yaml", "post", "/subscription/{type}/package"),
}


def test_only_track_alert_gives_whole_reply_examples_so_the_tests_below_cover_them_all(apis):
    # If UPS adds reply examples to another operation the adapter uses, they must be fed through it too.
    with_examples = {
        (spec_file, method, template)
        for spec_file, method, template in ADAPTER_OPERATIONS
        if apis[spec_file].operation(method, template).response_examples()
    }
    assert with_examples == {("UPSTrackAlert.yaml", "post", "/subscription/{type}/package")}


def test_the_tracking_reply_documented_field_by_field_parses_without_losing_a_field(apis):
    tracking = apis["Tracking.yaml"]
    operation = tracking.operation("get", "/track/v1/details/{inquiryNumber}")
    pointer = operation.response_schema(200)
    assert pointer is not None
    example = conformance.example_instance(tracking, pointer)
    conformance.assert_conforms(tracking.violations(pointer, example), "the example built from Tracking.yaml")
    activity = example["trackResponse"]["shipment"][0]["package"][0]["activity"][0]
    address, status = activity["location"]["address"], activity["status"]

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        stub_ups(mock, track=example)
        result = make_adapter().track(carrier.TrackRequest("1Z023E2X0214323462"))

    [event] = result.events
    assert (event.code, event.subcode, event.detail_code) == (
        status["type"],
        status["code"],
        status["statusCode"],
    )
    assert event.description == status["description"]
    gmt = datetime.strptime(activity["gmtDate"] + activity["gmtTime"].zfill(6), "%Y%m%d%H%M%S")
    assert event.occurred_at == gmt.replace(tzinfo=UTC)
    assert event.location == carrier.EventLocation(
        city=address["city"],
        state=address["stateProvince"],
        postal_code=address["postalCode"],
        country_code=address["countryCode"],
    )
    assert event.tracking_number == "1Z023E2X0214323462"
    assert "local_time_zone_known" not in event.attributes


@pytest.mark.parametrize("index", [0, 1])
def test_the_track_alert_webhook_examples_parse_without_losing_a_field(apis, index):
    webhook = apis["UPSTrackAlert.yaml"].doc["webhooks"]["TrackingEvent"]["post"]
    content = webhook["requestBody"]["content"]["application/json"]
    example = list(content["examples"].values())[index]["value"]
    status, where = example["activityStatus"], example["activityLocation"]

    [parsed] = mapping.parse_track_alert_push(example)
    assert parsed.tracking_number == example["trackingNumber"]
    assert (parsed.code, parsed.subcode, parsed.detail_code) == (
        status["type"],
        status["code"],
        str(status["descriptionCode"]),
    )
    assert parsed.description == status["description"]
    gmt = datetime.strptime(example["gmtActivityDate"] + example["gmtActivityTime"], "%Y%m%d%H%M%S")
    assert parsed.occurred_at == gmt.replace(tzinfo=UTC)
    assert parsed.location == carrier.EventLocation(
        city=where["city"],
        state=where["stateProvince"],
        postal_code=where["postalCode"],
        country_code=where["country"],
    )
    assert parsed.estimated_delivery == datetime.strptime(example["scheduledDeliveryDate"], "%Y%m%d").date()


def subscription_examples(status_class: str) -> list[tuple[str, str, Any]]:
    api = conformance.OpenApi.load("ups", "UPSTrackAlert.yaml")
    operation = api.operation("post", "/subscription/{type}/package")
    return [e for e in operation.response_examples() if e[0].startswith(status_class)]


def test_the_track_alert_subscription_examples_parse_to_the_numbers_they_list(apis):
    examples = subscription_examples("2")
    assert examples, "UPSTrackAlert.yaml lost its 200 examples"
    for _, name, value in examples:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            stub_ups(mock, subscribe=value)
            accepted, refused = make_adapter().subscribe_tracking(["1Z1234567891234556", "1Z1234567$8"])

        assert accepted == value.get("validTrackingNumbers", []), name
        assert refused == value.get("invalidTrackingNumbers", []), name


def _subscription_error(status: str, value: Any) -> base.CarrierError:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        stub_ups(mock)
        mock.replace(
            responses.POST,
            re.compile(re.escape(BASE) + r"/api/track/v2/subscription/.*"),
            json=value,
            status=int(status),
        )
        with pytest.raises(base.CarrierError) as caught:
            make_adapter().subscribe_tracking(["1Z1234567891234556"])
    return caught.value


def test_the_track_alert_4xx_examples_keep_upss_code_and_message(apis):
    examples = subscription_examples("4")
    assert {status for status, _, _ in examples} >= {"400", "401"}
    for status, _, value in examples:
        [error] = value["response"]["errors"]

        caught = _subscription_error(status, value)

        assert isinstance(caught, base.CarrierRejected)
        assert (caught.code, caught.http_status) == (error["code"], int(status))
        assert error["message"] in caught.message


def test_the_track_alert_5xx_example_is_retried_later(apis):
    examples = subscription_examples("5")
    assert examples, "UPSTrackAlert.yaml lost its 500 example"
    for status, _, value in examples:
        caught = _subscription_error(status, value)

        # adapters.http turns every retryable status into CarrierUnavailable(code="http_500") before the
        # adapter reads the body, so UPS's own code ("10004") is not kept for 5xx (see the issue 17 report).
        assert isinstance(caught, base.CarrierUnavailable)
        assert caught.http_status == int(status)


def test_without_the_shared_folder_the_suite_skips_saying_why(monkeypatch, tmp_path):
    monkeypatch.setattr(conformance, "SHARED", tmp_path / "carriers")

    with pytest.raises(pytest.skip.Exception, match=r"\.\./shared/carriers/ is absent"):
        conformance.OpenApi.load("ups", "Rating.yaml")
    with pytest.raises(pytest.skip.Exception, match=r"\.\./shared/carriers/ is absent"):
        conformance.Wsdl.load("dhl_express", "expressRateBook.wsdl")
