"""Failed callback authentications are throttled (429 with Retry-After); genuine pushes never are.

Each test sends from its own random public address (the counters live in the run's Redis, which a
PostgreSQL run shares with earlier runs), and the carrier-wide test clears its carrier's counter
first.
"""

from __future__ import annotations

import base64
import json
import random
import time
import uuid
from typing import Any

import pytest
import redis

from gateway import create_app
from gateway.tracking import callbacks
from tests.integration.test_callbacks import SECRETS, dhl_checkpoint, inbox_rows, new_number, track_alert

pytestmark = pytest.mark.integration

PER_SOURCE = 3
WINDOW = 300
CLIENT_ID = "ups-track-alert-throttle"
CLIENT_SECRET = "track-alert-client-secret-throttle"


def ups_entry() -> dict[str, Any]:
    return {
        "adapter": "ups",
        "id": f"ups-{uuid.uuid4().hex[:8]}",
        "config": {
            "client_id": "cid",
            "client_secret": "csecret",
            "account_number": "A1B2C3",
            "base_url": "https://ups.invalid",
            "webhook_client_id": CLIENT_ID,
            "webhook_client_secret": CLIENT_SECRET,
        },
    }


def make_app(settings: dict[str, Any], **limits: int) -> Any:
    return create_app(
        {
            **settings,
            "CALLBACK_SECRETS": json.dumps(SECRETS),
            "CARRIERS": json.dumps([ups_entry()]),
            "CALLBACK_FAILURE_WINDOW_SECONDS": WINDOW,
            **limits,
        }
    )


@pytest.fixture(scope="module")
def per_source(settings: dict[str, Any]) -> Any:
    """At most PER_SOURCE failures per address; no carrier-wide limit."""
    application = make_app(settings, CALLBACK_FAILURES_PER_SOURCE=PER_SOURCE, CALLBACK_FAILURES_PER_CARRIER=0)
    yield application
    application.extensions["handoff"].dispose()


@pytest.fixture(scope="module")
def per_carrier(settings: dict[str, Any]) -> Any:
    """At most 3 failures per carrier from all addresses together; no per-address limit."""
    application = make_app(settings, CALLBACK_FAILURES_PER_SOURCE=0, CALLBACK_FAILURES_PER_CARRIER=3)
    yield application
    application.extensions["handoff"].dispose()


def public_address() -> str:
    """A random public IPv4 address (81.0.0.0/8 is allocated to RIPE, so it is globally routable)."""
    return f"81.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def post_ups(client: Any, source: str, number: str, credential: str = SECRETS["ups"]) -> Any:
    return client.post(
        "/v1/callbacks/ups",
        data=json.dumps(track_alert(number)),
        headers={"credential": credential, "User-Agent": "UPSPubSubTrackingService"},
        content_type="application/json",
        environ_base={"REMOTE_ADDR": source},
    )


def post_signed(client: Any, source: str, carrier: str, body: bytes, secret: str | None = None) -> Any:
    stamp = str(int(time.time()))
    headers = {
        "X-Handoff-Timestamp": stamp,
        "X-Handoff-Signature": callbacks.sign(secret or SECRETS[carrier], stamp, body),
    }
    return post_raw(client, source, carrier, body, headers)


def post_raw(client: Any, source: str, carrier: str, body: bytes, headers: dict[str, str]) -> Any:
    return client.post(
        f"/v1/callbacks/{carrier}",
        data=body,
        headers=headers,
        content_type="application/json",
        environ_base={"REMOTE_ADDR": source},
    )


def dhl_body(awb: str) -> bytes:
    return json.dumps(dhl_checkpoint(awb), separators=(",", ":")).encode()


def get_token(client: Any, source: str, secret: str) -> Any:
    raw = base64.b64encode(f"{CLIENT_ID}:{secret}".encode()).decode()
    return client.post(
        "/v1/callbacks/ups/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {raw}"},
        environ_base={"REMOTE_ADDR": source},
    )


