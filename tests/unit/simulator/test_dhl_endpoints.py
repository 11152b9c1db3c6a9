"""The DHL Express SOAP subset answers in DHL's element names and refuses hostile XML."""

from __future__ import annotations

import base64

import pytest
from lxml import etree

from simulator import numbers
from tests.unit.simulator import sim_payloads
from tests.unit.simulator.sim_payloads import dhl_rate, dhl_ship, dhl_track, envelope

RATE_BOOK = "/sndpt/expressRateBook"
TRACK = "/sndpt/glDHLExpressTrack"


def _post(client, path, body):
    reply = client.post(path, data=body, content_type="text/xml; charset=utf-8")
    return reply, etree.fromstring(reply.data)


def _local(root, name):
    return [el for el in root.iter() if isinstance(el.tag, str) and etree.QName(el).localname == name]


def _fault(root):
    faults = root.findall(".//{http://schemas.xmlsoap.org/soap/envelope/}Fault")
    return faults[0].findtext("faultstring") if faults else None


def _ship(client, **kwargs):
    reply, root = _post(client, RATE_BOOK, dhl_ship(**kwargs))
    assert reply.status_code == 200, reply.data
    return root


def test_rates_come_back_per_product_with_totals_and_charges(client):
    reply, root = _post(client, RATE_BOOK, dhl_rate())
    assert reply.status_code == 200
    response = root.find(
        f".//{{{'http://scxgxtt.phx-dc.dhl.com/euExpressRateBook/RateMsgResponse'}}}RateResponse"
    )
    assert response is not None
    services = _local(root, "Service")
    assert {s.get("type") for s in services} == {"P", "T", "K"}
    for service in services:
        assert service.find("TotalNet/Currency").text == "EUR"
        charges = [float(c.findtext("ChargeAmount")) for c in service.findall("Charges/Charge")]
        assert round(sum(charges), 2) == float(service.find("TotalNet/Amount").text)
    assert _local(root, "Notification")[0].get("code") == "0"


def test_domestic_rates_offer_domestic_products(client):
    _, root = _post(client, RATE_BOOK, dhl_rate(destination="DE"))
    assert {s.get("type") for s in _local(root, "Service")} == {"N", "1"}


def test_create_shipment_sells_a_10_digit_waybill_and_a_pdf_label(client, sim):
    root = _ship(client, reference="shp_7")
    waybill = _local(root, "ShipmentIdentificationNumber")[0].text
    assert len(waybill) == 10 and numbers.dhl_waybill_is_valid(waybill)
    assert _local(root, "LabelImageFormat")[0].text == "PDF"
    assert base64.b64decode(_local(root, "GraphicImage")[0].text).startswith(b"%PDF-")
    assert _local(root, "TrackingNumber")[0].text.startswith("JD01")
    label = sim.ledger.get(waybill)
    assert (label.carrier, label.reference) == ("dhl_express", "shp_7")


def test_zpl_labels_are_returned_when_asked_for(client):
    root = _ship(client, label_type="ZPL")
    assert _local(root, "LabelImageFormat")[0].text == "ZPL"
    assert base64.b64decode(_local(root, "GraphicImage")[0].text).startswith(b"^XA")


def test_a_product_not_offered_is_a_non_zero_notification_and_nothing_is_sold(client, sim):
    root = _ship(client, service="N")
    notification = _local(root, "Notification")[0]
    assert notification.get("code") != "0"
    assert "not available" in notification.findtext("Message")
    assert sim.ledger.all() == []


