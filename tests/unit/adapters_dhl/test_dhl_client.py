"""The DHL Express adapter end to end over a mocked SOAP endpoint: operations, failures, secrets."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
import requests
import responses
from lxml import etree

from adapters import base, registry
from adapters.dhl_express import client
from schemas import carrier, money

SOAP_ENV = "{http://schemas.xmlsoap.org/soap/envelope/}"
WSSE = "{http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd}"


def sent(call: responses.Call) -> etree._Element:
    return etree.fromstring(call.request.body)


def label_request(spec, fmt=carrier.LabelFormat.PDF):
    return carrier.LabelRequest(
        spec=spec, account="123456789", service_code="P", reference="shp_0001", label_format=fmt
    )


def test_rate_posts_a_ws_security_envelope_to_the_configured_endpoint(make_adapter, spec, reply, config):
    adapter = make_adapter()
    with responses.RequestsMock() as mock:
        mock.post(adapter.rate_book_url, body=reply("rate_reply.xml"), content_type="text/xml")
        rates = adapter.rate(carrier.RateRequest(spec=spec, account="123456789"))
        call = mock.calls[0]

    assert [r.total for r in rates] == [
        money.Money(Decimal("61.17"), "EUR"),
        money.Money(Decimal("98.05"), "EUR"),
    ]
    assert call.request.headers["SOAPAction"].strip('"') == (
        "euExpressRateBook_providerServices_ShipmentHandlingServices_Binder_getRateRequest"
    )
    envelope = sent(call)
    token = envelope.find(f"{SOAP_ENV}Header/{WSSE}Security/{WSSE}UsernameToken")
    assert token.findtext(f"{WSSE}Username") == "handoff-api"
    assert token.findtext(f"{WSSE}Password") == config["password"]
    body = envelope.find(f"{SOAP_ENV}Body")[0]
    assert body.tag == "{http://scxgxtt.phx-dc.dhl.com/euExpressRateBook/RateMsgRequest}RateRequest"
    # DHL's schema leaves local elements unqualified.
    assert body.find("RequestedShipment/Account").text == "123456789"


def test_label_returns_the_decoded_pdf_and_the_waybill(make_adapter, spec, reply):
    adapter = make_adapter()
    with responses.RequestsMock() as mock:
        mock.post(adapter.rate_book_url, body=reply("ship_reply.xml"), content_type="text/xml")
        label = adapter.label(label_request(spec))
        shipment = sent(mock.calls[0]).find(f"{SOAP_ENV}Body")[0]

    assert label.label.startswith(b"%PDF-1.4")
    assert label.carrier_shipment_id == "1234567890"
    assert shipment.findtext("RequestedShipment/ShipmentInfo/LabelType") == "PDF"
    assert shipment.findtext(
        "RequestedShipment/ShipmentInfo/ShipmentReferences/ShipmentReference/ShipmentReference"
    ) == ("shp_0001")


def test_zpl_label_is_requested_and_returned_as_zpl(make_adapter, spec, reply):
    zpl = (
        reply("ship_reply.xml")
        .replace("<LabelImageFormat>PDF</LabelImageFormat>", "<LabelImageFormat>ZPL</LabelImageFormat>")
        .replace(
            "JVBERi0xLjQKJSBoYW5kb2ZmIHRlc3QgbGFiZWwKMSAwIG9iajw8Pj5lbmRvYmoKdHJhaWxlcjw8\nPj4KJSVFT0YK",
            "XlhBXkZPNTAsNTBeQURONTAsNTBeRkRIYW5kb2ZmXkZTXlha",
        )
    )
    adapter = make_adapter()
    with responses.RequestsMock() as mock:
        mock.post(adapter.rate_book_url, body=zpl, content_type="text/xml")
        label = adapter.label(label_request(spec, carrier.LabelFormat.ZPL))
        asked = (
            sent(mock.calls[0])
            .find(f"{SOAP_ENV}Body")[0]
            .findtext("RequestedShipment/ShipmentInfo/LabelType")
        )

    assert asked == "ZPL"
    assert label.label_format is carrier.LabelFormat.ZPL
    assert label.label == b"^XA^FO50,50^ADN50,50^FDHandoff^FS^XZ"


def test_track_returns_raw_checkpoint_codes(make_adapter, reply):
    adapter = make_adapter()
    with responses.RequestsMock() as mock:
        mock.post(adapter.tracking_url, body=reply("track_reply.xml"), content_type="text/xml")
        result = adapter.track(carrier.TrackRequest(tracking_number="1234567890"))
        call = mock.calls[0]

    assert [(e.code, e.tracking_number) for e in result.events] == [
        ("PU", "1234567890"),
        ("WC", "1234567890"),
        ("OK", "1234567890"),
    ]
    assert call.request.headers["SOAPAction"].strip('"') == (
        "glDHLExpressTrack_providers_services_trackShipment_Binder_trackShipmentRequest"
    )


def test_void_is_declared_unsupported_with_a_clear_reason(make_adapter):
    adapter = make_adapter()

    assert not adapter.supports(base.Capability.VOID)
    with pytest.raises(base.CapabilityNotSupported, match="no label void") as err:
        adapter.void(carrier.VoidRequest(account="123456789", carrier_shipment_id="1234567890"))
    assert err.value.capability is base.Capability.VOID


def test_the_registry_builds_the_adapter_from_its_name(config):
    assert registry.adapter_class("dhl_express") is client.DhlExpressAdapter


def test_soap_fault_is_rejected_with_the_carriers_code_and_message(make_adapter, spec, reply):
    adapter = make_adapter()
    with responses.RequestsMock() as mock:
        mock.post(adapter.rate_book_url, body=reply("fault.xml"), status=500, content_type="text/xml")
        with pytest.raises(base.CarrierRejected) as err:
            adapter.rate(carrier.RateRequest(spec=spec, account="123456789"))
        calls = len(mock.calls)

    assert err.value.code == "soapenv:Client"
    assert "Authentication failed" in err.value.message
    assert calls == 1  # a refusal is never retried


def test_dhl_error_notification_is_rejected_not_retried(make_adapter, spec, reply):
    adapter = make_adapter()
    with responses.RequestsMock() as mock:
        mock.post(adapter.rate_book_url, body=reply("ship_error_reply.xml"), content_type="text/xml")
        with pytest.raises(base.CarrierRejected) as err:
            adapter.label(label_request(spec))

    assert err.value.code == "998"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_http_5xx_without_a_soap_fault_is_unavailable(make_adapter, spec, status):
    adapter = make_adapter()
    with responses.RequestsMock() as mock:
        mock.post(
            adapter.rate_book_url,
            body="<html>Service Unavailable</html>",
            status=status,
            content_type="text/html",
        )
        with pytest.raises(base.CarrierUnavailable) as err:
            adapter.rate(carrier.RateRequest(spec=spec, account="123456789"))

    assert err.value.http_status == status
    assert err.value.retryable


def test_a_5xx_carrying_xml_that_is_not_a_fault_is_unavailable(make_adapter, spec):
    adapter = make_adapter()
    body = '<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body/></soapenv:Envelope>'
    with responses.RequestsMock() as mock:
        mock.post(adapter.rate_book_url, body=body, status=503, content_type="text/xml")
        with pytest.raises(base.CarrierUnavailable) as err:
            adapter.rate(carrier.RateRequest(spec=spec, account="123456789"))

    assert err.value.code == "http_503"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (requests.exceptions.ReadTimeout("read timed out"), "timeout"),
        (requests.ConnectionError("refused"), "connection"),
    ],
)
def test_timeouts_and_connection_errors_are_unavailable(make_adapter, reply, error, code):
    adapter = make_adapter()
    with responses.RequestsMock() as mock:
        mock.post(adapter.tracking_url, body=error)
        with pytest.raises(base.CarrierUnavailable) as err:
            adapter.track(carrier.TrackRequest(tracking_number="1234567890"))

    assert err.value.code == code


def test_garbled_reply_is_unavailable(make_adapter, reply):
    adapter = make_adapter()
    with responses.RequestsMock() as mock:
        mock.post(adapter.tracking_url, body=reply("track_reply.xml")[:400], content_type="text/xml")
        with pytest.raises(base.CarrierUnavailable) as err:
            adapter.track(carrier.TrackRequest(tracking_number="1234567890"))

    assert err.value.code == "bad_reply"


def test_http_401_is_rejected_because_retrying_cannot_fix_credentials(make_adapter, spec):
    adapter = make_adapter()
    with responses.RequestsMock() as mock:
        mock.post(adapter.rate_book_url, body="", status=401)
        with pytest.raises(base.CarrierRejected) as err:
            adapter.rate(carrier.RateRequest(spec=spec, account="123456789"))

    assert err.value.http_status == 401


def test_idempotent_calls_are_retried_with_jittered_backoff(make_adapter, spec, reply, sleeps):
    adapter = make_adapter()
    with responses.RequestsMock() as mock:
        mock.post(adapter.rate_book_url, body="", status=503)
        mock.post(adapter.rate_book_url, body=requests.exceptions.ConnectTimeout("slow"))
        mock.post(adapter.rate_book_url, body=reply("rate_reply.xml"), content_type="text/xml")
        rates = adapter.rate(carrier.RateRequest(spec=spec, account="123456789"))
        calls = len(mock.calls)

    assert [r.service_code for r in rates] == ["P", "K"]
    assert calls == 3
    assert sleeps.pauses == [0.005, 0.01]  # rng 0.5 x base 0.01 x 2**(attempt-1)


def test_label_purchase_is_never_retried_because_it_may_buy_twice(make_adapter, spec, sleeps):
    adapter = make_adapter()
    with responses.RequestsMock() as mock:
        mock.post(adapter.rate_book_url, body="", status=503)
        with pytest.raises(base.CarrierUnavailable):
            adapter.label(label_request(spec))
        calls = len(mock.calls)

    assert calls == 1
    assert sleeps.pauses == []


def test_open_circuit_answers_unavailable_at_once_without_calling_dhl(make_adapter, spec):
    adapter = make_adapter(retry=client.carrier_http.RetryPolicy(attempts=1))
    request = carrier.RateRequest(spec=spec, account="123456789")
    with responses.RequestsMock() as mock:
        mock.post(adapter.rate_book_url, body="", status=503)
        for _ in range(3):
            with pytest.raises(base.CarrierUnavailable):
                adapter.rate(request)
        with pytest.raises(base.CarrierUnavailable) as err:
            adapter.rate(request)
        calls = len(mock.calls)

    assert err.value.code == "circuit_open"
    assert calls == 3


def test_a_carrier_refusal_does_not_trip_the_circuit(make_adapter, spec, reply):
    adapter = make_adapter()
    request = carrier.RateRequest(spec=spec, account="123456789")
    with responses.RequestsMock() as mock:
        mock.post(adapter.rate_book_url, body=reply("rate_error_reply.xml"), content_type="text/xml")
        for _ in range(5):
            with pytest.raises(base.CarrierRejected):
                adapter.rate(request)
        calls = len(mock.calls)

    assert calls == 5


def test_the_callers_deadline_bounds_the_http_timeout(make_adapter, spec, reply):
    adapter = make_adapter()
    with responses.RequestsMock() as mock:
        mock.post(adapter.rate_book_url, body=reply("rate_reply.xml"), content_type="text/xml")
        adapter.rate(carrier.RateRequest(spec=spec, account="123456789"), timeout=1.5)
        timeout = mock.calls[0].request.req_kwargs["timeout"]

    assert 0 < timeout <= 1.5


def test_password_never_appears_in_recorded_exchanges_or_logs(make_adapter, spec, reply, caplog, config):
    recorded: list[dict] = []
    adapter = make_adapter(recorder=recorded.append)
    caplog.set_level(logging.DEBUG)
    with responses.RequestsMock() as mock:
        mock.post(adapter.rate_book_url, body=reply("rate_reply.xml"), content_type="text/xml")
        mock.post(adapter.rate_book_url, body=reply("fault.xml"), status=500, content_type="text/xml")
        adapter.rate(carrier.RateRequest(spec=spec, account="123456789"))
        with pytest.raises(base.CarrierRejected) as err:
            adapter.label(label_request(spec))

    assert len(recorded) == 2
    assert [r["operation"] for r in recorded] == ["getRateRequest", "createShipmentRequest"]
    assert recorded[0]["response"]["status"] == 200
    assert "<wsse:Username>handoff-api</wsse:Username>" in recorded[0]["request"]["body"]
    assert "RateRequest" in recorded[0]["request"]["body"]
    everything = repr(recorded) + caplog.text + str(err.value) + repr(adapter.masked_config())
    assert config["password"] not in everything
    assert any("SOAP POST" in r.message for r in caplog.records)


def test_a_short_password_is_masked_by_position_in_the_envelope(make_adapter, spec, reply, caplog):
    recorded: list[dict] = []
    adapter = make_adapter(recorder=recorded.append, config={"password": "xyz"})
    caplog.set_level(logging.DEBUG)
    with responses.RequestsMock() as mock:
        mock.post(adapter.rate_book_url, body=reply("rate_reply.xml"), content_type="text/xml")
        adapter.rate(carrier.RateRequest(spec=spec, account="123456789"))

    assert ">xyz</wsse:Password>" not in recorded[0]["request"]["body"] + caplog.text
    assert f">{base.MASK}</wsse:Password>" in recorded[0]["request"]["body"]


def test_config_without_a_password_is_refused_without_echoing_values(config):
    del config["password"]

    with pytest.raises(base.ConfigurationError, match="dhl_express configuration invalid"):
        client.DhlExpressAdapter(config)


def test_environment_selects_dhls_sandbox_or_live_endpoint(config):
    del config["base_url"]
    sandbox = client.DhlExpressAdapter(config)
    live = client.DhlExpressAdapter({**config, "environment": "live"})

    assert sandbox.rate_book_url == "https://wsbexpress.dhl.com/sndpt/expressRateBook"
    assert live.tracking_url == "https://wsbexpress.dhl.com/gbl/glDHLExpressTrack"
    assert client.DhlExpressAdapter.secret_fields() == frozenset({"password"})
    assert sandbox.masked_config()["password"] == base.MASK
