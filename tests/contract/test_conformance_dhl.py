"""DHL Express conformance (issue 17): envelopes the adapter sends, replies built from DHL's WSDL types.

``test_dhl_contract.py`` validates envelope bodies and SOAPActions; this suite checks each captured
envelope as DHL's binding routes it (``conformance.Wsdl.check_envelope``: the SOAPAction names an operation,
the body is that operation's input element, and it validates), and feeds the adapter replies written from
the WSDL's output types — every one validated against DHL's schema first — checking that no field the
canonical types have is lost on the way.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import responses
from lxml import etree

from adapters import base
from adapters import http as carrier_http
from adapters.dhl_express import client
from schemas import carrier, money, types
from tests.contract import conformance

pytestmark = pytest.mark.contract

RATE_RESPONSE_NS = "http://scxgxtt.phx-dc.dhl.com/euExpressRateBook/RateMsgResponse"
SHIP_RESPONSE_NS = "http://scxgxtt.phx-dc.dhl.com/euExpressRateBook/ShipmentMsgResponse"
TRACK_NS = "http://scxgxtt.phx-dc.dhl.com/glDHLExpressTrack/providers/services/trackShipment"
FAULT = (
    '<?xml version="1.0"?><e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><e:Fault>'
    "<faultcode>e:Server</faultcode><faultstring>conformance</faultstring></e:Fault></e:Body></e:Envelope>"
)
PDF = b"%PDF-1.4\n% handoff conformance label\n%%EOF\n"
PDF_2 = b"%PDF-1.4\n% handoff conformance label, piece 2\n%%EOF\n"


@pytest.fixture(scope="module")
def rate_book() -> conformance.Wsdl:
    return conformance.Wsdl.load("dhl_express", "expressRateBook.wsdl")


@pytest.fixture(scope="module")
def tracking() -> conformance.Wsdl:
    return conformance.Wsdl.load("dhl_express", "glDHLExpressTrack.wsdl")


def make_adapter() -> client.DhlExpressAdapter:
    return client.DhlExpressAdapter(
        {
            "username": "handoff-api",
            "password": "conformance-pw",
            "account_number": "123456789",
            "base_url": "http://dhl.conformance.test/sndpt",
        },
        breaker=carrier_http.CircuitBreaker(),
        retry=carrier_http.RetryPolicy(attempts=1),
        now=lambda: datetime(2024, 5, 6, 9, 30, 15, 123456, tzinfo=UTC),
    )


def address(country: str, **kw: Any) -> types.Address:
    fields: dict[str, Any] = {"country_code": country, "postal_code": "04109", "city": "Leipzig"}
    fields.update(kw)
    return types.Address(**fields)


def parcel(kg: str, value: money.Money | None = None) -> types.Parcel:
    return types.Parcel(Decimal(kg), Decimal("40"), Decimal("30"), Decimal("20"), declared_value=value)


ORIGIN = address(
    "DE", street_lines=("Augustusplatz 1",), name="Handoff Test", company="Handoff GmbH", phone="+49 341 0"
)
EU = types.ShipmentSpec(
    origin=ORIGIN,
    destination=address(
        "NL", postal_code="1012 AB", city="Amsterdam", street_lines=("Dam 1",), name="Piet", phone="+31 20 1"
    ),
    parcels=(parcel("0.5"),),
    reference="order-eu-1",
)
WORLD = types.ShipmentSpec(
    origin=ORIGIN,
    destination=address(
        "US",
        postal_code="10001",
        city="New York",
        state="NY",
        street_lines=("350 5th Ave", "Floor 3"),
        name="Jane Doe",
        company="Doe Imports LLC",
        phone="+1 212 555 0100",
        email="jane@example.com",
        residential=True,
    ),
    parcels=(
        parcel("1.2", money.Money(Decimal("120.00"), "EUR")),
        parcel("7.75", money.Money(Decimal("80"), "EUR")),
    ),
    reference="order-world-2",
)


def label(spec: types.ShipmentSpec, label_format: carrier.LabelFormat) -> carrier.LabelRequest:
    return carrier.LabelRequest(spec, "123456789", "P", "shp_01HXYZCONFORMANCE", label_format)


OPERATIONS: dict[str, tuple[str, Callable[[client.DhlExpressAdapter], Any]]] = {
    "rate eu": ("getRateRequest", lambda a: a.rate(carrier.RateRequest(EU, "123456789"))),
    "rate world, two valued parcels": (
        "getRateRequest",
        lambda a: a.rate(carrier.RateRequest(WORLD, "123456789")),
    ),
    "label eu PDF": ("createShipmentRequest", lambda a: a.label(label(EU, carrier.LabelFormat.PDF))),
    "label world ZPL": ("createShipmentRequest", lambda a: a.label(label(WORLD, carrier.LabelFormat.ZPL))),
    "track waybill": ("trackShipmentRequest", lambda a: a.track(carrier.TrackRequest("1234567890"))),
    "track piece id": (
        "trackShipmentRequest",
        lambda a: a.track(carrier.TrackRequest("JD014600006281230704")),
    ),
}


def sent(action: Callable[[client.DhlExpressAdapter], Any]) -> list[Any]:
    """Run an operation against a stub answering every POST with a SOAP fault; return the requests sent."""
    adapter = make_adapter()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(adapter.rate_book_url, body=FAULT, status=500, content_type="text/xml")
        mock.post(adapter.tracking_url, body=FAULT, status=500, content_type="text/xml")
        with contextlib.suppress(base.CarrierError):
            action(adapter)
        return [call.request for call in mock.calls]


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_every_envelope_the_adapter_sends_is_routed_and_valid_per_dhls_wsdl(rate_book, tracking, name):
    expected_operation, action = OPERATIONS[name]
    [request] = sent(action)
    wsdl = tracking if expected_operation == "trackShipmentRequest" else rate_book

    operation, violations = wsdl.check_envelope(request)

    assert operation is not None and operation.name == expected_operation
    conformance.assert_conforms(violations, f"{name} envelope")
    assert request.url.endswith("/glDHLExpressTrack" if wsdl is tracking else "/expressRateBook")


def test_every_operation_the_adapter_performs_is_covered_here():
    covered = {base.Capability.RATE, base.Capability.LABEL, base.Capability.TRACK_POLL}
    assert client.DhlExpressAdapter.capabilities <= covered


def test_void_is_refused_without_a_call_since_delete_shipment_only_cancels_a_pickup(rate_book):
    # The WSDL's third operation cancels a booked courier pickup, not a waybill: no void is offered.
    assert set(rate_book.operations) == {"getRateRequest", "createShipmentRequest", "deleteShipmentRequest"}
    adapter = make_adapter()

    with responses.RequestsMock() as mock, pytest.raises(client.VoidNotOffered):
        adapter.void(carrier.VoidRequest("123456789", "1234567890"))
    assert len(mock.calls) == 0


def test_the_envelope_check_catches_a_body_sent_under_the_wrong_soapaction(rate_book):
    [request] = sent(OPERATIONS["rate eu"][1])
    request.headers["SOAPAction"] = rate_book.operations["createShipmentRequest"].soap_action

    operation, violations = rate_book.check_envelope(request)

    assert operation is not None and operation.name == "createShipmentRequest"
    assert [v.keyword for v in violations] == ["element"]


# -- replies written from the WSDL's output types ------------------------------------------------------------

RATE_REPLY = f"""
<rateresp:RateResponse xmlns:rateresp="{RATE_RESPONSE_NS}">
  <Provider code="DHL">
    <Notification code="0"><Message/></Notification>
    <Service type="P" account="RATED_ACCOUNT">
      <TotalNet type="PULCL"><Currency>USD</Currency><Amount>66.02</Amount></TotalNet>
      <TotalNet type="BILLC"><Currency>EUR</Currency><Amount>61.17</Amount></TotalNet>
      <Charges type="PULCL">
        <Currency>USD</Currency>
        <Charge><ChargeType>EXPRESS WORLDWIDE</ChargeType><ChargeAmount>66.02</ChargeAmount></Charge>
      </Charges>
      <Charges type="BILLC">
        <Currency>EUR</Currency>
        <Charge><ChargeType>EXPRESS WORLDWIDE</ChargeType><ChargeAmount>52.40</ChargeAmount></Charge>
        <Charge><ChargeCode>FF</ChargeCode><ChargeType>FUEL SURCHARGE</ChargeType><ChargeAmount>8.77</ChargeAmount></Charge>
      </Charges>
      <DeliveryTime>2024-05-08T23:59:00</DeliveryTime>
      <CutoffTime>2024-05-06T17:00:00</CutoffTime>
      <NextBusinessDayInd>N</NextBusinessDayInd>
      <ServiceName>EXPRESS WORLDWIDE</ServiceName>
      <TotalTransitDays>2</TotalTransitDays>
    </Service>
    <Service type="K" account="RATED_ACCOUNT">
      <TotalNet><Currency>EUR</Currency><Amount>98.05</Amount></TotalNet>
      <DeliveryTime>2024-05-08T09:00:00</DeliveryTime>
      <ServiceName>EXPRESS 9:00</ServiceName>
      <TotalTransitDays>2</TotalTransitDays>
    </Service>
  </Provider>
