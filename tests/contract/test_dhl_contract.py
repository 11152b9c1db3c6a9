"""The envelopes the DHL Express adapter sends validate against DHL's real WSDL schemas in ../shared.

The adapter ships its own minimal WSDLs; these tests prove that what it puts on the wire is what DHL's
published contract (``../shared/carriers/dhl_express/*.wsdl``) accepts: the body of every envelope is
validated with lxml against the XML Schemas embedded in DHL's WSDL, and the SOAPAction is the one DHL's
binding declares. The shared folder is third-party material that is read, never copied.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import responses
from lxml import etree

from adapters import base
from adapters import http as carrier_http
from adapters.dhl_express import client
from schemas import carrier, money, types
from tests.customs_fixtures import DECLARATION

pytestmark = pytest.mark.contract

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "carriers" / "dhl_express"
XSD = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
SOAP_BINDING = "http://schemas.xmlsoap.org/wsdl/soap/"
SOAP_ENV = "{http://schemas.xmlsoap.org/soap/envelope/}"
WSSE = "{http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd}"
FAULT = (
    '<?xml version="1.0"?><e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><e:Fault>'
    "<faultcode>e:Server</faultcode><faultstring>contract test</faultstring></e:Fault></e:Body></e:Envelope>"
)


def real_wsdl(name: str) -> Path:
    path = SHARED / name
    if not path.is_file():
        pytest.skip(
            f"DHL Express contract {name} not found in ../shared/carriers/dhl_express/ (shared folder absent)"
        )
    return path


def embedded_schema(wsdl: Path, workdir: Path) -> etree.XMLSchema:
    """Compile every xsd:schema inside a WSDL's wsdl:types into one validator."""
    tree = etree.parse(str(wsdl), etree.XMLParser(resolve_entities=False, no_network=True))
    schemas = tree.getroot().findall(f"{{{WSDL}}}types/{{{XSD}}}schema")
    files = {s.get("targetNamespace"): workdir / f"schema{i}.xsd" for i, s in enumerate(schemas)}
    for schema in schemas:
        # Re-declare every prefix in scope at the WSDL root: type="tns:..." values need them, and lxml only
        # carries the prefixes used in element and attribute names.
        standalone = etree.Element(schema.tag, attrib=dict(schema.attrib), nsmap=schema.nsmap)
        standalone.extend(copy.deepcopy(child) for child in schema)
        for imported in standalone.findall(f"{{{XSD}}}import"):
            target = files.get(imported.get("namespace"))
            if target is not None:
                imported.set("schemaLocation", target.name)
        files[schema.get("targetNamespace")].write_bytes(etree.tostring(standalone))
    root = etree.Element(f"{{{XSD}}}schema", nsmap={"xsd": XSD})
    for namespace, path in files.items():
        etree.SubElement(root, f"{{{XSD}}}import", namespace=namespace, schemaLocation=path.name)
    main = workdir / "main.xsd"
    main.write_bytes(etree.tostring(root))
    return etree.XMLSchema(etree.parse(str(main)))


def soap_actions(wsdl: Path) -> dict[str, str]:
    tree = etree.parse(str(wsdl), etree.XMLParser(resolve_entities=False, no_network=True))
    actions = {}
    for operation in tree.getroot().iterfind(f"{{{WSDL}}}binding/{{{WSDL}}}operation"):
        soap_op = operation.find(f"{{{SOAP_BINDING}}}operation")
        actions[operation.get("name")] = soap_op.get("soapAction")
    return actions


@pytest.fixture(scope="module")
def rate_book_schema(tmp_path_factory: pytest.TempPathFactory) -> etree.XMLSchema:
    return embedded_schema(real_wsdl("expressRateBook.wsdl"), tmp_path_factory.mktemp("rate_book"))


@pytest.fixture(scope="module")
def track_schema(tmp_path_factory: pytest.TempPathFactory) -> etree.XMLSchema:
    return embedded_schema(real_wsdl("glDHLExpressTrack.wsdl"), tmp_path_factory.mktemp("track"))