def assert_throttled(response: Any) -> None:
    assert response.status_code == 429, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"].endswith("/callback-throttled")
    assert 1 <= int(response.headers["Retry-After"]) <= WINDOW


def test_a_source_that_keeps_failing_is_answered_429_with_retry_after_even_with_the_right_credential(
    per_source,
):
    client, attacker = per_source.test_client(), public_address()
    number = new_number()
    for _ in range(PER_SOURCE):
        assert post_ups(client, attacker, number, credential="guess").status_code == 401

    assert_throttled(post_ups(client, attacker, number, credential="guess"))
    assert_throttled(post_ups(client, attacker, number))  # its guesses are not even checked now
    assert inbox_rows(per_source, number) == []


def test_a_genuine_ups_push_gets_through_while_another_source_is_throttled(per_source):
    client, attacker = per_source.test_client(), public_address()
    for _ in range(PER_SOURCE + 2):
        post_ups(client, attacker, new_number(), credential="guess")
    assert_throttled(post_ups(client, attacker, new_number(), credential="guess"))

    number = new_number()
    assert post_ups(client, public_address(), number).status_code == 202
    assert post_ups(client, "127.0.0.1", new_number()).status_code == 202  # a local proxy is not a source
    assert len(inbox_rows(per_source, number)) == 1


def test_a_correctly_signed_push_after_many_failures_from_another_source_still_gets_through(per_source):
    client, attacker = per_source.test_client(), public_address()
    for _ in range(PER_SOURCE):
        forged = post_signed(client, attacker, "dhl_express", dhl_body(new_number("DHL")), secret="guess")
        assert forged.status_code == 401
    assert_throttled(
        post_signed(client, attacker, "dhl_express", dhl_body(new_number("DHL")), secret="guess")
    )

    awb = new_number("DHL")
    assert post_signed(client, public_address(), "dhl_express", dhl_body(awb)).status_code == 202
    assert len(inbox_rows(per_source, awb)) == 1


def test_a_correctly_signed_push_is_accepted_even_from_a_throttled_source(per_source):
    """A signature cannot be guessed, so it is always checked: the carrier is never locked out."""
    client, source = per_source.test_client(), public_address()
    for _ in range(PER_SOURCE + 1):
        post_signed(client, source, "fleet", b'{"batch": []}', secret="stale-key")
    assert_throttled(post_signed(client, source, "fleet", b'{"batch": []}', secret="stale-key"))

    awb = new_number("DHL")
    assert post_signed(client, source, "dhl_express", dhl_body(awb)).status_code == 202
    assert len(inbox_rows(per_source, awb)) == 1


def test_successful_authentications_and_replays_are_never_counted_as_failures(per_source):
    client, source = per_source.test_client(), public_address()
    for _ in range(PER_SOURCE * 3):
        assert post_ups(client, source, new_number()).status_code == 202
    body = dhl_body(new_number("DHL"))
    stamp = str(int(time.time()))
    headers = {
        "X-Handoff-Timestamp": stamp,
        "X-Handoff-Signature": callbacks.sign(SECRETS["dhl_express"], stamp, body),
    }
    assert post_raw(client, source, "dhl_express", body, headers).status_code == 202
    for _ in range(PER_SOURCE):
        assert post_raw(client, source, "dhl_express", body, headers).status_code == 401  # replay

    for _ in range(PER_SOURCE):  # only these count
        assert post_ups(client, source, new_number(), credential="guess").status_code == 401
    assert_throttled(post_ups(client, source, new_number(), credential="guess"))