def test_tracking_returns_checkpoints_sold_so_far_then_more_as_time_passes(client):
    waybill = _local(_ship(client), "ShipmentIdentificationNumber")[0].text
    _, root = _post(client, TRACK, dhl_track(waybill))
    assert _local(root, "ActionStatus")[0].text == "Success"
    assert _local(root, "EventCode") == []
    client.post("/_sim/clock", json={"advance_hours": 6})
    _, root = _post(client, TRACK, dhl_track(waybill))
    assert [e.text for e in _local(root, "EventCode")] == ["PU", "PL", "DF"]
    client.post("/_sim/clock", json={"advance_hours": 24})
    _, root = _post(client, TRACK, dhl_track(waybill))
    codes = [e.text for e in _local(root, "EventCode")]
    assert codes[-1] == "OK"
    assert _local(root, "Signatory")[0].text
    _, root = _post(client, TRACK, dhl_track(waybill, level="LAST_CHECK_POINT_ONLY"))
    assert [e.text for e in _local(root, "EventCode")] == ["OK"]


def test_tracking_an_unknown_waybill_says_no_shipments_found(client):
    _, root = _post(client, TRACK, dhl_track("1234567890"))
    assert _local(root, "ActionStatus")[0].text == "No Shipments Found"


def test_the_message_reference_is_echoed_in_the_tracking_response(client):
    _, root = _post(client, TRACK, dhl_track("1234567890"))
    assert _local(root, "MessageReference")[0].text == "0123456789012345678901234567"


@pytest.mark.parametrize(
    "header",
    [
        "",
        sim_payloads.security(password="wrong"),
        sim_payloads.security(username="someone-else"),
    ],
)
def test_calls_without_the_right_username_token_get_a_client_fault(client, sim, header):
    reply, root = _post(
        client,
        RATE_BOOK,
        envelope(dhl_ship().decode().split("<soapenv:Body>")[1].split("</soapenv:Body>")[0], header=header),
    )
    assert reply.status_code == 500
    assert "faultcode" in reply.data.decode() and "Client" in reply.data.decode()
    assert _fault(root)
    assert sim.ledger.all() == []


def test_password_digest_tokens_are_accepted(client):
    import datetime
    import hashlib
    import os

    nonce = os.urandom(16)
    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + b"sim-dhl-password").digest()).decode()
    wsu = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
    header = (
        f'<wsse:Security xmlns:wsse="{sim_payloads.WSSE}" xmlns:wsu="{wsu}"><wsse:UsernameToken>'
        "<wsse:Username>sim-dhl-user</wsse:Username>"
        '<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0'
        f'#PasswordDigest">{digest}</wsse:Password><wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce>'
        f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"
    )
    body = dhl_rate().decode().split("<soapenv:Body>")[1].split("</soapenv:Body>")[0]
    reply, _ = _post(client, RATE_BOOK, envelope(body, header=header))
    assert reply.status_code == 200


def test_an_operation_sent_to_the_wrong_service_is_a_client_fault(client):
    reply, root = _post(client, TRACK, dhl_rate())
    assert reply.status_code == 500
    assert "Unknown operation" in _fault(root)


def test_production_paths_answer_like_the_sandpit(client):
    reply, _ = _post(client, "/gbl/expressRateBook", dhl_rate())
    assert reply.status_code == 200


HOSTILE = {
    "billion laughs": b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>&lol2;'
    b"</soapenv:Body></soapenv:Envelope>",
    "external entity": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>&xxe;'
    b"</soapenv:Body></soapenv:Envelope>",
    "external dtd": b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://attacker.example/x.dtd">'
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"/>',
    "lower-case doctype": b'<!doctype x [<!entity a "b">]><x>&a;</x>',
    "utf-16 hidden dtd": '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'.encode(
        "utf-16"
    ),
    "undeclared entity": b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    b"<soapenv:Body>&nope;</soapenv:Body></soapenv:Envelope>",
    "not xml": b"this is not xml",
}


@pytest.mark.parametrize("payload", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_xml_is_refused_with_a_client_fault_and_nothing_is_sold(client, sim, payload):
    reply = client.post(RATE_BOOK, data=payload, content_type="text/xml")
    assert reply.status_code == 500
    root = etree.fromstring(reply.data)
    assert root.find(".//{http://schemas.xmlsoap.org/soap/envelope/}Fault/faultcode").text == "soapenv:Client"
    assert b"root:" not in reply.data  # nothing from /etc/passwd leaks back
    assert sim.ledger.all() == []
