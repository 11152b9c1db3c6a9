"""FedEx and USPS tracking pushes at /v1/callbacks/<carrier>: genuine ones land on the timeline,
forged and replayed ones are refused, as for UPS and DHL Express.

FedEx signs the raw body (``fdx-signature``, base64 HMAC-SHA256 with the webhook security token);
USPS signs the envelope's timestamp and payload fields (``X-HMAC``), which its adapter checks.
Neither sends a signed timestamp, so a body is accepted once and its copies are replays.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from adapters.fedex import callback as fedex_callback
from adapters.usps import callback as usps_callback
from tests.integration.test_callbacks import (
    SECRETS,
    event_count,
    new_number,
    run_worker,
    shipment_with_number,
)
from tests.unit.adapters_fedex import fedex_fixtures as fedex
from tests.unit.adapters_usps import usps_fixtures as usps

pytestmark = pytest.mark.integration

FEDEX_TOKEN = "fedex-webhook-security-token-0123"
USPS_SECRET = "0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def callback_secrets(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        app.config, "CALLBACK_SECRETS", json.dumps({**SECRETS, "fedex": FEDEX_TOKEN, "usps": USPS_SECRET})
    )


def fedex_push(number: str) -> bytes:
    result = copy.deepcopy(fedex.DELIVERED_RESULT)
    result["trackingNumberInfo"]["trackingNumber"] = number
    result["trackingNumberInfo"]["trackingNumberUniqueId"] = f"12029~{number}~FDEG"
    return json.dumps(result).encode()


def post_fedex(client: Any, body: bytes, signature: str) -> Any:
    return client.post(
        "/v1/callbacks/fedex",
        data=body,
        headers={"fdx-signature": signature},
        content_type="application/json",
    )


def usps_push(number: str) -> tuple[bytes, str]:
    detail = {**usps.DETAIL, "trackingNumber": number}
    envelope = usps.push_envelope(detail)
    signature = usps_callback.signature(USPS_SECRET, envelope["timestamp"], envelope["payload"])
    return json.dumps(envelope).encode(), signature


def post_usps(client: Any, body: bytes, signature: str) -> Any:
    return client.post(
        "/v1/callbacks/usps", data=body, headers={"X-HMAC": signature}, content_type="application/json"
    )


def test_a_signed_fedex_push_lands_on_the_timeline_and_its_copy_is_a_replay(app, client, platform):
    number = new_number("7949")
    shipment_id = shipment_with_number(app, client, platform, "fedex", number)
    body = fedex_push(number)

    accepted = post_fedex(client, body, fedex_callback.sign(FEDEX_TOKEN, body))
    replayed = post_fedex(client, body, fedex_callback.sign(FEDEX_TOKEN, body))
    run_worker(app)

    assert accepted.status_code == 202, accepted.get_json()
    assert replayed.status_code == 401 and "replay" in replayed.get_json()["detail"]
    timeline = client.get(f"/v1/shipments/{shipment_id}/events", headers=platform.headers).get_json()
    assert timeline["milestone"] == "delivered"
    assert {e["raw"]["code"] for e in timeline["events"]} >= {"PU", "OD", "DL"}
    assert event_count(app, number) == len(timeline["events"])


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "bm90IGEgc2lnbmF0dXJl",  # base64, but not of this body
        fedex_callback.sign("another-token", b"{}"),
    ],
)
def test_a_fedex_push_without_the_right_signature_is_refused_and_stores_nothing(
    app, client, platform, signature
):
    number = new_number("7949")
    shipment_with_number(app, client, platform, "fedex", number)
    body = fedex_push(number)

    refused = post_fedex(client, body, signature)
    run_worker(app)

    assert refused.status_code == 401
    assert refused.get_json()["type"].endswith("/callback-unauthenticated")
    assert event_count(app, number) == 0


def test_a_fedex_push_signed_over_another_body_is_refused(app, client, platform):
    number = new_number("7949")
    shipment_with_number(app, client, platform, "fedex", number)
    signed = fedex_push(number)
    tampered = signed.replace(b"Delivered", b"Returned!")

    assert post_fedex(client, tampered, fedex_callback.sign(FEDEX_TOKEN, signed)).status_code == 401
    run_worker(app)
    assert event_count(app, number) == 0


def test_a_signed_usps_push_lands_on_the_timeline_and_a_forged_one_is_refused(app, client, platform):
    number = "92055" + new_number("")[:17]
    shipment_id = shipment_with_number(app, client, platform, "usps", number)
    body, signature = usps_push(number)

    forged = post_usps(client, body, usps_callback.signature("wrong-secret", "x", "y"))
    accepted = post_usps(client, body, signature)
    replayed = post_usps(client, body, signature)
    run_worker(app)

    assert forged.status_code == 401 and forged.get_json()["type"].endswith("/callback-unauthenticated")
    assert accepted.status_code == 202, accepted.get_json()
    assert replayed.status_code == 401
    timeline = client.get(f"/v1/shipments/{shipment_id}/events", headers=platform.headers).get_json()
    assert timeline["milestone"] == "delivered"
    assert "01" in {e["raw"]["code"] for e in timeline["events"]}