</rateresp:RateResponse>"""

RATE_REFUSAL = f"""
<rateresp:RateResponse xmlns:rateresp="{RATE_RESPONSE_NS}">
  <Provider code="DHL">
    <Notification code="420504"><Message>The requested product(s) not available.</Message></Notification>
  </Provider>
</rateresp:RateResponse>"""

SHIP_REPLY = f"""
<shipresp:ShipmentResponse xmlns:shipresp="{SHIP_RESPONSE_NS}">
  <Notification code="0"><Message/></Notification>
  <PackagesResult>
    <PackageResult number="1"><TrackingNumber>JD014600006281230704</TrackingNumber></PackageResult>
    <PackageResult number="2"><TrackingNumber>JD014600006281230711</TrackingNumber></PackageResult>
  </PackagesResult>
  <LabelImage>
    <LabelImageFormat>PDF</LabelImageFormat>
    <GraphicImage>{base64.b64encode(PDF).decode()}</GraphicImage>
  </LabelImage>
  <LabelImage>
    <LabelImageFormat>PDF</LabelImageFormat>
    <GraphicImage>{base64.b64encode(PDF_2).decode()}</GraphicImage>
  </LabelImage>
  <ShipmentIdentificationNumber>1234567890</ShipmentIdentificationNumber>
  <TotalNet type="BILLC">
    <Currency>EUR</Currency>
    <Amount>61.17</Amount>
    <Charges>
      <Charge><ChargeType>EXPRESS WORLDWIDE</ChargeType><ChargeAmount>52.40</ChargeAmount></Charge>
      <Charge><ChargeCode>FF</ChargeCode><ChargeType>FUEL SURCHARGE</ChargeType><ChargeAmount>8.77</ChargeAmount></Charge>
    </Charges>
  </TotalNet>
