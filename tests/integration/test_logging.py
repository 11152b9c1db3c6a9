"""Logs are JSON lines with the request id, and never carry a secret."""

from __future__ import annotations

import json
import logging

from gateway.kernel import logs
from tests.helpers import shipment_body


def test_request_logs_carry_the_request_id_and_no_api_key(client, platform, caplog):
    caplog.set_level(logging.INFO)
    client.post("/v1/shipments", json=shipment_body(), headers={**platform.headers, "X-Request-Id": "req-42"})
    client.get("/v1/shipments", headers={"Authorization": platform.headers["Authorization"] + "tampered"})
    formatter = logs.JsonFormatter()
    lines = [formatter.format(r) for r in caplog.records]
    access = [json.loads(line) for line in lines if '"gateway.access"' in line]
    assert any(entry.get("status") == 201 for entry in access)
    secret = platform.key.split("_", 2)[2]
    assert all(secret not in line for line in lines)


def test_the_formatter_redacts_credentials_whatever_logged_them():
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "calling with %s", ("Authorization: Bearer abc.def.ghi",), None
    )
    record.password = "hunter2"  # an extra some library might attach
    out = logs.JsonFormatter().format(record)
    assert "abc.def.ghi" not in out
    assert "hunter2" not in out
    assert "hk_0123456789abcdef_secret" not in logs.redact("key=hk_0123456789abcdef_secret")
    assert "whsec_abc" not in logs.redact("whsec_abc")
    assert '"password": "[REDACTED]"' in logs.redact('{"password": "hunter2"}')
