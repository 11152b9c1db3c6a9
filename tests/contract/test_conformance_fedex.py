"""FedEx conformance (issue 17): every request the adapter really sends, checked against FedEx's OpenAPI files.

``test_fedex_contract.py`` validates the bodies ``adapters.fedex.mapping`` / ``services`` build; this suite
drives ``FedexAdapter`` through every public operation against ``responses`` mocks and checks each captured
request as FedEx would see it: method and path hit a declared operation, header parameters, and the JSON (or
form) body against that operation's request-body schema (``tests/contract/conformance.py``). The mocks
answer with replies written from the specs (each validated against the operation's 200 schema below).

FedEx's files are OpenAPI 3.0.0 (JSON Schema draft 4 dialect) with ``servers: '/'``, so the path is the
template. One documented quirk is read through (``read_full_schema``, proved by a test): FedEx lists its
request samples and the full schema as ``oneOf`` alternatives that overlap.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import pytest
import responses

from adapters import base
from adapters import http as carrier_http
from adapters.fedex import client, mapping, services
from schemas import carrier, types
from tests.contract import conformance
from tests.customs_fixtures import DECLARATION
from tests.unit.adapters_fedex import fedex_fixtures as fx

pytestmark = pytest.mark.contract

BASE = "http://fedex.conformance.test"
SPECS = (
    "APIAuthorization-Resource.json",
    "RateQuotes-Resource.json",
    "Shipment-Resource.json",
    "TrackingNumbers-Resource.json",
    "Pickup-Resource.json",
    "Addresses-Resource.json",
    "ShipmentCloseAPI-Resource.json",
)
FULL_SCHEMA = re.compile(r"/Full_?Schema[^/]*$")

TOKEN = ("POST", mapping.OAUTH_PATH)
RATE = ("POST", mapping.RATE_PATH)
SHIP = ("POST", mapping.SHIP_PATH)
CANCEL = ("PUT", mapping.CANCEL_PATH)
TRACK = ("POST", mapping.TRACK_PATH)
PICKUP = ("POST", services.PICKUP_PATH)
CANCEL_PICKUP = ("PUT", services.CANCEL_PICKUP_PATH)
ADDRESS = ("POST", services.ADDRESS_PATH)
GROUND_CLOSE = ("PUT", services.GROUND_CLOSE_PATH)

# Every request mapping and services can build (public functions returning HttpCall), as the operation it
# is in FedEx's specs. A new builder fails the guard below until it is listed here and driven in CASES.
BUILDS = {
    "mapping.oauth_request": TOKEN,
    "mapping.rate_request": RATE,
    "mapping.ship_request": SHIP,
    "mapping.cancel_request": CANCEL,
    "mapping.track_request": TRACK,
    "services.pickup_request": PICKUP,
    "services.cancel_pickup_request": CANCEL_PICKUP,
    "services.address_request": ADDRESS,
    "services.ground_close_request": GROUND_CLOSE,
}


def read_full_schema(doc: dict[str, Any]) -> None:
    """Read each request body's ``oneOf`` [samples..., Full_Schema_X] as the full schema it lists.

    FedEx's NOTES (§11): the specs list their request *examples* as ``oneOf`` alternatives beside the full
    schema. The samples are subsets of it, so any real request matches several and ``oneOf`` refuses it.
    ``test_the_full_schema_reading_covers_only_fedexs_overlapping_samples`` proves that is all it changes.
    """
    for item in doc["paths"].values():
        for operation in item.values():
            for content in (operation.get("requestBody") or {}).get("content", {}).values():
                node = content["schema"]
                while "$ref" in node:
                    node = doc["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
                full = [
                    alt["$ref"] for alt in node.get("oneOf", []) if FULL_SCHEMA.search(alt.get("$ref", ""))
                ]
                if full:
                    [ref] = full
                    node.clear()
                    node["$ref"] = ref


@pytest.fixture(scope="module")
def raw_apis() -> dict[str, conformance.OpenApi]:
    return {name: conformance.OpenApi.load("fedex", name) for name in SPECS}


@pytest.fixture(scope="module")
def apis(raw_apis) -> dict[str, conformance.OpenApi]:
    return {name: api.patched(read_full_schema, check_formats=True) for name, api in raw_apis.items()}


def spec_example(api: conformance.OpenApi, method: str, path: str) -> Any:
    pointer = api.operation(method, path).response_schema(200)
    assert pointer is not None, f"{api.name} lost the 200 reply of {method} {path}"
    return conformance.example_instance(api, pointer)


@pytest.fixture(scope="module")
def replies(raw_apis) -> dict[tuple[str, str], Any]:
    """The 200 reply of each operation: the unit fixtures (written from the specs) or the spec's examples."""
    pickup = spec_example(raw_apis["Pickup-Resource.json"], *PICKUP)
    cancel_pickup = spec_example(raw_apis["Pickup-Resource.json"], *CANCEL_PICKUP)
    cancel_pickup["output"]["pickupConfirmationCode"] = pickup["output"]["pickupConfirmationCode"]
    address = spec_example(raw_apis["Addresses-Resource.json"], *ADDRESS)
    for node in address["output"]["resolvedAddresses"]:
        node.pop("cityToken")  # the spec's example is a string, its schema an object: left out
    close = spec_example(raw_apis["ShipmentCloseAPI-Resource.json"], *GROUND_CLOSE)
    for document in close["output"]["closeDocuments"]:
        for part in document["parts"]:  # the spec's placeholder "ICAgICAg.." is not base64
            part["image"] = base64.b64encode(b"%PDF-1.4 OP-950").decode()
    wire = json.loads(
        fx.dumps([fx.RATE_REPLY, fx.SHIP_REPLY, fx.CANCEL_REPLY, fx.track_reply(fx.DELIVERED_RESULT)])
    )
    return {
        TOKEN: fx.TOKEN_REPLY,
        RATE: wire[0],
        SHIP: wire[1],
        CANCEL: wire[2],
        TRACK: wire[3],
        PICKUP: pickup,
        CANCEL_PICKUP: cancel_pickup,
        ADDRESS: address,
        GROUND_CLOSE: close,
    }


