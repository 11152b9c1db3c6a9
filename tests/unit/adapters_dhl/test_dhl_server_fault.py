"""A SOAP Server fault is the carrier failing: unavailable, retried, counted by the breaker."""

from __future__ import annotations

import pytest
import responses

from adapters import base
from schemas import carrier

SERVER_FAULT = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
  <soapenv:Body>
    <soapenv:Fault>
      <faultcode>soapenv:Server</faultcode>
      <faultstring>Service temporarily unavailable, please try again later</faultstring>
    </soapenv:Fault>
  </soapenv:Body>
</soapenv:Envelope>"""


def test_a_server_fault_is_unavailable_and_retried(make_adapter, spec):
    adapter = make_adapter()
    with responses.RequestsMock() as mock:
        mock.post(adapter.rate_book_url, body=SERVER_FAULT, status=500, content_type="text/xml")
        with pytest.raises(base.CarrierUnavailable) as err:
            adapter.rate(carrier.RateRequest(spec=spec, account="123456789"))
        calls = len(mock.calls)

    assert err.value.retryable
    assert err.value.code == "soapenv:Server"
    assert "temporarily unavailable" in err.value.message
    assert calls == 3  # rating is idempotent: retried with backoff


def test_server_faults_open_the_circuit(make_adapter, spec):
    adapter = make_adapter()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(adapter.rate_book_url, body=SERVER_FAULT, status=500, content_type="text/xml")
        for _ in range(3):
            with pytest.raises(base.CarrierUnavailable):
                adapter.rate(carrier.RateRequest(spec=spec, account="123456789"))
        before = len(mock.calls)
        with pytest.raises(base.CarrierUnavailable) as err:
            adapter.rate(carrier.RateRequest(spec=spec, account="123456789"))
        after = len(mock.calls)

    assert err.value.code == "circuit_open"
    assert after == before  # a dead carrier is not even called
