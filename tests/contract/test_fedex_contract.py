"""FedEx contract: built requests validate against FedEx's OpenAPI files in ../shared, and the replies those
files describe (their examples) parse without losing fields.

The FedEx files are OpenAPI 3.0.0, whose schema dialect is JSON Schema draft 4/5: they are validated with
the draft 4 validator. Reply examples are assembled from the ``example`` values the specs give (a whole
reply where FedEx wrote one, e.g. the Rate ``output``; per field otherwise).
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.contract

SPECS = Path(__file__).resolve().parents[2] / ".." / "shared" / "carriers" / "fedex"
if not SPECS.is_dir():
    pytest.skip(
        f"FedEx OpenAPI specs not found at {SPECS} (../shared/carriers/ is absent)", allow_module_level=True
    )

import jsonschema  # noqa: E402
import referencing  # noqa: E402
import referencing.jsonschema  # noqa: E402

from adapters import base  # noqa: E402
from adapters.fedex import client, mapping, services  # noqa: E402
from schemas import carrier, money, types  # noqa: E402
from tests.customs_fixtures import DECLARATION  # noqa: E402
from tests.unit.adapters_fedex import fedex_fixtures as fx  # noqa: E402

_DOCS: dict[str, dict[str, Any]] = {}


def _doc(name: str) -> dict[str, Any]:
    if name not in _DOCS:
        text = (SPECS / f"{name}-Resource.json").read_text(encoding="utf-8")
        _DOCS[name] = json.loads(text, parse_float=Decimal)
    return _DOCS[name]


def _validator(spec: str, component: str) -> jsonschema.protocols.Validator:
    uri = f"urn:fedex:{spec}"
    resource = referencing.Resource.from_contents(
        _doc(spec), default_specification=referencing.jsonschema.DRAFT4
    )
    registry = referencing.Registry().with_resource(uri, resource)
    return jsonschema.Draft4Validator({"$ref": f"{uri}#/components/schemas/{component}"}, registry=registry)


def _assert_valid(spec: str, component: str, instance: object) -> None:
    # Round-trip through JSON first: what is validated is what goes on the wire.
    wire = json.loads(fx.dumps(instance), parse_float=Decimal)
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in _validator(spec, component).iter_errors(wire)
    ]
    assert errors == [], errors


def _resolve(spec: str, node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = _doc(spec)["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def example_of(spec: str, node: dict[str, Any], depth: int = 0) -> Any:
    """Assemble an instance from the spec's ``example`` values: the nearest whole example wins."""
    if "example" in node:
        return copy.deepcopy(node["example"])
    node = _resolve(spec, node)
    if "example" in node:
        return copy.deepcopy(node["example"])
    if depth > 12:
        return None
    if "allOf" in node:
        merged: dict[str, Any] = {}
        for part in node["allOf"]:
            value = example_of(spec, part, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    for key in ("oneOf", "anyOf"):
        if key in node:
            return example_of(spec, node[key][0], depth + 1)
    if node.get("type") == "array" or "items" in node:
        item = example_of(spec, node.get("items", {}), depth + 1)
        return [] if item is None else [item]
    if "properties" in node:
        out = {}
        for name, prop in node["properties"].items():
            value = example_of(spec, prop, depth + 1)
            if value is not None:
                out[name] = value
        return out
    return None


def reply_example(spec: str, component: str) -> dict[str, Any]:
    return example_of(spec, {"$ref": f"#/components/schemas/{component}"})


SATURDAY = dataclasses.replace(fx.SPEC, options=frozenset({"saturday"}))
# US to DE with a customs declaration: customsClearanceDetail, tins and FedEx's electronic invoice.
CUSTOMS = dataclasses.replace(
    fx.SPEC,
    destination=dataclasses.replace(fx.INTERNATIONAL.destination, country_code="DE", postal_code="04109"),
    customs=DECLARATION,
)
DOCUMENTS = dataclasses.replace(CUSTOMS, customs=types.Customs("documents", "DAP"))
RETURN = dataclasses.replace(fx.SPEC, is_return=True)

# -- requests ---------------------------------------------------------------------------------------------


def test_the_oauth_form_carries_every_required_field():
    form = mapping.oauth_request("key", "secret").form
    _assert_valid("APIAuthorization", "FullSchema", dict(form or {}))


@pytest.mark.parametrize(
    "request_",
    [
        fx.RATE_REQUEST,
        carrier.RateRequest(fx.INTERNATIONAL, fx.ACCOUNT),
        carrier.RateRequest(fx.SPEC, fx.ACCOUNT, services=("FEDEX_GROUND",)),
        carrier.RateRequest(SATURDAY, fx.ACCOUNT),
        carrier.RateRequest(CUSTOMS, fx.ACCOUNT),
    ],
    ids=["us-shop", "de-to-fr", "one-service", "saturday", "us-to-de-customs"],
)
@pytest.mark.parametrize("rate_type", ["ACCOUNT", "LIST"])
def test_rate_request_bodies_validate_against_the_rate_spec(request_, rate_type):
    body = mapping.rate_request(request_, fx.ACCOUNT, rate_type=rate_type).json
    _assert_valid("RateQuotes", "Full_Schema_Quote_Rate", body)


@pytest.mark.parametrize("label_format", sorted(mapping.LABEL_IMAGE_TYPES, key=str))
@pytest.mark.parametrize(
    "spec",
    [fx.SPEC, fx.INTERNATIONAL, SATURDAY, RETURN, CUSTOMS, DOCUMENTS],
    ids=[
        "us-domestic",
        "de-to-fr",
        "saturday",
        "print-return-label",
        "us-to-de-customs",
        "us-to-de-documents",
    ],
)
def test_ship_request_bodies_validate_against_the_ship_spec(spec, label_format):
    request = carrier.LabelRequest(spec, fx.ACCOUNT, "FEDEX_GROUND", "shp_0002", label_format)
    _assert_valid("Shipment", "Full_Schema_Ship", mapping.ship_request(request, fx.ACCOUNT).json)


def test_the_configurable_label_stocks_and_pickup_carriers_are_fedex_own_enums():
    schema = client.FedexAdapter.get_config_schema()["properties"]
    label_spec = _resolve(
        "Shipment",
        _resolve("Shipment", _doc("Shipment")["components"]["schemas"]["Full_Schema_Ship"])["properties"][
            "requestedShipment"
        ],
    )["properties"]["labelSpecification"]
    stock = _resolve("Shipment", _resolve("Shipment", label_spec)["properties"]["labelStockType"])
    assert set(schema["label_stock_type"]["enum"]) == set(stock["enum"])
    assert set(schema["pickup_carrier_code"]["enum"]) == services.PICKUP_CARRIERS


def test_cancel_request_body_validates_against_the_cancel_spec():
    body = mapping.cancel_request(carrier.VoidRequest(fx.ACCOUNT, "794953535000"), fx.ACCOUNT).json
    _assert_valid("Shipment", "Full_Schema_Cancel_Shipment", body)


def test_track_request_body_validates_against_the_track_spec():
    body = mapping.track_request([fx.TRACKING_NUMBER, "123456789012"]).json
    _assert_valid("TrackingNumbers", "Full_Schema_Tracking_Numbers", body)


def test_the_paths_and_methods_we_call_exist_in_the_specs():
    for spec, path, method in _OPERATIONS:
        assert method in _doc(spec)["paths"][path], (spec, path, method)


# -- our unit-test replies are shaped like FedEx's -------------------------------------------------------


def test_the_unit_test_replies_validate_against_the_reply_schemas():
    _assert_valid("RateQuotes", "RatcResponseVO", fx.RATE_REPLY)
    _assert_valid("Shipment", "SHPCResponseVO_ShipShipment", fx.SHIP_REPLY)
    _assert_valid("Shipment", "SHPCResponseVO_ShipShipment", fx.multi_piece_ship_reply())
    _assert_valid("Shipment", "SHPCResponseVO_CancelShipment", fx.CANCEL_REPLY)
    _assert_valid("Shipment", "SHPCResponseVO_CancelShipment", fx.CANCEL_REFUSED_REPLY)
    _assert_valid("TrackingNumbers", "TrkcResponseVO_TrackingNumber", fx.track_reply(fx.DELIVERED_RESULT))
    _assert_valid("TrackingNumbers", "TrkcResponseVO_TrackingNumber", fx.track_reply(fx.NOT_FOUND_RESULT))
    _assert_valid("RateQuotes", "ErrorResponseVO", fx.error_reply("ACCOUNT.NUMBER.MISMATCH", "x"))
    _assert_valid("APIAuthorization", "Response", fx.TOKEN_REPLY)


# -- the specs' own examples parse ------------------------------------------------------------------------


def test_the_oauth_example_gives_a_token_and_lifetime():
    reply = reply_example("APIAuthorization", "Response")
    token, lifetime = mapping.parse_oauth_response(reply)
    assert token == reply["access_token"]
    assert lifetime == float(reply["expires_in"])


def test_every_rate_reply_detail_in_fedex_example_becomes_a_quote():
    reply = {"output": reply_example("RateQuotes", "RatcResponseVO")["output"]}
    details = reply["output"]["rateReplyDetails"]
    quotes = mapping.parse_rate_response(reply)
    assert len(quotes) == len(details) >= 2
    by_service = {q.service_code: q for q in quotes}
    for detail in details:
        quote = by_service[detail["serviceType"]]
        account = next(d for d in detail["ratedShipmentDetails"] if d["rateType"] == "ACCOUNT")
        assert quote.total == money.Money(Decimal(str(account["totalNetCharge"])), account["currency"])
        assert quote.service_name == detail["serviceName"]
        assert quote.negotiated is True
        assert sum((c.amount.amount for c in quote.charges), Decimal(0)) == quote.total.amount
        # The example's duties and taxes estimate is kept apart from the price (docs/CUSTOMS.md).
        if account.get("totalDutiesAndTaxes"):
            assert quote.duties_and_taxes == money.Money(
                Decimal(str(account["totalDutiesAndTaxes"])), quote.total.currency
            )
        fuel = account["shipmentRateDetail"]["surCharges"][0]
        assert any(
            c.code == fuel["type"] and c.amount.amount == Decimal(str(fuel["amount"])) for c in quote.charges
        )
        # FedEx's example carries the commit date as dateDetail.dayCxsFormat and a THREE_DAYS style enum.
        commit_day = detail.get("commit", {}).get("dateDetail", {}).get("dayCxsFormat")
        if commit_day:
            assert quote.estimated_delivery is not None
            assert quote.estimated_delivery.isoformat() == commit_day[:10]
        transit = detail.get("operationalDetail", {}).get("transitTime")
        if transit:
            assert quote.transit_days == mapping.parse_days(transit)
            assert quote.transit_days is not None


def test_fedex_ship_reply_example_parses_to_tracking_numbers_label_and_charge():
    reply = reply_example("Shipment", "SHPCResponseVO_ShipShipment")
    shipment = reply["output"]["transactionShipments"][0]
    piece = shipment["pieceResponses"][0]
    document = piece["packageDocuments"][0]
    # The spec's placeholders: "encoded label" is not base64 and the example document is a commercial
    # invoice. Everything else is FedEx's example as written.
    assert document["encodedLabel"] == "encoded label"
    document["encodedLabel"] = base64.b64encode(b"%PDF-1.7 example").decode()
    document["contentType"] = "LABEL"
    result = mapping.parse_ship_response(reply)
    assert result.tracking_numbers == (piece["trackingNumber"],)
    assert result.carrier_shipment_id == shipment["masterTrackingNumber"]
    assert (result.label, result.label_format) == (
        b"%PDF-1.7 example",
        carrier.LabelFormat[document["docType"]],
    )
    rate = shipment["completedShipmentDetail"]["shipmentRating"]["shipmentRateDetails"][0]
    assert result.charges == money.Money(Decimal(str(rate["totalNetCharge"])), rate["currency"])
    assert shipment["alerts"] or reply["output"]["alerts"]
    assert mapping.ship_alerts(reply)


def test_fedex_cancel_reply_example_is_a_successful_void():
    reply = reply_example("Shipment", "SHPCResponseVO_CancelShipment")
    result = mapping.parse_cancel_response(reply, carrier.VoidRequest(fx.ACCOUNT, "794953555571"))
    assert result.voided is True
    assert reply["output"]["message"] in (result.message or "")


def test_fedex_track_reply_example_keeps_every_scan_field_and_the_error():
    reply = reply_example("TrackingNumbers", "TrkcResponseVO_TrackingNumber")
    complete = reply["output"]["completeTrackResults"][0]
    result_node = complete["trackResults"][0]
    scan = result_node["scanEvents"][0]
    result = mapping.parse_track_response(reply, complete["trackingNumber"])
    (event,) = result.events
    assert (event.code, event.subcode, event.description) == (
        scan["eventType"],
        scan["exceptionCode"],
        scan["eventDescription"],
    )
    assert event.tracking_number == result_node["trackingNumberInfo"]["trackingNumber"]
    occurred, _ = mapping.parse_timestamp(scan["date"])
    assert event.occurred_at == occurred
    location = scan["scanLocation"]
    assert event.location == carrier.EventLocation(
        city=location["city"],
        state=location["stateOrProvinceCode"],
        postal_code=location["postalCode"],
        country_code=location["countryCode"],
    )
    assert event.attributes["exception_description"] == scan["exceptionDescription"]
    assert event.attributes["derived_status_code"] == scan["derivedStatusCode"]
    assert event.attributes["location_id"] == scan["locationId"]
    assert event.attributes["location_type"] == scan["locationType"]
    assert (
        event.attributes["tracking_number_unique_id"]
        == result_node["trackingNumberInfo"]["trackingNumberUniqueId"]
    )
    assert event.raw == scan
    # The per-number error in the example is surfaced, not swallowed.
    assert any(result_node["error"]["code"] in warning for warning in result.warnings)


def test_fedex_track_example_with_a_delivery_scan_carries_the_signatory():
    reply = reply_example("TrackingNumbers", "TrkcResponseVO_TrackingNumber")
    result_node = reply["output"]["completeTrackResults"][0]["trackResults"][0]
    result_node["scanEvents"][0]["eventType"] = "DL"
    (event,) = mapping.parse_track_response(reply, "x").events
    assert event.attributes["signatory"] == result_node["deliveryDetails"]["signedByName"]
    assert event.attributes["received_by"] == result_node["deliveryDetails"]["receivedByName"]


_OPERATIONS = [
    ("APIAuthorization", mapping.OAUTH_PATH, "post"),
    ("RateQuotes", mapping.RATE_PATH, "post"),
    ("Shipment", mapping.SHIP_PATH, "post"),
    ("Shipment", mapping.CANCEL_PATH, "put"),
    ("TrackingNumbers", mapping.TRACK_PATH, "post"),
]


def _error_examples() -> list[tuple[str, int, dict[str, Any]]]:
    found = []
    for spec, path, method in _OPERATIONS:
        for status, response in _doc(spec)["paths"][path][method]["responses"].items():
            example = response.get("content", {}).get("application/json", {}).get("example")
            if int(status) >= 400 and isinstance(example, dict):
                found.append((f"{spec} {method.upper()} {path}", int(status), example))
    return found


def test_every_error_example_keeps_fedex_code_and_message_and_the_right_retry_class():
    examples = _error_examples()
    assert len(examples) >= 20
    for where, status, example in examples:
        error = mapping.parse_error(status, example)
        expected = base.CarrierUnavailable if status == 429 or status >= 500 else base.CarrierRejected
        assert type(error) is expected, where
        assert (error.code, error.http_status) == (example["errors"][0]["code"], status), where
        assert error.message == example["errors"][0]["message"], where


# -- pickup, address validation, Ground close -------------------------------------------------------------


@pytest.mark.parametrize("carrier_code", ["FDXE", "FDXG"])
def test_pickup_request_body_validates_against_the_pickup_spec(carrier_code):
    request = carrier.PickupRequest(
        fx.ACCOUNT,
        fx.ORIGIN,
        datetime(2024, 5, 6, 11, 0, tzinfo=UTC),
        datetime(2024, 5, 6, 23, 0, tzinfo=UTC),
        2,
        ("794953535000",),
    )
    body = services.pickup_request(request, fx.ACCOUNT, carrier_code).json
    _assert_valid("Pickup", "Full_Schema_Create_Pickup", body)
    assert "post" in _doc("Pickup")["paths"][services.PICKUP_PATH]


def test_fedex_pickup_reply_example_gives_the_confirmation_code():
    reply = reply_example("Pickup", "PudcResponseVO_CreatePickup")
    request = carrier.PickupRequest(
        fx.ACCOUNT, fx.ORIGIN, datetime(2024, 5, 6, 11, tzinfo=UTC), datetime(2024, 5, 6, 23, tzinfo=UTC), 1
    )
    result = services.parse_pickup_response(reply, request)
    assert result.confirmation == reply["output"]["pickupConfirmationCode"]
    assert result.details == {"carrier_code": "FDXE", "location": reply["output"]["location"]}


@pytest.mark.parametrize(
    "details", [{"carrier_code": "FDXE", "location": "COSA"}, {"carrier_code": "FDXG"}], ids=["FDXE", "FDXG"]
)
def test_cancel_pickup_request_body_validates_against_the_cancel_pickup_spec(details):
    request = carrier.PickupRequest(
        fx.ACCOUNT, fx.ORIGIN, datetime(2024, 5, 6, 11, tzinfo=UTC), datetime(2024, 5, 6, 23, tzinfo=UTC), 1
    )
    call = services.cancel_pickup_request(request, "7", details, fx.ACCOUNT)
    _assert_valid("Pickup", "Full_Schema_Cancel_Pickup", call.json)
    assert (call.json["scheduledDate"], call.json["carrierCode"]) == ("2024-05-06", details["carrier_code"])
    assert call.json.get("location") == details.get("location")
    assert call.method.lower() in _doc("Pickup")["paths"][services.CANCEL_PICKUP_PATH]


def test_fedex_cancel_pickup_reply_example_is_accepted():
    reply = reply_example("Pickup", "PudcResponseVO_CancelPickup")
    services.parse_cancel_pickup_response(reply, reply["output"]["pickupConfirmationCode"])


def test_address_request_body_validates_against_the_address_spec():
    body = services.address_request([fx.ORIGIN, fx.DESTINATION]).json
    _assert_valid("Addresses", "Full_Schema_Validate_Address", body)
    assert "post" in _doc("Addresses")["paths"][services.ADDRESS_PATH]


def test_fedex_address_reply_example_keeps_classification_and_attributes():
    reply = reply_example("Addresses", "AdvcResponseVO")
    node = reply["output"]["resolvedAddresses"][0]
    (check,) = services.parse_address_response(reply, [fx.DESTINATION])
    assert check.classification == node["classification"]
    assert check.address.city == node["city"]
    assert check.address.street_lines == tuple(node["streetLinesToken"])
    assert check.address.postal_code.startswith(node["parsedPostalCode"]["base"])
    assert set(check.attributes) == set(node["attributes"])
    assert check.resolved is bool(node["attributes"]["Resolved"])


def test_ground_close_request_body_validates_against_the_close_spec():
    body = services.ground_close_request(fx.ACCOUNT, date(2024, 5, 6)).json
    _assert_valid("ShipmentCloseAPI", "FullSchema_GEOD_PUT", body)
    assert "put" in _doc("ShipmentCloseAPI")["paths"][services.GROUND_CLOSE_PATH]


def test_fedex_ground_close_reply_example_keeps_its_documents():
    reply = reply_example("ShipmentCloseAPI", "SHPCResponseVO")
    documents = reply["output"]["closeDocuments"]
    for doc in documents:  # the spec's placeholder "ICAgICAg.." is not base64: make it so, keep the rest
        for part in doc["parts"]:
            part["image"] = base64.b64encode(b"OP950").decode()
    closed = services.parse_ground_close_response(reply)
    assert [d.type for d in closed.documents] == [d["type"] for d in documents]
    assert all(d.content.startswith(b"OP950") for d in closed.documents)
    assert len(closed.alerts) == len(reply["output"]["alerts"])