def test_the_ups_token_url_answers_429_after_repeated_wrong_secrets_from_one_source(per_source):
    client, attacker = per_source.test_client(), public_address()
    for _ in range(PER_SOURCE):
        assert get_token(client, attacker, "wrong-secret").status_code == 401

    assert_throttled(get_token(client, attacker, "wrong-secret"))
    assert_throttled(get_token(client, attacker, CLIENT_SECRET))
    granted = get_token(client, public_address(), CLIENT_SECRET)
    assert granted.status_code == 200 and granted.get_json()["access_token"]


def test_failures_for_one_carrier_from_many_sources_answer_429_but_its_genuine_pushes_pass(per_carrier):
    redis = per_carrier.extensions["handoff"].redis
    keys = [f"handoff:callback:failures:carrier:{carrier}" for carrier in ("ups", "dhl_express")]
    redis.delete(*keys)
    client = per_carrier.test_client()
    try:
        for _ in range(3):
            assert post_ups(client, public_address(), new_number(), credential="guess").status_code == 401
        assert_throttled(post_ups(client, public_address(), new_number(), credential="guess"))
        assert_throttled(get_token(client, public_address(), "wrong-secret"))  # the token URL is UPS too

        number = new_number()
        assert post_ups(client, public_address(), number).status_code == 202
        assert get_token(client, public_address(), CLIENT_SECRET).status_code == 200
        assert len(inbox_rows(per_carrier, number)) == 1
        forged = post_signed(client, public_address(), "dhl_express", dhl_body(new_number("DHL")), secret="x")
        assert forged.status_code == 401  # another carrier's count is its own
    finally:
        redis.delete(*keys)


def test_a_redis_outage_does_not_turn_a_genuine_ups_push_away(settings, monkeypatch):
    application = make_app(settings, CALLBACK_FAILURES_PER_SOURCE=PER_SOURCE)
    container = application.extensions["handoff"]
    try:
        unreachable = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
        monkeypatch.setattr(container, "_redis", unreachable)  # nothing listens on port 1
        number = new_number()
        assert post_ups(application.test_client(), public_address(), number).status_code == 202
        assert len(inbox_rows(application, number)) == 1
    finally:
        monkeypatch.undo()
        container.dispose()


def test_failures_are_counted_per_public_address_and_per_ipv6_64():
    assert callbacks.source_of("81.2.3.4") == "81.2.3.4"
    assert callbacks.source_of("::ffff:81.2.3.4") == "81.2.3.4"
    assert callbacks.source_of("2a01:4f8:1:2::1") == callbacks.source_of("2a01:4f8:1:2:ffff::9")
    assert callbacks.source_of("2a01:4f8:1:2::1") != callbacks.source_of("2a01:4f8:1:3::1")
    for local in ("127.0.0.1", "::1", "10.0.0.7", "192.168.1.1", "fd00::1", "", None, "junk"):
        assert callbacks.source_of(local) is None


# -- the replay slot after a body that does not parse -----------------------------------------------


@pytest.mark.parametrize(
    "broken",
    [b"not json", b'{"awb": "\xff"}', b"[" * 100_000 + b"]" * 100_000],
    ids=["not json", "not utf-8", "nested deeper than the parser goes"],
)
def test_a_signed_body_that_does_not_parse_gives_its_slot_back_so_a_retry_is_not_a_replay(per_source, broken):
    client, source = per_source.test_client(), public_address()
    stamp = str(int(time.time()))
    headers = {
        "X-Handoff-Timestamp": stamp,
        "X-Handoff-Signature": callbacks.sign(SECRETS["fleet"], stamp, broken),
    }

    first = post_raw(client, source, "fleet", broken, headers)
    again = post_raw(client, source, "fleet", broken, headers)  # the sender's retry of the same push

    for response in (first, again):
        assert response.status_code == 400, response.get_json()
        assert response.get_json()["type"].endswith("/malformed-json")
    marker = new_number("FLEET")
    corrected = json.dumps({"batch": [], "device": marker}).encode()
    assert post_signed(client, source, "fleet", corrected).status_code == 202
    assert len(inbox_rows(per_source, marker)) == 1