</shipresp:ShipmentResponse>"""


NIL_REFERENCE = '<ShipperReference xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/>'


def _checkpoint(
    tag: str,
    day: str,
    clock: str,
    code: str,
    text: str,
    area: str,
    place: str,
    extra: str = "",
    tail: str = "",
) -> str:
    """One ShipmentEvent / PieceEvent (``tail``: what the piece type requires after ServiceArea)."""
    return (
        f"<{tag}><Date>{day}</Date><Time>{clock}</Time>"
        f"<ServiceEvent><EventCode>{code}</EventCode><Description>{text}</Description></ServiceEvent>{extra}"
        f"<ServiceArea><ServiceAreaCode>{area}</ServiceAreaCode><Description>{place}</Description></ServiceArea>"
        f"{tail}</{tag}>"
    )


TRACK_REPLY = f"""
<ser-root:trackShipmentRequestResponse xmlns:ser-root="{TRACK_NS}">
  <trackingResponse>
    <ns:TrackingResponse xmlns:ns="http://www.dhl.com">
      <Response>
        <ServiceHeader>
          <MessageTime>2024-05-08T12:00:00Z</MessageTime>
          <MessageReference>0123456789abcdef0123456789abcdef</MessageReference>
        </ServiceHeader>
      </Response>
      <AWBInfo>
        <ArrayOfAWBInfoItem>
          <AWBNumber>1234567890</AWBNumber>
          <Status><ActionStatus>Success</ActionStatus></Status>
          <ShipmentInfo>
            <OriginServiceArea><ServiceAreaCode>LEJ</ServiceAreaCode><Description>LEIPZIG - GERMANY</Description></OriginServiceArea>
            <DestinationServiceArea><ServiceAreaCode>JFK</ServiceAreaCode><Description>NEW YORK - USA</Description></DestinationServiceArea>
            <ShipperName>Handoff Test</ShipperName>
            <ConsigneeName>Jane Doe</ConsigneeName>
            <ShipmentDate>2024-05-06T10:00:00</ShipmentDate>
            <Pieces>2</Pieces>
            <ShipmentEvent>
              {_checkpoint("ArrayOfShipmentEventItem", "2024-05-06", "17:05:00+02:00", "PU", "Shipment picked up", "LEJ", "LEIPZIG - GERMANY")}
              {_checkpoint("ArrayOfShipmentEventItem", "2024-05-08", "14:32:00", "OK", "Delivered", "JFK", "NEW YORK - USA", "<Signatory>DOE</Signatory>")}
            </ShipmentEvent>
            <EstimatedDeliveryDate>2024-05-08T23:59:00</EstimatedDeliveryDate>
          </ShipmentInfo>
          <Pieces>
            <PieceInfo>
              <ArrayOfPieceInfoItem>
                <PieceDetails><AWBNumber>1234567890</AWBNumber><LicensePlate>JD014600006281230704</LicensePlate></PieceDetails>
                <PieceEvent>
                  {_checkpoint("ArrayOfPieceEventItem", "2024-05-07", "03:10:00", "AF", "Arrived at DHL facility", "CVG", "CINCINNATI HUB - USA", tail=NIL_REFERENCE)}
                </PieceEvent>
              </ArrayOfPieceInfoItem>
            </PieceInfo>
          </Pieces>
        </ArrayOfAWBInfoItem>
      </AWBInfo>
    </ns:TrackingResponse>
  </trackingResponse>
