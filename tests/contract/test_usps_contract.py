"""USPS contract: built requests validate against USPS's OpenAPI schemas; its examples parse without loss."""

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

SPECS = Path(__file__).resolve().parents[2] / ".." / "shared" / "carriers" / "usps"
if not SPECS.is_dir():
    pytest.skip(
        f"USPS OpenAPI specs not found at {SPECS} (../shared/carriers/ is absent)", allow_module_level=True
    )

import jsonschema  # noqa: E402
import referencing  # noqa: E402
import referencing.jsonschema  # noqa: E402
import yaml  # noqa: E402

from adapters.base import CarrierRejected, CarrierUnavailable  # noqa: E402
from adapters.usps import callback, client, mapping, requirements  # noqa: E402
from schemas import carrier, types  # noqa: E402

# The fixtures live with the unit tests so unit and contract tests check the same data.
from tests.unit.adapters_usps import usps_fixtures as fx  # noqa: E402

TODAY = date(2025, 5, 26)
_DOCS: dict[str, dict] = {}


def _jsonable(node: Any) -> Any:
    """YAML reads unquoted dates as dates; the JSON a client sends and receives holds strings."""
    if isinstance(node, dict):
        return {k: _jsonable(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_jsonable(v) for v in node]
    if isinstance(node, date | datetime):
        return node.isoformat()
    return node


def _doc(name: str) -> dict:
    if name not in _DOCS:
        doc = _jsonable(yaml.safe_load((SPECS / name).read_text(encoding="utf-8")))
        _DOCS[name] = _merged(doc, doc)
        if name == "carrier-pickup_3.yaml":
            # NotificationMethod is ``oneOf`` [email, SMS] where neither requires its one field, so every
            # contact matches both and fails ``oneOf``; read as intended: exactly one of the two fields.
            schemas = _DOCS[name]["components"]["schemas"]
            schemas["NotificationMethod"]["oneOf"] = [
                {**schemas["EmailNotification"], "required": ["email"]},
                {**schemas["SMSNotification"], "required": ["cellNumber"]},
            ]
    return _DOCS[name]


def _resolve(doc: dict, schema: dict) -> dict:
    while "$ref" in schema and schema["$ref"].startswith("#/"):
        node: Any = doc
        for part in schema["$ref"][2:].split("/"):
            node = node[part]
        schema = node
    return schema


def _merged(doc: dict, node: Any) -> Any:
    """Read ``allOf`` the way OpenAPI tools do: one object closed over the union of its parts' properties.

    USPS writes ``additionalProperties: false`` on the parts of an ``allOf`` (Role, ClientCredentials,
    TotalRatesQuery, TrackingDetail ...), which no instance can satisfy under plain JSON Schema, where
    each part sees the other parts' properties as extra.
    """
    if isinstance(node, list):
        return [_merged(doc, v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _merged(doc, v) for k, v in node.items()}
    if "allOf" not in node:
        return node
    parts = [_merged(doc, _resolve(doc, part)) for part in node.pop("allOf")]
    closed = node.get("additionalProperties") is False
    properties: dict = {}
    required: list = []
    rest: dict = {}
    for part in parts:
        closed = closed or part.get("additionalProperties") is False
        properties.update(part.get("properties", {}))
        required += [r for r in part.get("required", []) if r not in required]
        rest.update(
            {k: v for k, v in part.items() if k not in ("properties", "required", "additionalProperties")}
        )
    merged = {**rest, **node, "properties": {**properties, **node.get("properties", {})}}
    required += [r for r in node.get("required", []) if r not in required]
    if required:
        merged["required"] = required
    merged["additionalProperties"] = not closed
    return merged


def _validator(spec_file: str, schema: dict) -> jsonschema.protocols.Validator:
    # OpenAPI 3.0 schemas are a JSON Schema draft 4 dialect (boolean exclusiveMinimum, no const).
    uri = f"urn:usps:{spec_file}"
    resource = referencing.Resource.from_contents(
        _doc(spec_file), default_specification=referencing.jsonschema.DRAFT4
    )
    registry = referencing.Registry().with_resource(uri, resource)
    return jsonschema.Draft4Validator(
        _rebase(schema, uri), registry=registry, format_checker=jsonschema.FormatChecker()
    )


def _rebase(schema: Any, uri: str) -> Any:
    if isinstance(schema, dict):
        return {
            k: (f"{uri}{v}" if k == "$ref" and v.startswith("#") else _rebase(v, uri))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_rebase(v, uri) for v in schema]
    return schema


def _errors(spec_file: str, schema: dict, instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in _validator(spec_file, schema).iter_errors(instance)
    ]


def _component(spec_file: str, name: str, instance: Any) -> None:
    errors = _errors(spec_file, {"$ref": f"#/components/schemas/{name}"}, instance)
    assert errors == [], errors


def _request_schema(spec_file: str, path: str, method: str) -> dict:
    return _doc(spec_file)["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]


def _request(spec_file: str, path: str, method: str, body: Any) -> None:
    errors = _errors(spec_file, _request_schema(spec_file, path, method), body)
    assert errors == [], errors


# -- requests ----------------------------------------------------------------------------------------------


def test_the_token_request_validates_against_the_oauth_spec():
    call = mapping.oauth_request("key", "secret")
    _request("oauth2_3_update.yaml", "/token", "post", call.json)
    _component("oauth2_3_update.yaml", "ClientCredentials", call.json)


@pytest.mark.parametrize(
    "config",
    [fx.CONFIG, {**fx.CONFIG, "account_type": "PERMIT", "permit_zip": "63116", "price_type": "CONTRACT"}],
    ids=["eps", "permit-contract"],
)
def test_the_payment_authorization_validates_against_the_payments_spec(config):
    body = mapping.payment_authorization_request(config).json
    _request("payments_2.yaml", "/payment-authorization", "post", body)


def test_a_base_rates_query_validates_against_the_prices_spec():
    call = mapping.base_rates_request(
        carrier.RateRequest(fx.SPEC, "x", ("PRIORITY_MAIL",)),
        mapping.Service("PRIORITY_MAIL", "SP", "MACHINABLE"),
        fx.CONFIG,
        TODAY,
    )
    _request("domestic-prices_10.yaml", "/base-rates/search", "post", call.json)


@pytest.mark.parametrize(
    ("spec", "services"),
    [(fx.SPEC, ()), (fx.SPEC, ("PRIORITY_MAIL",)), (fx.VALUED, ("PRIORITY_MAIL", "USPS_GROUND_ADVANTAGE"))],
    ids=["shop-all", "one-class", "classes-extras-value"],
)
def test_total_rates_queries_validate_against_the_prices_spec(spec, services):
    call = mapping.total_rates_request(carrier.RateRequest(spec, "x", services), fx.CONFIG, TODAY)
    _request("domestic-prices_10.yaml", "/total-rates/search", "post", call.json)


def test_the_estimates_query_uses_only_parameters_the_service_standards_spec_defines():
    operation = _doc("service-standards_2_0.yaml")["paths"]["/estimates"]["get"]
    declared = {p["name"]: p for p in operation["parameters"] if "name" in p}
    for classes in (["PRIORITY_MAIL"], ["PRIORITY_MAIL", "USPS_GROUND_ADVANTAGE"]):
        params = mapping.estimates_request(fx.SPEC, classes, TODAY).params
        assert {n for n, p in declared.items() if p.get("required")} <= set(params)
        for name, value in params.items():
            assert name in declared, name
            errors = _errors("service-standards_2_0.yaml", declared[name]["schema"], value)
            assert errors == [], (name, errors)


@pytest.mark.parametrize("label_format", sorted(mapping.IMAGE_TYPES, key=str))
@pytest.mark.parametrize("spec", [fx.SPEC, fx.VALUED], ids=["plain", "signature-insured"])
def test_label_requests_validate_against_the_labels_spec(spec, label_format):
    request = carrier.LabelRequest(spec, "x", "PRIORITY_MAIL", "shp_0001", label_format)
    call = mapping.label_request(
        request, mapping.Service("PRIORITY_MAIL", "SP", "MACHINABLE"), TODAY, fx.CONFIG
    )
    _component("labels_update_1.yaml", "LabelRequest", call.json)
    accepted = _doc("labels_update_1.yaml")["paths"]["/label"]["post"]["responses"]["200"]["content"]
    assert call.headers["Accept"] in accepted


@pytest.mark.parametrize("label_format", sorted(mapping.IMAGE_TYPES, key=str))
@pytest.mark.parametrize("mail_class", sorted(mapping.RETURN_MAIL_CLASSES))
@pytest.mark.parametrize("options", [frozenset(), frozenset({mapping.RETURN_QR_OPTION})], ids=["label", "qr"])
def test_return_label_requests_validate_against_the_labels_spec(mail_class, label_format, options):
    spec = dataclasses.replace(fx.SPEC, is_return=True, options=options)
    request = carrier.LabelRequest(spec, "x", mail_class, "shp_0001", label_format)
    call = mapping.return_label_request(request, mapping.Service(mail_class, "SP", "MACHINABLE"))
    _component("labels_update_1.yaml", "ReturnLabelRequest", call.json)
    operation = _doc("labels_update_1.yaml")["paths"]["/return-label"]["post"]
    assert call.headers["Accept"] in operation["responses"]["200"]["content"]


# Labels that carry a customs form (labels_update_1.yaml customsForm): to APO/FPO/DPO and territories.
CUSTOMS_SPECS = {
    "apo-merchandise-two-items": fx.TO_APO,
    "guam-documents": dataclasses.replace(fx.TO_APO, destination=fx.GUAM, customs=fx.DOCUMENTS),
    "usvi-gift-importer-reference": dataclasses.replace(
        fx.TO_APO,
        destination=dataclasses.replace(fx.DESTINATION, state="VI", postal_code="00802"),
        customs=dataclasses.replace(
            fx.CUSTOMS,
            content_type="gift",
            invoice_number=None,
            importer_tax_ids=(types.TaxId("EIN", "98-7654321"),),
        ),
    ),
}


def _schema_properties(name: str) -> set[str]:
    return set(_doc("labels_update_1.yaml")["components"]["schemas"][name]["properties"])


def _assert_customs_form_names_only_spec_fields(form: dict) -> None:
    """Every name sent is one the spec declares: its schemas are open (additionalProperties: true), so a
    misspelt field (``countryOfOrigin`` for ``countryofOrigin``) would validate and be ignored by USPS."""
    assert set(form) <= _schema_properties("DomesticCustomsForm"), set(form)
    for line in form["contents"]:
        assert set(line) <= _schema_properties("ShippingContents"), set(line)


@pytest.mark.parametrize("label_format", sorted(mapping.IMAGE_TYPES, key=str))
@pytest.mark.parametrize("spec", list(CUSTOMS_SPECS.values()), ids=list(CUSTOMS_SPECS))
def test_label_requests_with_a_customs_form_validate_against_the_labels_spec(spec, label_format):
    request = carrier.LabelRequest(spec, "x", "USPS_GROUND_ADVANTAGE", "shp_0001", label_format)
    call = mapping.label_request(
        request, mapping.Service("USPS_GROUND_ADVANTAGE", "SP", "MACHINABLE"), TODAY, fx.CONFIG
    )

    assert "customsForm" in call.json
    _request("labels_update_1.yaml", "/label", "post", call.json)
    _component("labels_update_1.yaml", "DomesticCustomsForm", call.json["customsForm"])
    _assert_customs_form_names_only_spec_fields(call.json["customsForm"])
    # ImageInfo: customs forms "only support" these image types, and the 4X6LABEL, with the date shown.
    image = call.json["imageInfo"]
    assert image["imageType"] in mapping.CUSTOMS_FORM_IMAGE_TYPES
    assert (image["labelType"], image["suppressMailDate"], image["returnLabel"]) == ("4X6LABEL", False, False)


@pytest.mark.parametrize("options", [frozenset(), frozenset({mapping.RETURN_QR_OPTION})], ids=["label", "qr"])
def test_a_return_label_with_a_customs_form_validates_against_the_labels_spec(options):
    spec = dataclasses.replace(
        fx.TO_APO, origin=fx.APO, destination=fx.ORIGIN, is_return=True, options=options
    )
    request = carrier.LabelRequest(spec, "x", "PRIORITY_MAIL", "shp_0001", carrier.LabelFormat.PNG)
    call = mapping.return_label_request(request, mapping.Service("PRIORITY_MAIL", "SP", "MACHINABLE"))

    _request("labels_update_1.yaml", "/return-label", "post", call.json)
    _component("labels_update_1.yaml", "DomesticReturnsCustomsForm", call.json["customsForm"])
    _assert_customs_form_names_only_spec_fields(call.json["customsForm"])
    assert call.json["imageInfo"]["imageType"] in mapping.CUSTOMS_FORM_IMAGE_TYPES


def test_the_customs_form_uses_the_specs_own_enums_codes_and_image_types():
    schemas = _doc("labels_update_1.yaml")["components"]["schemas"]
    for form in ("DomesticCustomsForm", "DomesticReturnsCustomsForm"):
        enum = schemas[form]["properties"]["customsContentType"]["enum"]
        assert set(mapping.CUSTOMS_CONTENT_TYPES.values()) <= set(enum)
    assert schemas["ShippingContents"]["properties"]["weightUOM"]["enum"] == ["lb"]
    assert mapping.NO_EEI_LEGEND in schemas["CustomsForm"]["properties"]["AESITN"]["description"]
    assert schemas["CustomsForm"]["properties"]["invoiceNumber"]["maxLength"] == mapping.INVOICE_NUMBER_MAX
    states = set(schemas["State"]["pattern"].strip("^$()").split("|"))
    assert requirements.MILITARY_STATES | requirements.CUSTOMS_TERRITORIES | {"PR"} <= states
    image_types = set(schemas["ImageInfo"]["properties"]["imageType"]["enum"])
    assert image_types >= mapping.CUSTOMS_FORM_IMAGE_TYPES
    contents = schemas["ShippingContents"]["properties"]
    assert contents["itemDescription"]["maxLength"] == requirements.ITEM_DESCRIPTION_MAX
    assert contents["itemQuantity"]["maximum"] == requirements.ITEM_QUANTITY_MAX
    assert Decimal(str(contents["itemTotalValue"]["maximum"])) == requirements.ITEM_VALUE_MAX
    items = schemas["DomesticCustomsForm"]["properties"]["contents"]
    assert items["maxItems"] == requirements.CUSTOMS_ITEMS_MAX


def test_the_specs_customs_form_example_validates_and_ours_sends_every_field_it_does():
    """The spec's own APO example (CustomsFormRequest): ours, built for its addresses, covers its fields."""
    example = _doc("labels_update_1.yaml")["components"]["examples"]["CustomsFormRequest"]["value"]
    _request("labels_update_1.yaml", "/label", "post", example)
    to = example["toAddress"]
    apo = dataclasses.replace(
        fx.APO,
        postal_code=f"{to['ZIPCode']}-{to['ZIPPlus4']}",
        state=to["state"],
        street_lines=(to["streetAddress"],),
    )
    ours = mapping.label_request(
        carrier.LabelRequest(
            dataclasses.replace(fx.TO_APO, destination=apo), "x", "USPS_GROUND_ADVANTAGE", "s"
        ),
        mapping.Service("USPS_GROUND_ADVANTAGE", "SP", "MACHINABLE"),
        TODAY,
        fx.CONFIG,
    ).json
    assert ours["toAddress"] | {"firstName": "Nick", "lastName": "Fury"} == to
    assert set(ours["customsForm"]) >= set(example["customsForm"]) - {"restrictionType", "certificateNumber"}
    for line in example["customsForm"]["contents"]:
        assert set(ours["customsForm"]["contents"][0]) == set(line)


def test_the_labels_spec_refuses_a_customs_form_line_without_its_required_fields():
    call = mapping.label_request(
        carrier.LabelRequest(fx.TO_APO, "x", "PRIORITY_MAIL", "shp_0001"),
        mapping.Service("PRIORITY_MAIL", "SP", "MACHINABLE"),
        TODAY,
        fx.CONFIG,
    )
    for missing in ("itemDescription", "itemQuantity", "itemTotalValue", "itemTotalWeight", "weightUOM"):
        body = copy.deepcopy(call.json)
        del body["customsForm"]["contents"][0][missing]
        assert _errors(
            "labels_update_1.yaml", _request_schema("labels_update_1.yaml", "/label", "post"), body
        )
    body = copy.deepcopy(call.json)
    body["customsForm"]["customsContentType"] = "DOCUMENTS"
    assert _errors("labels_update_1.yaml", _request_schema("labels_update_1.yaml", "/label", "post"), body)


def test_the_cancel_call_is_the_documented_delete():
    call = mapping.cancel_request(fx.NUMBER)
    assert "delete" in _doc("labels_update_1.yaml")["paths"]["/label/{trackingNumber}"]
    assert (call.method, call.path) == ("DELETE", f"/labels/v3/label/{fx.NUMBER}")


def test_tracking_batches_validate_against_the_v3r2_spec():
    for numbers in ([fx.NUMBER], [f"9205590109769900{i:06d}" for i in range(35)]):
        _request("tracking-v3r2_4.yaml", "/tracking", "post", mapping.track_request(numbers).json)


@pytest.mark.parametrize(
    "target", [{"mid": "904128936"}, {"tracking_number": fx.NUMBER}], ids=["mid", "number"]
)
def test_subscriptions_validate_against_the_subscriptions_spec(target):
    call = mapping.subscription_request(
        "https://h.example/v1/callbacks/usps", fx.WEBHOOK_SECRET, ["ops@example.com"], **target
    )
    _request("subscriptions-tracking-v3r2_1.yaml", "/subscriptions", "post", call.json)


def test_the_subscription_read_and_delete_calls_are_the_documented_ones():
    paths = _doc("subscriptions-tracking-v3r2_1.yaml")["paths"]["/subscriptions/{subscriptionId}"]
    assert {"get", "delete"} <= set(paths)
    for call, method in (
        (mapping.subscription_read_request("sub-1"), "GET"),
        (mapping.subscription_delete_request("sub-1", '"e1"'), "DELETE"),
    ):
        assert (call.method, call.path) == (method, "/subscriptions-tracking/v3r2/subscriptions/sub-1")


@pytest.mark.parametrize("status", [None, "ENABLED", "SUSPENDED", "DISABLED"])
def test_a_subscription_as_usps_returns_it_parses(status):
    """The spec's own subscription examples, as the 201 and GET replies echo them (id, status, reason)."""
    doc = _doc("subscriptions-tracking-v3r2_1.yaml")
    for example in doc["components"]["examples"].values():
        if "listenerURL" not in example["value"]:
            continue
        reply = {**example["value"], "subscriptionId": "8c5a1e"}
        if status is not None:
            reply["status"] = status
        if status == "SUSPENDED":
            reply["statusReason"] = "Unable to reach the listener URL"
        _component("subscriptions-tracking-v3r2_1.yaml", "TrackingSubscription", reply)

        parsed = mapping.parse_subscription(reply)

        assert parsed.id == "8c5a1e"
        assert parsed.status == (status or "ENABLED").lower()
        assert parsed.listener_url == example["value"]["listenerURL"]
        assert parsed.reason == reply.get("statusReason")


def test_pickup_requests_validate_against_the_carrier_pickup_spec():
    request = carrier.PickupRequest(
        "x", fx.DESTINATION, datetime(2025, 5, 27, 9, tzinfo=UTC), datetime(2025, 5, 27, 17, tzinfo=UTC), 2
    )
    call = mapping.pickup_request(request, Decimal("2.5"))
    _request("carrier-pickup_3.yaml", "/carrier-pickup", "post", call.json)
    _component(
        "carrier-pickup_3.yaml",
        "PickupConfirmation",
        {"confirmationNumber": "WTC1", "pickupDate": "2025-05-27", "carrierPickupRequest": call.json},
    )


def test_pickup_cancel_is_the_documented_get_for_the_etag_then_delete_with_if_match():
    operations = _doc("carrier-pickup_3.yaml")["paths"]["/carrier-pickup/{confirmationNumber}"]
    lookup = mapping.pickup_lookup_request("WTC123456789")
    cancel = mapping.pickup_cancel_request("WTC123456789", '"33a64df551425fcc55e4d42a148795d9f25f89d4"')
    for call, method in ((lookup, "get"), (cancel, "delete")):
        assert (call.method, call.path) == (method.upper(), "/pickup/v3/carrier-pickup/WTC123456789")
        assert not call.json and not call.params
        required = {
            p["name"] for p in operations[method]["parameters"] if p.get("required") and p["in"] == "header"
        }
        assert required <= set(call.headers), (method, required)
    assert "ETag" in operations["get"]["responses"]["200"]["headers"]
    assert cancel.headers["If-Match"] == '"33a64df551425fcc55e4d42a148795d9f25f89d4"'
    reply = operations["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert (
        _errors(
            "carrier-pickup_3.yaml",
            reply,
            [{"confirmationNumber": "WTC123456789", "pickupDate": "2025-05-27"}],
        )
        == []
    )
    with pytest.raises(CarrierRejected):
        mapping.pickup_lookup_request("WTC1/../label")


@pytest.mark.parametrize("numbers", [[fx.NUMBER], []], ids=["labels", "mid"])
def test_scan_form_requests_validate_against_the_scan_form_spec(numbers):
    call = mapping.scan_form_request(fx.ORIGIN, TODAY, numbers, None if numbers else "904128936")
    _request("scan-form_1.yaml", "/scan-form", "post", call.json)


@pytest.mark.parametrize("shipment", ["LabelShipment", "MIDShipment", "ManifestMIDShipment"])
def test_usps_scan_form_samples_parse_without_losing_labels(shipment):
    sample = json.loads(
        (SPECS / "api-examples" / f"SCANForm-{shipment}-request.json").read_text(encoding="utf-8")
    )
    raw = (SPECS / "api-examples" / f"SCANForm-{shipment}-response.json").read_bytes()
    if shipment == "MIDShipment":
        # USPS's sample misses the commas between its trackingNumbers: not JSON. The adapter calls
        # such a reply malformed (retry later) rather than guess which labels it covers.
        with pytest.raises(CarrierUnavailable, match="not JSON"):
            mapping.multipart_metadata_and_image(raw, "multipart/form-data")
        return
    metadata, image = mapping.multipart_metadata_and_image(raw, "multipart/form-data")
    form = mapping.parse_scan_form(metadata, image)
    assert form.manifest_number == metadata["manifestNumber"]
    expected = metadata.get("trackingNumbers") or metadata["shipment"].get("trackingNumbers") or []
    assert list(form.tracking_numbers) == expected
    assert image.startswith(b"%PDF")
    assert metadata["shipment"] == sample["shipment"]


def test_the_spec_scan_form_example_parses():
    example = _doc("scan-form_1.yaml")["components"]["examples"]["SCANFormVendorResponse"]["value"]
    form = mapping.parse_scan_form_json(example)
    assert form.manifest_number == example["manifestNumber"]
    assert list(form.tracking_numbers) == example["trackingNumbers"]
    assert form.image is not None and form.image.startswith(b"\x89PNG")
    _component("scan-form_1.yaml", "SCANFormVendorResponse", example)


@pytest.mark.parametrize("address", [fx.ORIGIN, fx.DESTINATION], ids=["zip5-firm", "zip9-secondary"])
def test_address_queries_use_only_parameters_the_addresses_spec_defines(address):
    doc = _doc("addresses-v3r2_2.yaml")
    declared = {}
    for parameter in doc["paths"]["/address"]["get"]["parameters"]:
        parameter = _resolve(doc, parameter)
        declared[parameter["name"]] = parameter
    params = mapping.address_request(address).params
    assert {n for n, p in declared.items() if p.get("required")} <= set(params)
    for name, value in params.items():
        assert name in declared, name
        assert _errors("addresses-v3r2_2.yaml", declared[name]["schema"], value) == [], name


def test_the_readme_address_reply_parses():
    reply = _readme_json("###  Address")
    check = mapping.parse_address_response(reply, fx.DESTINATION)
    assert check.address.street_lines == ("3120 M ST NW",)
    assert check.address.postal_code == "20007-3704"
    assert (check.deliverable, check.business, check.vacant) == (True, True, False)
    assert check.matches == ("31: Single Response - exact match",)
    # Checked against the schema without nulls and without the README's empty correction
    # ({"code": "", "text": ""}), which the spec's own pattern refuses and the parser drops.
    valid = {k: v for k, v in reply.items() if v is not None and k != "corrections"}
    valid["address"] = {k: v for k, v in reply["address"].items() if v is not None}
    _component("addresses-v3r2_2.yaml", "AddressResponse", valid)
    assert check.corrections == ()


def test_the_addresses_spec_error_examples_read_as_rejections():
    examples = _doc("addresses-v3r2_2.yaml")["components"]["examples"]
    assert len(examples) >= 5
    for example in examples.values():
        body = example["value"]
        error = mapping.parse_error(int(body["error"]["code"]), body)
        assert error.message == mapping.error_detail(body)[1] != ""


def _response_examples(spec_file: str, path: str, method: str, status: str, media: str) -> list[Any]:
    doc = _doc(spec_file)
    content = doc["paths"][path][method]["responses"][status]["content"][media]
    values = [content["example"]] if "example" in content else []
    for example in (content.get("examples") or {}).values():
        values.append(_resolve(doc, example)["value"])
    assert values, f"no {status} {media} example for {method.upper()} {path} in {spec_file}"
    return values


def test_the_spec_token_examples_parse():
    for example in _response_examples("oauth2_3_update.yaml", "/token", "post", "200", "application/json"):
        token, lifetime = mapping.parse_oauth_response(example)
        assert token == example["access_token"] and lifetime == float(example["expires_in"])


def test_the_spec_payment_authorization_example_parses():
    for example in _response_examples(
        "payments_2.yaml", "/payment-authorization", "post", "200", "application/json"
    ):
        assert mapping.parse_payment_authorization(example) == example["paymentAuthorizationToken"]


def test_the_spec_json_label_example_parses_without_losing_a_charge():
    (example,) = _response_examples("labels_update_1.yaml", "/label", "post", "200", mapping.LABEL_ACCEPT)
    result = mapping.parse_label_json(example, carrier.LabelFormat.PNG)
    assert result.tracking_numbers == (example["trackingNumber"],)
    assert result.label.startswith(b"\x89PNG")
    priced = [example["postage"]] + [i["price"] for k in ("extraServices", "fees") for i in example[k]]
    assert result.charges is not None
    assert result.charges.amount == sum(Decimal(str(p)) for p in priced)
    assert len(result.charge_lines) == len(priced)


def test_the_spec_cancel_examples_parse_and_its_errors_are_rejections():
    path = "/label/{trackingNumber}"
    for example in _response_examples("labels_update_1.yaml", path, "delete", "200", "application/json"):
        number = example["trackingNumber"]
        result = mapping.parse_cancel_response(example, carrier.VoidRequest("x", number), number)
        assert result.voided and result.voided_tracking_numbers == (number,)
        assert (example.get("disputeId") or "") in (result.message or "")
    for example in _response_examples("labels_update_1.yaml", path, "delete", "400", "application/json"):
        error = mapping.parse_error(400, example)
        assert isinstance(error, CarrierRejected)
        assert error.code == example["error"]["errors"][0]["code"]
        assert example["error"]["errors"][0]["detail"] in error.message


# -- replies: the fixtures are valid, and USPS's own examples parse without losing fields -------------------


@pytest.mark.parametrize(
    ("spec_file", "component", "reply"),
    [
        ("oauth2_3_update.yaml", "AccessTokenResponse", {**fx.TOKEN_REPLY, "expires_in": 28799}),
        ("payments_2.yaml", "Parties", {"paymentAuthorizationToken": "t"}),
        ("domestic-prices_10.yaml", "TotalRatesQueryResult", fx.TOTAL_RATES_WITH_EXTRAS_REPLY),
        ("service-standards_2_0.yaml", "Estimates", fx.ESTIMATES_REPLY[:1]),
        ("labels_update_1.yaml", "LabelVendorResponse", fx.LABEL_REPLY),
        (
            "labels_update_1.yaml",
            "CancelResponse",
            {"trackingNumber": fx.NUMBER, "status": "DISPUTED", "disputeId": "1"},
        ),
        ("tracking-v3r2_4.yaml", "TrackingDetail", {k: v for k, v in fx.DETAIL.items() if k != "statusCode"}),
        ("tracking-v3r2_4.yaml", "FailureResponse", fx.NOT_FOUND_ITEM),
        ("subscriptions-tracking-v3r2_1.yaml", "scanEventEx", fx.push_envelope(fx.DETAIL)),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_the_fixtures_are_valid_usps_replies(spec_file, component, reply):
    reply = copy.deepcopy(reply)
    if component == "TrackingDetail":
        # Kept out: null values and the timestamp forms USPS's own examples use but RFC 3339 refuses
        # ("2024-04-04 14:03:12-07:00", no zone, date only); the unit tests read those.
        reply["trackingEvents"] = [
            {k: v for k, v in e.items() if v is not None}
            for e in reply["trackingEvents"]
            if _rfc3339(e["eventTimestamp"]) and _rfc3339(e.get("GMTTimestamp") or "2000-01-01T00:00:00Z")
        ]
        assert reply["trackingEvents"]
    _component(spec_file, component, reply)


def _rfc3339(text: str) -> bool:
    return jsonschema.FormatChecker().conforms(text, "date-time")


def _readme_json(after: str) -> Any:
    """The first JSON reply in USPS's api-examples README after a heading (the ```json block)."""
    text = (SPECS / "api-examples" / "README.md").read_text(encoding="utf-8")
    start = text.index(after)
    block = text.index("```json", start) + len("```json")
    return json.loads(text[block : text.index("```", block)])


def test_the_readme_token_reply_parses():
    reply = _readme_json("Example OAuth Client Credentials Token request")
    # USPS writes expires_in as a string here and as an integer in the spec.
    assert mapping.parse_oauth_response(reply) == (reply["access_token"], float(reply["expires_in"]))


def test_the_readme_payment_authorization_reply_parses():
    reply = _readme_json("Set the payment account for Domestic Label")
    assert mapping.parse_payment_authorization(reply) == reply["paymentAuthorizationToken"]


def test_the_readme_base_and_total_rate_replies_parse_without_losing_a_price():
    (base_rate,) = mapping.parse_rates_response(_readme_json("Domestic Prices - Base Rates Request"))
    assert (base_rate.service_code, str(base_rate.total.amount)) == ("PARCEL_SELECT", "8.02")
    total = _readme_json("Domestic Prices - Total Rates Request")
    results = mapping.parse_rates_response(total)
    # Four Parcel Select prices, told apart by SKU since this sample omits the rate ingredients.
    assert sorted(str(r.total.amount) for r in results) == ["5.84", "6.99", "8.04", "9.11"]
    assert {r.service_options for r in results} == {o["rates"][0]["SKU"] for o in total["rateOptions"]}
    for result in results:
        assert sum(c.amount.amount for c in result.charges) == result.total.amount
        assert "415" in [c.code for c in result.charges]


def test_the_readme_service_standards_reply_parses():
    (estimate,) = mapping.parse_estimates(_readme_json("Service Standards - Estimates Request"))
    assert (estimate.mail_class, estimate.days, estimate.delivery) == ("PRIORITY_MAIL", 2, date(2023, 5, 30))


def test_usps_multipart_label_sample_parses_without_losing_fields():
    raw = (SPECS / "api-examples" / "domesticlabel-v3-response.json").read_bytes()
    result = mapping.parse_label_multipart(raw, "multipart/form-data", carrier.LabelFormat.PDF)
    assert result.tracking_numbers == ("9205590109769900012613",)
    assert result.label.startswith(b"%PDF")
    assert str(result.charges.amount) == "7.64"
    (_, metadata), _ = mapping.multipart_parts(raw, "multipart/form-data")[:2]
    assert set(json.loads(metadata)) >= {"trackingNumber", "postage", "commitment", "SKU"}


def test_usps_label_request_sample_and_ours_agree_on_every_field_we_send():
    sample = json.loads(
        (SPECS / "api-examples" / "domesticlabel-v3-request.json").read_text(encoding="utf-8")
    )
    _component("labels_update_1.yaml", "LabelRequest", sample)
    ours = mapping.label_request(
        fx.LABEL_REQUEST, mapping.Service("PRIORITY_MAIL", "SP", "MACHINABLE"), TODAY, fx.CONFIG
    ).json
    assert set(ours["packageDescription"]) >= set(sample["packageDescription"]) - {
        "extraServices",
        "packageOptions",
    }
    assert set(ours["imageInfo"]) >= set(sample["imageInfo"]) - {"shipInfo"}


def test_the_spec_cancel_example_parses():
    schema = _doc("labels_update_1.yaml")["components"]["schemas"]["CancelResponse"]["properties"]
    reply = {k: v["example"] for k, v in schema.items()}
    result = mapping.parse_cancel_response(
        reply, carrier.VoidRequest("x", reply["trackingNumber"]), reply["trackingNumber"]
    )
    assert result.voided and reply["disputeId"] in (result.message or "")


def test_the_spec_push_examples_parse_every_event():
    content = _doc("subscriptions-tracking-v3r2_1.yaml")["paths"]["/notifications"]["post"]["requestBody"][
        "content"
    ]
    examples = content["application/json"]["examples"]
    assert len(examples) == 2
    for ref in examples.values():
        envelope = _doc("subscriptions-tracking-v3r2_1.yaml")["components"]["examples"][
            ref["$ref"].rsplit("/", 1)[-1]
        ]["value"]
        # USPS's examples escape the payload's quotes once more than a real push would.
        detail = json.loads(json.loads(f'"{envelope["payload"].strip()}"'))
        raw_events = detail.get("trackingEvents") or [detail["trackingEvent"]]
        parsed = callback.parse(envelope)
        assert len(parsed) == len(raw_events)
        for event, source in zip(parsed, raw_events, strict=True):
            assert event.code == source["eventCode"]
            assert event.raw == source
            assert event.description == source["eventType"]
        pushed = client.UspsAdapter.parse_callback(envelope)
        assert [p.event.raw_code for p in pushed] == [e["eventCode"] for e in raw_events]
        signature = callback.signature(fx.WEBHOOK_SECRET, envelope["timestamp"], envelope["payload"])
        callback.verify(fx.WEBHOOK_SECRET, {"X-HMAC": signature}, json.dumps(envelope).encode())
        assert base64.b64decode(signature)


def _property_examples(spec_file: str, component: str) -> dict:
    """An object made of the ``example`` of each property the component documents (refs followed)."""
    schemas = _doc(spec_file)["components"]["schemas"]
    out = {}
    for name, prop in schemas[component]["properties"].items():
        if "$ref" in prop:
            prop = schemas[prop["$ref"].rsplit("/", 1)[-1]]
        found = [prop.get("example")] + [
            _resolve(_doc(spec_file), c).get("example") for c in prop.get("oneOf", [])
        ]
        found = [f for f in found if f is not None]
        if found:  # the fullest one: the date-time rather than the date of a date-or-date-time
            out[name] = max(found, key=lambda f: len(str(f)))
    return out


def test_the_v3r2_spec_event_examples_parse():
    # The v3r2 spec has no reply examples; its property examples are the closest thing to one,
    # including the "2024-04-04 14:03:12.041000+00:00" GMT form and a numeric GMTOffset of -420.
    event = _property_examples("tracking-v3r2_4.yaml", "TrackingEvent")
    assert {"GMTTimestamp", "GMTOffset", "eventTimestamp"} <= set(event)
    event = {**event, "eventCode": "10", "eventType": "Processed through facility"}
    (parsed,) = mapping.detail_events({"trackingNumber": fx.NUMBER, "trackingEvents": [event]}, fx.NUMBER)
    assert parsed.occurred_at == datetime(2024, 4, 4, 14, 3, 12, 41000, tzinfo=UTC)
    assert parsed.raw == event
    local_only = {k: v for k, v in event.items() if k != "GMTTimestamp"}
    (from_local,) = mapping.detail_events({"trackingEvents": [local_only]}, fx.NUMBER)
    assert from_local.occurred_at == datetime(2024, 4, 4, 21, 3, 12, tzinfo=UTC)  # 14:03:12-07:00


def test_the_readme_tracking_detail_parses_every_event():
    reply = _readme_json("Tracking - Single Request - Detail")
    results = mapping.parse_track_response([reply], [reply["trackingNumber"]])
    result = results[reply["trackingNumber"]]
    assert [e.code for e in result.events] == [e["eventCode"] for e in reply["trackingEvents"]]
    (event,) = result.events
    assert event.location == carrier.EventLocation("RICHMOND", "VA", "23227")
    assert event.description == "USPS in possession of item"