# -- what the adapter is driven through -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    """One public operation: what it should send after the token request, and the account's config."""

    sends: tuple[tuple[str, str], ...]
    action: Callable[[client.FedexAdapter], Any]
    config: Mapping[str, Any] = dataclasses.field(default_factory=dict)


SATURDAY = dataclasses.replace(fx.SPEC, options=frozenset({"saturday"}))
CUSTOMS = dataclasses.replace(
    fx.SPEC,
    destination=dataclasses.replace(fx.INTERNATIONAL.destination, country_code="DE", postal_code="04109"),
    customs=DECLARATION,
)
DDP = dataclasses.replace(CUSTOMS, customs=dataclasses.replace(DECLARATION, incoterm="DDP"))
DOCUMENTS = dataclasses.replace(CUSTOMS, customs=types.Customs("documents", "DAP"))
PICKUP_REQUEST = carrier.PickupRequest(
    fx.ACCOUNT,
    fx.ORIGIN,
    datetime(2024, 5, 6, 11, 0, tzinfo=UTC),
    datetime(2024, 5, 6, 23, 0, tzinfo=UTC),
    2,
    (fx.TRACKING_NUMBER,),
)


def rate(spec: types.ShipmentSpec, *services_: str) -> Callable[[client.FedexAdapter], Any]:
    return lambda a: a.rate(carrier.RateRequest(spec, fx.ACCOUNT, services_))


def label(
    spec: types.ShipmentSpec, label_format: carrier.LabelFormat
) -> Callable[[client.FedexAdapter], Any]:
    request = carrier.LabelRequest(spec, fx.ACCOUNT, "FEDEX_GROUND", "shp_0002", label_format)
    return lambda a: a.label(request)


def cancel_pickup(details: Mapping[str, str]) -> Callable[[client.FedexAdapter], Any]:
    return lambda a: a.cancel_pickup(PICKUP_REQUEST, "3001", details)


