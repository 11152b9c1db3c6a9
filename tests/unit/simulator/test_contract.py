"""The simulator's answers fit the carriers' published contracts in ../shared/carriers.

UPS replies are validated against the response schemas of UPS's OpenAPI files; DHL replies are
deserialised by zeep, in strict mode, with DHL's own WSDLs. Both skip when ../shared is absent.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
from lxml import etree

from tests.unit.simulator.sim_payloads import dhl_rate, dhl_ship, dhl_track, ups_rate_body, ups_ship_body
from tests.unit.simulator.sim_support import shared_or_skip

pytestmark = pytest.mark.contract

yaml = pytest.importorskip("yaml")

_SPECS: dict[str, dict[str, Any]] = {}


def _spec(name: str) -> dict[str, Any]:
    if name not in _SPECS:
        text = shared_or_skip("carriers", "ups", name).read_text(encoding="utf-8")
        # Shipping.yaml and Tracking.yaml carry stray trailing tabs that strict YAML rejects.
        _SPECS[name] = yaml.safe_load(re.sub(r"[ \t]+(\r?\n)", r"\1", text))
    return _SPECS[name]


# Label Recovery's LabelImageFormat.Code says "Valid value returned is GIF or PDF" yet demands exactly
# four characters; the simulator follows the documented values, so that one length rule is waived.
CONTRADICTIONS = {("LabelImageFormat", "Code", "minLength")}


def _validate(spec_name: str, schema_name: str, instance: Any) -> None:
    spec = _spec(spec_name)
    document = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    validator_class = (
        jsonschema.Draft202012Validator if spec["openapi"].startswith("3.1") else jsonschema.Draft7Validator
    )
    errors = sorted(
        (
            e
            for e in validator_class(document).iter_errors(instance)
            if (*[str(p) for p in list(e.path)[-2:]], e.validator) not in CONTRADICTIONS
        ),
        key=lambda e: list(e.path),
    )
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def test_the_token_reply_matches_the_oauth_spec(client, ups_headers):
    from tests.unit.simulator.sim_support import basic

    reply = client.post(
        "/security/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic("sim-ups-client", "sim-ups-secret")},
    )
    _validate("OAuthClientCredentials.yaml", "tokenSuccessResponse", reply.json)
    bad = client.post("/security/v1/oauth/token", data={"grant_type": "client_credentials"})
    _validate("OAuthClientCredentials.yaml", "tokenErrorResponse", bad.json)


@pytest.mark.parametrize("option", ["Shop", "Rate", "Shoptimeintransit"])
def test_rating_replies_match_the_rating_spec(client, ups_headers, option):
    body = ups_rate_body()
    body["RateRequest"]["Shipment"]["Service"] = {"Code": "03"}
    body["RateRequest"]["Shipment"]["ShipmentRatingOptions"] = {"NegotiatedRatesIndicator": "Y"}
    reply = client.post(f"/api/rating/v2409/{option}", json=body, headers=ups_headers)
    assert reply.status_code == 200
    _validate("Rating.yaml", "RATEResponseWrapper", reply.json)


def test_rating_errors_match_the_error_schema(client, ups_headers):
    reply = client.post("/api/rating/v2409/Rate", json=ups_rate_body(service="65"), headers=ups_headers)
    _validate("Rating.yaml", "ErrorResponse", reply.json)


@pytest.mark.parametrize(("fmt", "packages"), [("GIF", 1), ("ZPL", 2), ("PNG", 1)])
def test_ship_void_and_recovery_replies_match_the_shipping_spec(client, ups_headers, fmt, packages):
    reply = client.post(
        "/api/shipments/v2409/ship",
        json=ups_ship_body(label_format=fmt, packages=packages),
        headers=ups_headers,
    )
    _validate("Shipping.yaml", "SHIPResponseWrapper", reply.json)
    number = reply.json["ShipmentResponse"]["ShipmentResults"]["ShipmentIdentificationNumber"]
    recovery = client.post(
        "/api/labels/v1/recovery",
        json={"LabelRecoveryRequest": {"Request": {}, "TrackingNumber": number}},
        headers=ups_headers,
    )
    _validate("Shipping.yaml", "LABELRECOVERYResponseWrapper", recovery.json)
    voided = client.delete(f"/api/shipments/v2409/void/cancel/{number}", headers=ups_headers)
    _validate("Shipping.yaml", "VOIDSHIPMENTResponseWrapper", voided.json)
    refused = client.delete("/api/shipments/v2409/void/cancel/1ZCIETST0111111114", headers=ups_headers)
    _validate("Shipping.yaml", "ErrorResponse", refused.json)


def test_tracking_replies_match_the_tracking_spec_through_the_whole_day(client, ups_headers):
    reply = client.post(
        "/api/shipments/v2409/ship", json=ups_ship_body(reference="shp_c"), headers=ups_headers
    )
    number = reply.json["ShipmentResponse"]["ShipmentResults"]["ShipmentIdentificationNumber"]
    for _ in range(6):
        tracked = client.get(f"/api/track/v1/details/{number}?returnSignature=true", headers=ups_headers)
        _validate("Tracking.yaml", "TrackApiResponse", tracked.json)
        client.post("/_sim/clock", json={"advance_hours": 5})
    by_reference = client.get("/api/track/v1/reference/details/shp_c", headers=ups_headers)
    _validate("Tracking.yaml", "TrackApiResponse", by_reference.json)
    missing = client.get("/api/track/v1/details/1ZCIETST0111111114", headers=ups_headers)
    _validate("Tracking.yaml", "Response", missing.json)


def test_track_alert_replies_and_pushes_match_the_track_alert_specs(make_app, ups_headers):
    from simulator import push
    from tests.unit.simulator.sim_support import basic

    app = make_app(exception_share=1.0)
    client = app.test_client()
    token = client.post(
        "/security/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic("sim-ups-client", "sim-ups-secret")},
    ).json["access_token"]
    headers = {"Authorization": f"Bearer {token}", "transId": "t", "transactionSrc": "tests"}
    numbers = []
    for index in range(6):
        reply = client.post(
            "/api/shipments/v2409/ship", json=ups_ship_body(reference=f"r{index}"), headers=headers
        )
        numbers.append(reply.json["ShipmentResponse"]["ShipmentResults"]["ShipmentIdentificationNumber"])
    subscribed = client.post(
        "/api/track/v2/subscription/standard/package",
        json={"locale": "en_US", "countryCode": "US", "trackingNumberList": numbers},
        headers=headers,
    )
    _validate("UPSTrackAlert.yaml", "PackageSubscriptionSuccessResponse", subscribed.json)
    refused = client.post(
        "/api/track/v2/subscription/standard/package", json={"trackingNumberList": numbers}, headers=headers
    )
    _validate("UPSTrackAlert.yaml", "ErrorMessage", refused.json)
    sim = app.extensions["handoff_simulator"]
    sim.clock.advance(40 * 3600)
    payloads = []
    for label in sim.ledger.all():
        for when, step in sim.events_so_far(label):
            payloads.append(push.ups_payload(label.tracking_number, when, step, when))
    assert len(payloads) > 30
    for payload in payloads:
        _validate("UPSTrackAlert.yaml", "TrackingEventRequest", payload)
        _validate("UPSTrackAlert-v1-00379e43.yaml", "TrackingEventRequest", payload)


@pytest.mark.parametrize("option", ["1", "2", "3"])
def test_address_validation_replies_match_the_address_validation_spec(client, ups_headers, option):
    from adapters.ups import address
    from schemas import types

    for lines in (("1100 Wyoming St",), ("10 FedEx Parkway", "Suite 302"), ("Nowhere Lane",)):
        call = address.request(types.Address("US", "63118", "St. Louis", lines, state="MO", name="Joe Doe"))
        path = call.path.rsplit("/", 1)[0] + f"/{option}"
        reply = client.post(path, json=call.json, query_string=dict(call.params), headers=ups_headers)
        assert reply.status_code == 200
        _validate("AddressValidation.yaml", "XAVResponseWrapper", reply.json)
    refused = client.post(path, json={"XAVRequest": {}}, headers=ups_headers)
    assert refused.status_code == 400
    _validate("AddressValidation.yaml", "ErrorResponse", refused.json)


# -- DHL Express ---------------------------------------------------------------------------------

zeep = pytest.importorskip("zeep")


def _operation(wsdl: str, binding: str, name: str):
    path = shared_or_skip("carriers", "dhl_express", wsdl)
    client = zeep.Client(
        str(path),
        settings=zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True),
    )
    return client.wsdl.bindings[binding].get(name)


RATE_BOOK = "{http://scxgxtt.phx-dc.dhl.com/euExpressRateBook/ShipmentMsgRequest}gblExpressRateBook"
TRACK = "{http://scxgxtt.phx-dc.dhl.com/glDHLExpressTrack/providers/services/trackShipment}gblDHLExpressTrack"


def _reply(client, path: str, body: bytes) -> etree._Element:
    reply = client.post(path, data=body, content_type="text/xml")
    assert reply.status_code == 200, reply.data
    return etree.fromstring(reply.data)


def test_rate_replies_deserialise_strictly_with_dhls_wsdl(client):
    result = _operation("expressRateBook.wsdl", RATE_BOOK, "getRateRequest").process_reply(
        _reply(client, "/sndpt/expressRateBook", dhl_rate())
    )
    services = result.Service if hasattr(result, "Service") else result["Provider"].Service
    assert {s.type for s in services} == {"P", "T", "K"}


def test_create_shipment_replies_deserialise_strictly_with_dhls_wsdl(client):
    for label_type in ("PDF", "ZPL"):
        result = _operation("expressRateBook.wsdl", RATE_BOOK, "createShipmentRequest").process_reply(
            _reply(client, "/sndpt/expressRateBook", dhl_ship(label_type=label_type))
        )
        assert len(result.ShipmentIdentificationNumber) == 10
        assert result.LabelImage[0].GraphicImage[:3] in (b"%PD", b"^XA")
        assert str(result.Notification[0].code) == "0"
    refused = _operation("expressRateBook.wsdl", RATE_BOOK, "createShipmentRequest").process_reply(
        _reply(client, "/sndpt/expressRateBook", dhl_ship(service="N"))
    )
    assert str(refused.Notification[0].code) != "0"


def test_track_replies_deserialise_strictly_with_dhls_wsdl(client):
    shipped = _reply(client, "/sndpt/expressRateBook", dhl_ship())
    waybill = next(
        el.text for el in shipped.iter() if etree.QName(el).localname == "ShipmentIdentificationNumber"
    )
    operation = _operation("glDHLExpressTrack.wsdl", TRACK, "trackShipmentRequest")
    for hours in (0, 6, 30):
        client.post("/_sim/clock", json={"advance_hours": hours})
        result = operation.process_reply(_reply(client, "/sndpt/glDHLExpressTrack", dhl_track(waybill)))
        item = result.AWBInfo.ArrayOfAWBInfoItem[0]
        assert item.Status.ActionStatus == "Success"
    events = item.ShipmentInfo.ShipmentEvent.ArrayOfShipmentEventItem
    assert events[-1].ServiceEvent.EventCode == "OK"
    unknown = operation.process_reply(_reply(client, "/sndpt/glDHLExpressTrack", dhl_track("1234567890")))
    assert unknown.AWBInfo.ArrayOfAWBInfoItem[0].Status.ActionStatus == "No Shipments Found"