@pytest.fixture
def adapter() -> client.DhlExpressAdapter:
    return client.DhlExpressAdapter(
        {
            "username": "handoff-api",
            "password": "contract-pw",
            "account_number": "123456789",
            "base_url": "http://dhl.contract.test/sndpt",
        },
        breaker=carrier_http.CircuitBreaker(),
        retry=carrier_http.RetryPolicy(attempts=1),
        now=lambda: datetime(2024, 5, 6, 9, 30, 15, 123456, tzinfo=UTC),
    )


def sent_envelopes(adapter: client.DhlExpressAdapter, action: Callable[[], Any]) -> list[responses.Call]:
    """Run action against a stub that answers every POST with a fault; return the captured calls."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(adapter.rate_book_url, body=FAULT, status=500, content_type="text/xml")
        mock.post(adapter.tracking_url, body=FAULT, status=500, content_type="text/xml")
        with contextlib.suppress(
            base.CarrierError
        ):  # a Server fault: unavailable, not sent twice (attempts=1)
            action()
        return list(mock.calls)


def body_and_header(call: responses.Call) -> tuple[etree._Element, etree._Element]:
    envelope = etree.fromstring(call.request.body)
    return envelope.find(f"{SOAP_ENV}Body")[0], envelope.find(f"{SOAP_ENV}Header")


def assert_valid(schema: etree.XMLSchema, element: etree._Element) -> None:
    document = etree.ElementTree(copy.deepcopy(element))
    if not schema.validate(document):
        errors = "\n".join(f"line {e.line}: {e.message}" for e in schema.error_log)
        raise AssertionError(
            f"envelope body breaks DHL's schema:\n{errors}\n{etree.tostring(element).decode()}"
        )


def address(country: str, **kw: Any) -> types.Address:
    fields: dict[str, Any] = {"country_code": country, "postal_code": "04109", "city": "Leipzig"}
    fields.update(kw)
    return types.Address(**fields)


def parcel(kg: str, value: money.Money | None = None) -> types.Parcel:
    return types.Parcel(Decimal(kg), Decimal("35.5"), Decimal("20"), Decimal("12.25"), declared_value=value)


SPECS = {
    "one-parcel-with-value": types.ShipmentSpec(
        origin=address(
            "DE",
            street_lines=("Augustusplatz 1",),
            name="Handoff Test",
            company="Handoff GmbH",
            phone="+49 341 000000",
        ),
        destination=address(
            "US",
            postal_code="10001",
            city="New York",
            state="NY",
            street_lines=("350 5th Ave", "Floor 3", "Suite 300"),
            name="Jane Doe",
            phone="+1 212 555 0100",
            email="jane@example.com",
        ),
        parcels=(parcel("1.2", money.Money(Decimal("120.00"), "EUR")),),
    ),
    "us-to-de-customs-ddp": types.ShipmentSpec(
        origin=address(
            "US",
            postal_code="10001",
            city="New York",
            state="NY",
            street_lines=("350 5th Ave",),
            company="Handoff Inc",
            phone="+1 212 555 0100",
        ),
        destination=address("DE", street_lines=("Markt 1",), name="Max Muster", phone="0341 1"),
        parcels=(parcel("1.2"),),
        customs=dataclasses.replace(DECLARATION, incoterm="DDP"),
    ),
    "three-documents-no-value": types.ShipmentSpec(
        origin=address(
            "GB",
            postal_code="EC1A 1BB",
            city="London",
            street_lines=("1 St Martin's Le Grand",),
            company="Handoff Ltd",
            phone="+44 20 0000 0000",
        ),
        destination=address(
            "DE", street_lines=("Karl-Liebknecht-Str. 5",), name="Max Muster", phone="0341 1"
        ),
        parcels=(parcel("0.25"), parcel("31.5"), parcel("2")),
        options=frozenset({"documents", "ddp"}),
    ),
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_rate_envelope_validates_against_dhls_rate_request_schema(adapter, rate_book_schema, name):
    calls = sent_envelopes(
        adapter, lambda: adapter.rate(carrier.RateRequest(spec=SPECS[name], account="123456789"))
    )
    body, _ = body_and_header(calls[0])

    assert body.tag == "{http://scxgxtt.phx-dc.dhl.com/euExpressRateBook/RateMsgRequest}RateRequest"
    assert_valid(rate_book_schema, body)


@pytest.mark.parametrize("label_format", [carrier.LabelFormat.PDF, carrier.LabelFormat.ZPL])
@pytest.mark.parametrize("name", sorted(SPECS))
def test_shipment_envelope_validates_against_dhls_shipment_request_schema(
    adapter, rate_book_schema, name, label_format
):
    request = carrier.LabelRequest(
        spec=SPECS[name],
        account="123456789",
        service_code="P",
        reference="shp_01HXYZ",
        label_format=label_format,
    )
    calls = sent_envelopes(adapter, lambda: adapter.label(request))
    body, _ = body_and_header(calls[0])

    assert body.tag == "{http://scxgxtt.phx-dc.dhl.com/euExpressRateBook/ShipmentMsgRequest}ShipmentRequest"
    assert_valid(rate_book_schema, body)


@pytest.mark.parametrize("number", ["1234567890", "JD014600006281230704"], ids=["waybill", "piece-id"])
def test_tracking_envelope_validates_against_dhls_tracking_schema(adapter, track_schema, number):
    calls = sent_envelopes(adapter, lambda: adapter.track(carrier.TrackRequest(tracking_number=number)))
    body, _ = body_and_header(calls[0])

    assert body.tag == (
        "{http://scxgxtt.phx-dc.dhl.com/glDHLExpressTrack/providers/services/trackShipment}trackShipmentRequest"
    )
    assert_valid(track_schema, body)


def test_the_validator_catches_an_envelope_that_breaks_the_contract(adapter, rate_book_schema):
    request = carrier.LabelRequest(
        spec=SPECS["one-parcel-with-value"], account="123456789", service_code="P", reference="shp_01HXYZ"
    )
    body, _ = body_and_header(sent_envelopes(adapter, lambda: adapter.label(request))[0])
    body.find("RequestedShipment/ShipmentInfo/LabelType").text = "GIF"
    body.find("RequestedShipment/Packages/RequestedPackages").remove(
        body.find("RequestedShipment/Packages/RequestedPackages/CustomerReferences")
    )

    with pytest.raises(AssertionError, match=r"LabelType|CustomerReferences"):
        assert_valid(rate_book_schema, body)


def test_soap_actions_and_ws_security_header_match_dhls_contract(adapter):
    rate_actions = soap_actions(real_wsdl("expressRateBook.wsdl"))
    track_actions = soap_actions(real_wsdl("glDHLExpressTrack.wsdl"))
    spec = SPECS["one-parcel-with-value"]
    calls = sent_envelopes(adapter, lambda: adapter.rate(carrier.RateRequest(spec=spec, account="123456789")))
    calls += sent_envelopes(
        adapter,
        lambda: adapter.label(
            carrier.LabelRequest(spec=spec, account="123456789", service_code="P", reference="shp_01HXYZ")
        ),
    )
    calls += sent_envelopes(
        adapter, lambda: adapter.track(carrier.TrackRequest(tracking_number="1234567890"))
    )

    sent_actions = [c.request.headers["SOAPAction"].strip('"') for c in calls]
    assert sent_actions == [
        rate_actions["getRateRequest"],
        rate_actions["createShipmentRequest"],
        track_actions["trackShipmentRequest"],
    ]
    for call in calls:
        _, header = body_and_header(call)
        token = header.find(f"{WSSE}Security/{WSSE}UsernameToken")
        assert token.findtext(f"{WSSE}Username") == "handoff-api"
        assert token.find(f"{WSSE}Password").get("Type", "").endswith("#PasswordText")


def test_a_spec_the_contract_cannot_carry_is_refused_before_sending(adapter):
    too_long = dataclasses.replace(
        SPECS["one-parcel-with-value"],
        destination=address("US", street_lines=("x" * 36,), name="Jane", phone="1"),
    )
    request = carrier.LabelRequest(spec=too_long, account="123456789", service_code="P", reference="shp_1")

    with responses.RequestsMock() as mock, pytest.raises(base.CarrierRejected, match="35 characters"):
        adapter.label(request)
    assert len(mock.calls) == 0