CASES: dict[str, Case] = {
    "rate us-domestic shop (ACCOUNT and LIST)": Case((RATE,), rate(fx.SPEC)),
    "rate one service, LIST rates": Case(
        (RATE,), rate(fx.SPEC, "FEDEX_GROUND"), {"rate_request_type": "LIST"}
    ),
    "rate de-fr two parcels, declared value": Case((RATE,), rate(fx.INTERNATIONAL)),
    "rate saturday delivery, drop-off": Case(
        (RATE,), rate(SATURDAY), {"pickup_type": "DROPOFF_AT_FEDEX_LOCATION"}
    ),
    "rate us-de with commodities": Case((RATE,), rate(CUSTOMS)),
    "rate us-de DDP (duties paid by sender)": Case((RATE,), rate(DDP)),
    **{
        f"label us-domestic {fmt.value}": Case((SHIP,), label(fx.SPEC, fmt))
        for fmt in sorted(client.FedexAdapter.label_formats, key=str)
    },
    "label de-fr two parcels": Case((SHIP,), label(fx.INTERNATIONAL, carrier.LabelFormat.PDF)),
    "label print return label": Case(
        (SHIP,), label(dataclasses.replace(fx.SPEC, is_return=True), carrier.LabelFormat.PDF)
    ),
    "label us-de customs (commercial invoice)": Case((SHIP,), label(CUSTOMS, carrier.LabelFormat.PDF)),
    "label us-de documents": Case((SHIP,), label(DOCUMENTS, carrier.LabelFormat.ZPL)),
    "label on configured stock, LIST rates": Case(
        (SHIP,),
        label(SATURDAY, carrier.LabelFormat.PDF),
        {"label_stock_type": "PAPER_4X6", "rate_request_type": "LIST"},
    ),
    "void": Case((CANCEL,), lambda a: a.void(carrier.VoidRequest(fx.ACCOUNT, fx.TRACKING_NUMBER))),
    "track": Case((TRACK,), lambda a: a.track(carrier.TrackRequest(fx.TRACKING_NUMBER))),
    "pickup FedEx Express": Case((PICKUP,), lambda a: a.pickup(PICKUP_REQUEST)),
    "pickup FedEx Ground": Case(
        (PICKUP,), lambda a: a.pickup(PICKUP_REQUEST), {"pickup_carrier_code": "FDXG"}
    ),
    "cancel pickup FedEx Express": Case(
        (CANCEL_PICKUP,), cancel_pickup({"carrier_code": "FDXE", "location": "COSA"})
    ),
    "cancel pickup FedEx Ground": Case((CANCEL_PICKUP,), cancel_pickup({"carrier_code": "FDXG"})),
    "classify address": Case((ADDRESS,), lambda a: a.classify_address(fx.DESTINATION)),
    "validate two addresses": Case(
        (ADDRESS,), lambda a: a.validate_address([fx.ORIGIN, fx.INTERNATIONAL.destination])
    ),
    "close day (Ground close)": Case(
        (GROUND_CLOSE,), lambda a: a.close_day(carrier.DayCloseRequest(date(2024, 5, 6)))
    ),
    "close ground day, today": Case((GROUND_CLOSE,), lambda a: a.close_ground_day()),
    "test connection": Case((), lambda a: a.test_connection()),
}
# What each capability the adapter declares is driven by above (a new capability needs a case).
DRIVEN = {
    base.Capability.RATE: "rate us-domestic shop (ACCOUNT and LIST)",
    base.Capability.LABEL: "label us-domestic PDF",
    base.Capability.RETURN: "label print return label",
    base.Capability.VOID: "void",
    base.Capability.TRACK_POLL: "track",
    base.Capability.PICKUP: "cancel pickup FedEx Express",
    base.Capability.ADDRESS_VALIDATION: "classify address",
    base.Capability.CLOSE_DAY: "close day (Ground close)",
}


def make_adapter(**config: Any) -> client.FedexAdapter:
    return client.FedexAdapter(
        {**fx.CONFIG, "base_url": BASE, **config},
        breaker=carrier_http.CircuitBreaker(),
        retry=carrier_http.RetryPolicy(attempts=1, sleep=lambda s: None),
    )