</ser-root:trackShipmentRequestResponse>"""


def reply_element(wsdl: conformance.Wsdl, operation: str, xml: str) -> etree._Element:
    """Parse a reply written for the tests and prove it is what DHL's WSDL says the operation returns."""
    element = etree.fromstring(xml.strip())
    assert element.tag == wsdl.operations[operation].output_element
    conformance.assert_conforms(wsdl.violations(element), f"the {operation} reply written for this test")
    return element


def answer(
    adapter: client.DhlExpressAdapter, url: str, element: etree._Element, action: Callable[[], Any]
) -> Any:
    with responses.RequestsMock() as mock:
        mock.post(url, body=conformance.soap_envelope(element), content_type="text/xml; charset=utf-8")
        return action()


def test_a_rate_reply_from_the_wsdl_types_keeps_service_total_currency_charges_and_transit(rate_book):
    element = reply_element(rate_book, "getRateRequest", RATE_REPLY)
    adapter = make_adapter()

    rates = answer(
        adapter, adapter.rate_book_url, element, lambda: adapter.rate(carrier.RateRequest(WORLD, "1"))
    )

    by_code = {r.service_code: r for r in rates}
    assert set(by_code) == {"P", "K"}
    worldwide = by_code["P"]
    assert worldwide.service_name == "EXPRESS WORLDWIDE"
    assert worldwide.total == money.Money(Decimal("61.17"), "EUR")  # the billing-currency total (BILLC)
    assert [(c.code, c.description, c.amount) for c in worldwide.charges] == [
        ("EXPRESS WORLDWIDE", "EXPRESS WORLDWIDE", money.Money(Decimal("52.40"), "EUR")),
        ("FF", "FUEL SURCHARGE", money.Money(Decimal("8.77"), "EUR")),
    ]
    assert (worldwide.transit_days, worldwide.estimated_delivery) == (2, date(2024, 5, 8))
    assert by_code["K"].total == money.Money(Decimal("98.05"), "EUR")
    assert (by_code["K"].transit_days, by_code["K"].estimated_delivery) == (2, date(2024, 5, 8))


