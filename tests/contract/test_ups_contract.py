"""UPS contract: built requests and mocked replies match the UPS OpenAPI specs in ../shared."""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.contract

SPECS = Path(__file__).resolve().parents[2] / ".." / "shared" / "carriers" / "ups"
if not SPECS.is_dir():
    pytest.skip(
        f"UPS OpenAPI specs not found at {SPECS} (../shared/carriers/ is absent)", allow_module_level=True
    )

import jsonschema  # noqa: E402
import referencing  # noqa: E402
import referencing.jsonschema  # noqa: E402
import yaml  # noqa: E402

from adapters.ups import mapping  # noqa: E402
from schemas import carrier, types  # noqa: E402

# The fixtures live with the unit tests so unit and contract tests check the same data.
from tests.unit.adapters import ups_fixtures as fx  # noqa: E402


def _load(name: str) -> dict:
    text = (SPECS / name).read_text(encoding="utf-8")
    # Shipping.yaml and Tracking.yaml carry trailing tabs that strict YAML parsers reject.
    return yaml.safe_load(re.sub(r"[ \t]+(\r?\n)", r"\1", text))


_DOCS: dict[str, dict] = {}


def _validator(spec_file: str, component: str) -> jsonschema.protocols.Validator:
    if spec_file not in _DOCS:
        _DOCS[spec_file] = _load(spec_file)
    uri = f"urn:ups:{spec_file}"
    resource = referencing.Resource.from_contents(
        _DOCS[spec_file], default_specification=referencing.jsonschema.DRAFT202012
    )
    registry = referencing.Registry().with_resource(uri, resource)
    return jsonschema.Draft202012Validator(
        {"$ref": f"{uri}#/components/schemas/{component}"}, registry=registry
    )


def _assert_valid(spec_file: str, component: str, instance: object) -> None:
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in _validator(spec_file, component).iter_errors(instance)
    ]
    assert errors == [], errors


INTERNATIONAL = types.ShipmentSpec(
    origin=types.Address(
        "DE", "10115", "Berlin", ("Invalidenstr. 1",), company="Handoff GmbH", phone="+49 30 1234"
    ),
    destination=types.Address("FR", "75001", "Paris", ("1 Rue de Rivoli",), name="Claire Client"),
    parcels=(fx.PARCEL, fx.PARCEL),
    reference="order-43",
)


@pytest.mark.parametrize("spec", [fx.SPEC, INTERNATIONAL], ids=["us-domestic", "de-to-fr"])
def test_rate_request_bodies_validate_against_the_rating_spec(spec):
    body = mapping.rate_request(carrier.RateRequest(spec, fx.ACCOUNT)).json
    _assert_valid("Rating.yaml", "RATERequestWrapper", body)


@pytest.mark.parametrize(
    "label_format", [carrier.LabelFormat.GIF, carrier.LabelFormat.PNG, carrier.LabelFormat.ZPL]
)
@pytest.mark.parametrize("spec", [fx.SPEC, INTERNATIONAL], ids=["us-domestic", "de-to-fr"])
def test_ship_request_bodies_validate_against_the_shipping_spec(spec, label_format):
    request = carrier.LabelRequest(spec, fx.ACCOUNT, "11", "shp_0002", label_format)
    _assert_valid("Shipping.yaml", "SHIPRequestWrapper", mapping.ship_request(request).json)


def test_track_alert_subscription_body_validates_against_the_track_alert_spec():
    body = mapping.track_alert_subscription_request(["1Z12345E0205271688", "1ZCIETST0111111114"]).json
    _assert_valid("UPSTrackAlert.yaml", "PackageSubscriptionRequest", body)


def test_request_paths_and_methods_exist_in_the_specs():
    rating = _load("Rating.yaml")["paths"]
    shipping = _load("Shipping.yaml")["paths"]
    tracking = _load("Tracking.yaml")["paths"]
    alert = _load("UPSTrackAlert.yaml")["paths"]
    assert "post" in rating["/rating/{version}/{requestoption}"]
    assert "post" in shipping["/shipments/{version}/ship"]
    assert "delete" in shipping["/shipments/{version}/void/cancel/{shipmentidentificationnumber}"]
    assert "get" in tracking["/track/v1/details/{inquiryNumber}"]
    assert "get" in tracking["/track/v1/reference/details/{referenceNumber}"]
    assert "post" in alert["/subscription/{type}/package"]
    oauth = _load("OAuthClientCredentials.yaml")
    form = oauth["paths"]["/security/v1/oauth/token"]["post"]["requestBody"]["content"]
    assert set(mapping.oauth_request().form) == set(
        form["application/x-www-form-urlencoded"]["schema"]["required"]
    )


@pytest.mark.parametrize(
    ("spec_file", "component", "reply"),
    [
        ("Rating.yaml", "RATEResponseWrapper", fx.RATE_REPLY),
        ("Shipping.yaml", "SHIPResponseWrapper", fx.SHIP_REPLY),
        ("Shipping.yaml", "VOIDSHIPMENTResponseWrapper", fx.VOID_REPLY),
        ("Tracking.yaml", "TrackApiResponse", fx.TRACK_REPLY),
        ("Rating.yaml", "ErrorResponse", fx.error_reply("111210", "The requested service is unavailable")),
    ],
    ids=["rate", "ship", "void", "track", "error"],
)
def test_mocked_replies_have_the_shape_the_spec_declares(spec_file, component, reply):
    _assert_valid(spec_file, component, reply)


def test_the_spec_track_alert_examples_parse_to_events():
    webhook = _load("UPSTrackAlert.yaml")["webhooks"]["TrackingEvent"]["post"]
    examples = webhook["requestBody"]["content"]["application/json"]["examples"]
    events = [e for example in examples.values() for e in mapping.parse_track_alert_push(example["value"])]
    assert [(e.code, e.subcode) for e in events] == [("I", "OT"), ("D", "FS")]
    assert all(e.occurred_at.tzinfo is not None for e in events)