def capture(case: Case, replies: Mapping[tuple[str, str], Any]) -> list[Any]:
    """Run one case against mocks answering every FedEx operation; return the requests sent."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for (method, path), reply in replies.items():
            mock.add(method, BASE + path, json=reply)
        case.action(make_adapter(**case.config))
        return [call.request for call in mock.calls]


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_request_the_adapter_sends_conforms_to_fedexs_spec(apis, replies, name):
    case = CASES[name]
    sent = capture(case, replies)

    assert [conformance.sent_operation(apis.values(), r) for r in sent] == [TOKEN, *case.sends]
    for request in sent:
        _, violations = conformance.check_request(conformance.spec_for(apis.values(), request), request)
        conformance.assert_conforms(violations, f"{name}: {request.method} {request.url}")
    for request in sent[1:]:
        assert request.headers["Authorization"] == f"Bearer {fx.TOKEN_REPLY['access_token']}"
        assert request.headers["Content-Type"] == "application/json"


def test_the_token_request_is_the_documented_form(apis, replies):
    [token_request] = capture(CASES["test connection"], replies)

    assert token_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in token_request.headers  # the key and secret travel in the form only


@pytest.mark.parametrize("builder", sorted(BUILDS))
def test_each_mocked_reply_is_what_fedexs_spec_says_the_operation_returns(apis, replies, builder):
    operation = BUILDS[builder]
    api = next(a for a in apis.values() if operation[1] in a.doc["paths"])
    pointer = api.operation(*operation).response_schema(200)
    assert pointer is not None

    conformance.assert_conforms(api.violations(pointer, replies[operation]), f"the {operation} reply")


# -- guards: every operation the adapter can build is driven here ----------------------------------------


def test_the_build_list_names_every_request_builder_and_path_of_the_adapter():
    paths = {
        value
        for module in (mapping, services)
        for key, value in vars(module).items()
        if key.endswith("_PATH")
    }

    assert set(BUILDS) == conformance.request_builders(mapping, services)
    assert {path for _, path in BUILDS.values()} == paths


def test_the_suite_drives_every_operation_the_adapter_can_build(apis, replies):
    sent = {
        conformance.sent_operation(apis.values(), r)
        for case in CASES.values()
        for r in capture(case, replies)
    }

    assert sent == set(BUILDS.values())


def test_every_capability_the_adapter_declares_is_driven_here():
    assert client.FedexAdapter.capabilities == set(DRIVEN)
    assert set(DRIVEN.values()) <= set(CASES)
    assert {f"label us-domestic {f.value}" for f in client.FedexAdapter.label_formats} <= set(CASES)


# -- the spec quirk read through, and the checker still catches what breaks the contract ------------------


def sent_to(operation: tuple[str, str], replies: Any) -> Any:
    """The request the first case in CASES sending to an operation sends there."""
    case = next(c for c in CASES.values() if c.sends == (operation,) or (operation == TOKEN and not c.sends))
    return capture(case, replies)[-1]


@pytest.mark.parametrize("builder", sorted(set(BUILDS) - {"mapping.oauth_request"}))
def test_the_full_schema_reading_covers_only_fedexs_overlapping_samples(raw_apis, replies, builder):
    request = sent_to(BUILDS[builder], replies)
    as_published = conformance.spec_for(raw_apis.values(), request).patched(check_formats=True)
    operation = as_published.find(request.method, request.url)
    assert operation is not None
    schema, pointer = as_published.follow(str(operation.request_schema("application/json")))
    body = json.loads(request.body)

    # As published, the one complaint is the oneOf itself: the body fits the full schema and a sample too.
    _, violations = conformance.check_request(as_published, request)
    assert [(v.where, v.keyword) for v in violations] == [("body", "oneOf")]
    fits = [
        i for i in range(len(schema["oneOf"])) if not as_published.violations(f"{pointer}/oneOf/{i}", body)
    ]
    [full] = [i for i, alt in enumerate(schema["oneOf"]) if FULL_SCHEMA.search(alt["$ref"])]
    assert full in fits and len(fits) > 1


BREAKS = {  # id: (operation, how the request is broken, (where, schema keyword) it must be caught at)
    "no-account": (RATE, lambda r: _body(r, lambda b: b.pop("accountNumber")), ("body", "required")),
    "unknown-pickup-type": (
        SHIP,
        lambda r: _body(r, lambda b: b["requestedShipment"].update(pickupType="WHENEVER")),
        ("body/requestedShipment/pickupType", "enum"),
    ),
    "numbers-not-a-list": (
        TRACK,
        lambda r: _body(r, lambda b: b.update(trackingInfo="794953535000")),
        ("body/trackingInfo", "type"),
    ),
    "unknown-carrier": (
        CANCEL_PICKUP,
        lambda r: _body(r, lambda b: b.update(carrierCode="FDXX")),
        ("body/carrierCode", "enum"),
    ),
    "express-close": (
        GROUND_CLOSE,
        lambda r: _body(r, lambda b: b.update(groundServiceCategory="EXPRESS")),
        ("body/groundServiceCategory", "enum"),
    ),
    "no-bearer-token": (
        TRACK,
        lambda r: r.headers.pop("Authorization"),
        ("header authorization", "required"),
    ),
    "token-form-as-json": (
        TOKEN,
        lambda r: r.headers.update({"Content-Type": "application/json"}),
        ("body", "content-type"),
    ),
    "token-without-grant": (
        TOKEN,
        lambda r: r.prepare_body({"client_id": "k", "client_secret": "s"}, None),
        ("body", "required"),
    ),
}


def _body(request: Any, change: Callable[[dict[str, Any]], Any]) -> None:
    body = json.loads(request.body)
    change(body)
    request.prepare_body(None, None, body)


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_the_checker_still_catches_a_request_that_breaks_the_contract(apis, replies, name):
    operation, mutate, expected = BREAKS[name]
    request = sent_to(operation, replies)
    mutate(request)

    _, violations = conformance.check_request(conformance.spec_for(apis.values(), request), request)

    assert expected in {(v.where, v.keyword) for v in violations}, violations


def test_the_patch_leaves_the_loaded_spec_untouched(raw_apis, apis):
    raw = raw_apis["RateQuotes-Resource.json"].doc["components"]["schemas"]["body"]
    assert "oneOf" in raw
    assert apis["RateQuotes-Resource.json"].doc["components"]["schemas"]["body"] == {
        "$ref": "#/components/schemas/Full_Schema_Quote_Rate"
    }


def test_without_the_shared_folder_the_suite_skips_saying_why(monkeypatch, tmp_path):
    monkeypatch.setattr(conformance, "SHARED", tmp_path / "carriers")

    with pytest.raises(pytest.skip.Exception, match=r"fedex published contract not found.*is absent"):
        conformance.OpenApi.load("fedex", "RateQuotes-Resource.json")