def test_a_rate_refusal_from_the_wsdl_types_keeps_dhls_code_and_message(rate_book):
    element = reply_element(rate_book, "getRateRequest", RATE_REFUSAL)
    adapter = make_adapter()

    with pytest.raises(base.CarrierRejected) as caught:
        answer(adapter, adapter.rate_book_url, element, lambda: adapter.rate(carrier.RateRequest(EU, "1")))

    assert caught.value.code == "420504"
    assert "The requested product(s) not available." in caught.value.message


def test_a_shipment_reply_from_the_wsdl_types_keeps_waybill_labels_and_charges(rate_book):
    element = reply_element(rate_book, "createShipmentRequest", SHIP_REPLY)
    adapter = make_adapter()

    result = answer(
        adapter, adapter.rate_book_url, element, lambda: adapter.label(label(WORLD, carrier.LabelFormat.PDF))
    )

    assert result.carrier_shipment_id == "1234567890"
    assert result.tracking_numbers == ("1234567890",)
    assert result.label == PDF and result.label_format is carrier.LabelFormat.PDF
    assert result.labels == (PDF, PDF_2)
    assert result.charges == money.Money(Decimal("61.17"), "EUR")
    assert sum((line.amount.amount for line in result.charge_lines), Decimal(0)) == Decimal("61.17")


def test_a_tracking_reply_from_the_wsdl_types_keeps_every_checkpoint_with_code_time_and_place(tracking):
    element = reply_element(tracking, "trackShipmentRequest", TRACK_REPLY)
    adapter = make_adapter()

    result = answer(
        adapter, adapter.tracking_url, element, lambda: adapter.track(carrier.TrackRequest("1234567890"))
    )

    assert [
        (e.code, e.occurred_at, e.location.description if e.location else None) for e in result.events
    ] == [
        ("PU", datetime(2024, 5, 6, 15, 5, tzinfo=UTC), "LEIPZIG - GERMANY"),  # 17:05+02:00
        ("AF", datetime(2024, 5, 7, 3, 10, tzinfo=UTC), "CINCINNATI HUB - USA"),  # a piece checkpoint
        ("OK", datetime(2024, 5, 8, 14, 32, tzinfo=UTC), "NEW YORK - USA"),
    ]
    pickup, hub, delivered = result.events
    assert [e.description for e in result.events] == [
        "Shipment picked up",
        "Arrived at DHL facility",
        "Delivered",
    ]
    assert all(e.tracking_number == "1234567890" for e in result.events)
    assert "local_time_zone_known" not in pickup.attributes  # the offset was given
    assert delivered.attributes == {"signatory": "DOE", "local_time_zone_known": "false"}
    assert result.estimated_delivery == date(2024, 5, 8)
    assert delivered.estimated_delivery == date(2024, 5, 8)
    assert hub.raw["service_area"] == "CVG"
