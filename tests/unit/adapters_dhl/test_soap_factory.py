"""The hardened zeep factory in adapters/soap.py: settings, deadlines, redaction."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from adapters import base, soap


class CapturingSession(requests.Session):
    """A session that answers every POST itself and remembers the timeout it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[Any] = []

    def post(self, url: str, data: Any = None, json: Any = None, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.timeouts.append(kwargs.get("timeout"))
        response = requests.Response()
        response.status_code = 200
        response._content = b"<ok/>"
        response.headers["Content-Type"] = "text/xml"
        return response


def test_settings_refuse_dtds_entities_and_external_fetches_and_parse_strictly():
    settings = soap.hardened_settings()

    assert (settings.strict, settings.forbid_dtd, settings.forbid_entities, settings.forbid_external) == (
        True,
        True,
        True,
        True,
    )


def test_transport_refuses_to_run_without_an_operation_timeout():
    with pytest.raises(ValueError, match="operation_timeout"):
        soap.RecordingTransport(requests.Session(), operation_timeout=0)


def test_every_post_carries_a_timeout_and_a_deadline_only_shortens_it():
    session = CapturingSession()
    transport = soap.RecordingTransport(session, operation_timeout=8)

    transport.post("http://x.test/a", b"<a/>", {})
    with transport.deadline(2.5):
        transport.post("http://x.test/a", b"<a/>", {})
    with transport.deadline(30):
        transport.post("http://x.test/a", b"<a/>", {})

    assert session.timeouts == [8, 2.5, 8]


def test_recorded_exchange_masks_the_ws_security_password_and_nonce():
    session = CapturingSession()
    exchanges: list[dict] = []
    transport = soap.RecordingTransport(session, operation_timeout=5, sink=exchanges.append)
    envelope = (
        b'<s:Envelope xmlns:s="e" xmlns:wsse="w"><s:Header><wsse:Security><wsse:UsernameToken>'
        b"<wsse:Username>u</wsse:Username><wsse:Password Type='t'>hunter2</wsse:Password>"
        b"<wsse:Nonce>bm9uY2U=</wsse:Nonce></wsse:UsernameToken></wsse:Security></s:Header></s:Envelope>"
    )

    transport.post("http://x.test/a", envelope, {"SOAPAction": '"op"'})

    body = exchanges[0]["request"]["body"]
    assert "hunter2" not in body and "bm9uY2U=" not in body
    assert f"<wsse:Password Type='t'>{base.MASK}</wsse:Password>" in body
    assert exchanges[0]["request"]["headers"] == {"SOAPAction": '"op"'}
    assert exchanges[0]["response"]["status"] == 200


def test_mask_wsse_handles_unprefixed_elements():
    assert soap.mask_wsse("<Password>abc</Password>") == f"<Password>{base.MASK}</Password>"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', True),
        (b"\xef\xbb\xbf<!-- note --><!DOCTYPE a SYSTEM 'http://attacker.test/a.dtd'><a/>", True),
        ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a><a/>'.encode("utf-16"), True),
        (b'<?xml version="1.0"?><a><![CDATA[<!DOCTYPE is just text here]]></a>', False),
        (b'<?xml version="1.0"?><!-- <!DOCTYPE in a comment --><a/>', False),
        (b"<a/>", False),
    ],
    ids=["internal-subset", "bom-comment-external", "utf16", "cdata-text", "comment-text", "plain"],
)
def test_declares_dtd_looks_only_at_the_prolog(content, expected):
    assert soap.declares_dtd(content) is expected
