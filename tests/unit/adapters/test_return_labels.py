"""Return labels in the adapters: each carrier's return fields from its published contract, or a refusal."""

from __future__ import annotations

import base64
import dataclasses

import pytest

from adapters import base
from adapters.fedex import mapping as fedex_mapping
from adapters.ups import mapping as ups_mapping
from adapters.usps import mapping as usps_mapping
from schemas import carrier
from tests.plugins.handoff_example_adapter.handoff_example_adapter import ExampleAdapter
from tests.unit.adapters import ups_fixtures as ups
from tests.unit.adapters_fedex import fedex_fixtures as fx
from tests.unit.adapters_usps import usps_fixtures as ux


def test_a_ups_return_carries_return_service_9_with_the_merchant_as_shipper_and_described_packages():
    spec = dataclasses.replace(ups.SPEC, is_return=True)
    request = dataclasses.replace(ups.LABEL_REQUEST, spec=spec)
    shipment = ups_mapping.ship_request(request).json["ShipmentRequest"]["Shipment"]
    assert shipment["ReturnService"] == {"Code": "9", "Description": "UPS Print Return Label"}
    # The account holder is the one the parcel goes back to; the customer sends it (ShipFrom).
    assert shipment["Shipper"]["Name"] == "Bob Buyer" and shipment["Shipper"]["ShipperNumber"] == ups.ACCOUNT
    assert shipment["ShipFrom"]["Name"] == "Acme Widgets"
    assert shipment["ShipTo"]["Name"] == "Bob Buyer"
    assert [p["Description"] for p in shipment["Package"]] == ["order-42"]


def test_a_ups_outbound_label_has_no_return_service_and_the_sender_as_shipper():
    shipment = ups_mapping.ship_request(ups.LABEL_REQUEST).json["ShipmentRequest"]["Shipment"]
    assert "ReturnService" not in shipment
    assert shipment["Shipper"]["Name"] == "Acme Widgets"
    assert all("Description" not in p for p in shipment["Package"])


@pytest.mark.parametrize("options", [frozenset(), frozenset({"saturday"})], ids=["plain", "saturday"])
def test_a_fedex_return_is_a_return_shipment_with_a_print_return_label(options):
    spec = dataclasses.replace(fx.SPEC, is_return=True, options=options)
    request = carrier.LabelRequest(spec, fx.ACCOUNT, "FEDEX_GROUND", "shp_0002", carrier.LabelFormat.ZPL)
    special = fedex_mapping.ship_request(request, fx.ACCOUNT).json["requestedShipment"][
        "shipmentSpecialServices"
    ]
    assert "RETURN_SHIPMENT" in special["specialServiceTypes"]
    assert ("SATURDAY_DELIVERY" in special["specialServiceTypes"]) is bool(options)
    assert special["returnShipmentDetail"] == {"returnType": "PRINT_RETURN_LABEL"}


def test_an_adapter_without_returns_refuses_a_return_label_before_calling_its_carrier():
    class LabelsOnly(ExampleAdapter):
        capabilities = frozenset({base.Capability.LABEL})

    adapter = LabelsOnly({"api_key": "k", "price_per_parcel": "1.00", "currency": "USD"})
    request = carrier.LabelRequest(
        dataclasses.replace(ups.SPEC, is_return=True), "acct", "STD", "shp_1", carrier.LabelFormat.PDF
    )
    with pytest.raises(base.CarrierRejected) as refused:
        adapter.label(request)
    assert refused.value.code == "returns_not_supported"


def test_a_usps_return_goes_to_the_return_label_endpoint_in_the_classs_return_service():
    spec = dataclasses.replace(ux.SPEC, is_return=True)
    request = carrier.LabelRequest(spec, "x", "PRIORITY_MAIL", "shp_0001", carrier.LabelFormat.PDF)
    call = usps_mapping.return_label_request(
        request, usps_mapping.Service("PRIORITY_MAIL", "SP", "MACHINABLE")
    )
    assert (call.method, call.path) == ("POST", "/labels/v3/return-label")
    body = call.json
    assert body["packageDescription"]["mailClass"] == "PRIORITY_MAIL_RETURN_SERVICE"
    # The customer mails it (fromAddress) back to the business (toAddress).
    assert body["fromAddress"]["ZIPCode"] == ux.SPEC.origin.postal_code[:5]
    assert body["toAddress"]["ZIPCode"] == ux.SPEC.destination.postal_code[:5]
    assert "returnLabel" not in body["imageInfo"]


def test_a_usps_class_without_a_return_service_is_refused():
    spec = dataclasses.replace(ux.SPEC, is_return=True)
    request = carrier.LabelRequest(spec, "x", "PARCEL_SELECT", "shp_0001", carrier.LabelFormat.PDF)
    with pytest.raises(base.CarrierRejected) as refused:
        usps_mapping.return_label_request(request, usps_mapping.Service("PARCEL_SELECT", "SP", "MACHINABLE"))
    assert refused.value.code == "returns_not_supported"


def test_the_usps_return_reply_is_read_from_its_return_label_image():
    body = {"trackingNumber": "9205590412893600000001", "postage": 9.35, "returnLabelImage": "JVBERi0xLjQK"}
    result = usps_mapping.parse_return_label_json(body, carrier.LabelFormat.PDF)
    assert result.tracking_numbers == ("9205590412893600000001",) and result.label.startswith(b"%PDF")


def test_ups_fedex_and_usps_declare_returns_and_dhl_express_does_not():
    from adapters import registry

    declared = {
        name: base.Capability.RETURN in registry.adapter_class(name).capabilities
        for name in registry.BUILTINS
    }
    assert declared["ups"] and declared["fedex"] and declared["usps"]
    assert not declared["dhl_express"]


def test_a_usps_return_asked_with_a_qr_code_asks_label_broker_with_its_pdf():
    spec = dataclasses.replace(ux.SPEC, is_return=True, options=frozenset({"return_qr"}))
    request = carrier.LabelRequest(spec, "x", "PRIORITY_MAIL", "shp_0001", carrier.LabelFormat.ZPL)
    call = usps_mapping.return_label_request(
        request, usps_mapping.Service("PRIORITY_MAIL", "SP", "MACHINABLE")
    )
    assert call.json["imageInfo"] == {
        "imageType": "LABEL_BROKER",
        "includeLabelBrokerPDF": True,
        "labelType": "4X6LABEL",
        "receiptOption": "NONE",
        "suppressPostage": False,
    }


def test_the_usps_label_broker_reply_gives_the_pdf_label_and_the_qr_code_as_a_document():
    png = b"\x89PNG\r\n\x1a\nqr"
    body = {
        "trackingNumber": "9205590412893600000002",
        "postage": 9.35,
        "returnLabelImage": "JVBERi0xLjQK",
        "labelBrokerQR": base64.b64encode(png).decode(),
        "labelBrokerID": "LB000000000002",
    }
    result = usps_mapping.parse_return_label_json(body, carrier.LabelFormat.ZPL)
    assert result.label_format is carrier.LabelFormat.PDF and result.label.startswith(b"%PDF")
    assert [(d.kind, d.format, d.data) for d in result.documents] == [("qr_code", "PNG", png)]
