"""UPS Track Alert v2: UPS fetches a bearer token from our token URL (client credentials), then pushes with it.

From ../shared/carriers/ups/UPSTrackAlert.yaml, ``webhooks.TrackingEvent``: security ``clientOauth2`` (a
client-credentials flow against a token URL the customer provides, ``client_secret_basic``), header
``x-api-key`` = the client id of that token, ``User-Agent: UPSPubSubTrackingService``. v1's ``credential``
header stays accepted.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest

from gateway import create_app
from tests.integration.test_callbacks import inbox_rows, new_number, track_alert

pytestmark = pytest.mark.integration

CLIENT_ID = "ups-track-alert"
CLIENT_SECRET = "track-alert-client-secret-0123"
CREDENTIAL = "v1-opaque-credential-abcdef"
UA = {"User-Agent": "UPSPubSubTrackingService"}


@pytest.fixture(scope="module")
def ups_app(settings: dict[str, Any]) -> Any:
    entry = {
        "adapter": "ups",
        "id": f"ups-{uuid.uuid4().hex[:8]}",
        "config": {
            "client_id": "cid",
            "client_secret": "csecret",
            "account_number": "A1B2C3",
            "base_url": "https://ups.invalid",
            "webhook_credential": CREDENTIAL,
            "webhook_client_id": CLIENT_ID,
            "webhook_client_secret": CLIENT_SECRET,
        },
    }
    application = create_app({**settings, "CARRIERS": json.dumps([entry]), "CALLBACK_SECRETS": "{}"})
    yield application
    application.extensions["handoff"].dispose()


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def get_token(client: Any, headers: dict[str, str], grant_type: str = "client_credentials") -> Any:
    return client.post("/v1/callbacks/ups/token", data={"grant_type": grant_type}, headers=headers)


def push(client: Any, number: str, headers: dict[str, str]) -> Any:
    return client.post(
        "/v1/callbacks/ups",
        data=json.dumps(track_alert(number)),
        headers={**UA, **headers},
        content_type="application/json",
    )


def test_ups_gets_a_token_with_its_client_credentials_and_pushes_with_it(ups_app: Any) -> None:
    client = ups_app.test_client()
    issued = get_token(client, basic(CLIENT_ID, CLIENT_SECRET))
    assert issued.status_code == 200, issued.get_json()
    assert issued.headers["Cache-Control"] == "no-store"
    body = issued.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    number = new_number()

    answered = push(
        client, number, {"Authorization": f"Bearer {body['access_token']}", "x-api-key": CLIENT_ID}
    )

    assert answered.status_code == 202
    [row] = inbox_rows(ups_app, number)
    assert {h.lower() for h in row.headers}.isdisjoint({"authorization", "x-api-key", "credential"})


def test_the_token_endpoint_refuses_a_wrong_secret_or_grant(ups_app: Any) -> None:
    client = ups_app.test_client()
    wrong = get_token(client, basic(CLIENT_ID, "not-the-secret-at-all"))
    assert wrong.status_code == 401
    assert wrong.get_json()["type"].endswith("/callback-unauthenticated")
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")
    assert get_token(client, {}).status_code == 401
    grant = get_token(client, basic(CLIENT_ID, CLIENT_SECRET), grant_type="password")
    assert grant.status_code == 400
    assert "grant_type" in grant.get_json()["detail"]


@pytest.mark.parametrize(
    "case",
    ["no credentials", "forged token", "another client's x-api-key", "expired token", "wrong v1 credential"],
)
def test_a_push_without_a_valid_token_or_credential_is_refused_and_not_stored(
    ups_app: Any, case: str
) -> None:
    client = ups_app.test_client()
    token = get_token(client, basic(CLIENT_ID, CLIENT_SECRET)).get_json()["access_token"]
    payload, _, _signature = token.partition(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    expired = base64.urlsafe_b64encode(json.dumps({**claims, "exp": 1}).encode()).decode().rstrip("=")
    headers = {
        "no credentials": {},
        "forged token": {"Authorization": f"Bearer {payload}.AAAA", "x-api-key": CLIENT_ID},
        "another client's x-api-key": {"Authorization": f"Bearer {token}", "x-api-key": "someone-else"},
        "expired token": {"Authorization": f"Bearer {expired}.{_signature}", "x-api-key": CLIENT_ID},
        "wrong v1 credential": {"credential": "guess"},
    }[case]
    number = new_number()

    answered = push(client, number, headers)

    assert answered.status_code == 401
    assert answered.get_json()["type"].endswith("/callback-unauthenticated")
    assert inbox_rows(ups_app, number) == []


def test_the_v1_credential_registered_on_the_adapter_is_still_accepted(ups_app: Any) -> None:
    number = new_number()
    assert push(ups_app.test_client(), number, {"credential": CREDENTIAL}).status_code == 202
    assert len(inbox_rows(ups_app, number)) == 1


def test_a_carrier_that_fetches_no_push_tokens_has_no_token_url(client):
    answer = client.post(
        "/v1/callbacks/dhl_express/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + base64.b64encode(b"someone:something").decode()},
    )
    assert answer.status_code == 404
    assert answer.get_json()["type"].endswith("/not-found")
